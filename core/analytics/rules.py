"""The managers' analytics maths, pure: periods and their buckets, the trend-alert rule, rates and changes,
the
backlog series, the KPI definitions and formulas, and CSV cells safe to open in a spreadsheet. Every function
here takes rows the database already aggregated (core.analytics.queries) and touches no session.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

MAX_DAYS = 731  # the longest period the dashboard takes (two years)
DEFAULT_DAYS = 30

# Trend alerts. "This week" is the 7 days up to now; the baseline is the 8 weeks before it (zero weeks count).
# A category, channel, SKU, or SKU and category alerts when this week's tickets reach both ALERT_MIN_TICKETS
# and
# ALERT_FACTOR times the baseline's weekly mean: this >= max(3, 3 x mean).
BASELINE_WEEKS = 8
ALERT_FACTOR = 3.0
ALERT_MIN_TICKETS = 5
ALERT_RULE = (
    "A category, channel or SKU alerts when its tickets of the last 7 days reach at least "
    f"{ALERT_MIN_TICKETS} and "
    f"at least {ALERT_FACTOR:g} times its weekly mean over the {BASELINE_WEEKS} weeks before "
    f"(this week >= max({ALERT_MIN_TICKETS}, {ALERT_FACTOR:g} x baseline mean))."
)


class BadPeriod(ValueError):
    """A date range the dashboard cannot show (unreadable date, end before start, too long)."""


@dataclass(frozen=True)
class Period:
    """Whole UTC days, `start` to `end` inclusive."""

    start: date
    end: date

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    @property
    def start_at(self) -> datetime:
        return datetime.combine(self.start, time(0), tzinfo=UTC)

    @property
    def end_at(self) -> datetime:
        """The instant after the period (midnight after its last day)."""
        return datetime.combine(self.end + timedelta(days=1), time(0), tzinfo=UTC)

    @property
    def previous(self) -> Period:
        """The period of the same length just before this one."""
        return Period(self.start - timedelta(days=self.days), self.start - timedelta(days=1))

    @property
    def week_origin(self) -> datetime:
        """Monday 00:00 UTC on or before the first day: week buckets start on Mondays."""
        return self.start_at - timedelta(days=self.start.weekday())

    def week_starts(self) -> list[date]:
        """The Mondays starting the weeks the period touches."""
        first = self.week_origin.date()
        return [first + timedelta(weeks=i) for i in range((self.end - first).days // 7 + 1)]

    def day_list(self) -> list[date]:
        return [self.start + timedelta(days=i) for i in range(self.days)]


def parse_period(start: str | None, end: str | None, *, today: date) -> Period:
    """A period from the filter form's ISO dates; a missing end is today, a missing start DEFAULT_DAYS
    before."""
    try:
        last = date.fromisoformat(end) if end else today
        first = date.fromisoformat(start) if start else last - timedelta(days=DEFAULT_DAYS - 1)
    except ValueError as exc:
        raise BadPeriod("Dates are written YYYY-MM-DD.") from exc
    if last < first:
        raise BadPeriod("The end date is before the start date.")
    period = Period(first, last)
    if period.days > MAX_DAYS:
        raise BadPeriod(f"A period is at most {MAX_DAYS} days.")
    return period


def default_period(today: date) -> Period:
    return Period(today - timedelta(days=DEFAULT_DAYS - 1), today)


def rate(part: int | float | None, whole: int | float | None) -> float | None:
    """part / whole in percent, one decimal; None when there is no whole."""
    if not whole or part is None:
        return None
    return round(100 * part / whole, 1)


def ratio(part: int | float | None, whole: int | float | None, digits: int = 2) -> float | None:
    if not whole or part is None:
        return None
    return round(part / whole, digits)


def per(total: int | None, count: int | None) -> int | None:
    """An amount in minor units per unit counted, rounded half up; None when nothing was counted."""
    if not count or total is None:
        return None
    return (2 * total + count) // (2 * count)


def change(current: float | int | None, previous: float | int | None) -> float | None:
    """The change from the previous period in percent; None when either is missing or the previous is 0."""
    if current is None or previous is None or previous == 0:
        return None
    return round(100 * (current - previous) / abs(previous), 1)


def hours(seconds: float | int | None) -> float | None:
    return None if seconds is None else round(seconds / 3600, 1)


# --- trend alerts -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TrendAlert:
    """One dimension value whose tickets this week rose well above its own baseline."""

    dimension: str  # category, channel, sku, sku_category
    key: tuple[str, ...]
    label: str
    this_week: int
    baseline_mean: float
    queue_params: dict[str, str] = field(default_factory=dict)

    @property
    def factor(self) -> float | None:
        return round(self.this_week / self.baseline_mean, 1) if self.baseline_mean else None

    def as_json(self) -> dict[str, Any]:
        return {
            "dimension": self.dimension,
            "label": self.label,
            "this_week": self.this_week,
            "baseline_mean": self.baseline_mean,
            "factor": self.factor,
            "queue_params": self.queue_params,
        }


def is_trend(this_week: int, baseline: Sequence[int]) -> bool:
    """The alert rule (ALERT_RULE) for one series: this week's count and the counts of the weeks before."""
    mean = sum(baseline) / BASELINE_WEEKS
    return this_week >= max(ALERT_MIN_TICKETS, ALERT_FACTOR * mean)


