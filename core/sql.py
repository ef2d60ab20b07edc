"""Hot-path statements: Core statements compiled once per dialect and run on the driver's cursor.

SQLAlchemy's `Connection.execute` costs tens of microseconds per statement in Python (compiled-cache lookup,
execution context, result set-up, events), more than SQLite takes to run a small INSERT. The few paths that
run statements by the dozen per request (order intake, stock reservation) use `Prepared` instead: the same
Core statement, compiled for the dialect on first use, its parameters put through the same column type
conversions (aware datetimes, JSON), run on the session's connection with the driver's own cursor. So the
SQL is still written once, in Core, and checked like any other statement.

Limits, checked when a statement is compiled: every column value must be given (no Python-side defaults),
and an expanding IN parameter (`bindparam(..., expanding=True)`) is rendered per list length.

`Batch` sends several statements in one round trip to PostgreSQL (psycopg's pipeline mode) and runs them
one after the other on SQLite (nothing to save there).
"""

from __future__ import annotations

import operator
import re
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from sqlalchemy import inspect as sa_inspect
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import Session, make_transient_to_detached

from core.db import mark_written

_POSTCOMPILE = re.compile(r"__\[POSTCOMPILE_(\w+)\]")


class _Compiled:
    """One statement compiled for one dialect and one set of given column keys."""

    def __init__(self, statement: Any, dialect: Dialect, column_keys: Sequence[str] | None) -> None:
        compiled = statement.compile(dialect=dialect, column_keys=column_keys)
        if getattr(compiled, "insert_prefetch", None) or getattr(compiled, "update_prefetch", None):
            names = [c.key for c in (*compiled.insert_prefetch, *compiled.update_prefetch)]
            raise ValueError(f"Prepared statements take every value explicitly; missing: {names}")
        self.compiled = compiled
        self.sql = str(compiled)
        self.named = compiled.positiontup is None
        self.positions = tuple(compiled.positiontup or ())
        binds = {name: bind for bind, name in compiled.bind_names.items()}  # as rendered
        self.expanding = frozenset(name for name, bind in binds.items() if bind.expanding)
        self.processors = {
            name: _last_time_kept(processor)
            for name, bind in binds.items()
            if (processor := bind.type.dialect_impl(dialect).bind_processor(dialect)) is not None
        }
        # values fixed in the statement itself (`.values(x=None)`, `.limit(1)`): the caller may not give them
        self.defaults = {name: bind.effective_value for name, bind in binds.items() if not bind.required}
        # Positional parameters, built in C: the values by name, then the converters at their indexes.
        self.getter = operator.itemgetter(*self.positions) if len(self.positions) > 1 else None
        self.converted = [
            (index, self.processors[name])
            for index, name in enumerate(self.positions)
            if name in self.processors
        ]
        self.result_processors = _result_processors(statement, dialect)
        # Known here, so a row-less statement's cursor needn't be asked (psycopg builds its description)
        self.returns_rows = bool(self.result_processors)
        self.writes = self.sql.lstrip()[:7].upper().startswith(("INSERT", "UPDATE", "DELETE", "WITH"))
        self.mark = "%s" if not self.named else None
        self._expanded: dict[tuple[int, ...], str] = {}

    def parameters(self, values: Mapping[str, Any]) -> tuple[str, Any]:
        """The SQL (expanded for the IN lists' lengths) and the driver's parameters for `values`."""
        if self.defaults:
            values = {**self.defaults, **values}
        if self.expanding:
            return self._expanded_parameters(values)
        if self.named:
            params = dict(values)
            for name, processor in self.processors.items():
                params[name] = processor(params[name])
            return self.sql, params
        # the common case, run per row: built in C as far as possible
        if self.getter is None:
            return self.sql, tuple(
                values[name] if name not in self.processors else self.processors[name](values[name])
                for name in self.positions
            )
        if not self.converted:
            return self.sql, self.getter(values)
        row = list(self.getter(values))
        for index, processor in self.converted:
            row[index] = processor(row[index])
        return self.sql, tuple(row)

    def _expanded_parameters(self, values: Mapping[str, Any]) -> tuple[str, Any]:
        params = dict(values)
        for name, processor in self.processors.items():
            value = params[name]
            if name in self.expanding:
                params[name] = [processor(v) for v in value]
            else:
                params[name] = processor(value)
        lengths = tuple(len(params[name]) for name in sorted(self.expanding))
        if any(n == 0 for n in lengths):
            raise ValueError("an expanding IN parameter needs at least one value")
        sql = self._expanded.get(lengths)
        if sql is None:
            sql = self._expanded[lengths] = self._expand(
                dict(zip(sorted(self.expanding), lengths, strict=True))
            )
        if self.named:
            flat = {k: v for k, v in params.items() if k not in self.expanding}
            for name in self.expanding:
                for i, value in enumerate(params[name], start=1):
                    flat[f"{name}_{i}"] = value
            return sql, flat
        flat_list: list[Any] = []
        for name in self.positions:
            if name in self.expanding:
                flat_list.extend(params[name])
            else:
                flat_list.append(params[name])
        return sql, tuple(flat_list)

    def _expand(self, lengths: dict[str, int]) -> str:
        def render(match: re.Match[str]) -> str:
            name = match.group(1)
            if self.named:
                return ", ".join(f"%({name}_{i})s" for i in range(1, lengths[name] + 1))
            return ", ".join(["?"] * lengths[name])

        return _POSTCOMPILE.sub(render, self.sql)

    def rows(self, cursor: Any) -> list[tuple[Any, ...]]:
        if not self.returns_rows:
            return []
        fetched = cursor.fetchall()
        processors = self.result_processors
        if not any(processors):
            return fetched
        return [
            tuple(value if p is None else p(value) for p, value in zip(processors, row, strict=True))
            for row in fetched
        ]


