"""Business-day arithmetic: weekends and holidays skipped, no database."""

from __future__ import annotations

from datetime import date

import pytest

from core.fulfillment.calendar import (
    add_business_days,
    business_days_between,
    holidays_from_env,
    is_business_day,
    next_business_day,
    parse_holidays,
)

MON, TUE, WED, THU, FRI, SAT, SUN = (date(2026, 11, day) for day in range(16, 23))
THANKSGIVING = date(2026, 11, 26)  # a Thursday


@pytest.mark.parametrize(
    ("start", "n", "expected"),
    [
        (MON, 1, TUE),
        (THU, 1, FRI),
        (FRI, 1, date(2026, 11, 23)),  # over the weekend to Monday
        (SAT, 1, date(2026, 11, 23)),  # the first business day after a Saturday is Monday
        (SUN, 1, date(2026, 11, 23)),
        (FRI, 5, date(2026, 11, 27)),
        (MON, 10, date(2026, 11, 30)),
        (WED, 0, WED),
        (SAT, 0, date(2026, 11, 23)),  # "same business day" on a weekend is Monday
    ],
)
def test_add_business_days_skips_weekends(start, n, expected):
    assert add_business_days(start, n) == expected


def test_add_business_days_skips_holidays():
    assert add_business_days(date(2026, 11, 25), 1, {THANKSGIVING}) == date(2026, 11, 27)
    assert add_business_days(date(2026, 11, 24), 3, {THANKSGIVING}) == date(2026, 11, 30)


def test_add_business_days_holiday_on_a_weekend_changes_nothing():
    assert add_business_days(FRI, 1, {SAT}) == date(2026, 11, 23)


def test_add_business_days_refuses_negative_days():
    with pytest.raises(ValueError, match="negative"):
        add_business_days(MON, -1)


def test_is_business_day_and_next_business_day():
    assert (
        is_business_day(MON)
        and not is_business_day(SAT)
        and not is_business_day(THANKSGIVING, {THANKSGIVING})
    )
    assert next_business_day(THANKSGIVING, {THANKSGIVING}) == date(2026, 11, 27)
    assert next_business_day(TUE) == TUE


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [(MON, MON, 0), (MON, FRI, 4), (FRI, date(2026, 11, 23), 1), (SAT, SUN, 0), (FRI, MON, -4)],
)
def test_business_days_between_counts_days_after_start(start, end, expected):
    assert business_days_between(start, end) == expected


@pytest.mark.parametrize("n", [0, 1, 2, 5, 9, 23])
def test_business_days_between_inverts_add_business_days(n):
    holidays = {THANKSGIVING, date(2026, 12, 25)}
    assert business_days_between(WED, add_business_days(WED, n, holidays), holidays) == n


def test_parse_holidays_reads_commas_and_spaces():
    assert parse_holidays("2026-12-25, 2027-01-01 2026-11-26,,") == {
        date(2026, 12, 25),
        date(2027, 1, 1),
        THANKSGIVING,
    }
    assert parse_holidays("") == frozenset()


def test_parse_holidays_names_the_bad_entry():
    with pytest.raises(ValueError, match="'25/12/2026' is not an ISO date"):
        parse_holidays("2026-11-26,25/12/2026")


def test_holidays_from_env_reads_crossdock_holidays():
    assert holidays_from_env({"CROSSDOCK_HOLIDAYS": "2026-12-25"}) == {date(2026, 12, 25)}
    assert holidays_from_env({}) == frozenset()
