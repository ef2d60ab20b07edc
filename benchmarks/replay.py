"""The statements a scenario sends to SQLite, recorded from a real run and replayed through the bare driver.

A scenario's `ceiling` replays them, with their parameters, in the same transactions, on a fresh database in
the state the run starts from. That is the rate any implementation sending the same SQL could reach: the
ceiling column of the report. Below the floor by a wide margin, the statements themselves cost more than
the floor's; close to the floor, the distance between the run and the floor is the code around them.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, event
from sqlalchemy.engine import make_url

# One recorded step: ("execute", sql, parameters), ("executemany", sql, rows), or ("commit" | "rollback",)
Step = tuple[Any, ...]


class _Recorder:
    def __init__(self) -> None:
        self.steps: list[Step] | None = None  # None: not recording


class _RecordingCursor(sqlite3.Cursor):
    def execute(self, sql: str, parameters: Any = (), /) -> sqlite3.Cursor:
        _note(self.connection, ("execute", sql, parameters))
        return super().execute(sql, parameters)

    def executemany(self, sql: str, seq_of_parameters: Any, /) -> sqlite3.Cursor:
        rows = list(seq_of_parameters)
        _note(self.connection, ("executemany", sql, rows))
        return super().executemany(sql, rows)


class _RecordingConnection(sqlite3.Connection):
    recorder: _Recorder | None = None

    def cursor(self, factory: Any = _RecordingCursor) -> Any:
        return super().cursor(factory)

    def execute(self, sql: str, parameters: Any = (), /) -> sqlite3.Cursor:
        return self.cursor().execute(sql, parameters)

    def commit(self) -> None:
        _note(self, ("commit",))
        super().commit()

    def rollback(self) -> None:
        _note(self, ("rollback",))
        super().rollback()


def _note(connection: Any, step: Step) -> None:
    recorder = getattr(connection, "recorder", None)
    if recorder is not None and recorder.steps is not None:
        recorder.steps.append(step)


@contextmanager
def recording(engine: Engine) -> Iterator[list[Step]]:
    """Record every statement sent through `engine`'s SQLite connections opened from now on (dispose the
    engine's pool first if it has connections): the list fills while the block runs."""
    recorder = _Recorder()

    def use_recording_connections(_dialect: Any, _record: Any, _cargs: Any, cparams: dict) -> None:
        cparams["factory"] = _RecordingConnection

    def attach(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.recorder = recorder

    event.listen(engine, "do_connect", use_recording_connections)
    event.listen(engine, "connect", attach)
    recorder.steps = []
    try:
        yield recorder.steps
    finally:
        recorder.steps = None
        event.remove(engine, "do_connect", use_recording_connections)
        event.remove(engine, "connect", attach)


def transactions(steps: Sequence[Step]) -> list[list[Step]]:
    """The steps cut after each commit or rollback, leaving out a commit or rollback with no statement before
    it (the pool's reset of a connection it takes back)."""
    cut: list[list[Step]] = [[]]
    for step in steps:
        cut[-1].append(step)
        if step[0] in ("commit", "rollback"):
            cut.append([])
    return [t for t in cut if t and t[0][0] not in ("commit", "rollback")]


def connect(url: str) -> sqlite3.Connection:
    """A bare connection with the settings the application's connections have (core.db)."""
    conn = sqlite3.connect(make_url(url).database, timeout=15, isolation_level=None)
    for pragma in ("journal_mode=WAL", "foreign_keys=ON", "busy_timeout=15000", "synchronous=NORMAL"):
        conn.execute(f"PRAGMA {pragma}")
    return conn


def replay(conn: sqlite3.Connection, steps: Sequence[Step]) -> None:
    """Send the recorded steps again, results read as the application reads them."""
    cursor = conn.cursor()
    for step in steps:
        kind = step[0]
        if kind == "execute":
            cursor.execute(step[1], step[2]).fetchall()
        elif kind == "executemany":
            cursor.executemany(step[1], step[2])
        elif kind == "commit":
            conn.commit()
        else:
            conn.rollback()  # as the driver does it: nothing when no transaction is open
