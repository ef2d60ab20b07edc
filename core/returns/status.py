"""The return (RMA) status machine: the statuses and the table of allowed transitions."""

from __future__ import annotations

from enum import StrEnum

from core.errors import InvalidTransition


class ReturnStatus(StrEnum):
    REQUESTED = "requested"  # the customer (or an agent for them) asked; nothing decided yet
    APPROVED = "approved"  # the customer may send the items back with the RMA number
    RECEIVED = "received"  # the parcel came back and was checked in, resellable units restocked
    REFUNDED = "refunded"  # money (or store credit) given back: closed
    REJECTED = "rejected"  # refused, with a reason the customer sees: closed


R = ReturnStatus

ALLOWED_TRANSITIONS: dict[ReturnStatus, frozenset[ReturnStatus]] = {
    R.REQUESTED: frozenset({R.APPROVED, R.REJECTED}),
    R.APPROVED: frozenset({R.RECEIVED, R.REJECTED}),
    R.RECEIVED: frozenset({R.REFUNDED}),
    R.REFUNDED: frozenset(),
    R.REJECTED: frozenset(),
}

# Returns whose units are not yet back but already spoken for: they count against what may still be returned.
OPEN_STATUSES = frozenset({R.REQUESTED, R.APPROVED})
CLOSED_STATUSES = frozenset(status for status, targets in ALLOWED_TRANSITIONS.items() if not targets)


def can_transition(current: str, target: str) -> bool:
    """True when the table allows going from `current` to `target`."""
    try:
        return ReturnStatus(target) in ALLOWED_TRANSITIONS[ReturnStatus(current)]
    except ValueError:
        return False


def check_transition(current: str, target: str) -> ReturnStatus:
    """The target status, or InvalidTransition when the table does not allow it."""
    try:
        cur, tgt = ReturnStatus(current), ReturnStatus(target)
    except ValueError as exc:
        raise InvalidTransition("return", current, target) from exc
    if tgt not in ALLOWED_TRANSITIONS[cur]:
        raise InvalidTransition("return", cur, tgt)
    return tgt
