"""The managers' daily digest of trend alerts, queued in the outbox (the worker sends it over SMTP)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.analytics.issues import trend_alerts
from core.notifications.models import OutboxMessage
from core.notifications.services import queue_email
from core.security.models import User
from core.security.permissions import Permission, roles_with

MAX_ALERTS = 20


def queue_trend_digest(session: Session, *, now: datetime) -> list[OutboxMessage]:
    """This week's trend alerts to every active staff member who may view analytics, once a day each;
    nothing without alerts.
    The alerts are written into the email's payload: the email says what was true when it was queued."""
    alerts = trend_alerts(session, now=now)
    if not alerts:
        return []
    day = now.date().isoformat()
    managers = session.scalars(
        select(User)
        .where(User.role.in_(roles_with(session, Permission.VIEW_ANALYTICS)), User.active.is_(True))
        .order_by(User.id)
    ).all()
    payload = {"date": day, "alerts": [a.as_json() for a in alerts[:MAX_ALERTS]], "total": len(alerts)}
    subject = f"Trend alerts {day}: {alerts[0].label}" + (
        f" and {len(alerts) - 1} more" if len(alerts) > 1 else ""
    )
    queued = []
    for user in managers:
        row = queue_email(
            session,
            "analytics_digest",
            f"analytics_digest:{day}:{user.id}",
            user.email,
            payload,
            now=now,
            subject=subject,
        )
        if row is not None:
            queued.append(row)
    return queued


def analytics_digest_job(session: Session, now: datetime) -> dict[str, int]:
    """Daily: email managers the ticket trend alerts."""
    return {"digests": len(queue_trend_digest(session, now=now))}
