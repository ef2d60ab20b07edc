"""The health report behind /healthz."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import false, func, select, text, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from core import migrate
from core.notifications.models import SENDING, OutboxMessage
from core.system.models import WorkerLease
from core.system.services import worker_heartbeat_age

WORKER_STALE_AFTER_SECONDS = 120


def health_report(session: Session, *, now: datetime) -> dict[str, Any]:
    """Database reachable and writable, schema at the newest migration, how long since the worker last beat,
    and the outbox backlog. `ok` is False (the caller answers 503) when the database cannot be read or
    written or the schema is behind; `reason` then says why in one line."""
    head = migrate.head_revision()
    # The write probe comes first, while the transaction has read nothing: on SQLite a transaction that has
    # read cannot start writing once another connection has committed since, which is no fault of the file.
    write_error = database_write_error(session)
    try:
        session.execute(text("SELECT 1"))
        current = session.execute(text("SELECT version_num FROM alembic_version")).scalar()
        heartbeat_age = worker_heartbeat_age(session, now=now)
        outbox = outbox_backlog(session, now=now)
    except SQLAlchemyError as exc:
        session.rollback()
        return {
            "ok": False,
            "reason": f"database unreachable: {_first_line(exc)}",
            "database": f"error: {type(exc).__name__}",
            "migrations": "unknown",
            "worker": None,
            "outbox": None,
        }
    worker: dict[str, Any] = {
        "heartbeat_age_seconds": None if heartbeat_age is None else round(heartbeat_age, 1),
        "alive": heartbeat_age is not None and heartbeat_age < WORKER_STALE_AFTER_SECONDS,
    }
    reason = None
    if write_error is not None:
        reason = f"database not writable: {write_error}"
    elif current != head:
        reason = f"migrations behind: database at {current}, code at {head}"
    report: dict[str, Any] = {
        "ok": reason is None,
        "database": "ok" if write_error is None else "not writable",
        "migrations": {"current": current, "head": head, "up_to_date": current == head},
        "worker": worker,
        "outbox": outbox,
    }
    if reason is not None:
        report["reason"] = reason
    return report


def database_write_error(session: Session) -> str | None:
    """Why this connection cannot write (a read-only file or transaction, a revoked privilege), or None.

    The probe is an UPDATE that matches no row, in a savepoint rolled back at once: the database still
    checks that it may write (SQLite takes its write lock, waiting up to the busy timeout for a writer;
    PostgreSQL checks the transaction and the privilege), and nothing changes."""
    savepoint = session.begin_nested()
    try:
        session.execute(
            update(WorkerLease).where(false()).values(heartbeat_at=WorkerLease.heartbeat_at),
            execution_options={"synchronize_session": False},
        )
    except SQLAlchemyError as exc:
        return _first_line(exc)
    finally:
        savepoint.rollback()
    return None


def outbox_backlog(session: Session, *, now: datetime) -> dict[str, Any]:
    """Messages waiting (pending or being sent), those due now, failed ones, and the oldest due one's age."""
    waiting = OutboxMessage.status.in_(("pending", SENDING))
    due = waiting & (OutboxMessage.next_attempt_at <= now)
    row = session.execute(
        select(
            func.count().filter(waiting),
            func.count().filter(due),
            func.count().filter(OutboxMessage.status == "failed"),
            func.min(OutboxMessage.next_attempt_at).filter(due),
        ).where(OutboxMessage.status.in_(("pending", SENDING, "failed")))
    ).one()
    oldest_due = row[3]
    if oldest_due is not None and oldest_due.tzinfo is None:
        oldest_due = oldest_due.replace(tzinfo=now.tzinfo)
    return {
        "pending": row[0],
        "due": row[1],
        "failed": row[2],
        "oldest_due_age_seconds": None
        if oldest_due is None
        else round(max(0.0, (now - oldest_due).total_seconds()), 1),
    }


def _first_line(exc: SQLAlchemyError) -> str:
    """The driver's message without SQLAlchemy's SQL echo and background link."""
    cause = getattr(exc, "orig", None) or exc
    return (str(cause).strip().splitlines() or [type(cause).__name__])[0]
