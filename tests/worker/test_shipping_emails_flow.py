"""The demo's promise end to end: an order marked shipped sends the 'shipped' email; once its estimate has
passed undelivered, the delay scan sends 'running late'; each exactly once, over a real SMTP server."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest

from core.db import utcnow
from core.fulfillment.services import mark_shipped
from core.notifications.delays import scan_for_delays
from core.notifications.smtp import SmtpSettings, dispatch_email_outbox
from core.security.roles import Actor
from tests.factories import make_channel, make_sku
from tests.fulfillment_factories import make_confirmed_order
from tests.inventory_factories import link, make_location, make_stock
from tests.worker.smtp_server import SmtpServer, running_smtp_server


@pytest.fixture(scope="module")
def smtp() -> Iterator[SmtpServer]:
    with running_smtp_server() as server:
        yield server


def subjects(smtp: SmtpServer, start: int) -> list[str]:
    return [str(m["Subject"]) for m in smtp.messages[start:]]


def test_shipped_then_late_each_emailed_once(db, session_factory, smtp: SmtpServer) -> None:
    settings = SmtpSettings(port=smtp.port, secret_key="flow-secret")
    channel = make_channel(db, name="Web shop", sender_name="Acme")
    warehouse = make_location(db)
    link(db, channel, warehouse)
    sku = make_sku(db)
    make_stock(db, warehouse, sku.id, 5)
    order = make_confirmed_order(db, channel, [(sku.id, 1)], email="casey@example.org")
    start = len(smtp.messages)
    now = utcnow()
    [shipment] = mark_shipped(
        db,
        order.id,
        carrier="UPS",
        tracking_number="1Z999AA10123456784",
        actor=Actor(label="agent", role="agent"),
        now=now,
    )
    db.commit()
    dispatch_email_outbox(session_factory, settings, now=now, secret="flow-secret")
    assert subjects(smtp, start) == [f"Your order {order.number} is on its way"]

    late = shipment.estimated_to + timedelta(days=3)
    for _ in range(2):  # the scan runs again and again; the customer hears once
        scan_for_delays(db, now=late)
        db.commit()
        dispatch_email_outbox(session_factory, settings, now=late, secret="flow-secret")
    sent = subjects(smtp, start)
    assert len(sent) == 2, sent
    assert any("late" in s.lower() or "delay" in s.lower() for s in sent[1:]), sent
