"""begin_write on SQLite: a writer's transaction starts with the write lock; one that has written (ORM or
Core) keeps its lock; one that has only read is refused, never committed behind the caller's back. A lock
that times out is told apart from other errors."""

from __future__ import annotations

import sqlite3

import pytest
from sqlalchemy import insert, select, text
from sqlalchemy.exc import OperationalError

import core.models  # noqa: F401
from core import migrate
from core.channels.models import Channel
from core.db import WriteLockTooLate, begin_write, is_database_busy, make_engine, make_session_factory


def fresh_factory(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'w.db'}")
    migrate.upgrade(engine)
    return engine, make_session_factory(engine)


def other_writer_is_locked_out(engine) -> bool:
    """Whether another connection (the plain driver, no waiting) is refused the write lock right now."""
    other = sqlite3.connect(engine.url.database, timeout=0, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
    except sqlite3.OperationalError as exc:
        assert is_database_busy(OperationalError("BEGIN IMMEDIATE", {}, exc))
        return True
    else:
        other.execute("ROLLBACK")
        return False
    finally:
        other.close()


def test_begin_write_takes_the_lock_before_the_first_read(tmp_path) -> None:
    engine, factory = fresh_factory(tmp_path)
    with factory() as session:
        begin_write(session)
        assert session.scalar(select(Channel.id)) is None
        assert other_writer_is_locked_out(engine)
        begin_write(session)  # already the writer: nothing changes
        session.execute(insert(Channel).values(code="a", name="A", kind="webshop", credentials={}))
        session.commit()
        assert not other_writer_is_locked_out(engine)
    engine.dispose()


def test_begin_write_refuses_a_transaction_that_only_read(tmp_path) -> None:
    engine, factory = fresh_factory(tmp_path)
    with factory() as session:
        session.execute(insert(Channel).values(code="kept", name="Kept", kind="webshop", credentials={}))
        session.commit()
    with factory() as session:
        session.execute(text("SELECT 1"))
        with pytest.raises(WriteLockTooLate, match="before the first read"):
            begin_write(session)
        assert session.in_transaction()  # the caller's transaction is neither committed nor rolled back
        session.rollback()
        begin_write(session)
        assert other_writer_is_locked_out(engine)
    engine.dispose()


def test_begin_write_leaves_a_transaction_that_wrote_alone(tmp_path) -> None:
    engine, factory = fresh_factory(tmp_path)
    with factory() as session:
        session.execute(
            insert(Channel).values(code="core", name="Core write", kind="webshop", credentials={})
        )
        begin_write(session)
        assert other_writer_is_locked_out(engine)  # its write holds the lock already
        session.rollback()
        assert session.scalar(select(Channel.id)) is None  # nothing was committed early
    engine.dispose()


def test_is_database_busy_only_for_a_lock_timeout() -> None:
    busy = OperationalError("INSERT", {}, sqlite3.OperationalError("database is locked"))
    other = OperationalError("INSERT", {}, sqlite3.OperationalError("no such table: x"))
    assert is_database_busy(busy)
    assert not is_database_busy(other)
    assert is_database_busy(sqlite3.OperationalError("database is locked"))  # from core.db's own BEGIN
    assert not is_database_busy(ValueError("database is locked"))
