"""Daily summaries behind the dashboard: what part of a time range is read from them and what part live.

A summary row sums one UTC day of one channel (core.analytics.models: OrderDay, ReturnDay, ...). The refresh
(core.analytics.refresh, `crossdock analytics refresh`, the worker's analytics job) sums every closed day
before a watermark (`RollupState.through_day`). A write that changes a fact of a summed day marks that day
stale (core.analytics.stale) until the next refresh. A section then reads:

- from the summaries, the whole days of its range that are before the watermark and not stale;
- live, from the operational tables, everything else: the open days since the watermark, the stale days,
  and any day a bucket boundary cuts (the trend alerts' weeks end at `now`, not at midnight).

Every figure is a sum (or a count of things that each fall on one day), so the two parts add up to exactly
what a live query over the whole range gives. With no watermark (never refreshed) everything is live.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, false, literal, or_, select
from sqlalchemy.orm import Session

from core.analytics.clock import DAY, epoch, from_epoch
from core.analytics.models import RollupState, StaleDay
from core.channels.models import Channel

STATE_ID = 1


def day_of(moment: datetime) -> int:
    """The UTC day number (epoch seconds // 86400) of an aware datetime."""
    return epoch(moment) // DAY


@dataclass(frozen=True)
class Window:
    """A time range split into whole days read from the summaries and instants read live."""

    summary: tuple[tuple[int, int], ...]  # day ranges [first, after)
    live: tuple[tuple[datetime, datetime], ...]  # instant ranges [start, end)
    through: int | None = None  # the watermark the split was made against

    def summary_days(self, day: Any) -> Any:
        """A condition on a summary table's `day` column: within the summed days."""
        if not self.summary:
            return false()
        return or_(*(and_(day >= a, day < b) for a, b in self.summary))

    def live_at(self, column: Any) -> Any:
        """A condition on a timestamp column: within the instants read live."""
        if not self.live:
            return false()
        return or_(*(and_(column >= a, column < b) for a, b in self.live))

    @property
    def has_summary(self) -> bool:
        return bool(self.summary)

    @property
    def has_live(self) -> bool:
        return bool(self.live)


def state(session: Session) -> tuple[int | None, frozenset[int]]:
    """The watermark (None before the first refresh) and the stale days before it."""
    through = session.scalar(select(RollupState.through_day).where(RollupState.id == STATE_ID))
    if through is None:
        return None, frozenset()
    return through, frozenset(session.scalars(select(StaleDay.day).where(StaleDay.day < through)))


def split(
    session: Session,
    start: datetime,
    end: datetime,
    cuts: Iterable[datetime] = (),
    *,
    now: datetime | None = None,
) -> Window:
    """The range [start, end) as summed days and live instants. A day is summed when it lies wholly inside
    the range, before the watermark, is not stale and no `cut` falls on it (a bucket edge: a day holding
    one, even at its midnight, has instants on both sides of it). Given `now`, the
    summaries are used only if the watermark is not after it (figures that sum up to `now`)."""
    through, stale = state(session)
    if through is None or start >= end or (now is not None and from_epoch(through * DAY) > now):
        return Window((), ((start, end),) if start < end else ())
    first = -(-epoch(start) // DAY)  # the first midnight at or after start
    after = min(epoch(end) // DAY, through)
    blocked = set(stale) | {day_of(cut) for cut in cuts}
    summed = [d for d in range(first, after) if d not in blocked]
    summary = tuple(_ranges(summed))
    live: list[tuple[datetime, datetime]] = []
    cursor = start
    for a, b in summary:
        if from_epoch(a * DAY) > cursor:
            live.append((cursor, from_epoch(a * DAY)))
        cursor = from_epoch(b * DAY)
    if cursor < end:
        live.append((cursor, end))
    return Window(summary, tuple(live), through)


def _ranges(days: list[int]) -> list[tuple[int, int]]:
    ranges: list[tuple[int, int]] = []
    for d in days:
        if ranges and ranges[-1][1] == d:
            ranges[-1] = (ranges[-1][0], d + 1)
        else:
            ranges.append((d, d + 1))
    return ranges


def added(keys: int, *parts: Iterable[Sequence[Any]]) -> list[tuple[Any, ...]]:
    """Rows of (key columns..., sums...) from the summed part and the live part, summed per key (in the
    order keys first appear)."""
    out: dict[tuple[Any, ...], list[int]] = {}
    for part in parts:
        for row in part:
            key, values = tuple(row[:keys]), [int(v or 0) for v in row[keys:]]
            if key in out:
                out[key] = [a + b for a, b in zip(out[key], values, strict=True)]
            else:
                out[key] = values
    return [(*key, *values) for key, values in out.items()]


def day_bucket(day: Any, origin: datetime, size_days: int) -> Any:
    """The bucket of a summary's day column, as clock.bucket gives it for a timestamp of that day."""
    return (day - epoch(origin) // DAY) // size_days


def ordered_ids(session: Session, id_column: Any, order_column: Any, ids: Iterable[int]) -> list[int]:
    """The ids ordered by a column in the database's collation (how an ORDER BY would list them)."""
    wanted = list(ids)
    if not wanted:
        return []
    return list(session.scalars(select(id_column).where(id_column.in_(wanted)).order_by(order_column)))


def name_rank(session: Session, *extra: str) -> dict[str, int]:
    """Every channel name (and `extra` names) ranked as ORDER BY puts them in the database's collation."""
    names = select(Channel.name.label("name"))
    for name in extra:
        names = names.union_all(select(literal(name).label("name")))
    sub = names.subquery()
    return {name: i for i, name in enumerate(session.scalars(select(sub.c.name).order_by(sub.c.name)))}


def in_name_order(session: Session, rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """Rows whose first column is a channel name, ordered as ORDER BY channels.name orders them."""
    rank = name_rank(session)
    return sorted(rows, key=lambda r: (rank.get(r[0], len(rank)), str(r[0])))
