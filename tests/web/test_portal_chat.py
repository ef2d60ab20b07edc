"""Portal chat: the assistant answers from the database (tracking, cancellation through the portal's request
path), guests prove an order before it says anything about one, another customer's order is answered as an
unknown one, a handoff makes a ticket with the transcript and the order, our team's replies show in the chat;
htmx and plain forms, CSRF, 404 for anyone else's chat, the widget on portal pages."""

from __future__ import annotations

import html as html_module
from datetime import datetime, timedelta

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.audit.models import AuditEntry
from core.db import utcnow
from core.fulfillment.models import Shipment, TrackingEvent
from core.orders.models import OrderEvent
from core.security.roles import Actor
from core.support import services as support_services
from core.support.models import Conversation, Message
from core.support.sla import due_dates
from core.support.sla_services import load_calendar, pauses_of, policy_for_priority
from tests.factories import PASSWORD, make_order, make_user
from tests.helpers import csrf_token, sign_in

HX = {"HX-Request": "true"}


@pytest.fixture
def customer(db: Session):
    return make_user(db, "customer")


def shipped_order(db: Session, customer_id: int | None, **overrides):
    """A shipped order in one UPS parcel with one checkpoint."""
    now = utcnow()
    order = make_order(
        db,
        customer_id=customer_id,
        status="shipped",
        email="buyer@example.org",
        shipping_address={"postal_code": "LS1 4AP", "country": "GB"},
        **overrides,
    )
    parcel = Shipment(
        order_id=order.id,
        carrier="UPS",
        tracking_number="1Z999AA10123456784",
        tracking_url="https://www.ups.com/track?tracknum=1Z999AA10123456784",
        status="in_transit",
        shipped_at=now - timedelta(days=1),
        estimated_from=now + timedelta(days=1),
        estimated_to=now + timedelta(days=2),
    )
    db.add(parcel)
    db.flush()
    db.add(
        TrackingEvent(
            shipment_id=parcel.id,
            status="in_transit",
            description="Departed facility",
            location="Leeds",
            occurred_at=now - timedelta(hours=3),
            dedup_key=f"e{parcel.id}",
        )
    )
    db.flush()
    return order


def signed_in(client: FlaskClient, user) -> FlaskClient:
    assert sign_in(client, user.email, PASSWORD).status_code == 303
    return client


def text(response) -> str:
    return html_module.unescape(response.get_data(as_text=True))


def say(client: FlaskClient, body: str, *, choice: str = "", htmx: bool = True):
    token = csrf_token(client, "/support/chat")
    data = {"body": body, "choice": choice, "csrf_token": token}
    return client.post("/support/chat", data=data, headers=HX if htmx else {})


def chats(db: Session) -> list[Conversation]:
    return list(
        db.scalars(select(Conversation).where(Conversation.source == "chat").order_by(Conversation.id))
    )


def test_customer_asks_with_a_typo_and_gets_the_real_tracking(client, db, customer) -> None:
    order = shipped_order(db, customer.customer_id)
    signed_in(client, customer)
    response = say(client, f"wheres my ordr {order.number}??")
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and "<html" not in html and 'id="chat-panel"' in html
    assert f"Order {order.number}: On its way. Parcel with UPS, tracking number 1Z999AA10123456784" in html
    assert "Departed facility (Leeds)" in html
    assert "Track it: https://www.ups.com/track?tracknum=1Z999AA10123456784" in html
    [chat] = chats(db)
    assert chat.customer_id == customer.customer_id and chat.order_id == order.id and chat.status == "solved"
    kinds = [(m.author_kind, m.intent) for m in chat.messages]
    assert kinds == [("customer", "track_order"), ("assistant", "track_order")]
    assert chat.messages[0].data["entities"] == [f"order {order.number} (crossdock)"]


def test_another_customers_order_is_answered_as_an_unknown_one(client, db, customer) -> None:
    theirs = shipped_order(db, make_user(db, "customer").customer_id)
    signed_in(client, customer)
    other = text(say(client, f"where is {theirs.number}"))
    unknown = text(say(client, "where is CD-9999999"))
    assert f"I couldn't find order {theirs.number} among your orders with those details." in other
    assert "I couldn't find order CD-9999999 among your orders with those details." in unknown
    assert "UPS" not in other and "1Z999" not in other and "On its way" not in other
    assert chats(db)[0].order_id is None


