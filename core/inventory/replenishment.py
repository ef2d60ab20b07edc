"""Replenishment rules, pure functions over plain numbers: how much to reorder, and which channels are
selling a SKU unusually fast.

Suggested order quantity (units; velocity in units per day, summed over channels):

    velocity      = units sold in the last 28 days / 28
    cover         = velocity x (supplier lead time + review period)
                    what sells while the order is on its way, and until the next order can be placed
    safety stock  = velocity x safety days                  a buffer against a faster than usual week
    suggested     = ceil(cover + safety stock) - available
    then raised to the SKU's reorder quantity (its minimum order) and to at least the units that lift
    available back above the reorder point, so a SKU with no recent sales still gets a useful figure.

Worked example: 70 units in 28 days (2.5/day), lead time 10 days, review 7, safety 7, available 3:
ceil(2.5 x 17 + 2.5 x 7) = 60, minus 3 available = 57; with a reorder quantity of 100 the suggestion is 100.

Fast movers: a channel is flagged when its daily rate over the last 7 days is more than FAST_RATIO times its
daily rate over the last 28 days (which include those 7) and it sold at least FAST_MIN_UNITS units in
those 7 days.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction

WINDOW_DAYS = 28
RECENT_DAYS = 7
REVIEW_PERIOD_DAYS = 7
SAFETY_DAYS = 7
FAST_RATIO = 2
FAST_MIN_UNITS = 5
_REASON_CHANNELS = 3  # channels named in an alert's reason; the rest are summed up as "+N more"
REASON_MAX = 300  # LowStockAlert.reason


@dataclass(frozen=True)
class ChannelSales:
    """Units of one SKU sold on one channel in the last 28 days, and in the last 7 of them."""

    channel: str
    units_28d: int
    units_7d: int

    @property
    def daily_28d(self) -> Fraction:
        return Fraction(self.units_28d, WINDOW_DAYS)

    @property
    def daily_7d(self) -> Fraction:
        return Fraction(self.units_7d, RECENT_DAYS)


@dataclass(frozen=True)
class Suggestion:
    """A suggested order quantity with the figures behind it and the formula in words."""

    quantity: int
    velocity: Fraction  # units per day over the last 28 days, all channels
    cover: Fraction  # velocity x (lead time + review period)
    safety_stock: Fraction  # velocity x safety days
    target: int  # ceil(cover + safety stock)
    reason: str


@dataclass(frozen=True)
class FastChannel:
    """A channel selling the SKU well above its usual rate."""

    channel: str
    units_7d: int
    units_28d: int
    ratio: Fraction  # 7-day daily rate / 28-day daily rate
    reason: str


def _rate(value: Fraction) -> str:
    return f"{float(value):.2f}"


def sales_velocity(sales: Sequence[ChannelSales]) -> Fraction:
    """Units per day over the last 28 days, all channels together."""
    return Fraction(sum(s.units_28d for s in sales), WINDOW_DAYS)


def _channels_text(sales: Sequence[ChannelSales]) -> str:
    selling = sorted((s for s in sales if s.units_28d > 0), key=lambda s: (-s.units_28d, s.channel))
    parts = [f"{s.channel} {_rate(s.daily_28d)}" for s in selling[:_REASON_CHANNELS]]
    if len(selling) > _REASON_CHANNELS:
        parts.append(f"+{len(selling) - _REASON_CHANNELS} more")
    return ", ".join(parts)


def suggest_order_quantity(
    *,
    available: int,
    reorder_point: int,
    reorder_quantity: int | None,
    lead_time_days: int,
    sales: Sequence[ChannelSales],
    review_days: int = REVIEW_PERIOD_DAYS,
    safety_days: int = SAFETY_DAYS,
) -> Suggestion:
    """How many units to order, by the formula in the module docstring, with the arithmetic in words."""
    lead_time_days = max(lead_time_days, 0)
    velocity = sales_velocity(sales)
    cover = velocity * (lead_time_days + review_days)
    safety = velocity * safety_days
    target = math.ceil(cover + safety)
    need = target - available
    above_point = reorder_point - available + 1
    minimum = reorder_quantity or 0
    quantity = max(need, minimum, above_point, 0)
    if velocity:
        text = (
            f"{_rate(velocity)}/day over {WINDOW_DAYS} days ({_channels_text(sales)})"
            f" × (lead time {lead_time_days} + review {review_days} days) + {safety_days} days' safety"
            f" = {target}, − {available} available = {need}"
        )
    else:
        text = f"no sales in the last {WINDOW_DAYS} days, {available} available"
    if quantity > need:
        if minimum >= above_point:
            text += f"; raised to the reorder quantity {minimum}"
        else:
            text += f"; raised to {above_point} to get back above the reorder point {reorder_point}"
    text += f" → order {quantity}"
    if len(text) > REASON_MAX:
        text = text[: REASON_MAX - 1] + "…"
    return Suggestion(quantity, velocity, cover, safety, target, text)


def fast_channels(
    sales: Sequence[ChannelSales], *, ratio: int = FAST_RATIO, min_units: int = FAST_MIN_UNITS
) -> list[FastChannel]:
    """Channels whose last 7 days' daily rate is over `ratio` x their 28-day daily rate, with at least
    `min_units` sold in the 7 days; fastest first."""
    flagged = []
    for s in sales:
        if s.units_7d < min_units or s.units_28d <= 0 or s.daily_7d <= ratio * s.daily_28d:
            continue
        times = s.daily_7d / s.daily_28d
        reason = (
            f"{s.channel}: {_rate(s.daily_7d)}/day over the last {RECENT_DAYS} days against "
            f"{_rate(s.daily_28d)}/day over {WINDOW_DAYS} days ({float(times):.1f}×)"
        )
        flagged.append(FastChannel(s.channel, s.units_7d, s.units_28d, times, reason))
    return sorted(flagged, key=lambda f: (-f.ratio, f.channel))
