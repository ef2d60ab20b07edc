"""The benchmark harness behind `crossdock bench` (`./run bench`).

Each module `benchmarks/bench_*.py` exposes `SCENARIOS: list[Scenario]`. For every database target (SQLite in
a temporary directory; PostgreSQL too when BENCH_DATABASE_URL is set) a scenario is set up once, then its run
and its floor (the same work done the bare way) are timed in turn, `repeats` times each, each on a fresh
migrated database prepared off the clock. The report gives the median rate of each, their ratio and whether
the ratio reaches the scenario's goal. A scenario with a ceiling (its own statements replayed through the bare
driver: benchmarks/replay.py) has that timed in the same rotation, reported as its ratio to the floor. Being
below a goal is reported, not an error: the exit status is non-zero only when a scenario fails to run.

A goal is a share of the floor, or of the ceiling on a database where the scenario names one (SQLite, where
the bare driver itself sets the pace): `Goal(0.30, of="ceiling")`. Either way the report states it as a ratio
to the floor (`goal`), so `met` is always `ratio >= goal`, and says what it was set as (`goal_rule`).
A scenario judged by latency records the seconds of each unit of its run (`latencies`) and sets the highest
acceptable p95 per database (`p95_goals_ms`): the report gives `p95_ms`, and `met` then also needs
`p95_ms < p95_goal_ms`.

Environment: BENCH_DATABASE_URL=postgresql+psycopg://user:pw@host/any also runs every scenario on PostgreSQL,
in a temporary database crossdock_bench_<pid> made (and dropped) through the server's `postgres` database;
BENCH_SKIP_SQLITE=1 runs on PostgreSQL only.
"""

from __future__ import annotations

import argparse
import importlib
import json
import math
import os
import pkgutil
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from core import migrate
from core.db import make_engine

BENCH_DIR = Path(__file__).resolve().parent


@dataclass(frozen=True)
class Goal:
    """The lowest acceptable median, as a share of the floor's median or of the ceiling's."""

    share: float
    of: str = "floor"  # or "ceiling"

    def __post_init__(self) -> None:
        if self.of not in ("floor", "ceiling"):
            raise ValueError(f"a goal is a share of the floor or the ceiling, not {self.of!r}")


@dataclass(frozen=True)
class Scenario:
    """One benchmark: `run(ctx)` and `floor(ctx)` each do the work once and return the units done."""

    name: str
    setup: Callable[[Target], Any]  # once per target, off the clock; returns the context
    run: Callable[[Any], float]
    floor: Callable[[Any], float]
    unit: str = "orders/s"
    repeats: int = 5
    goal: float | None = None  # the lowest acceptable median / floor median, or None to just report
    goals: dict[str, Goal] = field(default_factory=dict)  # by database name, in place of `goal` there
    teardown: Callable[[Any], None] | None = None
    before_each: Callable[[Any], None] | None = None  # off the clock, before every timed call
    floor_note: str = ""
    # The scenario's own statements replayed through the bare driver (benchmarks/replay.py): the units done,
    # or None where it isn't measured (PostgreSQL)
    ceiling: Callable[[Any], float | None] | None = None
    # The seconds each unit of `run` took (recorded by the scenario, e.g. in its context), read once after the
    # repeats, for a p95 in the report; `p95_goals_ms` (by database) is then the highest acceptable p95
    latencies: Callable[[Any], list[float]] | None = None
    p95_goals_ms: dict[str, float] = field(default_factory=dict)


class Target:
    """A database server the scenarios run on; hands out fresh, migrated databases."""

    name = "?"

    def fresh_url(self) -> str:
        """The URL of a new, migrated, empty database (the previous one handed out may be dropped)."""
        raise NotImplementedError

    def close(self) -> None:
        """Remove every database made."""


class SqliteTarget(Target):
    """Files in a temporary directory, each a copy of one migrated template."""

    name = "sqlite"

    def __init__(self) -> None:
        self.directory = Path(tempfile.mkdtemp(prefix="crossdock-bench-"))
        self.template = self.directory / "template.db"
        engine = make_engine(f"sqlite:///{self.template}")
        migrate.upgrade(engine)
        engine.dispose()
        with sqlite3.connect(self.template) as conn:  # one self-contained file, safe to copy
            conn.execute("PRAGMA journal_mode=DELETE")
        self.count = 0

    def fresh_url(self) -> str:
        for old in self.directory.glob("run-*"):
            old.unlink()
        self.count += 1
        path = self.directory / f"run-{self.count}.db"
        shutil.copyfile(self.template, path)
        return f"sqlite:///{path}"

    def close(self) -> None:
        shutil.rmtree(self.directory, ignore_errors=True)


