"""Portal support: a customer's conversations as threads (never internal notes), replies (htmx and plain
forms, CSRF), new conversations about an order or in general, guests who proved an order, the link in our
reply email, and 404 for anyone else's conversation."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.support.models import Conversation, Message, MessageAttachment
from core.support.tokens import make_thread_token
from tests.factories import NOW, PASSWORD, make_order, make_user
from tests.helpers import csrf_token, sign_in
from tests.support_factories import make_conversation

SECRET = "test-secret"  # the app fixture's SECRET_KEY


@pytest.fixture
def customer(db: Session):
    return make_user(db, "customer")


@pytest.fixture
def thread(db: Session, customer) -> Conversation:
    """A conversation: customer message, assistant answer, agent reply, internal note, history line."""
    conversation = make_conversation(
        db, customer_id=customer.customer_id, body="Where is my tent?", status="pending"
    )
    for kind, body, internal in [
        ("assistant", "Tracking shows it in transit.", False),
        ("agent", "It arrives on Monday.", False),
        ("agent", "SECRET NOTE: customer is grumpy", True),
        ("system", "Status open → pending", True),
    ]:
        db.add(
            Message(
                conversation_id=conversation.id,
                author_kind=kind,
                body=body,
                internal=internal,
                created_at=NOW,
            )
        )
    db.flush()
    return conversation


def signed_in(client: FlaskClient, user) -> FlaskClient:
    assert sign_in(client, user.email, PASSWORD).status_code == 303
    return client


def test_support_lists_my_conversations_as_links(client, customer, thread) -> None:
    page = signed_in(client, customer).get("/support").get_data(as_text=True)
    assert f'href="/support/{thread.id}"' in page and "Where is my parcel?" in page
    assert 'name="csrf_token"' in page and 'name="body"' in page  # the new-conversation form


def test_thread_shows_every_public_message_and_never_internal_notes(client, customer, thread) -> None:
    response = signed_in(client, customer).get(f"/support/{thread.id}")
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    for said in ("Where is my tent?", "Tracking shows it in transit.", "It arrives on Monday."):
        assert said in page
    assert "SECRET NOTE" not in page and "Status open" not in page
    assert "HX-Request" in response.headers["Vary"]


def test_thread_of_another_customer_is_404(client, db, customer) -> None:
    other = make_user(db, "customer")
    theirs = make_conversation(db, customer_id=other.customer_id, body="Private question")
    signed_in(client, customer)
    assert client.get(f"/support/{theirs.id}").status_code == 404
    assert client.get("/support/999999").status_code == 404
    token = csrf_token(client, "/support")
    response = client.post(f"/support/{theirs.id}/messages", data={"body": "hi", "csrf_token": token})
    assert response.status_code == 404
    assert "Private question" not in client.get("/support").get_data(as_text=True)


def test_reply_without_javascript_redirects_and_reopens(client, db, customer, thread) -> None:
    signed_in(client, customer)
    token = csrf_token(client, f"/support/{thread.id}")
    response = client.post(
        f"/support/{thread.id}/messages", data={"body": "Still not here", "csrf_token": token}
    )
    assert response.status_code == 303 and response.headers["Location"] == f"/support/{thread.id}"
    db.refresh(thread)
    assert thread.status == "open"
    assert "Still not here" in client.get(f"/support/{thread.id}").get_data(as_text=True)


def test_reply_with_htmx_answers_the_thread_fragment(client, customer, thread) -> None:
    signed_in(client, customer)
    token = csrf_token(client, f"/support/{thread.id}")
    response = client.post(
        f"/support/{thread.id}/messages",
        data={"body": "Thanks!"},
        headers={"HX-Request": "true", "X-CSRFToken": token},
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "<html" not in html and 'id="thread"' in html and "Thanks!" in html
    assert "HX-Request" in response.headers["Vary"]


def test_reply_without_csrf_token_is_refused(client, customer, thread) -> None:
    signed_in(client, customer)
    response = client.post(f"/support/{thread.id}/messages", data={"body": "no token"})
    assert response.status_code == 400


def test_empty_reply_is_shown_again_with_the_reason(client, customer, thread) -> None:
    signed_in(client, customer)
    token = csrf_token(client, f"/support/{thread.id}")
    response = client.post(f"/support/{thread.id}/messages", data={"body": "  ", "csrf_token": token})
    assert response.status_code == 422 and "write a message first" in response.get_data(as_text=True)


def test_closed_thread_offers_a_new_conversation_instead_of_a_reply_box(client, db, customer) -> None:
    closed = make_conversation(db, customer_id=customer.customer_id, status="closed")
    page = signed_in(client, customer).get(f"/support/{closed.id}").get_data(as_text=True)
    assert "This conversation is closed" in page and 'name="body"' not in page


def test_new_conversation_about_my_order(client, db, customer) -> None:
    order = make_order(db, customer_id=customer.customer_id)
    signed_in(client, customer)
    token = csrf_token(client, "/support")
    response = client.post(
        "/support/new",
        data={
            "csrf_token": token,
            "order": order.number,
            "subject": "Gift note",
            "body": "Can you add a gift note?",
        },
    )
    assert response.status_code == 303
    conversation = db.scalars(select(Conversation).where(Conversation.order_id == order.id)).one()
    assert response.headers["Location"] == f"/support/{conversation.id}"
    assert (conversation.customer_id, conversation.subject, conversation.source) == (
        customer.customer_id,
        "Gift note",
        "portal",
    )


def test_new_general_question(client, db, customer) -> None:
    signed_in(client, customer)
    token = csrf_token(client, "/support")
    response = client.post(
        "/support/new", data={"csrf_token": token, "order": "", "body": "Do you ship to Norway?"}
    )
    assert response.status_code == 303
    conversation = db.scalars(
        select(Conversation).where(Conversation.customer_id == customer.customer_id)
    ).one()
    assert conversation.order_id is None and conversation.subject == "Do you ship to Norway?"


def test_new_conversation_about_someone_elses_order_is_404(client, db, customer) -> None:
    theirs = make_order(db, customer_id=make_user(db, "customer").customer_id)
    signed_in(client, customer)
    token = csrf_token(client, "/support")
    response = client.post("/support/new", data={"csrf_token": token, "order": theirs.number, "body": "hi"})
    assert response.status_code == 404
    assert db.scalar(select(Conversation.id)) is None


def test_guest_who_proved_an_order_can_write_about_it(client, db) -> None:
    order = make_order(
        db, email="ann@example.org", shipping_address={"postal_code": "LS1 4AB", "country": "GB"}
    )
    other = make_conversation(db, customer_id=make_user(db, "customer").customer_id)
    db.commit()
    token = csrf_token(client, "/track")
    assert (
        client.post(
            "/track", data={"csrf_token": token, "reference": order.number, "proof": "ann@example.org"}
        ).status_code
        == 303
    )
    assert f"/support/new?order={order.number}" in client.get(f"/orders/{order.number}").get_data(
        as_text=True
    )
    form = client.get(f"/support/new?order={order.number}")
    assert form.status_code == 200 and order.number in form.get_data(as_text=True)
    token = csrf_token(client, f"/support/new?order={order.number}")
    response = client.post(
        "/support/new", data={"csrf_token": token, "order": order.number, "body": "Is it gift wrapped?"}
    )
    assert response.status_code == 303
    assert "Is it gift wrapped?" in client.get(response.headers["Location"]).get_data(as_text=True)
    order_page = client.get(f"/orders/{order.number}").get_data(as_text=True)
    assert f'href="{response.headers["Location"]}"' in order_page  # back to the thread from the order
    assert client.get(f"/support/{other.id}").status_code == 404
    assert (
        client.post("/support/new", data={"csrf_token": token, "order": "", "body": "general"}).status_code
        == 404
    )


def test_link_in_our_email_opens_the_thread_without_signing_in(client, db, thread) -> None:
    response = client.get(f"/support/c/{make_thread_token(SECRET, thread.id)}")
    assert response.status_code == 303 and response.headers["Location"] == f"/support/{thread.id}"
    page = client.get(f"/support/{thread.id}").get_data(as_text=True)
    assert "It arrives on Monday." in page and "SECRET NOTE" not in page
    assert client.get("/support/c/not-a-token").status_code == 400


def test_attachment_downloads_only_from_public_messages_of_my_thread(client, db, customer, thread) -> None:
    public = db.scalars(
        select(Message).where(Message.conversation_id == thread.id, Message.author_kind == "customer")
    ).first()
    note = db.scalars(
        select(Message).where(Message.conversation_id == thread.id, Message.internal.is_(True))
    ).first()
    shown = MessageAttachment(
        message_id=public.id, filename="photo.png", content_type="image/png", size=3, content=b"png"
    )
    hidden = MessageAttachment(
        message_id=note.id, filename="x.pdf", content_type="application/pdf", size=3, content=b"pdf"
    )
    db.add_all([shown, hidden])
    db.flush()
    signed_in(client, customer)
    response = client.get(f"/support/{thread.id}/attachments/{shown.id}")
    assert response.status_code == 200 and response.data == b"png"
    assert response.headers["Content-Disposition"].startswith("attachment;")
    assert client.get(f"/support/{thread.id}/attachments/{hidden.id}").status_code == 404


SUPPORT_GETS = ["/support", "/support/new", "/support/1", "/support/1/attachments/1"]


@pytest.mark.parametrize("path", SUPPORT_GETS)
def test_support_pages_send_strangers_to_sign_in(client, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 302 and "/login" in response.headers["Location"]


@pytest.mark.parametrize("path", SUPPORT_GETS)
def test_support_pages_refuse_staff_accounts(client, db, path: str) -> None:
    agent = make_user(db, "agent")
    sign_in(client, agent.email, PASSWORD, console=True)
    assert client.get(path).status_code == 403


@pytest.mark.parametrize("path", ["/support/new", "/support/1/messages"])
def test_support_posts_send_strangers_to_sign_in(client, path: str) -> None:
    token = csrf_token(client, "/login")
    response = client.post(path, data={"csrf_token": token, "body": "hi"})
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_starting_conversations_is_rate_limited(client, db, customer, monkeypatch) -> None:
    monkeypatch.setattr("portal.views.NEW_CONVERSATIONS_PER_IP", 2)
    signed_in(client, customer)
    token = csrf_token(client, "/support")
    statuses = [
        client.post("/support/new", data={"csrf_token": token, "body": f"question {n}"}).status_code
        for n in range(3)
    ]
    assert statuses == [303, 303, 429]
    assert len(db.scalars(select(Conversation.id)).all()) == 2
