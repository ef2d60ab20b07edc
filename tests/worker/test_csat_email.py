"""The satisfaction survey goes out through the outbox to a real SMTP server when a ticket is solved, with
signed links to the rating page (one per score) that the portal accepts."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from sqlalchemy.orm import Session

from core.notifications.rendering import message_id_for
from core.notifications.smtp import SmtpSettings, dispatch_email_outbox
from core.security.roles import Actor
from core.support import services
from core.support.tokens import read_rating_token
from tests.factories import NOW, make_channel, make_customer, make_order, make_user
from tests.support_factories import make_conversation
from tests.worker.smtp_server import SmtpServer, running_smtp_server

MAIL_FROM = "orders@crossdock.test"
SECRET = "csat-email-secret"
PORTAL = "https://portal.example.test"
RATE_LINK = re.compile(re.escape(PORTAL) + r"/support/rate/([A-Za-z0-9_.-]+)(?:\?score=(\d))?")


@pytest.fixture(scope="module")
def smtp() -> Iterator[SmtpServer]:
    with running_smtp_server() as server:
        yield server


def test_solved_ticket_sends_a_survey_with_signed_rating_links(db: Session, session_factory, smtp) -> None:
    customer = make_customer(db, name="Jane Doe", email="jane@example.org")
    channel = make_channel(db, name="Amazon", sender_name="Acme Outdoor")
    order = make_order(db, customer_id=customer.id, channel_id=channel.id, email="jane@example.org")
    ticket = make_conversation(db, customer_id=customer.id, order_id=order.id, subject="Where is my tent?")
    agent = make_user(db, "agent")
    actor = Actor(label=agent.email, user_id=agent.id, role="agent")
    services.reply_to_conversation(
        db, ticket.id, "Refunded today.", actor=actor, now=NOW, set_status="solved"
    )
    db.commit()
    [survey_id] = [m.data["rating_id"] for m in ticket.messages if m.data.get("event") == "csat_asked"]

    before = len(smtp.messages)
    settings = SmtpSettings(port=smtp.port, mail_from=MAIL_FROM, portal_base_url=PORTAL, secret_key=SECRET)
    assert dispatch_email_outbox(session_factory, settings, now=NOW).sent == 2  # the reply and the survey
    wanted = message_id_for(f"rating:{survey_id}:survey", MAIL_FROM)
    [email] = [m for m in smtp.messages[before:] if m["Message-ID"] == wanted]

    assert str(email["To"]) == "jane@example.org"
    assert str(email["Subject"]) == "How did we do? Where is my tent?"
    assert email["From"].addresses[0].display_name == "Acme Outdoor"
    assert email["Reply-To"] is None and email["List-Unsubscribe"] is None
    text = email.get_body(preferencelist=("plain",)).get_content()
    html = email.get_body(preferencelist=("html",)).get_content()
    assert "Hi Jane," in text and "Where is my tent?" in text
    assert "Track your order" not in text + html
    for body in (text, html):
        links = RATE_LINK.findall(body)
        assert links and all(read_rating_token(SECRET, token) == survey_id for token, _ in links)
    assert sorted(score for _, score in RATE_LINK.findall(html) if score) == ["1", "2", "3", "4", "5"]
