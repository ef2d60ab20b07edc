"""The managers' daily trend-alert digest: queued once a day to each manager and admin when there is an
alert, sent through a real SMTP server, listing the alerts with links to their tickets."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.analytics.digest import analytics_digest_job, queue_trend_digest
from core.notifications.models import OutboxMessage
from core.notifications.rendering import message_id_for
from core.notifications.smtp import SmtpSettings, dispatch_email_outbox
from core.orders.models import OrderLine
from core.support.models import Conversation
from tests.factories import NOW, make_channel, make_order, make_sku, make_user
from tests.worker.smtp_server import SmtpServer, running_smtp_server

MAIL_FROM = "orders@crossdock.test"
PORTAL = "https://portal.example.test"


@pytest.fixture(scope="module")
def smtp() -> Iterator[SmtpServer]:
    with running_smtp_server() as server:
        yield server


def damaged_tickets(db: Session, count: int) -> None:
    channel = make_channel(db, code="mugs", name="Mug Shop")
    sku = make_sku(db, code="MUG-9", title="Mug")
    for n in range(count):
        order = make_order(db, channel_id=channel.id, placed_at=NOW - timedelta(days=9))
        db.add(
            OrderLine(
                order_id=order.id, line_no=2, sku_id=sku.id, title="Mug", quantity=1, unit_price=1, total=1
            )
        )
        at = NOW - timedelta(hours=5 * n + 1)
        db.add(
            Conversation(
                order_id=order.id, category="damaged", subject="Broken", created_at=at, updated_at=at
            )
        )
    db.flush()


def test_no_alert_no_digest(db: Session) -> None:
    make_user(db, "manager")
    damaged_tickets(db, 4)  # below the minimum of 5
    assert analytics_digest_job(db, NOW) == {"digests": 0}


def test_digest_goes_to_managers_once_a_day_and_lists_the_alerts(
    db: Session, session_factory, smtp: SmtpServer
) -> None:
    manager, admin = make_user(db, "manager"), make_user(db, "admin")
    make_user(db, "agent")
    damaged_tickets(db, 6)
    assert analytics_digest_job(db, NOW) == {"digests": 2}
    assert queue_trend_digest(db, now=NOW) == []  # once a day each
    rows = db.scalars(select(OutboxMessage).where(OutboxMessage.kind == "analytics_digest")).all()
    assert sorted(r.recipient for r in rows) == sorted([manager.email, admin.email])
    assert rows[0].subject.startswith("Trend alerts 2026-11-20: ")
    db.commit()
    before = len(smtp.messages)
    settings = SmtpSettings(port=smtp.port, mail_from=MAIL_FROM, portal_base_url=PORTAL, secret_key="s")
    assert dispatch_email_outbox(session_factory, settings, now=NOW).sent >= 2
    wanted = message_id_for(rows[0].dedup_key, MAIL_FROM)
    [message] = [m for m in smtp.messages[before:] if m["Message-ID"] == wanted]
    text = message.get_body(preferencelist=("plain",)).get_content()
    html = message.get_body(preferencelist=("html",)).get_content()
    assert "Damaged tickets about SKU MUG-9: 6 this week, 0.0 a week before" in text
    assert f"{PORTAL}/console/tickets?view=all&sort=newest&sku=MUG-9&category=damaged" in text
    assert "Tickets about Mug Shop orders" in html and f"{PORTAL}/console/analytics" in html
