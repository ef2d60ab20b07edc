"""SLA time math with no database: business time added and measured in the merchant's week (closed days,
holidays, time zone and DST), due dates from a policy, its channel override and the ticket's pauses."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from core.support.sla import (
    DEFAULT_CALENDAR,
    BusinessCalendar,
    NoBusinessHours,
    OpenHours,
    Policy,
    Target,
    add_business_time,
    business_time_between,
    deadline,
    default_policy,
    due_dates,
    format_minutes,
)

LONDON = ZoneInfo("Europe/London")
NINE_FIVE = (OpenHours(time(9), time(17)),) * 5 + (None, None)
UK = BusinessCalendar("Europe/London", NINE_FIVE, frozenset({date(2026, 12, 25)}))
UTC_WEEK = BusinessCalendar("UTC", NINE_FIVE)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def london(*args: int) -> datetime:
    return datetime(*args, tzinfo=LONDON).astimezone(UTC)


H = timedelta(hours=1)


@pytest.mark.parametrize(
    ("start", "amount", "expected"),
    [
        (utc(2026, 12, 1, 10), 4 * H, utc(2026, 12, 1, 14)),  # Tuesday, within the day
        (utc(2026, 12, 1, 7), 1 * H, utc(2026, 12, 1, 10)),  # before opening: the clock starts at 09:00
        (utc(2026, 12, 1, 15), 2 * H, utc(2026, 12, 1, 17)),  # ends exactly at closing: stays that day
        (utc(2026, 12, 1, 16), 4 * H, utc(2026, 12, 2, 12)),  # carries into the next morning
        (utc(2026, 12, 4, 16), 4 * H, utc(2026, 12, 7, 12)),  # Friday afternoon -> Monday
        (utc(2026, 12, 4, 19), 1 * H, utc(2026, 12, 7, 10)),  # Friday evening -> Monday morning
        (utc(2026, 12, 5, 11), 30 * timedelta(minutes=1), utc(2026, 12, 7, 9, 30)),  # Saturday -> Monday
        (utc(2026, 12, 1, 10), 16 * H, utc(2026, 12, 3, 10)),  # two whole business days
        (utc(2026, 12, 1, 10), timedelta(0), utc(2026, 12, 1, 10)),
    ],
)
def test_add_business_time_in_a_monday_to_friday_week(start, amount, expected) -> None:
    assert add_business_time(start, amount, UTC_WEEK) == expected


def test_add_business_time_skips_a_holiday() -> None:
    # Thursday 24 December 16:00: one hour that day, Christmas (Friday) closed, the weekend, then Monday.
    assert add_business_time(london(2026, 12, 24, 16), 3 * H, UK) == london(2026, 12, 28, 11)


def test_add_business_time_across_the_spring_dst_change() -> None:
    # Friday 27 March 16:00 GMT; the clocks go forward on Sunday 29 March; Monday 10:00 BST is 09:00 UTC.
    due = add_business_time(london(2026, 3, 27, 16), 2 * H, UK)
    assert due == utc(2026, 3, 30, 9)
    assert due.astimezone(LONDON).hour == 10


def test_add_business_time_across_the_autumn_dst_change() -> None:
    # Friday 23 October 16:00 BST (15:00 UTC); clocks go back on the 25th; Monday 10:00 GMT is 10:00 UTC.
    assert add_business_time(london(2026, 10, 23, 16), 2 * H, UK) == utc(2026, 10, 26, 10)


def test_a_day_on_which_the_clocks_change_counts_its_real_length() -> None:
    # Open 00:30-03:30 local on Sundays: 2 real hours when the clocks go forward, 4 when they go back.
    sundays = BusinessCalendar("Europe/London", (None,) * 6 + (OpenHours(time(0, 30), time(3, 30)),))
    spring = business_time_between(london(2026, 3, 29, 0), london(2026, 3, 29, 6), sundays)
    autumn = business_time_between(utc(2026, 10, 24, 22), utc(2026, 10, 25, 6), sundays)
    assert (spring, autumn) == (2 * H, 4 * H)


def test_business_hours_are_the_merchants_local_hours() -> None:
    new_york = BusinessCalendar("America/New_York", NINE_FIVE)
    # Monday 7 December 12:00 UTC is 07:00 in New York: the clock starts at 09:00 EST = 14:00 UTC.
    assert add_business_time(utc(2026, 12, 7, 12), H, new_york) == utc(2026, 12, 7, 15)


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        (utc(2026, 12, 1, 10), utc(2026, 12, 1, 12), 2 * H),
        (utc(2026, 12, 4, 15), utc(2026, 12, 7, 11), 4 * H),  # Friday afternoon to Monday morning
        (utc(2026, 12, 5, 10), utc(2026, 12, 6, 20), timedelta(0)),  # the weekend
        (utc(2026, 12, 1, 18), utc(2026, 12, 2, 8), timedelta(0)),  # a night
        (utc(2026, 12, 1, 8), utc(2026, 12, 8, 8), 40 * H),  # one whole week
        (utc(2026, 12, 1, 12), utc(2026, 12, 1, 10), timedelta(0)),  # end before start
    ],
)
def test_business_time_between_two_instants(start, end, expected) -> None:
    assert business_time_between(start, end, UTC_WEEK) == expected


def test_business_time_between_leaves_out_a_holiday() -> None:
    assert business_time_between(london(2026, 12, 24, 9), london(2026, 12, 28, 17), UK) == 16 * H


def test_adding_then_measuring_gives_the_same_business_time() -> None:
    start = london(2026, 3, 26, 13, 17)
    for hours in (1, 5, 8, 13, 40, 41):
        assert business_time_between(start, add_business_time(start, hours * H, UK), UK) == hours * H


def test_a_week_with_no_open_day_is_refused() -> None:
    with pytest.raises(NoBusinessHours):
        add_business_time(utc(2026, 12, 1), H, BusinessCalendar("UTC"))


def test_round_the_clock_target_counts_weekends() -> None:
    friday_evening = utc(2026, 12, 4, 18)
    assert deadline(friday_evening, Target(24 * 60, round_the_clock=True), UTC_WEEK) == utc(2026, 12, 5, 18)
    assert deadline(friday_evening, Target(24 * 60), UTC_WEEK) == utc(2026, 12, 9, 17)


def test_a_pause_pushes_the_deadline_by_its_business_time() -> None:
    opened = utc(2026, 12, 7, 9)  # Monday
    target = Target(4 * 60)
    assert deadline(opened, target, UTC_WEEK) == utc(2026, 12, 7, 13)
    # Waiting on the customer from 10:00 to 15:00: five business hours, due Tuesday 10:00.
    paused = [(utc(2026, 12, 7, 10), utc(2026, 12, 7, 15))]
    assert deadline(opened, target, UTC_WEEK, paused) == utc(2026, 12, 8, 10)
    # A pause over the weekend only pushes by its business hours (Friday 16-17, Monday 9-10).
    weekend = [(utc(2026, 12, 11, 16), utc(2026, 12, 14, 10))]
    assert deadline(opened, target, UTC_WEEK, weekend) == utc(2026, 12, 7, 15)


def test_due_dates_take_the_earlier_of_the_priority_and_the_channel_override() -> None:
    friday = utc(2026, 12, 4, 16)
    amazon = Policy(Target(24 * 60, round_the_clock=True), None)
    low = Policy(Target(8 * 60), Target(40 * 60))
    urgent = Policy(Target(60), Target(8 * 60))
    # Low: 8 business hours would be Monday 16:00; Amazon's 24 hours (weekends included) is Saturday 16:00.
    assert due_dates(friday, low, UTC_WEEK, override=amazon) == (utc(2026, 12, 5, 16), utc(2026, 12, 11, 16))
    # Urgent: one business hour, Friday 17:00, is earlier than the channel's limit.
    assert due_dates(friday, urgent, UTC_WEEK, override=amazon)[0] == utc(2026, 12, 4, 17)


def test_due_dates_without_targets_are_none() -> None:
    assert due_dates(utc(2026, 12, 1), Policy(None, None), UTC_WEEK) == (None, None)


def test_the_shipped_defaults() -> None:
    assert DEFAULT_CALENDAR.week[:5] == (OpenHours(time(9), time(17)),) * 5
    assert DEFAULT_CALENDAR.week[5:] == (None, None)
    assert default_policy("normal") == Policy(Target(240), Target(24 * 60))
    assert default_policy("urgent").first_response == Target(60)


@pytest.mark.parametrize(("minutes", "text"), [(45, "45 min"), (60, "1 h"), (90, "1 h 30 min"), (None, "")])
def test_format_minutes(minutes, text) -> None:
    assert format_minutes(minutes) == text