class PostgresTarget(Target):
    """crossdock_bench_<pid>, recreated for each run from a migrated template database."""

    name = "postgresql"

    def __init__(self, url: str) -> None:
        self.base = make_url(url)
        self.database = f"crossdock_bench_{os.getpid()}"
        self.template = f"{self.database}_template"
        self.admin = create_engine(self.base.set(database="postgres"), isolation_level="AUTOCOMMIT")
        self._admin(f'DROP DATABASE IF EXISTS "{self.template}" WITH (FORCE)')
        self._admin(f'CREATE DATABASE "{self.template}"')
        engine = make_engine(self.url_of(self.template))
        migrate.upgrade(engine)
        engine.dispose()

    def url_of(self, database: str) -> str:
        return self.base.set(database=database).render_as_string(hide_password=False)

    def _admin(self, statement: str) -> None:
        with self.admin.connect() as conn:
            conn.execute(text(statement))

    def fresh_url(self) -> str:
        self._admin(f'DROP DATABASE IF EXISTS "{self.database}" WITH (FORCE)')
        self._admin(f'CREATE DATABASE "{self.database}" TEMPLATE "{self.template}"')
        return self.url_of(self.database)

    def close(self) -> None:
        for database in (self.database, self.template):
            self._admin(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        self.admin.dispose()


def discover(only: str | None = None) -> list[Scenario]:
    """Every SCENARIOS list of benchmarks/bench_*.py, optionally only names containing `only`."""
    scenarios: list[Scenario] = []
    for module in sorted(info.name for info in pkgutil.iter_modules([str(BENCH_DIR)])):
        if module.startswith("bench_"):
            scenarios += importlib.import_module(f"benchmarks.{module}").SCENARIOS
    return [s for s in scenarios if only is None or only.lower() in s.name.lower()]


def _targets() -> list[tuple[str, Callable[[], Target]]]:
    makers: list[tuple[str, Callable[[], Target]]] = []
    if os.environ.get("BENCH_SKIP_SQLITE") != "1":
        makers.append((SqliteTarget.name, SqliteTarget))
    url = os.environ.get("BENCH_DATABASE_URL")
    if url:
        makers.append((PostgresTarget.name, lambda: PostgresTarget(url)))
    return makers


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def measure(scenario: Scenario, target: Target) -> dict[str, Any]:
    """Time the scenario and its floor in turn; the result row of the report."""
    _say(f"[{target.name}] {scenario.name}: setting up")
    ctx = scenario.setup(target)
    rates: dict[str, list[float]] = {"run": [], "floor": [], "ceiling": []}
    works = {"run": scenario.run, "floor": scenario.floor}
    if scenario.ceiling is not None:
        works["ceiling"] = scenario.ceiling
    samples: list[float] = []
    try:
        for i in range(scenario.repeats):
            # Rotate which goes first, so none always runs on a warmer machine.
            kinds = list(works)
            order = kinds[i % len(kinds) :] + kinds[: i % len(kinds)]
            for kind in order:
                if scenario.before_each is not None:
                    scenario.before_each(ctx)
                started = time.perf_counter()
                units = works[kind](ctx)
                if units is None:  # no ceiling on this database
                    del works[kind]
                    continue
                rates[kind].append(units / (time.perf_counter() - started))
                _say(
                    f"[{target.name}] {scenario.name}: {kind} {i + 1}/{scenario.repeats} "
                    f"{rates[kind][-1]:,.0f} {scenario.unit}"
                )
        if scenario.latencies is not None:
            samples = list(scenario.latencies(ctx))
    finally:
        if scenario.teardown is not None:
            scenario.teardown(ctx)
    median, floor = statistics.median(rates["run"]), statistics.median(rates["floor"])
    ratio = median / floor if floor else 0.0
    ceiling = statistics.median(rates["ceiling"]) if rates["ceiling"] else None
    goal, rule = goal_for(scenario, target.name, floor=floor, ceiling=ceiling)
    met = None if goal is None else ratio >= goal
    p95 = percentile(samples, 95) * 1000 if samples else None
    p95_goal = scenario.p95_goals_ms.get(target.name)
    if p95_goal is not None:
        if p95 is None:
            raise RuntimeError(f"{scenario.name}: its p95 goal on {target.name} has no latencies to judge")
        met = (met is not False) and p95 < p95_goal
        rule = ", ".join(filter(None, [rule, f"p95 < {p95_goal:g} ms"]))
    return {
        "scenario": scenario.name,
        "database": target.name,
        "unit": scenario.unit,
        "median": round(median, 1),
        "floor": round(floor, 1),
        "ratio": round(ratio, 3),
        "goal": None if goal is None else round(goal, 3),
        "met": met,
        "goal_rule": rule,
        "repeats": scenario.repeats,
        "floor_median": round(floor, 1),
        "result": "PASS" if met is not False else "BELOW",
        "runs": [round(r, 1) for r in rates["run"]],
        "floor_runs": [round(r, 1) for r in rates["floor"]],
        "ceiling_median": None if ceiling is None else round(ceiling, 1),
        "ceiling_ratio": None if ceiling is None or not floor else round(ceiling / floor, 3),
        "ceiling_runs": [round(r, 1) for r in rates["ceiling"]],
        "floor_note": scenario.floor_note,
        "p95_ms": None if p95 is None else round(p95, 2),
        "p95_goal_ms": p95_goal,
        "error": None,
    }


def percentile(samples: list[float], share: float) -> float:
    """The nearest-rank percentile: the smallest sample at or above `share` percent of them."""
    ordered = sorted(samples)
    return ordered[max(0, math.ceil(len(ordered) * share / 100) - 1)]


def goal_for(
    scenario: Scenario, database: str, *, floor: float, ceiling: float | None
) -> tuple[float | None, str | None]:
    """The scenario's goal on `database` as a ratio to the floor, and the rule it came from (None: no goal).

    A goal set as a share of the ceiling becomes share * ceiling / floor; without a ceiling measured it
    can't be judged, which is an error (a goal must never pass for want of a figure)."""
    goal = scenario.goals.get(database)
    if goal is None:
        if scenario.goal is None:
            return None, None
        return scenario.goal, f"{scenario.goal:.2f} of the floor"
    if goal.of == "floor":
        return goal.share, f"{goal.share:.2f} of the floor"
    if ceiling is None or not floor:
        raise RuntimeError(
            f"{scenario.name}: its goal on {database} is a share of the ceiling, none measured"
        )
    return goal.share * ceiling / floor, f"{goal.share:.2f} of the replay ceiling"


def _table(results: list[dict[str, Any]]) -> str:
    header = (
        "scenario",
        "database",
        "median",
        "floor median",
        "ratio",
        "goal",
        "result",
        "ceiling ratio",
        "p95",
    )
    rows = [header]
    for r in results:
        if r["error"]:
            rows.append((r["scenario"], r["database"], "-", "-", "-", "-", "ERROR", "-", "-"))
            continue
        goal = "-" if r["goal"] is None else f"{r['goal']:.2f} ({r['goal_rule']})"
        ceiling = "-" if r["ceiling_ratio"] is None else f"{r['ceiling_ratio']:.2f}"
        p95 = "-" if r.get("p95_ms") is None else f"{r['p95_ms']:.1f} ms"
        rows.append(
            (
                r["scenario"],
                r["database"],
                f"{r['median']:,.0f} {r['unit']}",
                f"{r['floor_median']:,.0f} {r['unit']}",
                f"{r['ratio']:.2f}",
                goal,
                r["result"],
                ceiling,
                p95,
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip() for row in rows
    ]
    notes = sorted({f"floor of {r['scenario']}: {r['floor_note']}" for r in results if r.get("floor_note")})
    if any(r.get("ceiling_ratio") is not None for r in results):
        notes.append(
            "ceiling ratio: the scenario's own statements, recorded from a run, replayed through the bare driver "
            "in the same transactions, over the floor (SQLite): what any code sending the same SQL could reach"
        )
    errors = [f"{r['scenario']} on {r['database']}: {r['error']}" for r in results if r["error"]]
    return "\n".join([*lines, *(["", *notes] if notes else []), *(["", *errors] if errors else [])])


def main(as_json: bool = False, only: str | None = None) -> int:
    """Run the suite; print a table (or JSON). 0 unless a scenario could not run."""
    scenarios = discover(only)
    if not scenarios:
        _say(f"no benchmark scenario matches {only!r}")
        return 2
    results: list[dict[str, Any]] = []

    def failed(scenario: Scenario, database: str, exc: Exception) -> dict[str, Any]:
        traceback.print_exc(file=sys.stderr)
        return {
            "scenario": scenario.name,
            "database": database,
            "unit": scenario.unit,
            "median": None,
            "floor": None,
            "ratio": None,
            "goal": scenario.goal,
            "met": False,
            "result": "ERROR",
            "error": f"{type(exc).__name__}: {exc}",
        }

    for name, make_target in _targets():
        try:
            target = make_target()
        except Exception as exc:  # the database is unreachable: every scenario on it fails
            results += [failed(scenario, name, exc) for scenario in scenarios]
            continue
        try:
            for scenario in scenarios:
                try:
                    results.append(measure(scenario, target))
                except Exception as exc:  # report it and go on with the others
                    results.append(failed(scenario, name, exc))
        finally:
            target.close()
    print(json.dumps(results, indent=2) if as_json else _table(results))
    return 1 if any(r["error"] for r in results) else 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    parser.add_argument("--only", help="run only scenarios whose name contains this text")
    args = parser.parse_args()
    sys.exit(main(as_json=args.json, only=args.only))
