"""Inbound email: real RFC 5322 messages threaded by our reply-to token, then In-Reply-To/References, else a
new ticket for the sender; duplicates, auto-replies, quoted text, HTML-only mail and attachments."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.customers.models import Customer, Identity
from core.errors import DomainError
from core.notifications.rendering import message_id_for
from core.security.roles import Actor
from core.support import services
from core.support.inbound import MAX_ATTACHMENT_BYTES, receive_email, strip_quoted
from core.support.models import Conversation, Message, MessageAttachment
from core.support.tokens import reply_address
from tests.factories import NOW, make_customer, make_order, make_user
from tests.support_factories import make_conversation, make_email

SECRET = "inbound-test-secret"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def receive(db: Session, raw: bytes):
    return receive_email(db, raw, secret=SECRET, now=NOW)


def test_receive_email_from_a_known_customer_opens_an_email_ticket(db: Session) -> None:
    customer = make_customer(db, email="jane@example.org")
    result = receive(db, make_email(subject="Re: Fwd: Wrong size", body="I got a medium, I ordered a large."))
    assert result.status == "created"
    conversation = db.get(Conversation, result.conversation_id)
    assert (conversation.customer_id, conversation.source, conversation.status) == (
        customer.id,
        "email",
        "open",
    )
    assert conversation.subject == "Wrong size"
    message = db.get(Message, result.message_id)
    assert (message.author_kind, message.body) == ("customer", "I got a medium, I ordered a large.")
    assert message.email_message_id == "m1@mail.example.org"
    assert message.data["email"]["from"] == "jane@example.org"


def test_receive_email_matches_a_channel_identitys_address(db: Session) -> None:
    customer = make_customer(db, email="jane@example.org")
    db.add(Identity(customer_id=customer.id, name="J. Doe", email="jd-marketplace@relay.example"))
    db.flush()
    result = receive(db, make_email(sender="jd-marketplace@relay.example"))
    assert db.get(Conversation, result.conversation_id).customer_id == customer.id


def test_receive_email_from_a_stranger_creates_the_customer(db: Session) -> None:
    result = receive(db, make_email(sender='"New Person" <New.Person@Example.net>'))
    customer = db.get(Customer, db.get(Conversation, result.conversation_id).customer_id)
    assert (customer.name, customer.email) == ("New Person", "new.person@example.net")


def test_receive_email_threads_by_our_reply_to_token_and_reopens(db: Session) -> None:
    conversation = make_conversation(db, customer_id=make_customer(db).id, status="solved")
    raw = make_email(
        sender="someone-else@forwarder.example",  # the token is signed: whoever forwards it, it threads
        to=reply_address(SECRET, conversation.id, "shop.example"),
        body="Thanks, but one more thing.\n\n"
        "On Tue, 1 Dec 2026 at 10:00, Shop <reply@shop.example> wrote:\n> old",
    )
    result = receive(db, raw)
    assert (result.status, result.conversation_id) == ("threaded", conversation.id)
    assert conversation.status == "open"
    assert db.get(Message, result.message_id).body == "Thanks, but one more thing."


def test_receive_email_with_a_forged_token_is_not_threaded(db: Session) -> None:
    conversation = make_conversation(db, customer_id=make_customer(db).id)
    forged = reply_address("not-our-secret", conversation.id, "shop.example")
    result = receive(db, make_email(to=forged))
    assert result.status == "created" and result.conversation_id != conversation.id


def _agent_reply(db: Session, conversation: Conversation) -> Message:
    user = make_user(db, "agent")
    actor = Actor(label=user.email, user_id=user.id, role="agent")
    return services.reply_to_conversation(db, conversation.id, "It ships Monday.", actor=actor, now=NOW)


def test_receive_email_threads_by_in_reply_to_our_reply_from_the_customer(db: Session) -> None:
    customer = make_customer(db, email="jane@example.org")
    conversation = make_conversation(db, customer_id=customer.id, status="pending")
    reply = _agent_reply(db, conversation)
    ours = message_id_for(f"message:{reply.id}:reply", "orders@any-domain.example")
    result = receive(
        db, make_email(to="orders@any-domain.example", in_reply_to=ours, references=f"<x@y> {ours}")
    )
    assert (result.status, result.conversation_id) == ("threaded", conversation.id)
    assert conversation.status == "open"


def test_receive_email_threads_by_references_to_an_earlier_inbound_email(db: Session) -> None:
    make_customer(db, email="jane@example.org")
    first = receive(db, make_email(message_id="<first@mail.example.org>"))
    second = receive(
        db, make_email(message_id="<second@mail.example.org>", references="<first@mail.example.org>")
    )
    assert (second.status, second.conversation_id) == ("threaded", first.conversation_id)


def test_receive_email_in_reply_to_from_another_sender_opens_a_new_ticket(db: Session) -> None:
    conversation = make_conversation(db, customer_id=make_customer(db, email="jane@example.org").id)
    reply = _agent_reply(db, conversation)
    ours = message_id_for(f"message:{reply.id}:reply", "orders@shop.example")
    result = receive(db, make_email(sender="mallory@evil.example", in_reply_to=ours))
    assert result.status == "created" and result.conversation_id != conversation.id


def test_receive_email_to_a_closed_conversation_starts_a_follow_up(db: Session) -> None:
    customer = make_customer(db)
    order = make_order(db, customer_id=customer.id)
    conversation = make_conversation(db, customer_id=customer.id, order_id=order.id, status="closed")
    result = receive(db, make_email(to=reply_address(SECRET, conversation.id, "shop.example")))
    follow_up = db.get(Conversation, result.conversation_id)
    assert result.status == "created" and follow_up.id != conversation.id
    assert (follow_up.customer_id, follow_up.order_id) == (customer.id, order.id)
    assert db.get(Message, result.message_id).data["follow_up_of"] == conversation.id
    assert conversation.status == "closed"


def test_receive_email_twice_is_a_duplicate(db: Session) -> None:
    first = receive(db, make_email())
    again = receive(db, make_email())
    assert again.status == "duplicate"
    assert (again.conversation_id, again.message_id) == (first.conversation_id, first.message_id)
    assert (
        db.scalar(select(Message.id).where(Message.id != first.message_id, Message.author_kind == "customer"))
        is None
    )


@pytest.mark.parametrize(
    "headers",
    [{"Auto-Submitted": "auto-replied"}, {"Precedence": "bulk"}, {"X-Autoreply": "yes"}],
)
def test_receive_email_ignores_automatic_replies(db: Session, headers: dict[str, str]) -> None:
    result = receive(db, make_email(headers=headers))
    assert result.status == "ignored" and result.conversation_id is None
    assert db.scalar(select(Conversation.id)) is None


def test_receive_email_without_a_sender_is_refused(db: Session) -> None:
    with pytest.raises(DomainError, match="no sender"):
        receive(db, b"Subject: hi\r\n\r\nbody\r\n")


def test_receive_email_keeps_allowed_attachments_and_lists_the_refused(db: Session) -> None:
    raw = make_email(
        body="Photo of the damage attached.",
        attachments=[
            ("damage.png", "image/png", PNG),
            ("invoice.pdf", "application/pdf", b"%PDF-1.4 test"),
            ("setup.exe", "application/x-msdownload", b"MZ\x90\x00"),
            ("huge.jpg", "image/jpeg", b"\xff\xd8" + b"\x00" * MAX_ATTACHMENT_BYTES),
        ],
    )
    result = receive(db, raw)
    kept = db.scalars(
        select(MessageAttachment)
        .where(MessageAttachment.message_id == result.message_id)
        .order_by(MessageAttachment.id)
    ).all()
    assert [(a.filename, a.content_type, a.size) for a in kept] == [
        ("damage.png", "image/png", len(PNG)),
        ("invoice.pdf", "application/pdf", 13),
    ]
    assert kept[0].content == PNG
    refused = db.get(Message, result.message_id).data["rejected_attachments"]
    assert [r["filename"] for r in refused] == ["setup.exe", "huge.jpg"]
    assert "not accepted" in refused[0]["reason"] and "larger than 5 MB" in refused[1]["reason"]


def test_receive_email_reads_an_html_only_message_as_text(db: Session) -> None:
    message = (
        b"From: jane@example.org\r\nTo: support@shop.example\r\nSubject: Hi\r\nMessage-ID: <h@x>\r\n"
        b"MIME-Version: 1.0\r\nContent-Type: text/html; charset=utf-8\r\n\r\n"
        b"<html><head><style>p{}</style></head><body><p>Where is <b>my</b> order?</p>"
        b"<p>Thanks &amp; regards</p><script>alert(1)</script></body></html>\r\n"
    )
    result = receive(db, message)
    assert db.get(Message, result.message_id).body == "Where is my order?\n\nThanks & regards"


def test_strip_quoted_cuts_the_quoted_earlier_message() -> None:
    text = (
        "Yes please.\r\n\r\nOn Mon, 30 Nov 2026 at 09:12, Acme Outdoor <\r\n"
        "reply+c1-abc@shop.example> wrote:\r\n> Shall we?"
    )
    assert strip_quoted(text) == "Yes please."
    assert strip_quoted("Fine\n> quoted line\n> another") == "Fine"
    assert strip_quoted("> only a quote") == "> only a quote"
