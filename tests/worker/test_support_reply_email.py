"""An agent's reply goes out through the outbox to a real SMTP server with a reply-to token address and a
link back to the thread; the customer's answer to that email threads back into the conversation."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from sqlalchemy.orm import Session

from core.notifications.rendering import message_id_for
from core.notifications.smtp import SmtpSettings, dispatch_email_outbox
from core.security.roles import Actor
from core.support import services
from core.support.inbound import receive_email
from core.support.tokens import conversation_from_addresses, read_thread_token, reply_address
from tests.factories import NOW, make_customer, make_order, make_user
from tests.support_factories import make_conversation, make_email
from tests.worker.smtp_server import SmtpServer, running_smtp_server

MAIL_FROM = "orders@crossdock.test"
SECRET = "reply-email-secret"
PORTAL = "https://portal.example.test"
THREAD_LINK = re.compile(re.escape(PORTAL) + r"/support/c/([A-Za-z0-9_.-]+)")


@pytest.fixture(scope="module")
def smtp() -> Iterator[SmtpServer]:
    with running_smtp_server() as server:
        yield server


def test_agent_reply_email_can_be_answered_by_email(db: Session, session_factory, smtp: SmtpServer) -> None:
    customer = make_customer(db, name="Jane Doe", email="jane@example.org")
    order = make_order(db, customer_id=customer.id, email="jane@example.org")
    conversation = make_conversation(
        db, customer_id=customer.id, order_id=order.id, subject="Where is my tent?"
    )
    agent = make_user(db, "agent")
    actor = Actor(label=agent.email, user_id=agent.id, role="agent")
    reply = services.reply_to_conversation(
        db, conversation.id, "It ships on Monday.", actor=actor, now=NOW, set_status="pending"
    )
    db.commit()

    before = len(smtp.messages)
    settings = SmtpSettings(port=smtp.port, mail_from=MAIL_FROM, portal_base_url=PORTAL, secret_key=SECRET)
    assert dispatch_email_outbox(session_factory, settings, now=NOW).sent >= 1
    wanted = message_id_for(f"message:{reply.id}:reply", MAIL_FROM)
    [email] = [m for m in smtp.messages[before:] if m["Message-ID"] == wanted]

    assert str(email["To"]) == "jane@example.org"
    assert str(email["Subject"]) == "Re: Where is my tent?"
    assert str(email["Reply-To"]) == reply_address(SECRET, conversation.id, "crossdock.test")
    assert conversation_from_addresses(SECRET, str(email["Reply-To"])) == conversation.id
    text = email.get_body(preferencelist=("plain",)).get_content()
    html = email.get_body(preferencelist=("html",)).get_content()
    for body in (text, html):
        assert "It ships on Monday." in body and "Reply to this email" in body
        assert "this mailbox is not read" not in body
        tokens = THREAD_LINK.findall(body)
        assert tokens and all(read_thread_token(SECRET, token) == conversation.id for token in tokens)

    answer = make_email(
        sender="Jane Doe <jane@example.org>",
        to=str(email["Reply-To"]),
        subject=f"Re: {email['Subject']}",
        body="Great, thank you!\n\nOn Fri, 20 Nov 2026, Acme wrote:\n> It ships on Monday.",
        message_id="<answer-1@mail.example.org>",
        in_reply_to=email["Message-ID"],
    )
    result = receive_email(db, answer, secret=SECRET, now=NOW)
    assert (result.status, result.conversation_id) == ("threaded", conversation.id)
    db.refresh(conversation)
    assert conversation.status == "open"  # the customer's answer reopens the pending ticket
    assert conversation.messages[-1].body == "Great, thank you!"
