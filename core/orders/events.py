"""The order timeline: one function per kind of entry, each appending an OrderEvent; `Timeline` gathers the
entries of a hot path (intake) as rows, for it to append with one INSERT."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from core.orders.models import Order, OrderEvent

# Timeline entries the customer sees on the portal; the rest are for staff.
CUSTOMER_VISIBLE_KINDS = frozenset(
    {
        "placed",
        "status_changed",
        "shipped",
        "delivered",
        "return_update",
        "cancellation_requested",
        "refunded",
        "address_changed",
        "replacement_created",
    }
)


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


class Timeline:
    """Entries for one order's timeline, gathered in order for the intake to append with one INSERT
    (core.orders.statements.append_timeline).

    Each entry is the row `record_event` would write; no OrderEvent objects are made (nothing to flush)."""

    def __init__(self, order_id: int, *, actor: str, now: datetime) -> None:
        self.order_id = order_id
        self.actor = actor
        self.now = now
        self.rows: list[dict[str, Any]] = []

    def add(
        self,
        kind: str,
        message: str,
        *,
        from_status: str | None = None,
        to_status: str | None = None,
        data: dict[str, Any] | None = None,
    ) -> None:
        """Queue one entry."""
        self.rows.append(
            {
                "order_id": self.order_id,
                "kind": kind,
                "from_status": from_status,
                "to_status": to_status,
                "message": message,
                "data": data or {},
                "actor": self.actor,
                "visible_to_customer": kind in CUSTOMER_VISIBLE_KINDS,
                "created_at": self.now,
            }
        )

    def status_changed(self, from_status: str, to_status: str, *, why: str) -> None:
        """Queue a status change entry: from, to, why."""
        self.add("status_changed", why, from_status=from_status, to_status=to_status)
