"""The benchmark report: goals per database (a share of the floor, or of the ceiling on SQLite), always stated
as a ratio to the floor so that `met` is `ratio >= goal`, and the JSON keys every row carries."""

from __future__ import annotations

import time

import pytest

from benchmarks.runner import Goal, Scenario, Target, goal_for, measure


def scenario(**overrides) -> Scenario:
    fields = {"name": "s", "setup": lambda t: None, "run": lambda c: 1.0, "floor": lambda c: 1.0}
    return Scenario(**(fields | overrides))


@pytest.mark.parametrize(
    ("goals", "goal", "database", "ceiling", "expected"),
    [
        ({}, None, "sqlite", None, (None, None)),
        ({}, 0.6, "sqlite", None, (0.6, "0.60 of the floor")),
        ({"postgresql": Goal(0.35)}, None, "postgresql", None, (0.35, "0.35 of the floor")),
        ({"postgresql": Goal(0.35)}, 0.2, "sqlite", 500.0, (0.2, "0.20 of the floor")),
        ({"sqlite": Goal(0.30, of="ceiling")}, None, "sqlite", 500.0, (0.15, "0.30 of the replay ceiling")),
    ],
)
def test_goal_for_states_every_goal_as_a_ratio_to_the_floor(goals, goal, database, ceiling, expected) -> None:
    got = goal_for(scenario(goals=goals, goal=goal), database, floor=1000.0, ceiling=ceiling)
    assert (None if got[0] is None else round(got[0], 6), got[1]) == expected


def test_goal_for_a_ceiling_goal_without_a_ceiling_is_an_error_not_a_pass() -> None:
    with pytest.raises(RuntimeError, match="none measured"):
        goal_for(scenario(goals={"sqlite": Goal(0.3, of="ceiling")}), "sqlite", floor=10.0, ceiling=None)


def test_goal_of_something_else_is_refused() -> None:
    with pytest.raises(ValueError, match="floor or the ceiling"):
        Goal(0.3, of="median")


class FakeTarget(Target):
    name = "sqlite"


def units_in(units: float, seconds: float = 0.02):
    def work(_ctx) -> float:
        time.sleep(seconds)
        return units

    return work


def test_measure_reports_the_keys_and_met_against_the_ceiling_goal() -> None:
    # run 40 units, floor 100, ceiling 60, each in about 20 ms: ratio ~0.4; the goal, 0.5 of the ceiling,
    # is ~0.3 of the floor: met.
    fast = scenario(
        run=units_in(40),
        floor=units_in(100),
        ceiling=units_in(60),
        repeats=1,
        goals={"sqlite": Goal(0.5, of="ceiling")},
    )
    row = measure(fast, FakeTarget())
    assert {"scenario", "database", "unit", "median", "floor", "ratio", "goal", "met"} <= row.keys()
    assert row["database"] == "sqlite" and row["goal_rule"] == "0.50 of the replay ceiling"
    assert 0.2 < row["goal"] < 0.4 and row["met"] is True
    slow = scenario(run=units_in(10), floor=units_in(100), repeats=1, goal=0.5)
    assert measure(slow, FakeTarget())["met"] is False


def test_measure_judges_a_p95_goal_from_the_recorded_latencies() -> None:
    recorded = [0.001 * n for n in range(1, 101)]  # 1..100 ms: the p95 is 95 ms
    timed = scenario(repeats=1, latencies=lambda _ctx: recorded, p95_goals_ms={"sqlite": 96.0})
    row = measure(timed, FakeTarget())
    assert (row["p95_ms"], row["p95_goal_ms"], row["met"]) == (95.0, 96.0, True)
    assert row["goal_rule"] == "p95 < 96 ms"
    strict = scenario(repeats=1, goal=0.5, latencies=lambda _ctx: recorded, p95_goals_ms={"sqlite": 95.0})
    row = measure(strict, FakeTarget())
    assert row["met"] is False and row["goal_rule"] == "0.50 of the floor, p95 < 95 ms"
    assert measure(scenario(repeats=1), FakeTarget())["p95_ms"] is None


def test_a_p95_goal_without_latencies_is_an_error_not_a_pass() -> None:
    with pytest.raises(RuntimeError, match="no latencies"):
        measure(scenario(repeats=1, p95_goals_ms={"sqlite": 50.0}), FakeTarget())
