"""Audit log: `crossdock audit verify` walking the hash chain.

Entries/s of `verify_audit_chain` over 200,000 chained entries (each with a small before/after), streamed in
keyset batches with each hash recomputed from canonical JSON. Floor: the same rows read by the bare driver
in one pass, each row's text hashed with SHA-256 as it comes (no JSON decoding, no canonical form): the least
any check of every row's hash costs.
"""

from __future__ import annotations

import hashlib
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
from sqlalchemy import insert
from sqlalchemy.engine import make_url

from benchmarks.runner import Goal, Scenario, Target
from core.audit.chain import GENESIS_HASH, entry_hash
from core.audit.models import AuditEntry
from core.audit.queries import verify_audit_chain
from core.db import make_engine

ENTRIES = 200_000
START = datetime(2026, 1, 1, tzinfo=UTC)


@dataclass
class _Log:
    url: str = ""


def _setup(target: Target) -> _Log:
    """A database with ENTRIES chained entries, written in bulk (chained as record_audit chains them)."""
    ctx = _Log(target.fresh_url())
    engine = make_engine(ctx.url)
    prev = GENESIS_HASH
    try:
        with engine.begin() as conn:
            rows: list[dict[str, Any]] = []
            for i in range(ENTRIES):
                fields = {
                    "actor_id": None,
                    "actor_label": f"agent{i % 40}@shop.example",
                    "action": ("order.cancel", "stock.count", "user.role", "crm_note.added")[i % 4],
                    "entity_type": "order",
                    "entity_id": str(100_000 + i),
                    "before": {"status": "confirmed", "total": 1999 + i},
                    "after": {"status": "cancelled", "total": 1999 + i, "reason": "customer asked"},
                    "ip_address": "203.0.113.7",
                    "created_at": START + timedelta(seconds=i),
                }
                digest = entry_hash(fields, prev)
                rows.append(fields | {"prev_hash": prev, "hash": digest})
                prev = digest
                if len(rows) == 10_000:
                    conn.execute(insert(AuditEntry), rows)
                    rows = []
            if rows:
                conn.execute(insert(AuditEntry), rows)
    finally:
        engine.dispose()
    return ctx


def _run(ctx: _Log) -> float:
    engine = make_engine(ctx.url)
    try:
        with engine.connect() as conn:
            check = verify_audit_chain(conn)
    finally:
        engine.dispose()
    assert check.ok and check.count == ENTRIES, check
    return check.count


_FLOOR_SQL = (
    "SELECT id, actor_id, actor_label, action, entity_type, entity_id, before, after, ip_address, created_at,"
    " prev_hash, hash FROM audit_entries ORDER BY id"
)


def _floor(ctx: _Log) -> float:
    url = make_url(ctx.url)
    count = 0
    if url.get_backend_name() == "sqlite":
        conn = sqlite3.connect(url.database)
        try:
            for row in conn.execute(_FLOOR_SQL):
                hashlib.sha256(repr(row).encode()).hexdigest()
                count += 1
        finally:
            conn.close()
        return count
    dsn = url.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(dsn) as conn, conn.cursor(name="floor") as cursor:
        cursor.itersize = 5000
        cursor.execute(_FLOOR_SQL)
        for row in cursor:
            hashlib.sha256(repr(row).encode()).hexdigest()
            count += 1
    return count


SCENARIOS = [
    Scenario(
        name=f"audit verify, {ENTRIES:,} chained entries",
        setup=_setup,
        run=_run,
        floor=_floor,
        unit="entries/s",
        repeats=3,
        goals={"sqlite": Goal(0.2), "postgresql": Goal(0.2)},
        floor_note="the bare driver reading every row in one pass, SHA-256 over each row's text",
    )
]
