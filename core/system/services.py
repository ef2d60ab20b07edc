"""The leader lease and heartbeat: one worker runs the scheduled jobs, another takes over if it dies."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core.system.models import WorkerLease

LEASE_NAME = "scheduler"
LEASE_TTL = timedelta(seconds=45)


def acquire_lease(session: Session, holder: str, *, now: datetime, name: str = LEASE_NAME) -> bool:
    """Take or renew the lease; True when `holder` holds it now. One conditional UPDATE decides."""
    result = session.execute(
        update(WorkerLease)
        .where(WorkerLease.name == name, (WorkerLease.holder == holder) | (WorkerLease.expires_at < now))
        .values(holder=holder, expires_at=now + LEASE_TTL, heartbeat_at=now)
    )
    if result.rowcount == 1:
        return True
    if session.get(WorkerLease, name) is not None:
        return False
    try:
        with session.begin_nested():
            session.add(WorkerLease(name=name, holder=holder, expires_at=now + LEASE_TTL, heartbeat_at=now))
    except IntegrityError:
        return False
    return True


def release_lease(session: Session, holder: str, *, name: str = LEASE_NAME) -> None:
    """Give the lease up at shutdown so another worker need not wait for it to expire."""
    session.execute(
        update(WorkerLease)
        .where(WorkerLease.name == name, WorkerLease.holder == holder)
        .values(expires_at=WorkerLease.heartbeat_at)
    )


def worker_heartbeat_age(session: Session, *, now: datetime, name: str = LEASE_NAME) -> float | None:
    """Seconds since the lease holder last beat, or None when no worker ever ran."""
    beat = session.scalar(select(WorkerLease.heartbeat_at).where(WorkerLease.name == name))
    return None if beat is None else max(0.0, (now - beat).total_seconds())
