"""Console tickets: public replies and internal notes, the side panel (status, priority, category, tags,
assignee), take it, canned replies found as you type and filled for the ticket, managers' canned-reply pages;
role checks, CSRF, and full page vs htmx fragment."""

from __future__ import annotations

import html as htmllib

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.audit.models import AuditEntry
from core.fulfillment.models import Shipment
from core.notifications.models import OutboxMessage
from core.support.models import Conversation, Macro, Message, MessageAttachment
from tests.factories import NOW, PASSWORD, make_customer, make_order, make_user
from tests.helpers import csrf_token, sign_in
from tests.support_factories import make_conversation
from tests.web.test_portal_quality import QueryCounter


@pytest.fixture
def agent(db: Session):
    return make_user(db, "agent", name="Sam Agent")


@pytest.fixture
def ticket(db: Session) -> Conversation:
    customer = make_customer(db, name="Jane Doe", email="jane@example.org")
    order = make_order(db, customer_id=customer.id, email="jane@example.org")
    return make_conversation(db, customer_id=customer.id, order_id=order.id, body="Where is my tent?")


def console(client: FlaskClient, user) -> FlaskClient:
    assert sign_in(client, user.email, PASSWORD, console=True).status_code == 303
    return client


def post(client: FlaskClient, path: str, data: dict, *, htmx: bool = False):
    token = csrf_token(client, "/console/")
    if htmx:
        return client.post(path, data=data, headers={"HX-Request": "true", "X-CSRFToken": token})
    return client.post(path, data=data | {"csrf_token": token})


def test_ticket_page_shows_conversation_reply_box_and_panel(client, agent, ticket) -> None:
    response = console(client, agent).get(f"/console/tickets/{ticket.id}")
    page = response.get_data(as_text=True)
    assert response.status_code == 200 and "<html" in page
    assert "Where is my tent?" in page and 'id="reply-form"' in page and 'name="priority"' in page
    assert "Jane Doe" in page  # the customer's profile beside the ticket
    assert "HX-Request" in response.headers["Vary"]


def test_ticket_page_ignores_an_order_or_seen_message_id_no_column_holds(client, agent, ticket) -> None:
    console(client, agent)
    for garbage in ("99999999999999999999999", "²"):
        response = client.get(f"/console/tickets/{ticket.id}?order={garbage}&seen_message_id={garbage}")
        assert response.status_code == 200 and "Where is my tent?" in response.get_data(as_text=True)


def test_public_reply_is_stored_emailed_through_the_outbox_and_audited(client, db, agent, ticket) -> None:
    console(client, agent)
    response = post(
        client,
        f"/console/tickets/{ticket.id}/messages",
        {"kind": "reply", "body": "Ships Monday.", "status": "pending"},
    )
    assert response.status_code == 303 and response.headers["Location"] == f"/console/tickets/{ticket.id}"
    reply = db.scalars(
        select(Message).where(Message.conversation_id == ticket.id, Message.author_kind == "agent")
    ).one()
    assert (reply.body, reply.internal, reply.author_user_id) == ("Ships Monday.", False, agent.id)
    outbox = db.scalars(select(OutboxMessage)).one()
    assert (outbox.kind, outbox.recipient, outbox.status) == (
        "conversation_reply",
        "jane@example.org",
        "pending",
    )
    db.refresh(ticket)
    assert ticket.status == "pending"
    actions = db.scalars(
        select(AuditEntry.action).where(
            AuditEntry.entity_type == "conversation", AuditEntry.entity_id == str(ticket.id)
        )
    ).all()
    assert set(actions) == {"conversation.replied", "conversation.status_changed"}


def test_internal_note_with_htmx_answers_the_ticket_fragment_and_is_not_emailed(
    client, db, agent, ticket
) -> None:
    console(client, agent)
    response = post(
        client,
        f"/console/tickets/{ticket.id}/messages",
        {"kind": "note", "body": "Call the carrier"},
        htmx=True,
    )
    fragment = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "<html" not in fragment and 'id="ticket"' in fragment
    assert "Internal note" in fragment and "Call the carrier" in fragment
    assert "HX-Request" in response.headers["Vary"]
    assert db.scalar(select(OutboxMessage.id)) is None


def test_empty_reply_is_refused_with_the_reason_in_the_form(client, agent, ticket) -> None:
    console(client, agent)
    response = post(
        client, f"/console/tickets/{ticket.id}/messages", {"kind": "reply", "body": " "}, htmx=True
    )
    assert response.status_code == 422 and "write a message first" in response.get_data(as_text=True)


def test_reply_without_csrf_token_is_refused(client, agent, ticket) -> None:
    console(client, agent)
    response = client.post(f"/console/tickets/{ticket.id}/messages", data={"body": "x"})
    assert response.status_code == 400


