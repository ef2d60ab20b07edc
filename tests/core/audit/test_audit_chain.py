"""The audit log as a hash chain: each entry chained to the one before, append-only (the ORM and a database
trigger refuse changes), verified by walking the chain; a tampered entry is found; the migration chains the
entries written before it; concurrent writers on PostgreSQL never fork the chain."""

from __future__ import annotations

import json
import os
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, insert, select, text
from sqlalchemy.exc import DBAPIError

from core import migrate
from core.audit.chain import GENESIS_HASH, canonical_json, entry_hash
from core.audit.models import AuditEntry, AuditLogIsAppendOnly
from core.audit.queries import verify_audit_chain
from core.audit.services import chain_entries, record_audit
from core.db import make_engine, make_session_factory
from core.security.roles import Actor
from tests.conftest import drop_database, fresh_database_url
from tests.factories import NOW, make_user

DANA = Actor(label="dana@shop.example", user_id=None, role="agent", ip_address="203.0.113.9")


def _write(db, n: int, start: int = 0) -> list[AuditEntry]:
    return [
        record_audit(
            db,
            DANA,
            "order.cancel",
            "order",
            1000 + i,
            now=NOW + timedelta(seconds=i),
            before={"status": "confirmed"},
            after={"status": "cancelled", "lines": (1, 2)},
        )
        for i in range(start, start + n)
    ]


def _drop_triggers(db) -> None:
    if db.get_bind().dialect.name == "postgresql":
        db.execute(text("DROP TRIGGER audit_entries_no_change ON audit_entries"))
    else:
        db.execute(text("DROP TRIGGER audit_entries_no_update"))
        db.execute(text("DROP TRIGGER audit_entries_no_delete"))


def test_canonical_json_sorts_keys_and_covers_prev_hash() -> None:
    fields = {
        "actor_id": 3,
        "actor_label": "a@b",
        "action": "x",
        "entity_type": "order",
        "entity_id": "7",
        "before": {"b": 1, "a": "é"},
        "after": None,
        "ip_address": None,
        "created_at": datetime(2026, 1, 2, 3, 4, 5, 6, tzinfo=UTC),
    }
    assert (
        canonical_json(fields, GENESIS_HASH)
        == (
            '{"action":"x","actor_id":3,"actor_label":"a@b","after":null,"before":{"a":"é","b":1},'
            '"created_at":"2026-01-02T03:04:05.000006+00:00","entity_id":"7","entity_type":"order",'
            '"ip_address":null,"prev_hash":"' + GENESIS_HASH + '"}'
        ).encode()
    )
    assert entry_hash(fields, GENESIS_HASH) != entry_hash(fields, "1" * 64)
    assert entry_hash(fields, GENESIS_HASH) != entry_hash(fields | {"entity_id": "8"}, GENESIS_HASH)


def test_each_entry_chains_to_the_one_before(db) -> None:
    head = db.scalar(select(AuditEntry.hash).order_by(AuditEntry.id.desc()).limit(1)) or GENESIS_HASH
    first, second, third = _write(db, 3)
    assert first.prev_hash == head
    assert second.prev_hash == first.hash and third.prev_hash == second.hash
    assert len({first.hash, second.hash, third.hash}) == 3
    assert third.after == {"status": "cancelled", "lines": [1, 2]}  # stored as it reads back
    assert third.ip_address == "203.0.113.9"


def test_verify_walks_the_whole_chain(db) -> None:
    _write(db, 12)
    total = db.scalar(select(func.count()).select_from(AuditEntry))
    check = verify_audit_chain(db.connection(), batch=5)
    assert check.ok and check.count == total


def test_code_cannot_change_or_delete_an_entry(db) -> None:
    entry = _write(db, 1)[0]
    entry.action = "order.refund"
    with pytest.raises(AuditLogIsAppendOnly):
        db.flush()
    db.rollback()
    entry = _write(db, 1)[0]
    db.delete(entry)
    with pytest.raises(AuditLogIsAppendOnly):
        db.flush()


@pytest.mark.parametrize("statement", ["UPDATE audit_entries SET action = 'x'", "DELETE FROM audit_entries"])
def test_the_database_refuses_update_and_delete(db, statement: str) -> None:
    _write(db, 2)
    db.commit()
    with pytest.raises(DBAPIError, match="append-only"):
        with db.begin_nested():
            db.execute(text(statement))


@pytest.mark.parametrize(
    ("tamper", "problem"),
    [
        ('UPDATE audit_entries SET after = \'{"status": "refunded"}\' WHERE id = :mid', "does not match"),
        ("DELETE FROM audit_entries WHERE id = :mid", "prev_hash"),
        ("UPDATE audit_entries SET entity_id = '9' WHERE id = :mid", "does not match"),
    ],
)
def test_verify_finds_an_entry_tampered_with_in_sql(db, tamper: str, problem: str) -> None:
    entries = _write(db, 5)
    middle = entries[2].id
    db.commit()
    _drop_triggers(db)
    db.execute(text(tamper), {"mid": middle})
    check = verify_audit_chain(db.connection())
    assert not check.ok
    assert check.broken_id == (middle if "does not match" in problem else entries[3].id)
    assert problem in check.problem


