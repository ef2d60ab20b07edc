"""The allocation service against a real database: orders reserved by the rules, confirmed or backordered,
backorders filled by receipts, reservations released on cancellation."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.errors import DomainError
from core.inventory.allocations import allocate_order, fill_backorders, receive_stock, release_order
from core.inventory.models import StockMovement
from core.inventory.queries import (
    available_to_sell,
    verify_ledger,
)
from core.orders.models import Allocation, OrderEvent, OrderLine
from tests.factories import NOW, make_sku
from tests.inventory_factories import level, make_location, make_order_for, make_stock, pushes

ACTOR = "ops@example.org"


def events_of(db: Session, order) -> list[OrderEvent]:
    return list(db.scalars(select(OrderEvent).where(OrderEvent.order_id == order.id).order_by(OrderEvent.id)))


def allocations_of(db: Session, order) -> list[tuple[int, int, int, str, str]]:
    rows = db.execute(
        select(
            OrderLine.sku_id,
            Allocation.location_id,
            Allocation.quantity,
            Allocation.status,
            Allocation.reason,
        )
        .join(OrderLine, OrderLine.id == Allocation.order_line_id)
        .where(OrderLine.order_id == order.id)
        .order_by(Allocation.id)
    ).all()
    return [tuple(row) for row in rows]


def test_allocate_order_reserves_confirms_and_records_why(db, shop):
    channel, east, west = shop
    lamp, rug = make_sku(db), make_sku(db)
    for sku in (lamp, rug):
        make_stock(db, east, sku.id, 5)
    make_stock(db, west, lamp.id, 5)
    order = make_order_for(
        db, channel, [(lamp.id, 2), (rug.id, 1)], shipping_address={"country": "US", "region": "CA"}
    )
    allocate_order(db, order, actor=ACTOR, now=NOW)
    assert order.status == "confirmed"
    assert allocations_of(db, order) == [
        (lamp.id, east.id, 2, "reserved", "Warehouse East: only location with all 2 lines in stock"),
        (rug.id, east.id, 1, "reserved", "Warehouse East: only location with all 2 lines in stock"),
    ]
    assert level(db, east.id, lamp.id) == (5, 2)
    kinds = [(e.kind, e.message, e.to_status) for e in events_of(db, order)]
    assert kinds == [
        ("allocated", "Warehouse East: only location with all 2 lines in stock", None),
        ("status_changed", "stock reserved", "confirmed"),
    ]
    assert (
        db.scalar(select(func.count()).select_from(StockMovement).where(StockMovement.order_id == order.id))
        == 2
    )


def test_allocate_order_prefers_the_location_serving_the_region(db, shop):
    channel, east, west = shop
    lamp = make_sku(db)
    make_stock(db, east, lamp.id, 5)
    make_stock(db, west, lamp.id, 5)
    ny = make_order_for(db, channel, [(lamp.id, 1)], shipping_address={"country": "US", "region": "NY"})
    ca = make_order_for(db, channel, [(lamp.id, 1)], shipping_address={"country": "US", "region": "CA"})
    allocate_order(db, ny, actor=ACTOR, now=NOW)
    allocate_order(db, ca, actor=ACTOR, now=NOW)
    assert allocations_of(db, ny)[0][1:] == (
        east.id,
        1,
        "reserved",
        "Warehouse East: serves US-NY, priority 2",
    )
    assert allocations_of(db, ca)[0][1:] == (
        west.id,
        1,
        "reserved",
        "Warehouse West: serves US-CA, priority 1",
    )


def test_allocate_order_splits_when_no_location_has_everything(db, shop):
    channel, east, west = shop
    lamp, rug, vase = make_sku(db), make_sku(db), make_sku(db)
    make_stock(db, east, lamp.id, 1)
    make_stock(db, east, rug.id, 1)
    make_stock(db, west, vase.id, 1)
    order = make_order_for(db, channel, [(lamp.id, 1), (rug.id, 1), (vase.id, 1)])
    allocate_order(db, order, actor=ACTOR, now=NOW)
    assert order.status == "confirmed"
    assert [(a[1], a[4]) for a in allocations_of(db, order)] == [
        (east.id, "split: Warehouse East had 2 of 3 lines"),
        (east.id, "split: Warehouse East had 2 of 3 lines"),
        (west.id, "split: Warehouse West had 1 of 3 lines"),
    ]


def test_allocate_order_sends_dropship_sku_to_its_supplier(db, shop):
    channel, east, _west = shop
    supplier = make_location(db, name="Tea Co", kind="dropship", fulfillment_method="dropship")
    tea, lamp = make_sku(db, dropship_location_id=supplier.id), make_sku(db)
    make_stock(db, supplier, tea.id, 100)
    make_stock(db, east, lamp.id, 1)
    order = make_order_for(db, channel, [(tea.id, 3), (lamp.id, 1)])
    allocate_order(db, order, actor=ACTOR, now=NOW)
    assert [(a[0], a[1], a[4]) for a in allocations_of(db, order)] == [
        (tea.id, supplier.id, "Tea Co: drop-ship supplier of this SKU"),
        (lamp.id, east.id, "Warehouse East: only location with the line in stock"),
    ]


def test_allocate_order_pickup_reserves_at_the_store_only(db, shop):
    channel, east, _west = shop
    store = make_location(db, name="Downtown Store", kind="store")
    lamp = make_sku(db)
    make_stock(db, east, lamp.id, 10)
    make_stock(db, store, lamp.id, 1)
    order = make_order_for(db, channel, [(lamp.id, 1)], pickup_location_id=store.id)
    allocate_order(db, order, actor=ACTOR, now=NOW)
    assert allocations_of(db, order)[0][1:] == (store.id, 1, "reserved", "Downtown Store: store pick-up")
    second = make_order_for(db, channel, [(lamp.id, 1)], pickup_location_id=store.id)
    allocate_order(db, second, actor=ACTOR, now=NOW)
    assert second.status == "backordered"  # the warehouse's 10 lamps are not at the store


def test_allocate_order_fulfilled_by_channel_is_not_allocated(db, shop):
    channel, east, _west = shop
    lamp = make_sku(db)
    make_stock(db, east, lamp.id, 5)
    order = make_order_for(db, channel, [(lamp.id, 1)], fulfilled_by_channel=True)
    allocate_order(db, order, actor=ACTOR, now=NOW)
    assert order.status == "pending"
    assert allocations_of(db, order) == []
    assert [e.message for e in events_of(db, order)] == [
        "fulfilled by the channel: not allocated from our stock"
    ]
    assert level(db, east.id, lamp.id) == (5, 0)


def test_allocate_order_backorders_naming_the_short_skus(db, shop):
    channel, east, _west = shop
    lamp, rug = make_sku(db, code="LAMP-B"), make_sku(db, code="RUG-B")
    make_stock(db, east, lamp.id, 5)
    make_stock(db, east, rug.id, 1)
    order = make_order_for(db, channel, [(lamp.id, 1), (rug.id, 3)])
    allocate_order(db, order, actor=ACTOR, now=NOW)
    assert order.status == "backordered"
    assert allocations_of(db, order) == []
    assert level(db, east.id, lamp.id) == (5, 0)
    [event] = events_of(db, order)
    assert event.message == "waiting for stock: RUG-B (wanted 3, 1 available)"


def test_allocate_order_is_a_no_op_for_a_confirmed_order(db, shop):
    channel, east, _west = shop
    lamp = make_sku(db)
    make_stock(db, east, lamp.id, 5)
    order = make_order_for(db, channel, [(lamp.id, 2)])
    allocate_order(db, order, actor=ACTOR, now=NOW)
    allocate_order(db, order, actor=ACTOR, now=NOW)
    assert level(db, east.id, lamp.id) == (5, 2)


@pytest.mark.parametrize("status", ["on_hold", "cancelled", "shipped"])
def test_allocate_order_refuses_orders_not_pending_or_backordered(db, shop, status):
    channel, east, _west = shop
    lamp = make_sku(db)
    make_stock(db, east, lamp.id, 5)
    order = make_order_for(db, channel, [(lamp.id, 1)], status=status)
    with pytest.raises(DomainError, match="only pending or backordered"):
        allocate_order(db, order, actor=ACTOR, now=NOW)


def test_allocate_order_refuses_unmapped_lines(db, shop):
    channel, _east, _west = shop
    order = make_order_for(db, channel, [])
    db.add(
        OrderLine(
            order_id=order.id, line_no=1, channel_sku="??", title="Mystery", quantity=1, unit_price=1, total=1
        )
    )
    db.flush()
    db.refresh(order)
    with pytest.raises(DomainError, match="without a SKU"):
        allocate_order(db, order, actor=ACTOR, now=NOW)


# --- backorders and cancellation ---------------------------------------------------------------------------


def test_receive_stock_fills_backorders_oldest_first(db, shop):
    channel, east, _west = shop
    lamp = make_sku(db)
    newer = make_order_for(db, channel, [(lamp.id, 1)], placed_at=NOW + timedelta(hours=1))
    older = make_order_for(db, channel, [(lamp.id, 1)], placed_at=NOW)
    for order in (newer, older):
        allocate_order(db, order, actor=ACTOR, now=NOW)
        assert order.status == "backordered"
    receive_stock(db, east.id, lamp.id, 1, actor=ACTOR, now=NOW)
    assert (older.status, newer.status) == ("confirmed", "backordered")
    assert level(db, east.id, lamp.id) == (1, 1)
    receive_stock(db, east.id, lamp.id, 1, actor=ACTOR, now=NOW)
    assert newer.status == "confirmed"


def test_fill_backorders_skips_an_order_too_big_for_the_receipt(db, shop):
    channel, east, _west = shop
    lamp = make_sku(db)
    big = make_order_for(db, channel, [(lamp.id, 5)], placed_at=NOW)
    small = make_order_for(db, channel, [(lamp.id, 2)], placed_at=NOW + timedelta(hours=1))
    for order in (big, small):
        allocate_order(db, order, actor=ACTOR, now=NOW)
    receive_stock(db, east.id, lamp.id, 3, actor=ACTOR, now=NOW)
    assert (big.status, small.status) == ("backordered", "confirmed")
    assert fill_backorders(db, lamp.id, actor=ACTOR, now=NOW) == []  # one unit left: still not enough for 5
    assert [e.kind for e in events_of(db, big)] == ["status_changed"]  # no timeline noise while waiting


def test_release_order_gives_the_stock_back(db, shop):
    channel, east, _west = shop
    lamp = make_sku(db)
    make_stock(db, east, lamp.id, 3)
    order = make_order_for(db, channel, [(lamp.id, 2)])
    allocate_order(db, order, actor=ACTOR, now=NOW)
    release_order(db, order, actor=ACTOR, now=NOW)
    assert level(db, east.id, lamp.id) == (3, 0)
    assert {a[3] for a in allocations_of(db, order)} == {"released"}
    assert events_of(db, order)[-1].message == "order cancelled: 2 reserved units released"
    assert [p.status for p in pushes(db, channel.id, lamp.id)] == ["pending"]
    assert available_to_sell(db, channel, lamp.id) == 3
    release_order(db, order, actor=ACTOR, now=NOW)  # nothing left to release: no change
    assert level(db, east.id, lamp.id) == (3, 0)
    assert verify_ledger(db) == []
