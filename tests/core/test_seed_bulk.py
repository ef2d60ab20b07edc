"""The demo seed at scale: COPY on PostgreSQL writes the very rows executemany writes, the bulk tables'
indexes come back after the load, and the data set's shape grows with the orders only above the demo's
size."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select, text

from core import migrate
from core import models as m
from core.db import make_engine
from core.demo.context import (
    DEMO_SHAPE_ORDERS,
    SECOND_CHANNEL_ODDS,
    TICKET_ODDS,
    person_count,
    scaled_odds,
)
from core.demo.seed import BULK_TABLES, seed_demo
from tests.conftest import drop_database, fresh_database_url

NOW = datetime(2025, 6, 2, 15, 30, tzinfo=UTC)
ORDERS = 300
ON_POSTGRES = (os.environ.get("TEST_DATABASE_URL") or "").startswith("postgresql")


@pytest.fixture
def fresh_engines(tmp_path: Path) -> Iterator[list[Engine]]:
    made: list[tuple[Engine, str, bool]] = []

    def make(label: str) -> Engine:
        url, needs_drop = fresh_database_url(tmp_path, label)
        engine = make_engine(url)
        migrate.upgrade(engine)
        made.append((engine, url, needs_drop))
        return engine

    engines = [make("bulk"), make("plain")]
    yield engines
    for engine, url, needs_drop in made:
        engine.dispose()
        drop_database(url, needs_drop)


def _contents(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    contents = {}
    with engine.connect() as conn:
        for table in m.Base.metadata.sorted_tables:
            columns = [c for c in table.c if not (table.name == "users" and c.name == "password_hash")]
            contents[table.name] = list(conn.execute(select(*columns).order_by(*table.primary_key.columns)))
    return contents


def _indexes(engine: Engine) -> set[tuple[str, str]]:
    with engine.connect() as conn:
        return set(
            conn.execute(
                text("SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = current_schema()")
            ).all()
        )


@pytest.mark.skipif(
    not ON_POSTGRES, reason="COPY and index rebuilding are PostgreSQL's (set TEST_DATABASE_URL)"
)
def test_copy_writes_the_rows_executemany_writes_and_builds_the_indexes_again(
    fresh_engines: list[Engine],
) -> None:
    bulk, plain = fresh_engines
    indexes_before = _indexes(bulk)
    notes: list[str] = []
    stats = seed_demo(bulk, orders=ORDERS, seed=7, now=NOW, bulk=True, note=notes.append)
    plain_stats = seed_demo(plain, orders=ORDERS, seed=7, now=NOW, bulk=False)

    assert stats.counts == plain_stats.counts
    assert stats.counts["orders"] == ORDERS
    assert _contents(bulk) == _contents(plain)
    assert _indexes(bulk) == indexes_before  # every dropped index is back, as it was
    assert any(note.startswith("dropped ") for note in notes)
    assert any(note.startswith("built ") for note in notes)
    assert any(note.startswith("ANALYZE") for note in notes)
    with bulk.connect() as conn:  # ANALYZE ran: the planner knows the orders table's size
        analyzed = conn.scalar(
            text("SELECT last_analyze IS NOT NULL FROM pg_stat_user_tables WHERE relname = 'orders'")
        )
    assert analyzed


@pytest.mark.skipif(ON_POSTGRES, reason="the SQLite refusal of COPY (runs without TEST_DATABASE_URL)")
def test_bulk_loading_on_sqlite_is_refused_with_a_clear_error(fresh_engines: list[Engine]) -> None:
    with pytest.raises(ValueError, match="needs PostgreSQL"):
        seed_demo(fresh_engines[0], orders=10, seed=7, now=NOW, bulk=True)
    with fresh_engines[0].connect() as conn:
        assert conn.scalar(select(m.Order.id).limit(1)) is None


def test_bulk_tables_exist() -> None:
    assert set(BULK_TABLES) <= set(m.Base.metadata.tables)


def test_the_default_demo_keeps_its_shape_and_large_data_sets_reach_a_shops_ratios() -> None:
    # Up to the demo's size: the regulars and odds the demo always had.
    assert person_count(DEMO_SHAPE_ORDERS) == 2000
    assert person_count(100) == 50
    assert scaled_odds(DEMO_SHAPE_ORDERS, TICKET_ODDS) == 0.08
    assert scaled_odds(ORDERS, SECOND_CHANNEL_ODDS) == 0.2
    # Growing smoothly above it, to a customer and a ticket for every five orders at a million.
    assert 2000 < person_count(DEMO_SHAPE_ORDERS + 100) < 2100
    assert 185_000 <= person_count(1_000_000) <= 195_000
    assert scaled_odds(1_000_000, TICKET_ODDS) == pytest.approx(TICKET_ODDS[1])
    assert scaled_odds(5_000_000, SECOND_CHANNEL_ODDS) == pytest.approx(SECOND_CHANNEL_ODDS[1])
    middle = scaled_odds(510_000, TICKET_ODDS)
    assert TICKET_ODDS[0] < middle < TICKET_ODDS[1]
