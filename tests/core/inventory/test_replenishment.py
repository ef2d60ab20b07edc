"""Replenishment rules with no database: suggested order quantity and fast-moving channels."""

from __future__ import annotations

from fractions import Fraction

import pytest

from core.inventory.replenishment import (
    ChannelSales,
    fast_channels,
    sales_velocity,
    suggest_order_quantity,
)

WEB_AND_AMAZON = [ChannelSales("web", 49, 12), ChannelSales("amazon", 21, 5)]  # 70 units in 28 days


def test_sales_velocity_sums_channels_over_28_days():
    assert sales_velocity(WEB_AND_AMAZON) == Fraction(70, 28)
    assert sales_velocity([]) == 0


@pytest.mark.parametrize(
    ("available", "lead_time", "reorder_quantity", "expected"),
    [
        # ceil(2.5 x (10 + 7) + 2.5 x 7) = 60, minus available
        (3, 10, None, 57),
        (0, 10, None, 60),
        # lead time 0: ceil(2.5 x 7 + 2.5 x 7) = 35
        (5, 0, None, 30),
        # the reorder quantity is a minimum order
        (3, 10, 100, 100),
        (3, 10, 20, 57),
    ],
)
def test_suggest_order_quantity_covers_lead_time_review_and_safety(
    available, lead_time, reorder_quantity, expected
):
    suggestion = suggest_order_quantity(
        available=available,
        reorder_point=10,
        reorder_quantity=reorder_quantity,
        lead_time_days=lead_time,
        sales=WEB_AND_AMAZON,
    )
    assert suggestion.quantity == expected


def test_suggest_order_quantity_explains_the_formula_in_words():
    suggestion = suggest_order_quantity(
        available=3, reorder_point=10, reorder_quantity=100, lead_time_days=10, sales=WEB_AND_AMAZON
    )
    assert suggestion.target == 60
    assert suggestion.reason == (
        "2.50/day over 28 days (web 1.75, amazon 0.75) × (lead time 10 + review 7 days) + 7 days' safety"
        " = 60, − 3 available = 57; raised to the reorder quantity 100 → order 100"
    )


def test_suggest_order_quantity_without_sales_lifts_stock_above_the_reorder_point():
    suggestion = suggest_order_quantity(
        available=2, reorder_point=5, reorder_quantity=None, lead_time_days=7, sales=[]
    )
    assert suggestion.quantity == 4
    assert suggestion.reason == (
        "no sales in the last 28 days, 2 available;"
        " raised to 4 to get back above the reorder point 5 → order 4"
    )


def test_suggest_order_quantity_reason_fits_the_alert_column():
    many = [ChannelSales(f"channel-with-a-long-name-{i}", 28, 7) for i in range(20)]
    suggestion = suggest_order_quantity(
        available=0, reorder_point=5, reorder_quantity=None, lead_time_days=7, sales=many
    )
    assert len(suggestion.reason) <= 300
    assert "+17 more" in suggestion.reason


@pytest.mark.parametrize(
    ("units_28d", "units_7d", "flagged"),
    [
        (20, 12, True),  # 12/7 = 1.71/day against 20/28 = 0.71/day: 2.4x
        (20, 10, False),  # exactly 2x is not over 2x
        (8, 4, False),  # 2x but fewer than 5 units
        (6, 6, True),  # everything in the last week: 4x
        (60, 15, False),  # steady
        (0, 0, False),
    ],
)
def test_fast_channels_flags_a_channel_over_twice_its_usual_rate(units_28d, units_7d, flagged):
    found = fast_channels([ChannelSales("web", units_28d, units_7d)])
    assert bool(found) is flagged


def test_fast_channels_names_the_channel_fastest_first():
    found = fast_channels(
        [ChannelSales("web", 60, 15), ChannelSales("ebay", 10, 6), ChannelSales("amazon", 20, 12)]
    )
    assert [f.channel for f in found] == ["amazon", "ebay"]
    assert found[0].ratio == Fraction(12 * 4, 20)
    assert found[0].reason == "amazon: 1.71/day over the last 7 days against 0.71/day over 28 days (2.4×)"
