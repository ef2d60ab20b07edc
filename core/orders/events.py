"""The order timeline: one function per kind of entry, each appending an OrderEvent."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from core.orders.models import Order, OrderEvent

# Timeline entries the customer sees on the portal; the rest are for staff.
CUSTOMER_VISIBLE_KINDS = frozenset({"placed", "status_changed", "shipped", "delivered", "return_update"})


def record_event(
    session: Session,
    order: Order,
    kind: str,
    message: str,
    *,
    actor: str,
    now: datetime,
    from_status: str | None = None,
    to_status: str | None = None,
    data: dict[str, Any] | None = None,
) -> OrderEvent:
    """Append one entry to the order's timeline."""
    event = OrderEvent(
        order_id=order.id,
        kind=kind,
        message=message,
        actor=actor,
        from_status=from_status,
        to_status=to_status,
        data=data or {},
        visible_to_customer=kind in CUSTOMER_VISIBLE_KINDS,
        created_at=now,
    )
    session.add(event)
    return event


def status_changed(
    session: Session, order: Order, from_status: str, to_status: str, *, actor: str, now: datetime, why: str
) -> OrderEvent:
    """Timeline entry for a status change: who, when, from, to, why."""
    return record_event(
        session,
        order,
        "status_changed",
        why,
        actor=actor,
        now=now,
        from_status=from_status,
        to_status=to_status,
    )
