"""Time in SQL, the same on SQLite and PostgreSQL: a timestamp as whole seconds since the Unix epoch, buckets
(days, weeks) as integer divisions of it, and business time through a small calendar table.

Business time between two instants is B(end) - B(start), where B(t) is the business time from the first day of
the table up to t. The table has one row per UTC day: B at that day's midnight (`cum`) and up to three open
spans inside the day, in seconds after midnight (a local day's opening hours cut at UTC midnights; a UTC day
meets at most three local days). The spans come from core.support.sla.open_windows, so the merchant's time
zone, DST and holidays are those the SLA clock uses. A row is joined to a timestamp by equality on its day
number, so the database computes every ticket's business time in one pass, with no per-row Python.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import BigInteger, Integer, case, column, values
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement

from core.support.sla import BusinessCalendar, NoBusinessHours, open_windows

DAY = 86_400
WEEK = 7 * DAY
SPANS = 3

ClockRow = tuple[int, ...]  # day, cum, s1, e1, s2, e2, s3, e3


class epoch_seconds(FunctionElement[int]):
    """Whole seconds since 1970-01-01 UTC of a timestamp column."""

    type = BigInteger()
    name = "epoch_seconds"
    inherit_cache = True


@compiles(epoch_seconds)
def _epoch_default(element: Any, compiler: Any, **kw: Any) -> str:
    return f"CAST(EXTRACT(EPOCH FROM {compiler.process(element.clauses, **kw)}) AS BIGINT)"


@compiles(epoch_seconds, "sqlite")
def _epoch_sqlite(element: Any, compiler: Any, **kw: Any) -> str:
    return f"CAST(strftime('%s', {compiler.process(element.clauses, **kw)}) AS INTEGER)"


def epoch(moment: datetime) -> int:
    """Whole seconds since the epoch of an aware datetime (what epoch_seconds gives in SQL)."""
    return int(moment.timestamp())


def from_epoch(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def clock_rows(calendar: BusinessCalendar, first_day: int, last_day: int) -> list[ClockRow]:
    """The calendar table for UTC days first_day..last_day (day numbers: epoch seconds // 86400)."""
    start, end = from_epoch(first_day * DAY), from_epoch((last_day + 1) * DAY)
    spans: dict[int, list[tuple[int, int]]] = {}
    try:
        for opens, closes in open_windows(start - timedelta(days=1), calendar):
            if opens >= end:
                break
            a, b = epoch(max(opens, start)), epoch(min(closes, end))
            while a < b:
                day = a // DAY
                cut = min(b, (day + 1) * DAY)
                spans.setdefault(day, []).append((a - day * DAY, cut - day * DAY))
                a = cut
    except NoBusinessHours:
        spans = {}
    rows: list[ClockRow] = []
    cum = 0
    for day in range(first_day, last_day + 1):
        merged = _merge(sorted(spans.get(day, [])))
        flat = [edge for span in merged for edge in span] + [0, 0] * (SPANS - len(merged))
        rows.append((day, cum, *flat))
        cum += sum(b - a for a, b in merged)
    return rows


def _merge(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for a, b in spans:
        if merged and a <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], b))
        else:
            merged.append((a, b))
    if len(merged) > SPANS:  # cannot happen with one window per local day; kept whole rather than dropped
        merged = [*merged[: SPANS - 1], (merged[SPANS - 1][0], merged[-1][1])]
    return merged


def business_seconds_at(moment: datetime, rows: list[ClockRow]) -> int:
    """B(t) computed in Python from the same table (for tests and single values)."""
    seconds = epoch(moment)
    day = seconds // DAY
    row = next(r for r in rows if r[0] == day)
    tod = seconds - day * DAY
    return row[1] + sum(
        min(max(tod - row[2 + 2 * i], 0), row[3 + 2 * i] - row[2 + 2 * i]) for i in range(SPANS)
    )


def clock_table(rows: list[ClockRow], name: str = "business_clock") -> Any:
    """The calendar table as a CTE of literal VALUES (a few hundred small integers)."""
    columns = [column("day", Integer), column("cum", Integer)]
    for i in range(1, SPANS + 1):
        columns += [column(f"s{i}", Integer), column(f"e{i}", Integer)]
    return values(*columns, name=name, literal_binds=True).data(rows).cte(name)


def business_seconds(clock: Any, stamp: Any) -> Any:
    """B(stamp) in SQL, for a row of `clock` joined on clock.c.day == epoch_seconds(stamp) // DAY."""
    tod = epoch_seconds(stamp) - clock.c.day * DAY
    total = clock.c.cum
    for i in range(1, SPANS + 1):
        s, e = clock.c[f"s{i}"], clock.c[f"e{i}"]
        total = total + case((tod <= s, 0), (tod >= e, e - s), else_=tod - s)
    return total


def day_number(stamp: Any) -> Any:
    """The UTC day number of a timestamp column, for the join to the calendar table."""
    return epoch_seconds(stamp) // DAY


def bucket(stamp: Any, origin: int, size: int) -> Any:
    """Which `size`-second bucket after `origin` (epoch seconds) a timestamp falls in (0, 1, ...)."""
    return (epoch_seconds(stamp) - origin) // size
