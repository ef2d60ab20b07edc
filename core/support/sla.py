"""SLA time math, pure: business time in the merchant's week (open hours per weekday, closed days, holidays,
in the merchant's time zone, DST included), and a ticket's due dates from its policy and its pauses.

Business time is real elapsed time that falls inside an open window: a window is one local day's opening
hours, turned into UTC instants with zoneinfo, so a day on which the clocks change is as long as it really
is. A target marked round the clock counts plain elapsed time (a channel's "24 hours, weekends included").

A ticket's clock runs only while it waits on us (open). Each stretch it spent waiting on the customer or
solved is a pause; a due date is the opening instant plus the target plus the business time of every pause,
so a pause pushes the due date by exactly the business time it covered. A channel override is that channel's
own limit: the ticket is due at the earlier of its priority's target and the channel's.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
# How far ahead a due date is looked for before the calendar is called unusable (every day closed).
MAX_DAYS = 3 * 366


class NoBusinessHours(ValueError):
    """The calendar has no open window in the years searched (every weekday closed, or all holidays)."""


@dataclass(frozen=True)
class OpenHours:
    """One weekday's opening hours, local time; closes after opens, the same day."""

    opens: time
    closes: time


@dataclass(frozen=True)
class BusinessCalendar:
    """The merchant's week: `week[0]` is Monday's hours (None: closed), in `timezone`, minus `holidays`."""

    timezone: str = "UTC"
    week: tuple[OpenHours | None, ...] = (None,) * 7
    holidays: frozenset[date] = field(default_factory=frozenset)

    def is_open_day(self, day: date) -> bool:
        """True when the business opens on this local date."""
        return self.week[day.weekday()] is not None and day not in self.holidays


@dataclass(frozen=True)
class Target:
    """A time allowance: minutes of business time, or of plain elapsed time when round the clock."""

    minutes: int
    round_the_clock: bool = False


@dataclass(frozen=True)
class Policy:
    """The targets of a priority (or a channel's override); None: no target."""

    first_response: Target | None
    resolution: Target | None


Pause = tuple[datetime, datetime]

NINE_TO_FIVE = OpenHours(time(9, 0), time(17, 0))
DEFAULT_CALENDAR = BusinessCalendar("UTC", (NINE_TO_FIVE,) * 5 + (None, None))
# Targets in business hours: (first response, resolution). Seeded by the 0007_sla migration.
DEFAULT_TARGET_HOURS = {"urgent": (1, 8), "high": (2, 16), "normal": (4, 24), "low": (8, 40)}


def default_policy(priority: str) -> Policy:
    """The shipped policy of a priority (what the migration seeds)."""
    first, resolution = DEFAULT_TARGET_HOURS.get(priority, DEFAULT_TARGET_HOURS["normal"])
    return Policy(Target(first * 60), Target(resolution * 60))


def open_windows(start: datetime, calendar: BusinessCalendar) -> Iterator[tuple[datetime, datetime]]:
    """The open windows (UTC start, UTC end) from the local day of `start` onwards, in order; windows
    that end before `start` are included (callers clip). Raises NoBusinessHours after MAX_DAYS without one."""
    zone = ZoneInfo(calendar.timezone)
    day = start.astimezone(zone).date()
    idle = 0
    while idle < MAX_DAYS:
        hours = calendar.week[day.weekday()]
        if hours is not None and day not in calendar.holidays:
            opens = datetime.combine(day, hours.opens, tzinfo=zone).astimezone(UTC)
            closes = datetime.combine(day, hours.closes, tzinfo=zone).astimezone(UTC)
            if closes > opens:
                idle = 0
                yield opens, closes
        idle += 1
        day += timedelta(days=1)
    raise NoBusinessHours("no business hours in the calendar: open at least one weekday")


def add_business_time(start: datetime, amount: timedelta, calendar: BusinessCalendar) -> datetime:
    """The instant `amount` of business time after `start` (a close at exactly the end of a window stays
    on that window's closing time, not the next opening)."""
    if amount <= timedelta(0):
        return start
    left = amount
    for opens, closes in open_windows(start, calendar):
        if closes <= start:
            continue
        begin = max(opens, start)
        if left <= closes - begin:
            return begin + left
        left -= closes - begin
    raise AssertionError("unreachable: open_windows raises first")  # pragma: no cover


def business_time_between(start: datetime, end: datetime, calendar: BusinessCalendar) -> timedelta:
    """The business time that elapses from `start` to `end` (zero when end is not after start)."""
    total = timedelta(0)
    if end <= start:
        return total
    for opens, closes in open_windows(start, calendar):
        if opens >= end:
            break
        overlap = min(closes, end) - max(opens, start)
        if overlap > timedelta(0):
            total += overlap
    return total


def elapsed(
    start: datetime, end: datetime, calendar: BusinessCalendar, *, round_the_clock: bool
) -> timedelta:
    """Time from start to end as a target counts it: business time, or plain time round the clock."""
    if round_the_clock:
        return max(end - start, timedelta(0))
    return business_time_between(start, end, calendar)


def deadline(
    opened_at: datetime, target: Target, calendar: BusinessCalendar, pauses: Iterable[Pause] = ()
) -> datetime:
    """When a target opened at `opened_at` falls due: the target's time plus that of every pause."""
    paused = sum(
        (elapsed(max(a, opened_at), b, calendar, round_the_clock=target.round_the_clock) for a, b in pauses),
        timedelta(0),
    )
    amount = timedelta(minutes=target.minutes) + paused
    if target.round_the_clock:
        return opened_at + amount
    return add_business_time(opened_at, amount, calendar)


def earliest_deadline(
    opened_at: datetime,
    targets: Sequence[Target | None],
    calendar: BusinessCalendar,
    pauses: Sequence[Pause] = (),
) -> datetime | None:
    """The earliest due date among the targets given (None when there is none)."""
    dues = [deadline(opened_at, t, calendar, pauses) for t in targets if t is not None]
    return min(dues) if dues else None


def due_dates(
    opened_at: datetime,
    policy: Policy,
    calendar: BusinessCalendar,
    *,
    override: Policy | None = None,
    pauses: Sequence[Pause] = (),
) -> tuple[datetime | None, datetime | None]:
    """(first response due, resolution due) of a ticket: its priority's policy, capped by its channel's
    override where that is earlier, both pushed by the pauses."""
    first = [policy.first_response, override.first_response if override else None]
    resolution = [policy.resolution, override.resolution if override else None]
    return (
        earliest_deadline(opened_at, first, calendar, pauses),
        earliest_deadline(opened_at, resolution, calendar, pauses),
    )


SOON = timedelta(hours=1)


def countdown(due: datetime, now: datetime, *, soon: timedelta = SOON) -> tuple[str, str]:
    """(state, label) of a running clock: overdue, soon (within the hour) or ok, and "due in 2 h 05 min" or
    "12 min overdue" (static/js/sla.js keeps the same words as it ticks)."""
    left = due - now
    minutes = int(abs(left).total_seconds() // 60)
    span = f"{minutes} min" if minutes < 60 else f"{minutes // 60} h {minutes % 60:02d} min"
    if left <= timedelta(0):
        return "overdue", f"{span} overdue"
    return ("soon" if left <= soon else "ok"), f"due in {span}"


def format_minutes(minutes: int | None) -> str:
    """A target as a person reads it: "4 h", "1 h 30 min", "45 min"; "" for no target."""
    if minutes is None:
        return ""
    hours, rest = divmod(minutes, 60)
    if not hours:
        return f"{rest} min"
    return f"{hours} h" + (f" {rest} min" if rest else "")
