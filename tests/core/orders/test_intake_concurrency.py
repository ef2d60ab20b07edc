"""The same new order delivered by several requests at once gives exactly one order."""

from __future__ import annotations

import threading

from sqlalchemy import func, select

import core.models  # noqa: F401  (registers every table)
from core import migrate
from core.channels.models import Channel
from core.db import begin_write, make_engine, make_session_factory, utcnow
from core.orders import intake
from core.orders.models import Order
from tests.conftest import drop_database, fresh_database_url
from tests.fixtures import channel_text


def test_concurrent_deliveries_of_one_order_create_it_once(tmp_path) -> None:
    url, needs_drop = fresh_database_url(tmp_path, "dup")
    engine = make_engine(url, pool_size=10) if not url.startswith("sqlite") else make_engine(url)
    try:
        migrate.upgrade(engine)
        factory = make_session_factory(engine)
        with factory() as session:
            session.add(Channel(code="shopify", name="Shopify", kind="shopify", webhook_secret="x"))
            session.commit()
        body = channel_text("shopify", "order.json")
        barrier = threading.Barrier(8)
        outcomes: list[str] = []
        errors: list[BaseException] = []

        def deliver(n: int) -> None:
            try:
                barrier.wait()
                with factory() as session:
                    begin_write(session)  # SQLite: take the write lock up front, as the webhook route does
                    channel = intake.get_channel(session, "shopify")
                    payload, _ = intake.store_payload(
                        session, channel, body, source="webhook", now=utcnow(), delivery_id=f"d-{n}"
                    )
                    [(_p, results)] = intake.process_payloads(session, channel, [payload], now=utcnow())
                    session.commit()
                    outcomes.extend(r.status for r in results)
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=deliver, args=(n,)) for n in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        with factory() as session:
            assert session.scalar(select(func.count()).select_from(Order)) == 1
        assert sorted(outcomes).count("needs_attention") == 1
        assert len(outcomes) == 8
    finally:
        engine.dispose()
        drop_database(url, needs_drop)
