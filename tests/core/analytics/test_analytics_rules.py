"""The analytics maths with no database: the alert rule, rates, the backlog series, KPI formulas, CSV cells,
periods, and the business-time calendar table against core.support.sla."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, time, timedelta

import pytest

from core.analytics import rules
from core.analytics.clock import DAY, business_seconds_at, clock_rows, epoch
from core.analytics.export import table_csv
from core.analytics.rules import BadPeriod, ChannelFigures, Period
from core.analytics.tables import Column, Table
from core.support.sla import DEFAULT_CALENDAR, BusinessCalendar, OpenHours, business_time_between


@pytest.mark.parametrize(
    ("this_week", "baseline", "alerts"),
    [
        (5, [0] * 8, True),  # from nothing: the minimum of 5 is enough
        (4, [0] * 8, False),  # below the minimum, however sharp
        (6, [2] * 8, True),  # 3 x a mean of 2
        (5, [2] * 8, False),  # 2.5 x
        (9, [3] * 8, True),
        (8, [3] * 8, False),
        (30, [24, 0, 0, 0, 0, 0, 0, 0], True),  # the mean counts the quiet weeks: 3 a week
    ],
)
def test_is_trend_needs_the_minimum_and_three_times_the_baseline_mean(
    this_week: int, baseline: list[int], alerts: bool
) -> None:
    assert rules.is_trend(this_week, baseline) is alerts


def test_trend_alerts_sum_rows_per_week_and_ignore_weeks_outside_the_window() -> None:
    rows = [
        (("damaged",), 0, 4),
        (("damaged",), 0, 2),
        (("damaged",), 3, 8),
        (("damaged",), 9, 100),
        (("other",), 0, 5),
    ]
    alerts = rules.trend_alerts(
        "category", rows, {("damaged",): "Damaged"}, {("damaged",): {"category": "damaged"}}
    )
    # damaged: 6 this week against 8 / 8 weeks = 1 a week; other: 5 from nothing (labelled by its key)
    assert [(a.label, a.this_week, a.baseline_mean, a.queue_params) for a in alerts] == [
        ("Damaged", 6, 1.0, {"category": "damaged"}),
        ("other", 5, 0.0, {}),
    ]


def test_rank_alerts_puts_the_sharpest_rise_first() -> None:
    slow = rules.TrendAlert("sku", ("A",), "A", 30, 9.0)
    sharp = rules.TrendAlert("sku", ("B",), "B", 6, 0.5)
    assert rules.rank_alerts([slow, sharp]) == [sharp, slow]
    assert sharp.factor == 12.0 and rules.TrendAlert("sku", ("C",), "C", 5, 0.0).factor is None


def test_rates_ratios_amounts_and_changes() -> None:
    assert rules.rate(1, 3) == 33.3 and rules.rate(1, 0) is None and rules.rate(None, 3) is None
    assert rules.per(7000, 3) == 2333 and rules.per(5, 2) == 3 and rules.per(10, 0) is None
    assert rules.change(4, 1) == 300.0 and rules.change(1, 0) is None and rules.change(2333, 5000) == -53.3
    assert rules.direction("orders", 12.0) == "good" and rules.direction("cancel_rate", 12.0) == "bad"
    assert rules.direction("cac", -1.0) == "good" and rules.direction("orders", 0.0) == ""


def test_backlog_series_adds_opened_and_removes_solved() -> None:
    assert rules.backlog_series(1, {0: 1, 2: 1}, {1: 2, 3: 1}, 5) == [2, 0, 1, 0, 0]


def test_kpi_values_follow_their_definitions() -> None:
    figures = ChannelFigures(
        orders=10,
        cancelled=2,
        kept_orders=8,
        revenue=80_000,
        returned_orders=1,
        visits=400,
        spend=12_000,
        new_customers=4,
        new_customer_revenue=50_000,
        cogs=30_000,
        fulfilment_seconds=8 * 36 * 3600,
        promised_parcels=5,
        late=1,
        parcels=8,
        tracked_parcels=6,
    )
    assert rules.kpi_values(figures, 60_000) == {
        "orders": 10,
        "aov": 10_000,
        "conversion": 2.5,
        "cac": 3000,
        "turnover": 0.5,
        "clv": 12_500,
        "fulfilment_hours": 36.0,
        "return_rate": 10.0,
        "cancel_rate": 20.0,
        "late_rate": 20.0,
        "tracking_rate": 75.0,
    }
    assert set(rules.KPI_DEFINITIONS) == set(rules.kpi_values(ChannelFigures(), 0))
    assert rules.kpi_values(ChannelFigures(), 0)["cac"] is None  # no spend imported


def test_table_csv_writes_money_and_safe_text() -> None:
    table = Table(
        "t",
        "T",
        (Column("Channel"), Column("Orders", "int"), Column("Refunded", "money"), Column("Rate", "pct")),
        [("=HYPERLINK(1)", 3, (1999, "USD"), None), ("Shop", -1, (500, "JPY"), 12.5)],
    )
    assert table_csv(table) == (
        "Channel,Orders,Refunded,Rate\r\n'=HYPERLINK(1),3,19.99 USD,\r\nShop,-1,500 JPY,12.5\r\n"
    )


def test_periods_parse_and_refuse_bad_input() -> None:
    today = date(2026, 12, 5)
    assert rules.parse_period(None, None, today=today) == Period(date(2026, 11, 6), today)
    assert rules.parse_period("2026-01-01", "2026-01-01", today=today).days == 1
    with pytest.raises(BadPeriod, match="YYYY-MM-DD"):
        rules.parse_period("yesterday", None, today=today)
    with pytest.raises(BadPeriod, match="before the start"):
        rules.parse_period("2026-02-01", "2026-01-01", today=today)
    with pytest.raises(BadPeriod, match="at most"):
        rules.parse_period("2020-01-01", "2026-01-01", today=today)


def test_clock_table_gives_the_sla_business_time_in_utc() -> None:
    first = epoch(datetime(2026, 11, 1, tzinfo=UTC)) // DAY
    rows = clock_rows(DEFAULT_CALENDAR, first, first + 20)
    start, end = datetime(2026, 11, 4, 16, tzinfo=UTC), datetime(2026, 11, 6, 16, tzinfo=UTC)
    assert business_seconds_at(end, rows) - business_seconds_at(start, rows) == 16 * 3600


def test_clock_table_matches_sla_maths_across_dst_and_holidays() -> None:
    calendar = BusinessCalendar(
        "America/New_York",
        (OpenHours(time(9), time(17)),) * 5 + (OpenHours(time(22), time(23, 30)), None),
        frozenset({date(2026, 3, 10)}),
    )
    origin = datetime(2026, 3, 1, tzinfo=UTC)
    first = epoch(origin) // DAY
    rows = clock_rows(calendar, first, first + 30)
    rng = random.Random(5)
    for _ in range(300):
        a = origin + timedelta(seconds=rng.randrange(0, 20 * DAY))
        b = a + timedelta(seconds=rng.randrange(0, 9 * DAY))
        expected = business_time_between(a, b, calendar).total_seconds()
        assert business_seconds_at(b, rows) - business_seconds_at(a, rows) == expected, (a, b)
