"""Stock read models: available to sell and its formula, stock per SKU."""

from __future__ import annotations

import pytest

from core.errors import NotFound
from core.inventory.queries import (
    available_to_sell,
    available_to_sell_formula,
    stock_by_sku,
)
from core.inventory.reservations import reserve_stock
from tests.factories import NOW, make_sku
from tests.inventory_factories import link, make_location, make_stock

ACTOR = "ops@example.org"


@pytest.mark.parametrize(
    ("available_at", "units", "percent", "floor", "expected", "formula"),
    [
        (
            [("WH-EAST", 12), ("STORE-DT", 5)],
            2,
            10,
            0,
            14,
            "12 available at WH-EAST + 5 at STORE-DT = 17 − buffer 2 units − 10% (1) = 14",
        ),
        ([("WH-EAST", 12)], 0, 0, 0, 12, "12 available at WH-EAST"),
        ([("WH-EAST", 3)], 5, 0, 0, 0, "3 available at WH-EAST − buffer 5 units = -2 → 0"),
        (
            [("WH-EAST", 8)],
            2,
            0,
            6,
            0,
            "8 available at WH-EAST − buffer 2 units = 6, at or below the floor of 6 → 0",
        ),
        ([("WH-EAST", 9)], 2, 0, 6, 7, "9 available at WH-EAST − buffer 2 units = 7"),
        ([], 0, 0, 0, 0, "nothing stocked at this channel's locations"),
    ],
    ids=["units-and-percent", "no-buffer", "never-negative", "at-floor", "above-floor", "nothing"],
)
def test_available_to_sell_formula_explains_itself(available_at, units, percent, floor, expected, formula):
    assert available_to_sell_formula(
        available_at, buffer_units=units, buffer_percent=percent, floor=floor
    ) == (expected, formula)


def test_available_to_sell_sums_the_channels_active_locations_minus_buffer(db, shop):
    channel, east, west = shop
    closed = make_location(db, active=False)
    elsewhere = make_location(db)
    link(db, channel, closed)
    sku = make_sku(db)
    for loc, qty in [(east, 12), (west, 5), (closed, 50), (elsewhere, 30)]:
        make_stock(db, loc, sku.id, qty)
    channel.stock_buffer_units, channel.stock_buffer_percent = 2, 10
    assert available_to_sell(db, channel, sku.id) == 14
    channel.stock_floor = 14
    assert available_to_sell(db, channel, sku.id) == 0


def test_stock_by_sku_shows_locations_and_channel_formula(db, shop):
    channel, east, west = shop
    channel.stock_buffer_units, channel.stock_buffer_percent = 2, 10
    sku = make_sku(db, code="LAMP-9")
    make_stock(db, east, sku.id, 12)
    make_stock(db, west, sku.id, 7)
    reserve_stock(db, [(west.id, sku.id, 2)], order_id=None, actor=ACTOR, now=NOW)
    stock = stock_by_sku(db, sku.id)
    assert [(lv.code, lv.on_hand, lv.reserved, lv.available) for lv in stock.locations] == [
        ("WH-WEST", 7, 2, 5),
        ("WH-EAST", 12, 0, 12),
    ]
    [ats] = [c for c in stock.channels if c.channel_id == channel.id]
    assert ats.quantity == 14
    assert ats.formula == "5 available at WH-WEST + 12 at WH-EAST = 17 − buffer 2 units − 10% (1) = 14"
    assert (stock.on_hand, stock.reserved, stock.available) == (19, 2, 17)


def test_stock_by_sku_unknown_sku_is_not_found(db):
    with pytest.raises(NotFound):
        stock_by_sku(db, 987654)