def trend_alerts(
    dimension: str,
    rows: Iterable[tuple[tuple[str, ...], int, int]],
    labels: Mapping[tuple[str, ...], str],
    params: Mapping[tuple[str, ...], dict[str, str]],
) -> list[TrendAlert]:
    """Alerts of one dimension from (key, week ago, tickets) rows: week 0 is the last 7 days, 1-8 the
    baseline."""
    weeks: dict[tuple[str, ...], list[int]] = {}
    for key, week, count in rows:
        if 0 <= week <= BASELINE_WEEKS:
            weeks.setdefault(key, [0] * (BASELINE_WEEKS + 1))[week] += count
    alerts = []
    for key, counts in weeks.items():
        if is_trend(counts[0], counts[1:]):
            mean = round(sum(counts[1:]) / BASELINE_WEEKS, 2)
            alerts.append(
                TrendAlert(
                    dimension,
                    key,
                    labels.get(key, " / ".join(key)),
                    counts[0],
                    mean,
                    dict(params.get(key, {})),
                )
            )
    return alerts


def rank_alerts(alerts: Iterable[TrendAlert]) -> list[TrendAlert]:
    """Sharpest rises first (a rise from nothing ranks by its count)."""
    return sorted(alerts, key=lambda a: (-(a.this_week / max(a.baseline_mean, 1.0)), -a.this_week, a.label))


# --- series -------------------------------------------------------------------------------------------------


def backlog_series(
    opening: int, created: Mapping[int, int], resolved: Mapping[int, int], days: int
) -> list[int]:
    """Unsolved tickets at the end of each day: those open when the period began, plus those opened, minus
    those solved, day by day (day indexes 0..days-1)."""
    series, level = [], opening
    for day in range(days):
        level += created.get(day, 0) - resolved.get(day, 0)
        series.append(level)
    return series


def grid(rows: Iterable[tuple[int, str, int]], buckets: int, names: Iterable[str]) -> dict[str, list[int]]:
    """(bucket, name, count) rows as one list of counts per name over buckets 0..buckets-1."""
    out = {name: [0] * buckets for name in names}
    for bucket, name, count in rows:
        if 0 <= bucket < buckets:
            out.setdefault(name, [0] * buckets)[bucket] += count
    return out


def top_per_group(rows: Iterable[tuple[str, str, int]], limit: int = 3) -> dict[str, list[tuple[str, int]]]:
    """(group, item, count) rows as each group's `limit` largest items, largest first, ties by name."""
    groups: dict[str, list[tuple[str, int]]] = {}
    for group, item, count in rows:
        groups.setdefault(group, []).append((item, count))
    return {g: sorted(items, key=lambda x: (-x[1], x[0]))[:limit] for g, items in sorted(groups.items())}


# --- channel KPIs -------------------------------------------------------------------------------------------

