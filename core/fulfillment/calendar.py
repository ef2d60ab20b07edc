"""Business-day arithmetic: weekends and configured holidays are skipped.

Pure functions over dates; the holidays are passed in. `holidays_from_env` is the one reader of the
CROSSDOCK_HOLIDAYS setting (ISO dates separated by commas or spaces), for the composition root to call and
pass along.
"""

from __future__ import annotations

import os
from collections.abc import Collection, Mapping
from datetime import date, timedelta

HOLIDAYS_ENV = "CROSSDOCK_HOLIDAYS"
SATURDAY = 5  # date.weekday(): Monday is 0


def parse_holidays(text: str) -> frozenset[date]:
    """The dates in a list of ISO dates ("2026-12-25,2027-01-01"); ValueError names a bad one."""
    days = set()
    for item in text.replace(",", " ").split():
        try:
            days.add(date.fromisoformat(item))
        except ValueError:
            raise ValueError(f"{HOLIDAYS_ENV}: {item!r} is not an ISO date (YYYY-MM-DD)") from None
    return frozenset(days)


def holidays_from_env(environ: Mapping[str, str] | None = None) -> frozenset[date]:
    """The holidays configured in CROSSDOCK_HOLIDAYS (none when unset)."""
    env = os.environ if environ is None else environ
    return parse_holidays(env.get(HOLIDAYS_ENV, ""))


def is_business_day(day: date, holidays: Collection[date] = ()) -> bool:
    """Monday to Friday and not a holiday."""
    return day.weekday() < SATURDAY and day not in holidays


def next_business_day(day: date, holidays: Collection[date] = ()) -> date:
    """`day` itself when it is a business day, else the first business day after it."""
    while not is_business_day(day, holidays):
        day += timedelta(days=1)
    return day


def add_business_days(start: date, n: int, holidays: Collection[date] = ()) -> date:
    """The n-th business day after `start` (Friday + 1 = Monday; Saturday + 1 = Monday).

    With n = 0 the answer is `start` when it is a business day, else the next business day: work due
    "the same business day" on a Sunday is due on Monday.
    """
    if n < 0:
        raise ValueError("business days to add must not be negative")
    if n == 0:
        return next_business_day(start, holidays)
    day = start
    left = n
    while left:
        day += timedelta(days=1)
        if is_business_day(day, holidays):
            left -= 1
    return day


def business_days_between(start: date, end: date, holidays: Collection[date] = ()) -> int:
    """How many business days lie after `start` up to and including `end` (negative when end < start).

    The inverse of add_business_days for a business-day start: between(d, add(d, n)) == n.
    """
    if end < start:
        return -business_days_between(end, start, holidays)
    total = 0
    day = start + timedelta(days=1)
    while day <= end:
        if is_business_day(day, holidays):
            total += 1
        day += timedelta(days=1)
    return total
