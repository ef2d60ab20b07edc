"""The health report behind /healthz."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from core import migrate
from core.system.services import worker_heartbeat_age

WORKER_STALE_AFTER_SECONDS = 120


def health_report(session: Session, *, now: datetime) -> dict[str, Any]:
    """Database reachable, schema at the newest migration, and how long since the worker last beat."""
    head = migrate.head_revision()
    try:
        session.execute(text("SELECT 1"))
        current = session.execute(text("SELECT version_num FROM alembic_version")).scalar()
        heartbeat_age = worker_heartbeat_age(session, now=now)
    except SQLAlchemyError as exc:
        session.rollback()
        return {
            "ok": False,
            "database": f"error: {type(exc).__name__}",
            "migrations": "unknown",
            "worker": None,
        }
    worker: dict[str, Any] = {
        "heartbeat_age_seconds": None if heartbeat_age is None else round(heartbeat_age, 1),
        "alive": heartbeat_age is not None and heartbeat_age < WORKER_STALE_AFTER_SECONDS,
    }
    return {
        "ok": current == head,
        "database": "ok",
        "migrations": {"current": current, "head": head, "up_to_date": current == head},
        "worker": worker,
    }