def _last_time_kept(processor: Any) -> Any:
    """The processor, remembering its last datetime: a hot path writes the same `now` into many rows."""
    last: list[tuple[Any, Any]] = [(None, None)]

    def process(value: Any) -> Any:
        if type(value) is datetime:
            seen, converted = last[0]  # one tuple, swapped whole: safe across threads
            if value is seen:
                return converted
            converted = processor(value)
            last[0] = (value, converted)
            return converted
        return processor(value)

    return process


def _result_processors(statement: Any, dialect: Dialect) -> list[Any]:
    returning = getattr(statement, "returning_column_descriptions", None)
    if returning:
        types = [d["type"] for d in returning]
    elif hasattr(statement, "selected_columns"):
        types = [c.type for c in statement.selected_columns]
    else:
        types = []
    return [t.dialect_impl(dialect).result_processor(dialect, None) for t in types]


class Prepared:
    """A Core statement run on the driver's cursor (see the module docstring).

    An INSERT or UPDATE without explicit `.values()` writes the columns named by the parameters' keys, as
    Connection.execute does; it is compiled once per dialect and set of keys."""

    def __init__(self, statement: Any) -> None:
        self.statement = statement
        self._by_dialect: dict[tuple[str, tuple[str, ...] | None], _Compiled] = {}

    def compiled(self, dialect: Dialect, values: Mapping[str, Any] | None) -> _Compiled:
        keys = _column_keys(self.statement, values)
        found = self._by_dialect.get((dialect.name, keys))
        if found is None:
            found = self._by_dialect[(dialect.name, keys)] = _Compiled(self.statement, dialect, keys)
        return found


def _column_keys(statement: Any, values: Mapping[str, Any] | None) -> tuple[str, ...] | None:
    # INSERT/UPDATE render their SET/VALUES from the keys given, like Connection.execute does.
    if values is None or not getattr(statement, "is_dml", False) or statement.is_delete:
        return None
    return tuple(values)


_DRIVER = "crossdock.driver"


def _driver(session: Session) -> tuple[Any, Dialect, Any]:
    """The session's transaction's DBAPI connection (beginning the transaction if need be), its dialect and
    its SQLAlchemy Connection, remembered for the rest of that transaction (Session.connection() costs more
    than a small statement)."""
    transaction = session.get_transaction()
    cached = session.info.get(_DRIVER)
    if cached is not None and transaction is not None and cached[0] is transaction:
        return cached[1], cached[2], cached[3]
    conn = session.connection()
    driver = conn.connection.driver_connection
    session.info[_DRIVER] = (session.get_transaction(), driver, conn.dialect, conn)
    return driver, conn.dialect, conn


def run(
    session: Session, prepared: Prepared, values: Mapping[str, Any] | None = None
) -> list[tuple[Any, ...]]:
    """Run the statement once in the session's transaction; the rows it returns (none for a plain write)."""
    with batch(session) as queued:
        result = queued.add(prepared, values)
    return result.rows