def test_guest_proves_the_order_before_anything_is_said_about_it(client, db) -> None:
    order = shipped_order(db, None)
    first = text(say(client, f"where's my stuff?? order {order.number}"))
    assert f"To look at order {order.number}, please also tell me the email address or the postcode" in first
    wrong = text(say(client, f"{order.number} someone@else.example"))
    assert f"I couldn't find order {order.number} with those details." in wrong
    for leaked in ("UPS", "1Z999", "On its way", "Leeds"):
        assert leaked not in first and leaked not in wrong
    assert client.get(f"/orders/{order.number}").status_code in (302, 303, 404)
    proven = text(say(client, "ls1 4ap"))  # the number was asked for before
    assert f"Order {order.number}: On its way. Parcel with UPS" in proven
    assert client.get(f"/orders/{order.number}").status_code == 200  # proven like a /track lookup
    assert chats(db)[0].order_id == order.id


def test_handoff_makes_a_ticket_with_transcript_intent_and_order_and_agent_replies_show(
    client, db, customer
) -> None:
    agent = make_user(db, "agent", available=True)
    order = shipped_order(db, customer.customer_id)
    signed_in(client, customer)
    say(client, f"where is {order.number}")
    html = text(say(client, "I want to talk to a person"))
    assert "I'm handing this to our team" in html and "Handed to our team" in html
    [chat] = chats(db)
    db.refresh(chat)
    assert chat.status == "open" and chat.assignee_id == agent.id and chat.order_id == order.id
    assert chat.subject == f"Chat: Talk to a person (order {order.number})"
    # The SLA clock starts at the handoff: the assistant's time is a pause; due dates follow the policy.
    assert chat.sla_paused_at is None and len(chat.sla_pauses) == 1
    assert chat.sla_pauses[0][0] == chat.created_at.isoformat()
    handed_at = datetime.fromisoformat(chat.sla_pauses[0][1])
    policy = policy_for_priority(db, chat.priority)
    expected = due_dates(chat.created_at, policy, load_calendar(db), pauses=pauses_of(chat))
    assert (chat.first_response_due_at, chat.resolution_due_at) == expected
    assert chat.first_response_due_at > handed_at
    note = db.scalar(
        select(Message).where(
            Message.conversation_id == chat.id,
            Message.internal.is_(True),
            Message.author_kind == "system",
            Message.intent == "human_agent",
        )
    )
    assert note.data["event"] == "handoff" and note.data["order"] == order.number
    assert f"Order: {order.number}." in note.body and "Detected intent: Talk to a person" in note.body
    public = [m.body for m in chat.messages if not m.internal]
    assert public[0] == f"where is {order.number}" and public[-1].startswith("I'm handing this")
    assert db.scalar(select(AuditEntry).where(AuditEntry.action == "conversation.handed_off")) is not None
    timeline = db.scalar(select(OrderEvent).where(OrderEvent.kind == "chat_handed_off"))
    assert (
        timeline.order_id == order.id and timeline.actor == f"assistant for customer:{customer.customer_id}"
    )
    # While our team has it, the assistant stays quiet; the agent's reply appears in the polled list.
    say(client, "thanks, waiting")
    db.expire(chat)
    assert [m.author_kind for m in chat.messages if not m.internal][-1] == "customer"
    support_services.reply_to_conversation(
        db,
        chat.id,
        "Hi, it arrives tomorrow.",
        actor=Actor(label=agent.email, user_id=agent.id),
        now=utcnow(),
    )
    polled = client.get(f"/support/chat/{chat.id}/messages", headers=HX).get_data(as_text=True)
    assert "Hi, it arrives tomorrow." in polled and "from-agent" in polled and "Chat handed off" not in polled