KPI_DEFINITIONS: dict[str, tuple[str, str, str]] = {
    # key: (label, kind, definition)
    "orders": ("Orders", "int", "Orders placed in the period, whatever their status."),
    "aov": ("Average order value", "money", "Order totals of the orders not cancelled ÷ their number."),
    "conversion": (
        "Conversion rate",
        "pct",
        "Orders ÷ visits imported for the channel (analytics import-traffic).",
    ),
    "cac": (
        "Customer acquisition cost",
        "money",
        "Marketing spend imported for the channel ÷ new customers: those whose first order ever was placed "
        "on it in the period.",
    ),
    "turnover": (
        "Inventory turnover",
        "num",
        "Cost of the units sold on the channel in the period (not cancelled) ÷ the cost value of all stock "
        "on hand now (no stock history is kept, so today's stock stands for the period's average).",
    ),
    "clv": (
        "Customer lifetime value",
        "money",
        "Net revenue to date (every order on every channel, not cancelled, less refunds) of the customers "
        "the channel acquired in the period ÷ their number.",
    ),
    "fulfilment_hours": (
        "Fulfillment time",
        "hours",
        "Mean hours from an order being placed to a parcel of it shipped, over the parcels shipped of the "
        "period's orders.",
    ),
    "return_rate": ("Return rate", "pct", "Orders placed in the period with a return request ÷ orders."),
    "cancel_rate": ("Cancellation rate", "pct", "Orders placed in the period now cancelled ÷ orders."),
    "late_rate": (
        "Late-shipment rate",
        "pct",
        "Parcels that left after their order's promised dispatch date ÷ parcels of orders with a promise.",
    ),
    "tracking_rate": (
        "Valid-tracking rate",
        "pct",
        "Parcels shipped for the period's orders with a tracking number the carrier reported events for ÷ "
        "parcels shipped.",
    ),
}
# Lower is better for these: the change is shown the other way round.
LOWER_IS_BETTER = frozenset({"cac", "fulfilment_hours", "return_rate", "cancel_rate", "late_rate"})


@dataclass(frozen=True)
class ChannelFigures:
    """One channel's aggregates over one period, as the queries return them."""

    orders: int = 0
    cancelled: int = 0
    kept_orders: int = 0
    revenue: int = 0  # totals of the orders not cancelled, minor units
    currency: str = "USD"
    returned_orders: int = 0
    visits: int | None = None
    spend: int | None = None
    new_customers: int = 0
    new_customer_revenue: int = 0
    cogs: int = 0
    parcels: int = 0  # shipped, of the period's orders
    tracked_parcels: int = 0
    fulfilment_seconds: int = 0  # from placing to shipping, summed over the parcels
    promised_parcels: int = 0  # of orders with a promised dispatch date
    late: int = 0


def kpi_values(f: ChannelFigures, inventory_value: int) -> dict[str, float | int | None]:
    """Every KPI of KPI_DEFINITIONS from one channel's figures (money in minor units)."""
    return {
        "orders": f.orders,
        "aov": per(f.revenue, f.kept_orders),
        "conversion": rate(f.orders, f.visits),
        "cac": per(f.spend, f.new_customers) if f.spend is not None else None,
        "turnover": ratio(f.cogs, inventory_value),
        "clv": per(f.new_customer_revenue, f.new_customers),
        "fulfilment_hours": hours(f.fulfilment_seconds / f.parcels) if f.parcels else None,
        "return_rate": rate(f.returned_orders, f.orders),
        "cancel_rate": rate(f.cancelled, f.orders),
        "late_rate": rate(f.late, f.promised_parcels),
        "tracking_rate": rate(f.tracked_parcels, f.parcels),
    }


def direction(key: str, delta: float | None) -> str:
    """Whether a KPI's change is good or bad news ("" for none): down is good for costs, times and rates of
    trouble, up for the rest."""
    if not delta:
        return ""
    return "good" if (delta < 0) == (key in LOWER_IS_BETTER) else "bad"


# --- CSV ----------------------------------------------------------------------------------------------------
