"""The ticket status table and what a customer's reply does to a ticket."""

from __future__ import annotations

import pytest

from core.errors import InvalidTransition
from core.support.status import (
    accepts_customer_messages,
    check_transition,
    status_after_customer_reply,
    status_choices,
)


@pytest.mark.parametrize(
    ("current", "target"),
    [
        ("open", "pending"),
        ("open", "solved"),
        ("open", "closed"),
        ("pending", "open"),
        ("pending", "solved"),
        ("solved", "open"),
        ("solved", "closed"),
    ],
)
def test_check_transition_allows_the_tables_moves(current: str, target: str) -> None:
    assert check_transition(current, target) == target


@pytest.mark.parametrize(
    ("current", "target"),
    [("closed", "open"), ("closed", "solved"), ("open", "open"), ("open", "archived"), ("nonsense", "open")],
)
def test_check_transition_refuses_moves_outside_the_table(current: str, target: str) -> None:
    with pytest.raises(InvalidTransition):
        check_transition(current, target)


@pytest.mark.parametrize(
    ("current", "after"), [("open", "open"), ("pending", "open"), ("solved", "open"), ("closed", None)]
)
def test_status_after_customer_reply_reopens_all_but_closed(current: str, after: str | None) -> None:
    assert status_after_customer_reply(current) == after
    assert accepts_customer_messages(current) is (after is not None)


def test_status_choices_are_the_current_status_and_its_targets() -> None:
    assert status_choices("pending") == ["open", "pending", "solved", "closed"]
    assert status_choices("closed") == ["closed"]