def test_a_recomputed_hash_still_breaks_the_next_link(db) -> None:
    entries = _write(db, 3)
    db.commit()
    _drop_triggers(db)
    fields = {
        "actor_id": None,
        "actor_label": DANA.label,
        "action": "order.cancel",
        "entity_type": "order",
        "entity_id": "666",
        "before": {"status": "confirmed"},
        "after": {"status": "cancelled", "lines": [1, 2]},
        "ip_address": DANA.ip_address,
        "created_at": entries[1].created_at,
    }
    forged = entry_hash(fields, entries[1].prev_hash)
    db.execute(
        text("UPDATE audit_entries SET entity_id = '666', hash = :h WHERE id = :i"),
        {"h": forged, "i": entries[1].id},
    )
    check = verify_audit_chain(db.connection())
    assert check.broken_id == entries[2].id and "prev_hash" in check.problem


def test_migration_chains_entries_written_before_it(tmp_path: Path) -> None:
    url, needs_drop = fresh_database_url(tmp_path, "chainmig")
    engine = make_engine(url)
    try:
        migrate.upgrade(engine, "0016_chandata")
        json_param = "CAST(:b AS json)" if engine.dialect.name == "postgresql" else ":b"
        with engine.begin() as conn:
            for i in range(7):
                conn.execute(
                    text(
                        "INSERT INTO audit_entries (actor_label, action, entity_type, entity_id, before, "
                        f"created_at) VALUES ('old@shop', 'order.cancel', 'order', :e, {json_param}, :t)"
                    ),
                    {"e": str(i), "b": json.dumps({"n": i}), "t": datetime(2026, 1, 1, 0, 0, i, tzinfo=UTC)},
                )
        migrate.upgrade(engine)
        with engine.connect() as conn:
            check = verify_audit_chain(conn)
        assert check.ok and check.count == 7
    finally:
        engine.dispose()
        drop_database(url, needs_drop)


@pytest.mark.skipif(not os.environ.get("TEST_DATABASE_URL"), reason="concurrent writers need PostgreSQL")
def test_concurrent_writers_never_fork_the_chain(tmp_path: Path) -> None:
    url, needs_drop = fresh_database_url(tmp_path, "chainrace")
    engine = make_engine(url, pool_size=10)
    try:
        migrate.upgrade(engine)
        factory = make_session_factory(engine)
        with factory() as session:
            actor_ids = [make_user(session, "agent").id for _ in range(8)]
            session.commit()
        errors: list[BaseException] = []
        start = threading.Barrier(len(actor_ids))

        def writer(user_id: int) -> None:
            try:
                start.wait()
                for i in range(25):
                    with factory() as session:
                        actor = Actor(label=f"user{user_id}", user_id=user_id, role="agent")
                        record_audit(session, actor, "stock.adjust", "sku", i, now=NOW, after={"i": i})
                        record_audit(session, actor, "stock.adjust", "sku", i, now=NOW, after={"j": i})
                        session.commit()
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=writer, args=(uid,)) for uid in actor_ids]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []
        with engine.connect() as conn:
            check = verify_audit_chain(conn)
            prevs = conn.execute(text("SELECT count(*), count(DISTINCT prev_hash) FROM audit_entries")).one()
        assert check.ok and check.count == 8 * 25 * 2
        assert prevs[0] == prevs[1]  # no two entries chained to the same one
    finally:
        engine.dispose()
        drop_database(url, needs_drop)


def test_bulk_rows_are_chained_in_id_order_and_later_entries_follow(db) -> None:
    _write(db, 1)
    top = db.scalar(select(func.max(AuditEntry.id)))
    rows = [
        {
            "id": top + n,
            "actor_id": None,
            "actor_label": "seed",
            "action": "order.cancel",
            "entity_type": "order",
            "entity_id": n,
            "before": None,
            "after": {"n": (n,)},
            "ip_address": None,
            "created_at": NOW,
        }
        for n in (3, 1, 2)
    ]
    db.execute(insert(AuditEntry), chain_entries(db, rows))
    if db.get_bind().dialect.name == "postgresql":  # as the seed does after writing its own ids
        db.execute(
            text("SELECT setval(pg_get_serial_sequence('audit_entries', 'id'), max(id)) FROM audit_entries")
        )
    _write(db, 1, start=9)
    check = verify_audit_chain(db.connection())
    assert check.ok and check.count == db.scalar(select(func.count()).select_from(AuditEntry))