def test_side_panel_saves_each_change_into_history_and_audit(client, db, agent, ticket) -> None:
    console(client, agent)
    response = post(
        client,
        f"/console/tickets/{ticket.id}/properties",
        {
            "status": "solved",
            "priority": "high",
            "category": "damaged",
            "tags": "vip, carrier",
            "assignee_id": str(agent.id),
        },
        htmx=True,
    )
    fragment = response.get_data(as_text=True)
    assert response.status_code == 200
    for line in (
        "Status open → solved",
        "Priority normal → high",
        "Category set to Damaged item",
        "Tags: carrier, vip",
        "Assigned to Sam Agent",
    ):
        assert line in fragment
    db.refresh(ticket)
    assert (ticket.status, ticket.priority, ticket.category, ticket.assignee_id) == (
        "solved",
        "high",
        "damaged",
        agent.id,
    )
    actions = sorted(
        db.scalars(
            select(AuditEntry.action).where(
                AuditEntry.entity_type == "conversation", AuditEntry.entity_id == str(ticket.id)
            )
        ).all()
    )
    assert actions == sorted(
        [
            "conversation.status_changed",
            "conversation.priority_changed",
            "conversation.category_changed",
            "conversation.tags_changed",
            "conversation.assigned",
        ]
    )


def test_side_panel_refuses_a_move_outside_the_status_table(client, db, agent) -> None:
    closed = make_conversation(db, status="closed")
    console(client, agent)
    data = {"status": "open", "priority": "normal", "category": "", "tags": "", "assignee_id": ""}
    response = post(client, f"/console/tickets/{closed.id}/properties", data, htmx=True)
    assert response.status_code == 422 and "cannot go from closed to open" in htmllib.unescape(
        response.get_data(as_text=True)
    )
    plain = post(client, f"/console/tickets/{closed.id}/properties", data)
    assert plain.status_code == 303


def test_take_it_assigns_the_ticket_to_me(client, db, agent, ticket) -> None:
    console(client, agent)
    assert post(client, f"/console/tickets/{ticket.id}/take", {}).status_code == 303
    db.refresh(ticket)
    assert ticket.assignee_id == agent.id


@pytest.fixture
def macros(db: Session) -> dict[str, Macro]:
    rows = {
        "where": Macro(
            name="Where is my order: in transit",
            body="Hi {{ customer.first_name }}, order {{ order.number }} is on its way: "
            "{{ shipment.tracking_url }}",
        ),
        "return": Macro(
            name="Return instructions",
            body="Hi {{ customer.first_name }}, start a return from your order page.",
        ),
    }
    db.add_all(rows.values())
    db.flush()
    return rows


def test_macro_search_as_you_type_answers_a_fragment_with_typos_forgiven(
    client, agent, ticket, macros
) -> None:
    console(client, agent)
    response = client.get(f"/console/tickets/{ticket.id}/macros?q=retrun", headers={"HX-Request": "true"})
    fragment = response.get_data(as_text=True)
    assert response.status_code == 200 and "<html" not in fragment
    assert "Return instructions" in fragment and "in transit" not in fragment
    full = client.get(f"/console/tickets/{ticket.id}/macros?q=retrun")
    assert "<html" in full.get_data(as_text=True) and "Return instructions" in full.get_data(as_text=True)


def test_macro_is_added_to_the_draft_with_the_tickets_values(client, db, agent, ticket, macros) -> None:
    order_number = db.get(Conversation, ticket.id).order_id
    console(client, agent)
    response = client.get(
        f"/console/tickets/{ticket.id}/reply-form",
        query_string={"macro": macros["where"].id, "body": "Thanks for waiting."},
        headers={"HX-Request": "true"},
    )
    fragment = htmllib.unescape(response.get_data(as_text=True))
    assert response.status_code == 200 and 'id="reply-form"' in fragment and "<html" not in fragment
    assert order_number is not None
    assert "Thanks for waiting.\n\nHi Jane, order CD-" in fragment
    assert "Fill in by hand: {{ shipment.tracking_url }}" in fragment  # no parcel yet


def test_macro_uses_the_latest_parcels_tracking_link(client, db, agent, ticket, macros) -> None:
    db.add(
        Shipment(
            order_id=ticket.order_id, carrier="UPS", tracking_number="1Z999AA10123456784", created_at=NOW
        )
    )
    db.flush()
    console(client, agent)
    page = htmllib.unescape(
        client.get(f"/console/tickets/{ticket.id}?macro={macros['where'].id}").get_data(as_text=True)
    )
    assert "https://www.ups.com/track?tracknum=1Z999AA10123456784" in page and "Fill in by hand" not in page