def test_cancel_needs_confirmation_and_goes_through_the_cancellation_request(client, db, customer) -> None:
    order = make_order(db, customer_id=customer.customer_id, status="confirmed")
    signed_in(client, customer)
    ask = text(say(client, f"please cancel order {order.number}"))
    assert "hasn't shipped yet, so it can still be cancelled" in ask and "Yes, cancel it" in ask
    assert db.scalar(select(Conversation).where(Conversation.category == "cancel")) is None
    done = text(say(client, "Yes, cancel it", choice="yes"))
    assert f"I've asked our team to cancel order {order.number}" in done
    ticket = db.scalar(select(Conversation).where(Conversation.category == "cancel"))
    assert ticket.order_id == order.id and ticket.status == "open"
    event = db.scalar(
        select(OrderEvent).where(OrderEvent.order_id == order.id, OrderEvent.kind == "cancellation_requested")
    )
    assert event.actor == f"assistant for customer:{customer.customer_id}"
    audit = db.scalar(select(AuditEntry).where(AuditEntry.action == "order.cancellation_requested"))
    assert audit.entity_id == str(order.id) and audit.after["by"] == "assistant"


def test_customer_with_several_orders_is_offered_them_as_buttons(client, db, customer) -> None:
    first = make_order(db, customer_id=customer.customer_id, status="confirmed")
    second = make_order(db, customer_id=customer.customer_id, status="confirmed")
    signed_in(client, customer)
    html = text(say(client, "where is my order"))
    assert "Which order is this about?" in html
    assert f'value="order:{first.number}"' in html and f'value="order:{second.number}"' in html
    tapped = text(say(client, second.number, choice=f"order:{second.number}"))
    assert f"Order {second.number}: We're preparing your order." in tapped


def test_without_javascript_the_chat_posts_and_reloads(client, db, customer) -> None:
    signed_in(client, customer)
    response = say(client, "hello", htmx=False)
    assert response.status_code == 303 and response.headers["Location"] == "/support/chat"
    page = client.get("/support/chat").get_data(as_text=True)
    assert "<html" in page and "Hello! I can track an order" in page


def test_chat_refuses_a_post_without_csrf_and_an_empty_message(client, customer) -> None:
    signed_in(client, customer)
    assert client.post("/support/chat", data={"body": "hi"}, headers=HX).status_code == 400
    assert say(client, "   ").status_code == 422


def test_someone_elses_chat_is_404(client, db, customer) -> None:
    other = make_user(db, "customer")
    signed_in(client, other)
    say(client, "hello")
    [theirs] = chats(db)
    client.post("/logout", data={"csrf_token": csrf_token(client, "/support")})
    signed_in(client, customer)
    assert client.get(f"/support/chat/{theirs.id}/messages").status_code == 404
    assert client.get("/support/chat/999999/messages").status_code == 404
    assert "Hello! I can track" not in client.get("/support/chat").get_data(as_text=True)


def test_widget_is_on_portal_pages_for_customers_and_guests_not_staff(client, db, customer) -> None:
    assert 'id="chat-widget"' in client.get("/help").get_data(as_text=True)
    signed_in(client, customer)
    assert 'id="chat-widget"' in client.get("/orders").get_data(as_text=True)
    assert 'id="chat-widget"' not in client.get("/support/chat").get_data(as_text=True)


def test_a_solved_handoff_goes_back_to_the_assistant_and_a_new_request_reopens_the_same_ticket(
    client, db, customer
) -> None:
    agent = make_user(db, "agent")
    order = shipped_order(db, customer.customer_id)
    signed_in(client, customer)
    say(client, "talk to a person please")
    [chat] = chats(db)
    support_services.change_conversation_status(
        db, chat.id, "solved", actor=Actor(label=agent.email, user_id=agent.id), now=utcnow()
    )
    db.flush()
    answer = text(say(client, "where is my order"))  # their only order: no need to ask which
    assert f"Order {order.number}: On its way. Parcel with UPS" in answer
    db.refresh(chat)
    assert chat.status == "solved"
    say(client, "a human again please")
    db.refresh(chat)
    assert chats(db) == [chat] and chat.status == "open" and chat.order_id == order.id


def test_a_message_over_the_limit_is_refused_whole_with_the_reason(client, db, customer) -> None:
    signed_in(client, customer)
    say(client, "hello")
    too_long = "x" * (support_services.MAX_BODY + 1)
    response = say(client, too_long)
    assert response.status_code == 422
    assert f"a message can be at most {support_services.MAX_BODY:,} characters" in text(response)
    assert too_long in text(response)  # the draft is given back, not cut
    [chat] = chats(db)
    assert all(len(m.body) <= support_services.MAX_BODY for m in chat.messages)
