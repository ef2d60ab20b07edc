"""Delivery estimates from shipping options' business days, no database."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

import pytest

from core.fulfillment.estimates import (
    DEFAULT_TRANSIT,
    DeliveryWindow,
    TransitTime,
    end_of_day,
    estimate_when_placed,
    estimate_when_shipped,
    is_late,
    revise,
    utc_day,
)

STANDARD = TransitTime(dispatch_days=1, min_days=3, max_days=7)  # web shop standard, 5.00
EXPEDITED = TransitTime(dispatch_days=1, min_days=1, max_days=3)  # web shop expedited, 15.00
THANKSGIVING = date(2026, 11, 26)


def eod(day: int, month: int = 11) -> datetime:
    return datetime.combine(date(2026, month, day), time.max, tzinfo=UTC)


def test_estimate_when_placed_on_friday_dispatches_monday_then_counts_transit():
    promise = estimate_when_placed(datetime(2026, 11, 20, 15, 30, tzinfo=UTC), STANDARD)
    assert promise.dispatch_by == eod(23)  # Monday
    assert promise.window == DeliveryWindow(earliest=eod(26), latest=eod(2, 12))


def test_estimate_when_placed_expedited_skips_a_holiday():
    promise = estimate_when_placed(datetime(2026, 11, 23, 9, tzinfo=UTC), EXPEDITED, {THANKSGIVING})
    assert promise.dispatch_by == eod(24)
    assert promise.window == DeliveryWindow(earliest=eod(25), latest=eod(30))  # Wed .. Mon (Thu off)


def test_estimate_when_placed_uses_the_utc_day_of_the_order():
    new_york = datetime(2026, 11, 19, 23, 30, tzinfo=ZoneInfo("America/New_York"))  # Friday in UTC
    assert utc_day(new_york) == date(2026, 11, 20)
    assert estimate_when_placed(new_york, STANDARD).dispatch_by == eod(23)


def test_estimate_when_placed_pickup_same_day():
    pickup = TransitTime(dispatch_days=0, min_days=0, max_days=1)
    promise = estimate_when_placed(datetime(2026, 11, 18, 10, tzinfo=UTC), pickup)
    assert (promise.dispatch_by, promise.window.earliest, promise.window.latest) == (
        eod(18),
        eod(18),
        eod(19),
    )


def test_estimate_when_shipped_counts_from_the_shipping_day():
    window = estimate_when_shipped(datetime(2026, 11, 24, 17, tzinfo=UTC), STANDARD, {THANKSGIVING})
    assert window == DeliveryWindow(earliest=eod(30), latest=eod(4, 12))


def test_estimate_bounds_are_the_end_of_the_utc_day():
    assert end_of_day(date(2026, 11, 20)) == datetime(2026, 11, 20, 23, 59, 59, 999999, tzinfo=UTC)


def test_estimate_refuses_naive_times():
    with pytest.raises(ValueError, match="naive"):
        estimate_when_shipped(datetime(2026, 11, 24, 17), STANDARD)


def test_revise_keeps_the_first_estimate():
    first = DeliveryWindow(eod(26), eod(2, 12))
    later = DeliveryWindow(eod(30), eod(4, 12))
    assert revise(None, first) == (first, first)
    assert revise(first, later) == (first, later)


@dataclass
class Option:
    dispatch_business_days: int
    min_business_days: int
    max_business_days: int


def test_transit_time_of_an_option_or_the_default():
    assert TransitTime.of(Option(2, 1, 3)) == TransitTime(2, 1, 3)
    assert TransitTime.of(None) == DEFAULT_TRANSIT == TransitTime(1, 3, 7)


@pytest.mark.parametrize(("dispatch", "low", "high"), [(-1, 1, 3), (1, 4, 3), (1, -1, 2)])
def test_transit_time_rejects_impossible_days(dispatch, low, high):
    with pytest.raises(ValueError):
        TransitTime(dispatch, low, high)


def test_is_late_after_the_window():
    window = DeliveryWindow(eod(26), eod(30))
    assert not is_late(window, delivered_at=datetime(2026, 11, 30, 20, tzinfo=UTC), now=eod(5, 12))
    assert is_late(window, delivered_at=datetime(2026, 12, 1, 8, tzinfo=UTC), now=eod(5, 12))
    assert not is_late(window, delivered_at=None, now=eod(30))
    assert is_late(window, delivered_at=None, now=datetime(2026, 12, 1, tzinfo=UTC))