def test_staff_download_attachments(client, db, agent, ticket) -> None:
    message = db.scalars(select(Message).where(Message.conversation_id == ticket.id)).first()
    attachment = MessageAttachment(
        message_id=message.id, filename="a.pdf", content_type="application/pdf", size=4, content=b"%PDF"
    )
    db.add(attachment)
    db.flush()
    response = console(client, agent).get(f"/console/attachments/{attachment.id}")
    assert response.status_code == 200 and response.data == b"%PDF"
    assert response.headers["Content-Disposition"].startswith("attachment;")
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in response.headers["Content-Security-Policy"].split("; ")


def test_managers_create_edit_and_delete_canned_replies(client, db) -> None:
    manager = make_user(db, "manager")
    console(client, manager)
    assert client.get("/console/macros").status_code == 200
    created = post(
        client,
        "/console/macros",
        {"name": "Gift wrap", "body": "Hi {{ customer.first_name }}", "category": "other"},
    )
    assert created.status_code == 303
    macro = db.scalars(select(Macro).where(Macro.name == "Gift wrap")).one()
    assert (
        post(client, f"/console/macros/{macro.id}", {"name": "Gift wrapping", "body": "Hello"}).status_code
        == 303
    )
    db.refresh(macro)
    assert (macro.name, macro.body, macro.category) == ("Gift wrapping", "Hello", None)
    bad = post(client, "/console/macros", {"name": "Bad", "body": "{{ customer.card_number }}"})
    assert bad.status_code == 422 and "unknown variable" in bad.get_data(as_text=True)
    assert post(client, f"/console/macros/{macro.id}/delete", {}).status_code == 303
    assert db.scalar(select(Macro.id).where(Macro.id == macro.id)) is None
    actions = db.scalars(select(AuditEntry.action).where(AuditEntry.entity_type == "macro")).all()
    assert actions == ["macro.created", "macro.updated", "macro.deleted"]


@pytest.mark.parametrize(
    ("path", "data"),
    [
        ("/console/macros", {"name": "X", "body": "Y"}),
        ("/console/macros/1", {"name": "X", "body": "Y"}),
        ("/console/macros/1/delete", {}),
    ],
)
def test_agents_cannot_manage_canned_replies(client, agent, path: str, data: dict) -> None:
    console(client, agent)
    assert post(client, path, data).status_code == 403


TICKET_POSTS = ["/console/tickets/1/messages", "/console/tickets/1/properties", "/console/tickets/1/take"]


@pytest.mark.parametrize("path", TICKET_POSTS)
def test_ticket_posts_send_strangers_to_sign_in(client, path: str) -> None:
    token = csrf_token(client, "/console/login")
    response = client.post(path, data={"csrf_token": token, "body": "x"})
    assert response.status_code == 302 and "/console/login" in response.headers["Location"]


@pytest.mark.parametrize("path", TICKET_POSTS)
def test_ticket_posts_refuse_customers(client, db, path: str) -> None:
    customer = make_user(db, "customer")
    sign_in(client, customer.email, PASSWORD)
    token = csrf_token(client, "/support")
    assert client.post(path, data={"csrf_token": token, "body": "x"}).status_code == 403


def _grow(db: Session, conversation: Conversation, n: int) -> None:
    for i in range(n):
        message = Message(
            conversation_id=conversation.id, author_kind="customer", body=f"m{i}", created_at=NOW
        )
        db.add(message)
        db.flush()
        db.add(
            MessageAttachment(
                message_id=message.id, filename=f"{i}.txt", content_type="text/plain", size=1, content=b"x"
            )
        )
        db.add(
            Message(
                conversation_id=conversation.id,
                author_kind="system",
                body=f"h{i}",
                internal=True,
                created_at=NOW,
            )
        )
        make_order(db, customer_id=conversation.customer_id)
    db.commit()


def test_ticket_page_and_portal_thread_queries_do_not_grow_with_the_conversation(
    client, db, engine, agent
) -> None:
    user = make_user(db, "customer")
    conversation = make_conversation(db, customer_id=user.customer_id)
    _grow(db, conversation, 1)
    staff, portal = client, client.application.test_client()
    console(staff, agent)
    assert sign_in(portal, user.email, PASSWORD).status_code == 303
    with QueryCounter(engine) as few_console:
        assert staff.get(f"/console/tickets/{conversation.id}").status_code == 200
    with QueryCounter(engine) as few_portal:
        assert portal.get(f"/support/{conversation.id}").status_code == 200
    _grow(db, conversation, 12)
    with QueryCounter(engine) as many_console:
        assert staff.get(f"/console/tickets/{conversation.id}").status_code == 200
    with QueryCounter(engine) as many_portal:
        assert portal.get(f"/support/{conversation.id}").status_code == 200
    assert many_console.count == few_console.count
    assert many_portal.count == few_portal.count
