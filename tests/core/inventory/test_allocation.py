"""Allocation rules with no database: which location ships what, and the reason in words."""

from __future__ import annotations

import pytest

from core.inventory.allocation import (
    STRATEGIES,
    AllocationPlan,
    LineNeed,
    LocationStock,
    PlannedAllocation,
    ShipTo,
    Shortfall,
    plan_allocation,
)

LAMP, RUG, VASE, TEA = 1, 2, 3, 4
EAST = LocationStock(10, "Warehouse East", "warehouse", 2, ("US", "US-NY"), {LAMP: 5, RUG: 5, VASE: 5})
WEST = LocationStock(20, "Warehouse West", "warehouse", 1, ("US-CA",), {LAMP: 5, RUG: 5, VASE: 5})
STORE = LocationStock(30, "Downtown Store", "store", 5, (), {LAMP: 1, RUG: 1})
SUPPLIER = LocationStock(40, "Tea Supplier", "dropship", 9, (), {TEA: 100, LAMP: 100})
CALIFORNIA = ShipTo("US", "US-CA")
NEW_YORK = ShipTo("US", "US-NY")
TEXAS = ShipTo("US", "US-TX")
FRANCE = ShipTo("FR")


def need(line_id: int, sku: int, qty: int = 1, dropship: int | None = None) -> LineNeed:
    return LineNeed(line_id, sku, qty, dropship)


def at(location: LocationStock, **stock: int) -> LocationStock:
    """The location with other stock: at(EAST, lamp=2)."""
    names = {"lamp": LAMP, "rug": RUG, "vase": VASE, "tea": TEA}
    return LocationStock(
        location.location_id,
        location.name,
        location.kind,
        location.priority,
        location.regions,
        {names[k]: v for k, v in stock.items()},
    )


def where(plan: AllocationPlan) -> dict[int, list[tuple[int, int]]]:
    """line_id -> [(location_id, quantity)]"""
    result: dict[int, list[tuple[int, int]]] = {}
    for part in plan.parts:
        result.setdefault(part.line_id, []).append((part.location_id, part.quantity))
    return result


@pytest.mark.parametrize(
    ("locations", "ship_to", "expected_location", "expected_reason"),
    [
        (
            [at(EAST, lamp=1, rug=1, vase=1), at(WEST, lamp=1, rug=1)],
            TEXAS,
            10,
            "Warehouse East: only location with all 3 lines in stock",
        ),
        ([EAST, WEST], CALIFORNIA, 20, "Warehouse West: serves US-CA, priority 1"),
        ([EAST, WEST], NEW_YORK, 10, "Warehouse East: serves US-NY, priority 2"),
        ([EAST, WEST], TEXAS, 10, "Warehouse East: serves US, priority 2"),  # country match beats none
        ([EAST, WEST], FRANCE, 20, "Warehouse West: all 3 lines in stock, priority 1"),
        (
            [at(EAST, lamp=9, rug=9, vase=9), at(WEST, lamp=1, rug=1, vase=1)],
            FRANCE,
            20,
            "Warehouse West: all 3 lines in stock, priority 1",
        ),  # priority before stock
    ],
    ids=[
        "only-one-has-all",
        "region-wins",
        "region-over-priority",
        "country-match",
        "priority",
        "priority-over-stock",
    ],
)
def test_allocate_default_ships_whole_order_from_one_location(
    locations, ship_to, expected_location, expected_reason
):
    plan = plan_allocation([need(1, LAMP), need(2, RUG), need(3, VASE)], locations, ship_to)
    assert plan.complete
    assert {loc for parts in where(plan).values() for loc, _ in parts} == {expected_location}
    assert {part.reason for part in plan.parts} == {expected_reason}


def test_allocate_default_breaks_priority_tie_by_most_stock():
    a = LocationStock(1, "Hub A", "warehouse", 1, (), {LAMP: 3})
    b = LocationStock(2, "Hub B", "warehouse", 1, (), {LAMP: 8})
    plan = plan_allocation([need(1, LAMP, 2)], [a, b], FRANCE)
    assert plan.parts == (
        PlannedAllocation(1, 2, 2, "Hub B: all 1 line in stock, priority 1, most stock (8 units)"),
    )


def test_allocate_default_counts_lines_of_the_same_sku_together():
    small = LocationStock(1, "Small", "warehouse", 1, (), {LAMP: 3})
    big = LocationStock(2, "Big", "warehouse", 9, (), {LAMP: 4})
    plan = plan_allocation([need(1, LAMP, 2), need(2, LAMP, 2)], [small, big], FRANCE)
    assert where(plan) == {1: [(2, 2)], 2: [(2, 2)]}


