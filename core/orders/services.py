"""Order writes: status changes through the status machine, each recorded on the timeline."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from core.errors import NotFound
from core.orders import events
from core.orders.models import Order
from core.orders.status import check_transition


def get_order(session: Session, order_id: int) -> Order:
    """The order, or NotFound."""
    order = session.get(Order, order_id)
    if order is None:
        raise NotFound(f"order {order_id} not found")
    return order


def change_order_status(
    session: Session, order: Order, target: str, *, actor: str, now: datetime, why: str
) -> Order:
    """Move the order to `target` if the status table allows it (else InvalidTransition) and log it."""
    new_status = check_transition(order.status, target)
    previous = order.status
    order.status = new_status.value
    order.updated_at = now
    events.status_changed(session, order, previous, new_status.value, actor=actor, now=now, why=why)
    return order


def record_status_change(timeline: events.Timeline, current: str, target: str, *, why: str) -> str:
    """change_order_status for an order held as plain data (intake): the checked new status, logged on the
    timeline; the caller writes it to the order row."""
    new_status = check_transition(current, target)
    timeline.status_changed(current, new_status.value, why=why)
    return new_status.value


def format_order_number(order_id: int) -> str:
    """The number customers see: CD- and seven digits, derived from the id so it never collides."""
    return f"CD-{1000000 + order_id}"
