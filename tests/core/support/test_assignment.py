"""Round-robin rules: the available agent under the cap with the fewest unsolved tickets, ties to whoever
was given one least recently; and the cap read from the environment."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from core.support.assignment import DEFAULT_TICKET_CAP, Candidate, pick_assignee, ticket_cap_from_env

EARLY = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
LATE = datetime(2026, 12, 1, 15, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("candidates", "expected"),
    [
        ([], None),
        ([Candidate(1, 0)], 1),
        ([Candidate(1, 3), Candidate(2, 1), Candidate(3, 2)], 2),
        ([Candidate(1, 2, LATE), Candidate(2, 2, EARLY)], 2),
        ([Candidate(1, 2, EARLY), Candidate(2, 2, None)], 2),  # never given one goes first
        ([Candidate(5, 0, None), Candidate(4, 0, None)], 4),  # then the lowest id
        ([Candidate(1, 25, None, 25), Candidate(2, 30, None, 25)], None),  # everyone at the cap
        ([Candidate(1, 25, None, 25), Candidate(2, 24, LATE, 25)], 2),
        ([Candidate(1, 0, None, 0)], None),  # a cap of 0 takes nobody
        ([Candidate(1, 1, EARLY, 1), Candidate(2, 3, EARLY, 10)], 2),  # fewest is at its own cap
    ],
)
def test_pick_assignee_table(candidates: list[Candidate], expected: int | None) -> None:
    assert pick_assignee(candidates) == expected


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({}, DEFAULT_TICKET_CAP),
        ({"CROSSDOCK_AGENT_TICKET_CAP": "40"}, 40),
        ({"CROSSDOCK_AGENT_TICKET_CAP": "0"}, 0),
        ({"CROSSDOCK_AGENT_TICKET_CAP": "lots"}, DEFAULT_TICKET_CAP),
        ({"CROSSDOCK_AGENT_TICKET_CAP": "-3"}, DEFAULT_TICKET_CAP),
    ],
)
def test_ticket_cap_from_env_table(environ: dict[str, str], expected: int) -> None:
    assert ticket_cap_from_env(environ) == expected
