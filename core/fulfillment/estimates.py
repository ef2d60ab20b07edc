"""Delivery estimates: pure rules turning a shipping option's business days into dates.

When an order is placed: dispatch within `dispatch_business_days` of the order date, then delivery between
`min_business_days` and `max_business_days` after dispatch. When a parcel ships: the same transit days
counted from the day it shipped. Days are UTC calendar days; every bound is the end of its day
(23:59:59.999999 UTC), so "by Thursday" means any time on Thursday.

The first estimate an order or a parcel gets is kept (Order.promised_delivery_*, Shipment.first_estimated_*);
later estimates only replace the current one (Shipment.estimated_*): see `revise`.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Protocol

from core.fulfillment.calendar import add_business_days


class HasTransitDays(Protocol):
    dispatch_business_days: int
    min_business_days: int
    max_business_days: int


@dataclass(frozen=True)
class TransitTime:
    """Business days to dispatch, and the fewest and most business days on the way."""

    dispatch_days: int
    min_days: int
    max_days: int

    def __post_init__(self) -> None:
        if min(self.dispatch_days, self.min_days, self.max_days) < 0:
            raise ValueError("business days must not be negative")
        if self.min_days > self.max_days:
            raise ValueError("min business days exceed max business days")

    @classmethod
    def of(cls, option: HasTransitDays | None) -> TransitTime:
        """The option's days, or DEFAULT_TRANSIT for an order without a shipping option."""
        if option is None:
            return DEFAULT_TRANSIT
        return cls(option.dispatch_business_days, option.min_business_days, option.max_business_days)


# The ShippingOption column defaults: dispatch next business day, 3-7 business days on the way.
DEFAULT_TRANSIT = TransitTime(dispatch_days=1, min_days=3, max_days=7)


@dataclass(frozen=True)
class DeliveryWindow:
    """Delivery expected from the end of day `earliest` to the end of day `latest` (aware UTC)."""

    earliest: datetime
    latest: datetime


@dataclass(frozen=True)
class OrderPromise:
    """What an order is promised when placed: dispatched by, and delivered within the window."""

    dispatch_by: datetime
    window: DeliveryWindow


def end_of_day(day: date) -> datetime:
    """The last instant of a UTC calendar day."""
    return datetime.combine(day, time.max, tzinfo=UTC)


def utc_day(moment: datetime) -> date:
    """The UTC calendar day of an aware datetime."""
    if moment.tzinfo is None:
        raise ValueError(f"naive datetime {moment!r}: pass an aware UTC time")
    return moment.astimezone(UTC).date()


def window_from(day: date, transit: TransitTime, holidays: Collection[date] = ()) -> DeliveryWindow:
    """Delivery between min and max business days after `day`."""
    return DeliveryWindow(
        earliest=end_of_day(add_business_days(day, transit.min_days, holidays)),
        latest=end_of_day(add_business_days(day, transit.max_days, holidays)),
    )


def estimate_when_placed(
    placed_at: datetime, transit: TransitTime, holidays: Collection[date] = ()
) -> OrderPromise:
    """Dispatch by the end of the dispatch day, then the transit window counted from that day."""
    dispatch_day = add_business_days(utc_day(placed_at), transit.dispatch_days, holidays)
    return OrderPromise(end_of_day(dispatch_day), window_from(dispatch_day, transit, holidays))


def estimate_when_shipped(
    shipped_at: datetime, transit: TransitTime, holidays: Collection[date] = ()
) -> DeliveryWindow:
    """The transit window counted from the day the parcel left."""
    return window_from(utc_day(shipped_at), transit, holidays)


def revise(first: DeliveryWindow | None, current: DeliveryWindow) -> tuple[DeliveryWindow, DeliveryWindow]:
    """(first, current) after a new estimate: the first one stays once there is one."""
    return (first or current), current


def is_late(window: DeliveryWindow, *, delivered_at: datetime | None, now: datetime) -> bool:
    """Delivered after the window, or not delivered and the window has passed."""
    return (delivered_at or now) > window.latest
