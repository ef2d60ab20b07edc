"""The order status machine: the statuses and the table of allowed transitions."""

from __future__ import annotations

from enum import StrEnum

from core.errors import InvalidTransition


class OrderStatus(StrEnum):
    PENDING = "pending"  # received, not yet paid or not yet allocated
    ON_HOLD = "on_hold"  # needs attention (unmapped SKU, missing address, ...): see hold_reason
    BACKORDERED = "backordered"  # waiting for stock
    CONFIRMED = "confirmed"  # paid and stock reserved
    PARTIALLY_SHIPPED = "partially_shipped"
    SHIPPED = "shipped"
    DELIVERED = "delivered"
    CANCELLED = "cancelled"
    PARTIALLY_RETURNED = "partially_returned"
    RETURNED = "returned"


S = OrderStatus

ALLOWED_TRANSITIONS: dict[OrderStatus, frozenset[OrderStatus]] = {
    S.PENDING: frozenset({S.CONFIRMED, S.ON_HOLD, S.BACKORDERED, S.CANCELLED, S.SHIPPED, S.DELIVERED}),
    S.ON_HOLD: frozenset({S.PENDING, S.CONFIRMED, S.BACKORDERED, S.CANCELLED, S.SHIPPED}),
    S.BACKORDERED: frozenset({S.CONFIRMED, S.ON_HOLD, S.CANCELLED}),
    S.CONFIRMED: frozenset({S.PARTIALLY_SHIPPED, S.SHIPPED, S.BACKORDERED, S.ON_HOLD, S.CANCELLED}),
    S.PARTIALLY_SHIPPED: frozenset({S.SHIPPED, S.DELIVERED, S.PARTIALLY_RETURNED}),
    S.SHIPPED: frozenset({S.DELIVERED, S.PARTIALLY_RETURNED, S.RETURNED}),
    S.DELIVERED: frozenset({S.PARTIALLY_RETURNED, S.RETURNED}),
    S.PARTIALLY_RETURNED: frozenset({S.RETURNED}),
    S.CANCELLED: frozenset(),
    S.RETURNED: frozenset(),
}

OPEN_STATUSES = frozenset({S.PENDING, S.ON_HOLD, S.BACKORDERED, S.CONFIRMED, S.PARTIALLY_SHIPPED})
CANCELLABLE_STATUSES = frozenset(
    status for status, targets in ALLOWED_TRANSITIONS.items() if S.CANCELLED in targets
)


def can_transition(current: str, target: str) -> bool:
    """True when the table allows going from `current` to `target`."""
    return OrderStatus(target) in ALLOWED_TRANSITIONS[OrderStatus(current)]


def check_transition(current: str, target: str) -> OrderStatus:
    """The target status, or InvalidTransition when the table does not allow it."""
    try:
        cur, tgt = OrderStatus(current), OrderStatus(target)
    except ValueError as exc:
        raise InvalidTransition("order", current, target) from exc
    if tgt not in ALLOWED_TRANSITIONS[cur]:
        raise InvalidTransition("order", cur, tgt)
    return tgt
