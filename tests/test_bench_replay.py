"""The benchmarks' statement recorder (benchmarks/replay.py): a replay writes what the recorded run wrote.

The ceiling figures `crossdock bench` reports rest on it. It records SQLite connections, so these tests use
SQLite files of their own whatever the suite's database."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime

from sqlalchemy import select

import core.models  # noqa: F401  (registers every table)
from benchmarks import replay
from core import migrate
from core.db import begin_write, make_engine, make_session_factory
from core.inventory.allocations import receive_stock
from core.inventory.models import StockLevel, StockMovement
from core.inventory.reservations import reserve_stock
from core.notifications.models import OutboxMessage
from tests.factories import make_channel, make_sku
from tests.inventory_factories import link, make_location

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


def snapshot(url: str) -> tuple[list, list, list]:
    engine = make_engine(url)
    try:
        with make_session_factory(engine)() as session:
            return (
                session.execute(select(StockLevel.sku_id, StockLevel.on_hand, StockLevel.reserved)).all(),
                session.execute(
                    select(StockMovement.id, StockMovement.kind, StockMovement.reserved_delta)
                ).all(),
                session.execute(select(OutboxMessage.dedup_key, OutboxMessage.status)).all(),
            )
    finally:
        engine.dispose()


def test_a_replay_of_the_recorded_statements_writes_what_the_run_wrote(tmp_path) -> None:
    original, copy = tmp_path / "run.db", tmp_path / "replay.db"
    engine = make_engine(f"sqlite:///{original}")
    migrate.upgrade(engine)
    factory = make_session_factory(engine)
    with factory() as session:
        channel, location, sku = make_channel(session), make_location(session), make_sku(session)
        link(session, channel, location)
        receive_stock(session, location.id, sku.id, 10, actor="test", now=NOW)
        session.commit()
        ids = (location.id, sku.id)
    engine.dispose()
    shutil.copyfile(original, copy)  # the state the run starts from

    with replay.recording(engine) as sent, factory() as session:
        for quantity in (1, 2, 3):
            begin_write(session)
            reserve_stock(session, [(*ids, quantity)], order_id=None, actor="test", now=NOW)
            session.commit()
    engine.dispose()

    transactions = replay.transactions(sent)
    assert len(transactions) == 3
    assert all(t[0][1] == "BEGIN IMMEDIATE" and t[-1] == ("commit",) for t in transactions)
    conn = replay.connect(f"sqlite:///{copy}")
    try:
        replay.replay(conn, sent)
    finally:
        conn.close()
    assert snapshot(f"sqlite:///{copy}") == snapshot(f"sqlite:///{original}")
    levels, movements, _pushes = snapshot(f"sqlite:///{copy}")
    assert levels == [(ids[1], 10, 6)]
    assert [m[1] for m in movements] == ["receipt", "reservation", "reservation", "reservation"]
