"""Demo seeding rate: `seed_demo` against the bare DBAPI writing the very same rows.

Setup seeds a scratch database once, recording which rows of which table each transaction inserted (engine
events), then reads every row back as stored. The floor replays them: per transaction, one
`cursor.executemany("INSERT INTO t (...) VALUES (...)")` per table, then COMMIT, on a fresh migrated database.
So the ratio is what generating the data and going through SQLAlchemy costs over the database's own work.
Both sides write with executemany (`bulk=False`: on PostgreSQL the seed's own default is COPY).
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import psycopg
from psycopg.types.json import Json
from sqlalchemy import JSON, Engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.sql.dml import Insert

from benchmarks.runner import Scenario, Target
from core.db import make_engine
from core.demo.seed import seed_demo
from core.models import Base

ORDERS = 2000
SEED = 42
NOW = datetime(2025, 6, 2, 15, 0, tzinfo=UTC)  # fixed, so every run writes the same rows


@dataclass
class _Context:
    target: Target
    url: str = ""
    # per transaction: (table, columns, rows) in the order they were inserted
    transactions: list[list[tuple[str, list[str], list[tuple[Any, ...]]]]] = field(default_factory=list)


def _record_transactions(engine: Engine) -> list[list[tuple[str, int]]]:
    """Seed through `engine`, noting per committed transaction each INSERT's table and row count."""
    done: list[list[tuple[str, int]]] = []
    current: list[tuple[str, int]] = []

    def before_execute(_conn: Any, clause: Any, multiparams: Any, params: Any, _options: Any) -> None:
        if isinstance(clause, Insert):
            rows = len(multiparams) if multiparams else 1
            current.append((clause.table.name, rows))

    def commit(_conn: Any) -> None:
        if current:
            done.append(list(current))
            current.clear()

    event.listen(engine, "before_execute", before_execute)
    event.listen(engine, "commit", commit)
    seed_demo(engine, orders=ORDERS, seed=SEED, now=NOW, bulk=False)
    return done


def _read_rows(engine: Engine, table: str) -> tuple[list[str], list[tuple[Any, ...]]]:
    """Every row of the table as the database stores it, in insertion (id) order."""
    columns = [column.name for column in Base.metadata.tables[table].c]
    json_columns = {c.name for c in Base.metadata.tables[table].c if isinstance(c.type, JSON)}
    order = "id" if "id" in columns else ("rowid" if engine.dialect.name == "sqlite" else ", ".join(columns))
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        cursor.execute(f"SELECT {', '.join(columns)} FROM {table} ORDER BY {order}")
        rows = [tuple(row) for row in cursor.fetchall()]
    finally:
        raw.close()
    if engine.dialect.name == "postgresql" and json_columns:  # psycopg hands JSON back parsed: wrap it again
        wrap = [name in json_columns for name in columns]
        rows = [
            tuple(Json(v) if w and v is not None else v for v, w in zip(row, wrap, strict=True))
            for row in rows
        ]
    return columns, rows


def setup(target: Target) -> _Context:
    ctx = _Context(target)
    engine = make_engine(target.fresh_url())
    try:
        plan = _record_transactions(engine)
        tables = {name: _read_rows(engine, name) for batch in plan for name, _ in batch}
    finally:
        engine.dispose()
    taken = dict.fromkeys(tables, 0)
    for batch in plan:
        writes = []
        for name, count in batch:
            columns, rows = tables[name]
            writes.append((name, columns, rows[taken[name] : taken[name] + count]))
            taken[name] += count
        ctx.transactions.append(writes)
    missing = {name for name, (_, rows) in tables.items() if taken[name] != len(rows)}
    if missing:
        raise RuntimeError(f"captured batches do not cover every row of {sorted(missing)}")
    return ctx


def fresh_database(ctx: _Context) -> None:
    ctx.url = ctx.target.fresh_url()


def run(ctx: _Context) -> float:
    engine = make_engine(ctx.url)
    try:
        return seed_demo(engine, orders=ORDERS, seed=SEED, now=NOW, bulk=False).counts["orders"]
    finally:
        engine.dispose()


def floor(ctx: _Context) -> float:
    url = make_url(ctx.url)
    if url.get_backend_name() == "sqlite":
        conn: Any = sqlite3.connect(url.database)
        for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "foreign_keys=ON"):
            conn.execute(f"PRAGMA {pragma}")
        mark = "?"
    else:
        conn = psycopg.connect(url.set(drivername="postgresql").render_as_string(hide_password=False))
        mark = "%s"
    orders = 0
    try:
        for batch in ctx.transactions:
            cursor = conn.cursor()
            for table, columns, rows in batch:
                placeholders = ", ".join([mark] * len(columns))
                cursor.executemany(
                    f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({placeholders})", rows
                )
                orders += len(rows) if table == "orders" else 0
            conn.commit()
    finally:
        conn.close()
    return orders


SCENARIOS = [
    Scenario(
        name="demo seeding rate",
        setup=setup,
        run=run,
        floor=floor,
        unit="orders/s",
        repeats=5,
        # Making the rows (and hashing the demo password) and going through the ORM cost about 7x the bare
        # inserts on SQLite, about 2x on PostgreSQL where the inserts cost more: under 0.08 is a regression.
        goal=0.08,
        before_each=fresh_database,
        floor_note="the same rows and transactions through bare DBAPI executemany",
    ),
]
