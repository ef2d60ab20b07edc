"""core.sql: Core statements run on the driver's cursor give the same rows and conversions as SQLAlchemy's
execute, batches run in order (pipelined on PostgreSQL), and a pooled connection that sat idle is checked."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import bindparam, insert, select, text, update
from sqlalchemy.orm import Session

import core.db
from core import migrate, sql
from core.customers.models import Customer
from core.db import begin_write, make_engine, make_session_factory
from core.notifications.models import OutboxMessage

_outbox = OutboxMessage.__table__
NOW = datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC)

INSERT_OUTBOX = sql.Prepared(insert(_outbox).returning(_outbox.c.id, _outbox.c.next_attempt_at))
OUTBOX_BY_KEYS = sql.Prepared(
    select(_outbox.c.dedup_key, _outbox.c.payload, _outbox.c.created_at)
    .where(_outbox.c.dedup_key.in_(bindparam("keys", expanding=True)))
    .order_by(_outbox.c.dedup_key)
)
RETRY = sql.Prepared(
    update(_outbox).where(_outbox.c.kind == bindparam("p_kind")).values(attempts=_outbox.c.attempts + 1)
)


def outbox_row(key: str, **extra: object) -> dict[str, object]:
    return {
        "kind": "test",
        "transport": "email",
        "dedup_key": key,
        "recipient": "a@example.org",
        "subject": "Hello",
        "payload": {"n": key, "nested": ["é", 1]},
        "status": "pending",
        "attempts": 0,
        "next_attempt_at": NOW,
        "created_at": NOW,
        **extra,
    }


def test_prepared_insert_and_select_convert_json_and_aware_datetimes(db: Session) -> None:
    [(row_id, next_at)] = sql.run(db, INSERT_OUTBOX, outbox_row("k1"))
    assert next_at == NOW and next_at.tzinfo is not None
    stored = db.get_one(OutboxMessage, row_id)
    assert stored.payload == {"n": "k1", "nested": ["é", 1]}
    assert stored.next_attempt_at == NOW
    [(key, payload, created)] = sql.run(db, OUTBOX_BY_KEYS, {"keys": ["k1"]})
    assert (key, payload, created) == ("k1", {"n": "k1", "nested": ["é", 1]}, NOW)


def test_expanding_parameters_are_rendered_per_list_length(db: Session) -> None:
    with sql.batch(db) as queued:
        queued.add_many(INSERT_OUTBOX, [outbox_row(f"e{n}") for n in range(4)])
    assert [r[0] for r in sql.run(db, OUTBOX_BY_KEYS, {"keys": ["e3", "e1", "nope"]})] == ["e1", "e3"]
    assert [r[0] for r in sql.run(db, OUTBOX_BY_KEYS, {"keys": ["e2"]})] == ["e2"]
    with pytest.raises(ValueError, match="at least one value"):
        sql.run(db, OUTBOX_BY_KEYS, {"keys": []})


def test_a_missing_value_is_an_error_never_a_null(db: Session) -> None:
    with pytest.raises(ValueError, match="marketing_opt_out"):  # a column with a Python-side default
        sql.run(db, sql.Prepared(insert(Customer.__table__)), {"name": "A", "created_at": NOW})
    with pytest.raises(KeyError):
        sql.run(db, OUTBOX_BY_KEYS, {})


def test_a_write_gives_the_rows_it_matched(db: Session) -> None:
    with sql.batch(db) as queued:
        queued.add_many(INSERT_OUTBOX, [outbox_row("c1"), outbox_row("c2")])
        matched = queued.add(RETRY, {"p_kind": "test"})
    with sql.batch(db) as queued:
        unmatched = queued.add(RETRY, {"p_kind": "other"})
    assert matched.rowcount == 2
    assert unmatched.rowcount == 0
    assert {m.attempts for m in db.scalars(select(OutboxMessage))} == {1}


def test_a_batch_runs_in_order_and_fills_its_results_at_the_end(db: Session) -> None:
    with sql.batch(db) as queued:
        inserted = queued.add(INSERT_OUTBOX, outbox_row("b1"))
        queued.add_many(INSERT_OUTBOX, [outbox_row("b2"), outbox_row("b3")])
        counted = queued.add(RETRY, {"p_kind": "test"})
        read = queued.add(OUTBOX_BY_KEYS, {"keys": ["b1", "b2", "b3"]})
        for unread in (inserted, read):  # nothing has run yet: reading a result is an error, not []
            with pytest.raises(RuntimeError, match="before its batch ran"):
                _ = unread.rows
            with pytest.raises(RuntimeError, match="before its batch ran"):
                _ = unread.rowcount
    assert len(inserted.rows) == 1 and inserted.rows[0][1] == NOW
    assert counted.rowcount == 3
    assert [r[0] for r in read.rows] == ["b1", "b2", "b3"]


def test_a_failing_statement_in_a_batch_raises(db: Session) -> None:
    sql.run(db, INSERT_OUTBOX, outbox_row("dup"))
    with pytest.raises(Exception, match=r"(?i)unique"):
        with sql.batch(db) as queued:
            queued.add(OUTBOX_BY_KEYS, {"keys": ["dup"]})
            queued.add(INSERT_OUTBOX, outbox_row("dup"))


def test_begin_write_sees_a_write_made_on_the_driver_cursor(tmp_path) -> None:
    # On SQLite begin_write refuses a transaction that has only read; a raw write must count as a write.
    engine = make_engine(f"sqlite:///{tmp_path / 'raw.db'}")
    migrate.upgrade(engine)
    with make_session_factory(engine)() as session:
        session.execute(text("SELECT 1"))
        sql.run(session, INSERT_OUTBOX, outbox_row("raw"))
        begin_write(session)  # no error: the transaction holds the write lock since its write
        session.rollback()
        assert session.scalar(select(OutboxMessage.id)) is None  # nothing was committed early
    engine.dispose()


def test_an_idle_pooled_connection_that_died_is_replaced(engine, monkeypatch) -> None:
    if engine.dialect.name != "postgresql":
        assert engine.dialect.name == "sqlite"  # a file: nothing to lose between uses
        return
    own = make_engine(engine.url.render_as_string(hide_password=False), pool_size=1, max_overflow=0)
    try:
        with own.connect() as conn:
            first_pid = conn.exec_driver_sql("SELECT pg_backend_pid()").scalar()
        with engine.connect() as admin:
            admin.exec_driver_sql(f"SELECT pg_terminate_backend({first_pid})")
            admin.commit()
        monkeypatch.setattr(core.db, "IDLE_PING_SECONDS", 0.0)  # as if it had sat idle long enough
        with own.connect() as conn:
            second_pid = conn.exec_driver_sql("SELECT pg_backend_pid()").scalar()
        assert second_pid != first_pid
    finally:
        own.dispose()