class Result:
    """A statement's rows and row count, filled in when its batch has run; reading them before is an error."""

    __slots__ = ("_rowcount", "_rows")

    def __init__(self) -> None:
        self._rows: list[tuple[Any, ...]] | None = None
        self._rowcount = -1

    def fill(self, rows: list[tuple[Any, ...]], rowcount: int) -> None:
        self._rows, self._rowcount = rows, rowcount

    @property
    def rows(self) -> list[tuple[Any, ...]]:
        if self._rows is None:
            raise RuntimeError("a statement's result was read before its batch ran")
        return self._rows

    @property
    def rowcount(self) -> int:
        if self._rows is None:
            raise RuntimeError("a statement's result was read before its batch ran")
        return self._rowcount


class Batch:
    """Statements queued to run together, in order, in the session's transaction: in one round trip on
    PostgreSQL (pipeline mode), one after the other elsewhere. Each `add` returns a Result, filled in once
    the batch has run (at the end of the `batch()` block)."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.driver, self.dialect, self.connection = _driver(session)
        self.queued: list[tuple[_Compiled, str, Any, bool, Result]] = []

    def add(self, prepared: Prepared, values: Mapping[str, Any] | None = None) -> Result:
        compiled = prepared.compiled(self.dialect, values)
        sql, params = compiled.parameters(values or {})
        result = Result()
        self.queued.append((compiled, sql, params, False, result))
        return result

    def add_many(self, prepared: Prepared, rows: Sequence[Mapping[str, Any]]) -> None:
        if not rows:
            return
        compiled = prepared.compiled(self.dialect, rows[0])
        if compiled.expanding:
            raise ValueError("add_many takes no expanding IN parameters")
        params = [compiled.parameters(row)[1] for row in rows]
        self.queued.append((compiled, compiled.sql, params, True, Result()))

    def run(self) -> None:
        queued, self.queued = self.queued, []
        if not queued:
            return
        if self.dialect.name == "postgresql" and len(queued) > 1:
            self._run_pipelined(queued)
        else:
            for compiled, sql, params, many, result in queued:
                cursor = self.driver.cursor()
                try:
                    if many:
                        cursor.executemany(sql, params)
                        result.fill([], cursor.rowcount)
                    else:
                        cursor.execute(sql, params)
                        result.fill(compiled.rows(cursor), cursor.rowcount)
                finally:
                    cursor.close()
        if self.dialect.name == "sqlite" and any(compiled.writes for compiled, *_ in queued):
            # a statement on the driver's cursor passes no SQLAlchemy event: say that this transaction wrote
            mark_written(self.connection)

    def _run_pipelined(self, queued: list[tuple[_Compiled, str, Any, bool, Result]]) -> None:
        cursors = []
        with self.driver.pipeline():
            for _compiled, sql, params, many, _result in queued:
                cursor = self.driver.cursor()
                cursors.append(cursor)
                if many:
                    cursor.executemany(sql, params)
                else:
                    cursor.execute(sql, params)
        for cursor, (compiled, _sql, _params, many, result) in zip(cursors, queued, strict=True):
            result.fill([] if many else compiled.rows(cursor), cursor.rowcount)
            cursor.close()


@contextmanager
def batch(session: Session) -> Iterator[Batch]:
    """`with batch(session) as b: r = b.add(...)`; the statements run when the block ends."""
    queued = Batch(session)
    yield queued
    queued.run()


def attach_loaded(session: Session, model: type[Any], values: Mapping[str, Any]) -> Any:
    """An instance of `model` for a row this transaction just wrote with `values` (all its columns, with its
    primary key), attached to the session as if loaded: what a flush would leave, a quarter of the cost of
    the constructor's instrumented attribute sets plus `make_transient_to_detached`."""
    instance = sa_inspect(model).class_manager.new_instance()
    instance.__dict__.update(values)  # loaded state: no change history, nothing for a flush to write
    make_transient_to_detached(instance)
    session.add(instance)
    return instance


@contextmanager
def joining(session: Session, queued: Batch | None) -> Iterator[Batch]:
    """The caller's batch when it gives one (the statements then run with the rest of it), else a batch of
    our own that runs at the end of the block."""
    if queued is not None:
        yield queued
        return
    with batch(session) as own:
        yield own
