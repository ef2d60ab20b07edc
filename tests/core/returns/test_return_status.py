"""The return status machine, checked over the whole table."""

from __future__ import annotations

import itertools

import pytest

from core.errors import InvalidTransition
from core.returns.status import ALLOWED_TRANSITIONS, ReturnStatus, can_transition, check_transition

ALLOWED = {
    ("requested", "approved"),
    ("requested", "rejected"),
    ("approved", "received"),
    ("approved", "rejected"),
    ("received", "refunded"),
}
ALL_PAIRS = list(itertools.product([s.value for s in ReturnStatus], repeat=2))


@pytest.mark.parametrize(("current", "target"), sorted(ALLOWED))
def test_check_transition_allows_the_lifecycle(current, target):
    assert check_transition(current, target) == ReturnStatus(target)
    assert can_transition(current, target)


@pytest.mark.parametrize(("current", "target"), [pair for pair in ALL_PAIRS if pair not in ALLOWED])
def test_check_transition_refuses_everything_else(current, target):
    with pytest.raises(InvalidTransition, match=f"return cannot go from {current} to {target}"):
        check_transition(current, target)
    assert not can_transition(current, target)


@pytest.mark.parametrize(("current", "target"), [("requested", "lost"), ("shipped", "approved")])
def test_check_transition_refuses_unknown_statuses(current, target):
    with pytest.raises(InvalidTransition):
        check_transition(current, target)
    assert not can_transition(current, target)


def test_return_status_closed_statuses_lead_nowhere():
    assert ALLOWED_TRANSITIONS[ReturnStatus.REFUNDED] == frozenset()
    assert ALLOWED_TRANSITIONS[ReturnStatus.REJECTED] == frozenset()
