"""Engine, session factory, declarative Base and the column types every area shares.

SQLite (the embedded default) runs in WAL mode with foreign keys on and a busy timeout; PostgreSQL is used
through ``postgresql+psycopg://`` URLs. Nothing here runs at import time: callers build engines explicitly.
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy import JSON, DateTime, Engine, MetaData, create_engine, event
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError, DisconnectionError, OperationalError
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.types import TypeDecorator

PROJECT_ROOT = Path(__file__).resolve().parent.parent
INSTANCE_DIR = Path(os.environ.get("CROSSDOCK_INSTANCE", PROJECT_ROOT / "instance"))

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC datetime on every database (SQLite stores it naive, we add the zone back)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: pass an aware UTC time")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: JSON(), list[Any]: JSON()}


def utcnow() -> datetime:
    """The current time, aware UTC."""
    return datetime.now(UTC)


def default_database_url() -> str:
    """DATABASE_URL, or the embedded SQLite file under instance/."""
    url = os.environ.get("DATABASE_URL")
    if url:
        return url
    INSTANCE_DIR.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{INSTANCE_DIR / 'crossdock.db'}"


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=15000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _sqlite_begin(conn: Any) -> None:
    # pysqlite's own transaction handling is off (isolation_level=None); we emit BEGIN ourselves so that
    # SAVEPOINTs work (SQLAlchemy's documented recipe). A writer asks for BEGIN IMMEDIATE (see begin_write):
    # a deferred transaction that reads and then writes fails at once when another writer got there first.
    options = conn.get_execution_options()
    if options.get("isolation_level") == "AUTOCOMMIT":
        return  # every statement is its own transaction
    immediate = options.get("sqlite_immediate", False)
    # Straight on the driver: this runs for every transaction, and exec_driver_sql costs more than BEGIN.
    conn.connection.driver_connection.execute("BEGIN IMMEDIATE" if immediate else "BEGIN")
    if immediate:
        conn.info[_LOCKED] = True


def make_engine(url: str | None = None, **kwargs: Any) -> Engine:
    """An engine for the URL (default: DATABASE_URL or the instance SQLite file), with our SQLite settings."""
    url = url or default_database_url()
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 15, "check_same_thread": False}, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "connect", lambda dbapi_conn, _r: setattr(dbapi_conn, "isolation_level", None))
        event.listen(engine, "begin", _sqlite_begin)
        event.listen(engine, "before_cursor_execute", _note_write)
        for end in ("commit", "rollback"):
            event.listen(engine, end, _forget_writes)
        return engine
    engine = create_engine(url, **kwargs)
    event.listen(engine.pool, "checkout", _ping_if_idle(engine.dialect))
    event.listen(engine.pool, "checkin", _note_checkin)
    return engine


# A pooled server connection that sat unused for longer than this is checked (one round trip) before it is
# handed out; one in steady use is not, as SQLAlchemy's pool_pre_ping would, at a round trip per transaction.
# A connection that dies while in use fails that one transaction and is discarded (SQLAlchemy invalidates the
# pool's connections on a disconnect error), and the next transaction gets a new one.
IDLE_PING_SECONDS = 10.0
_CHECKED_IN_AT = "crossdock.checked_in_at"


def _note_checkin(_dbapi_connection: Any, record: Any) -> None:
    if record is not None:
        record.info[_CHECKED_IN_AT] = time.monotonic()


def _ping_if_idle(dialect: Dialect) -> Any:
    def ping(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        checked_in_at = record.info.get(_CHECKED_IN_AT)
        if checked_in_at is not None and time.monotonic() - checked_in_at < IDLE_PING_SECONDS:
            return
        try:
            dialect.do_ping(dbapi_connection)
        except Exception as exc:  # the pool discards this connection and tries a fresh one
            raise DisconnectionError(f"pooled connection failed its check: {exc}") from exc

    return ping


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    """A session factory; sessions do not expire objects on commit so pages can render after committing."""
    return sessionmaker(bind=engine, expire_on_commit=False)


class WriteLockTooLate(RuntimeError):
    """begin_write was asked for inside a transaction that has read but not written (SQLite)."""


def begin_write(session: Session) -> None:
    """Start the session's transaction as a writer: on SQLite take the write lock now (waiting up to the
    busy timeout) so that the transaction can't fail later on upgrading its lock; nothing on PostgreSQL.

    Call it before the transaction's first read: a web request that will write does so before loading the
    signed-in user (create_app), a job or command before it looks anything up. Inside a transaction it
    changes nothing when that transaction already holds the write lock (it began as a writer, or has
    written: SQLite gives the lock to the first write). A transaction that has only read is an error, never
    committed or rolled back behind the caller's back: what it read may be stale by the time it writes."""
    if session.get_bind().dialect.name != "sqlite":
        return
    if session.in_transaction():
        info = session.connection().info
        if info.get(_LOCKED) or info.get(_WROTE) or session.new or session.dirty or session.deleted:
            return
        raise WriteLockTooLate(
            "begin_write after this transaction read: take the write lock before the first read "
            "(or end the read-only transaction first)"
        )
    conn = session.connection(execution_options={"sqlite_immediate": True})
    # BEGIN IMMEDIATE marked it already; a session joined to an outer transaction as a savepoint (the test
    # suite's isolation) shares that transaction's connection, and with it whatever lock it holds.
    conn.info[_LOCKED] = True


def mark_written(conn: Any) -> None:
    """Note that the transaction on `conn` (a SQLAlchemy Connection) has written: begin_write asks."""
    conn.info[_WROTE] = True


def is_database_busy(exc: BaseException) -> bool:
    """True for SQLite's "database is locked" (the busy timeout ran out): a retry later can succeed.

    The error comes wrapped by SQLAlchemy from a statement, or bare from the driver from the BEGIN that
    _sqlite_begin sends itself."""
    if isinstance(exc, OperationalError):
        exc = exc.orig
    if not isinstance(exc, sqlite3.OperationalError):
        return False
    message = str(exc).lower()
    return "database is locked" in message or "database table is locked" in message


def is_database_unavailable(exc: BaseException) -> bool:
    """True when the database can't be reached or dropped the connection (PostgreSQL restarting, the network
    down, the server refusing connections): the pool discards the broken connection and a retry later
    succeeds. SQLite's lock is `is_database_busy`; both answer 503 with Retry-After."""
    if isinstance(exc, DisconnectionError):
        return True
    if not isinstance(exc, DBAPIError):
        return False
    if exc.connection_invalidated:
        return True
    orig = exc.orig
    if orig is None or isinstance(orig, sqlite3.Error):
        return False
    # psycopg: a connection that could not be made or was lost has no SQLSTATE; otherwise class 08
    # (connection exception) or 57P (operator intervention: shutting down, cannot connect now).
    state = getattr(orig, "sqlstate", None)
    if state is None:
        return isinstance(orig, psycopg.OperationalError)
    return state.startswith(("08", "57P"))


_WROTE = "crossdock.wrote"
_LOCKED = "crossdock.locked"  # began with BEGIN IMMEDIATE
_WRITES = ("INSERT", "UPDATE", "DELETE", "REPLACE")


def _note_write(conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
    # Remember that this transaction changed something, however it was issued (ORM flush or Core).
    if statement.lstrip()[:7].upper().startswith(_WRITES):
        mark_written(conn)


def _forget_writes(conn: Any) -> None:
    conn.info.pop(_WROTE, None)
    conn.info.pop(_LOCKED, None)


@contextmanager
def unit_of_work(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One transaction: commit at the end, roll back on any error."""
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
