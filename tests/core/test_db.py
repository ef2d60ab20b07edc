"""begin_write on SQLite: a read-only transaction is ended and the write lock taken; a transaction that has
written (ORM or Core) is left alone, so nothing is committed half-done."""

from __future__ import annotations

from sqlalchemy import insert, select, text

import core.models  # noqa: F401
from core import migrate
from core.channels.models import Channel
from core.db import begin_write, make_engine, make_session_factory


def fresh_factory(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'w.db'}")
    migrate.upgrade(engine)
    return engine, make_session_factory(engine)


def test_begin_write_ends_a_read_only_transaction_and_takes_the_lock(tmp_path) -> None:
    engine, factory = fresh_factory(tmp_path)
    with factory() as session:
        session.execute(text("SELECT 1"))
        begin_write(session)
        session.execute(insert(Channel).values(code="a", name="A", kind="webshop", credentials={}))
        with engine.connect() as other:  # another writer must wait: our transaction holds the write lock
            other.exec_driver_sql("PRAGMA busy_timeout=0")
            try:
                other.exec_driver_sql("BEGIN IMMEDIATE")
                locked = False
            except Exception:
                locked = True
        assert locked
        session.commit()
    engine.dispose()


def test_begin_write_leaves_a_transaction_that_wrote_alone(tmp_path) -> None:
    engine, factory = fresh_factory(tmp_path)
    with factory() as session:
        session.execute(
            insert(Channel).values(code="core", name="Core write", kind="webshop", credentials={})
        )
        begin_write(session)
        session.rollback()
        assert session.scalar(select(Channel.id)) is None  # nothing was committed early
    engine.dispose()