@pytest.mark.parametrize(
    ("locations", "expected", "reasons"),
    [
        # East has 2 of 3 lines, the store the third: two parcels, East first
        (
            [at(EAST, lamp=1, rug=1), at(WEST, vase=1), at(STORE, lamp=1)],
            {1: [(10, 1)], 2: [(10, 1)], 3: [(20, 1)]},
            {"split: Warehouse East had 2 of 3 lines", "split: Warehouse West had 1 of 3 lines"},
        ),
        # greedy cover picks the location with most whole lines, not the best priority
        (
            [at(WEST, lamp=1), at(STORE, lamp=1, rug=1, vase=0), at(EAST, vase=1)],
            {1: [(30, 1)], 2: [(30, 1)], 3: [(10, 1)]},
            {"split: Downtown Store had 2 of 3 lines", "split: Warehouse East had 1 of 3 lines"},
        ),
    ],
    ids=["two-parcels", "most-lines-first"],
)
def test_allocate_default_splits_across_fewest_locations(locations, expected, reasons):
    plan = plan_allocation([need(1, LAMP), need(2, RUG), need(3, VASE)], locations, TEXAS)
    assert plan.complete
    assert where(plan) == expected
    assert {part.reason for part in plan.parts} == reasons


def test_allocate_default_splits_one_line_when_no_location_has_enough():
    plan = plan_allocation([need(1, LAMP, 7)], [at(EAST, lamp=4), at(WEST, lamp=5)], TEXAS)
    assert plan.complete
    assert sorted(where(plan)[1]) == [(10, 2), (20, 5)]
    assert plan.parts[0].reason == "split: Warehouse West had 5 of 7 units of a line"


@pytest.mark.parametrize(
    ("lines", "locations", "shortfalls"),
    [
        ([need(1, LAMP, 3)], [at(EAST, lamp=1), at(WEST, lamp=1)], (Shortfall(1, LAMP, 3, 2),)),
        ([need(1, LAMP), need(2, RUG)], [at(EAST, lamp=1)], (Shortfall(2, RUG, 1, 0),)),
        ([need(1, LAMP)], [], (Shortfall(1, LAMP, 1, 0),)),
    ],
    ids=["not-enough-anywhere", "one-sku-missing", "no-locations"],
)
def test_allocate_default_reports_shortfalls(lines, locations, shortfalls):
    plan = plan_allocation(lines, locations, TEXAS)
    assert not plan.complete
    assert plan.shortfalls == shortfalls


def test_allocate_default_sends_dropship_lines_to_their_supplier():
    plan = plan_allocation([need(1, LAMP), need(2, TEA, 3, dropship=40)], [at(EAST, lamp=1), SUPPLIER], TEXAS)
    assert where(plan) == {1: [(10, 1)], 2: [(40, 3)]}
    assert plan.parts[0].reason == "Tea Supplier: drop-ship supplier of this SKU"
    assert plan.parts[1].reason == "Warehouse East: only location with the line in stock"


@pytest.mark.parametrize(
    ("lines", "locations", "shortfalls"),
    [
        ([need(1, TEA, 101, dropship=40)], [SUPPLIER], (Shortfall(1, TEA, 101, 100),)),
        ([need(1, TEA, 1, dropship=99)], [SUPPLIER], (Shortfall(1, TEA, 1, 0),)),
    ],
    ids=["supplier-short", "supplier-not-a-candidate"],
)
def test_allocate_default_dropship_shortfalls(lines, locations, shortfalls):
    assert plan_allocation(lines, locations, TEXAS).shortfalls == shortfalls


def test_allocate_default_never_ships_own_skus_from_a_dropship_supplier():
    plan = plan_allocation(
        [need(1, LAMP)], [SUPPLIER], TEXAS
    )  # the supplier has lamps, but only drop-ships tea
    assert plan.shortfalls == (Shortfall(1, LAMP, 1, 0),)


@pytest.mark.parametrize(
    ("store", "lines", "expected", "shortfalls"),
    [
        (STORE, [need(1, LAMP), need(2, RUG)], {1: [(30, 1)], 2: [(30, 1)]}, ()),
        (STORE, [need(1, LAMP, 2)], {}, (Shortfall(1, LAMP, 2, 1),)),
        (None, [need(1, LAMP)], {}, (Shortfall(1, LAMP, 1, 0),)),
    ],
    ids=["in-stock", "store-short", "store-inactive"],
)
def test_allocate_pickup_takes_everything_from_the_store(store, lines, expected, shortfalls):
    plan = STRATEGIES["pickup"](lines, [store] if store else [], TEXAS)
    assert where(plan) == expected
    assert plan.shortfalls == shortfalls
    assert all(part.reason == "Downtown Store: store pick-up" for part in plan.parts)


def test_plan_allocation_rejects_an_unknown_strategy():
    with pytest.raises(ValueError, match="unknown allocation strategy"):
        plan_allocation([need(1, LAMP)], [EAST], TEXAS, strategy="cheapest")


@pytest.mark.parametrize(
    ("address", "expected"),
    [
        ({"country": "US", "region": "CA"}, ShipTo("US", "US-CA")),
        ({"country": "us", "region": "US-CA"}, ShipTo("US", "US-CA")),
        ({"country": "FR", "region": None}, ShipTo("FR", None)),
        (None, ShipTo(None, None)),
    ],
)
def test_ship_to_from_address_builds_region_codes(address, expected):
    assert ShipTo.from_address(address) == expected


def test_allocate_default_skips_lines_with_nothing_left_to_allocate():
    plan = plan_allocation([need(1, LAMP, 0)], [EAST], TEXAS)
    assert plan == AllocationPlan((), ())
