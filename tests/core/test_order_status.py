"""The order status machine: every allowed transition works and is logged; the rest raise."""

from __future__ import annotations

import itertools

import pytest
from sqlalchemy import select

from core.errors import InvalidTransition
from core.orders.models import OrderEvent
from core.orders.services import change_order_status
from core.orders.status import ALLOWED_TRANSITIONS, OrderStatus, can_transition, check_transition
from tests.factories import NOW, make_order

ALLOWED = [(a.value, b.value) for a, targets in ALLOWED_TRANSITIONS.items() for b in sorted(targets)]
FORBIDDEN = [
    (a.value, b.value)
    for a, b in itertools.product(OrderStatus, OrderStatus)
    if b not in ALLOWED_TRANSITIONS[a]
]


def test_status_table_covers_every_status() -> None:
    assert set(ALLOWED_TRANSITIONS) == set(OrderStatus)


def test_status_table_has_terminal_states() -> None:
    assert ALLOWED_TRANSITIONS[OrderStatus.CANCELLED] == frozenset()
    assert ALLOWED_TRANSITIONS[OrderStatus.RETURNED] == frozenset()


@pytest.mark.parametrize(("current", "target"), ALLOWED)
def test_change_order_status_allowed_transition_is_recorded(db, current: str, target: str) -> None:
    order = make_order(db, status=current)
    change_order_status(db, order, target, actor="agent@example.com", now=NOW, why="test move")
    db.flush()
    assert order.status == target
    event = db.scalars(select(OrderEvent).where(OrderEvent.order_id == order.id)).one()
    assert (event.from_status, event.to_status, event.actor, event.message, event.created_at) == (
        current,
        target,
        "agent@example.com",
        "test move",
        NOW,
    )


@pytest.mark.parametrize(("current", "target"), FORBIDDEN)
def test_check_transition_forbidden_raises(current: str, target: str) -> None:
    assert not can_transition(current, target)
    with pytest.raises(InvalidTransition):
        check_transition(current, target)


@pytest.mark.parametrize(
    ("current", "target"),
    [
        ("delivered", "pending"),
        ("cancelled", "confirmed"),
        ("shipped", "cancelled"),
        ("returned", "delivered"),
    ],
)
def test_change_order_status_forbidden_leaves_order_and_timeline_untouched(
    db, current: str, target: str
) -> None:
    order = make_order(db, status=current)
    with pytest.raises(InvalidTransition, match=f"order cannot go from {current} to {target}"):
        change_order_status(db, order, target, actor="system", now=NOW, why="should fail")
    db.flush()
    assert order.status == current
    assert db.scalars(select(OrderEvent).where(OrderEvent.order_id == order.id)).all() == []


def test_check_transition_unknown_status_raises() -> None:
    with pytest.raises(InvalidTransition):
        check_transition("pending", "teleported")
