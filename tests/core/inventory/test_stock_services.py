"""Stock services against a real database: ledger, reservation, allocation, backorders, available to sell."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from core.errors import DomainError, InsufficientStock, NotFound
from core.inventory.models import StockLevel, StockMovement
from core.inventory.queries import (
    available_to_sell,
    available_to_sell_formula,
    ledger_for_sku,
    stock_by_sku,
    verify_ledger,
)
from core.inventory.services import (
    adjust_stock,
    allocate_order,
    fill_backorders,
    receive_stock,
    release_order,
    release_reservation,
    reserve_stock,
    ship_reserved,
)
from core.notifications.models import OutboxMessage
from core.orders.models import Allocation, OrderEvent, OrderLine
from tests.factories import NOW, make_channel, make_sku
from tests.inventory_factories import level, link, make_location, make_order_for, make_stock

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


def pushes(db: Session, channel_id: int, sku_id: int) -> list[OutboxMessage]:
    return list(
        db.scalars(
            select(OutboxMessage).where(OutboxMessage.dedup_key == f"stock:{channel_id}:{sku_id}:pending")
        )
    )


@pytest.fixture
def shop(db: Session):
    """A web shop served by Warehouse East (priority 2, serves US) and Warehouse West (priority 1, US-CA)."""
    channel = make_channel(db, code="webshop-t")
    east = make_location(db, code="WH-EAST", name="Warehouse East", priority=2, regions=["US", "US-NY"])
    west = make_location(db, code="WH-WEST", name="Warehouse West", priority=1, regions=["US-CA"])
    link(db, channel, east, west)
    return channel, east, west


# --- ledger -------------------------------------------------------------------------------------------------


def test_receive_stock_creates_level_and_receipt_movement(db):
    loc, sku = make_location(db), make_sku(db)
    state = receive_stock(db, loc.id, sku.id, 12, actor=ACTOR, now=NOW, reference="PO-1")
    assert (state.on_hand, state.reserved, state.available) == (12, 0, 12)
    receive_stock(db, loc.id, sku.id, 3, actor=ACTOR, now=NOW)
    assert level(db, loc.id, sku.id) == (15, 0)
    movements = db.execute(
        select(StockMovement.kind, StockMovement.on_hand_delta, StockMovement.reference)
        .where(StockMovement.sku_id == sku.id)
        .order_by(StockMovement.id)
    ).all()
    assert [tuple(m) for m in movements] == [("receipt", 12, "PO-1"), ("receipt", 3, None)]


@pytest.mark.parametrize("quantity", [0, -2])
def test_receive_stock_rejects_non_positive_quantity(db, quantity):
    with pytest.raises(DomainError, match="positive"):
        receive_stock(db, make_location(db).id, make_sku(db).id, quantity, actor=ACTOR, now=NOW)


def test_receive_stock_unknown_location_is_not_found(db):
    with pytest.raises(NotFound, match="location"):
        receive_stock(db, 987654, make_sku(db).id, 1, actor=ACTOR, now=NOW)


def test_receive_stock_refreshes_a_loaded_level(db):
    loc, sku = make_location(db), make_sku(db)
    make_stock(db, loc, sku.id, 2)
    loaded = db.scalars(select(StockLevel).where(StockLevel.sku_id == sku.id)).one()
    receive_stock(db, loc.id, sku.id, 5, actor=ACTOR, now=NOW)
    assert loaded.on_hand == 7


@pytest.mark.parametrize(
    ("kind", "delta", "expected"),
    [("adjustment", -3, (7, 0)), ("count", 2, (12, 0)), ("write_off", -1, (9, 0)), ("return", 4, (14, 0))],
)
def test_adjust_stock_changes_on_hand_by_kind(db, kind, delta, expected):
    loc, sku = make_location(db), make_sku(db)
    make_stock(db, loc, sku.id, 10)
    adjust_stock(db, loc.id, sku.id, delta, kind=kind, actor=ACTOR, now=NOW)
    assert level(db, loc.id, sku.id) == expected
    assert db.scalar(select(StockMovement.kind).order_by(StockMovement.id.desc()).limit(1)) == kind


@pytest.mark.parametrize(
    ("kind", "delta", "message"),
    [
        ("write_off", 2, "negative"),
        ("return", -2, "positive"),
        ("theft", -1, "unknown"),
        ("adjustment", 0, "non-zero"),
    ],
)
def test_adjust_stock_rejects_wrong_sign_or_kind(db, kind, delta, message):
    loc, sku = make_location(db), make_sku(db)
    make_stock(db, loc, sku.id, 5)
    with pytest.raises(DomainError, match=message):
        adjust_stock(db, loc.id, sku.id, delta, kind=kind, actor=ACTOR, now=NOW)


def test_adjust_stock_cannot_remove_reserved_units(db):
    loc, sku = make_location(db), make_sku(db, code="LAMP-1")
    make_stock(db, loc, sku.id, 5)
    reserve_stock(db, [(loc.id, sku.id, 4)], order_id=None, actor=ACTOR, now=NOW)
    with pytest.raises(InsufficientStock) as exc:
        adjust_stock(db, loc.id, sku.id, -2, kind="write_off", actor=ACTOR, now=NOW)
    assert exc.value.lines == [("LAMP-1", 2, 1)]
    assert level(db, loc.id, sku.id) == (5, 4)


# --- reservation --------------------------------------------------------------------------------------------


def test_reserve_stock_reserves_and_writes_reservation_movements(db):
    a, b, sku1, sku2 = make_location(db), make_location(db), make_sku(db), make_sku(db)
    make_stock(db, a, sku1.id, 5)
    make_stock(db, b, sku2.id, 5)
    reserve_stock(
        db, [(a.id, sku1.id, 2), (b.id, sku2.id, 3), (a.id, sku1.id, 1)], order_id=None, actor=ACTOR, now=NOW
    )
    assert level(db, a.id, sku1.id) == (5, 3)
    assert level(db, b.id, sku2.id) == (5, 3)
    reservations = db.execute(
        select(StockMovement.sku_id, StockMovement.reserved_delta)
        .where(StockMovement.kind == "reservation")
        .order_by(StockMovement.id)
    ).all()
    assert [tuple(r) for r in reservations] == [(sku1.id, 3), (sku2.id, 3)]  # same pair summed: one update


def test_reserve_stock_is_all_or_nothing_and_lists_every_short_line(db):
    loc = make_location(db)
    lamp, rug, vase = make_sku(db, code="LAMP"), make_sku(db, code="RUG"), make_sku(db, code="VASE")
    make_stock(db, loc, lamp.id, 5)
    make_stock(db, loc, rug.id, 1)
    with pytest.raises(InsufficientStock) as exc:
        reserve_stock(
            db,
            [(loc.id, lamp.id, 2), (loc.id, rug.id, 2), (loc.id, vase.id, 1)],
            order_id=None,
            actor=ACTOR,
            now=NOW,
        )
    assert exc.value.lines == [("RUG", 2, 1), ("VASE", 1, 0)]
    assert level(db, loc.id, lamp.id) == (5, 0)  # the lamp, admitted before the refusal, was given back
    assert (
        db.scalar(select(func.count()).select_from(StockMovement).where(StockMovement.kind == "reservation"))
        == 0
    )
    assert verify_ledger(db) == []


def test_a_refused_single_reservation_writes_nothing(db, shop):
    # One pair is one statement on PostgreSQL: its ledger row and push are written only when it matched.
    channel, east, _west = shop
    sku = make_sku(db, code="LAST")
    make_stock(db, east, sku.id, 2)
    reserve_stock(db, [(east.id, sku.id, 2)], order_id=None, actor=ACTOR, now=NOW)
    db.execute(update(OutboxMessage).values(status="sent", attempts=1))
    ledger_rows = db.scalar(select(func.count()).select_from(StockMovement))
    with pytest.raises(InsufficientStock) as exc:
        reserve_stock(db, [(east.id, sku.id, 1)], order_id=None, actor=ACTOR, now=NOW)
    assert exc.value.lines == [("LAST", 1, 0)]
    db.expire_all()
    assert level(db, east.id, sku.id) == (2, 2)
    assert db.scalar(select(func.count()).select_from(StockMovement)) == ledger_rows
    [push] = pushes(db, channel.id, sku.id)
    assert (push.status, push.attempts) == ("sent", 1)  # not armed again by the refusal
    assert verify_ledger(db) == []


def test_reserve_stock_rejects_non_positive_quantity(db):
    with pytest.raises(DomainError, match="positive"):
        reserve_stock(db, [(1, 1, 0)], order_id=None, actor=ACTOR, now=NOW)


def test_release_reservation_returns_units_to_available(db):
    loc, sku = make_location(db), make_sku(db)
    make_stock(db, loc, sku.id, 5)
    reserve_stock(db, [(loc.id, sku.id, 3)], order_id=None, actor=ACTOR, now=NOW)
    state = release_reservation(db, loc.id, sku.id, 2, order_id=None, actor=ACTOR, now=NOW)
    assert (state.on_hand, state.reserved, state.available) == (5, 1, 4)
    with pytest.raises(DomainError, match="fewer are reserved"):
        release_reservation(db, loc.id, sku.id, 2, order_id=None, actor=ACTOR, now=NOW)


def test_ship_reserved_takes_units_out_of_on_hand_and_reserved(db):
    loc, sku = make_location(db), make_sku(db)
    make_stock(db, loc, sku.id, 5)
    reserve_stock(db, [(loc.id, sku.id, 3)], order_id=None, actor=ACTOR, now=NOW)
    ship_reserved(db, loc.id, sku.id, 3, order_id=None, actor=ACTOR, now=NOW)
    assert level(db, loc.id, sku.id) == (2, 0)
    with pytest.raises(DomainError, match="fewer are reserved"):
        ship_reserved(db, loc.id, sku.id, 1, order_id=None, actor=ACTOR, now=NOW)
    assert verify_ledger(db) == []


def test_verify_ledger_finds_a_level_changed_behind_the_ledger(db):
    loc, sku = make_location(db), make_sku(db)
    make_stock(db, loc, sku.id, 5)
    assert verify_ledger(db) == []
    db.execute(update(StockLevel).where(StockLevel.sku_id == sku.id).values(on_hand=7))
    [mismatch] = verify_ledger(db)
    assert (mismatch.sku_id, mismatch.on_hand, mismatch.ledger_on_hand) == (sku.id, 7, 5)


def test_ledger_for_sku_lists_newest_first(db):
    loc, sku = make_location(db, code="WH-L"), make_sku(db)
    make_stock(db, loc, sku.id, 5)
    reserve_stock(db, [(loc.id, sku.id, 2)], order_id=None, actor=ACTOR, now=NOW + timedelta(minutes=1))
    entries = ledger_for_sku(db, sku.id)
    assert [(e.kind, e.on_hand_delta, e.reserved_delta, e.location_code) for e in entries] == [
        ("reservation", 0, 2, "WH-L"),
        ("receipt", 5, 0, "WH-L"),
    ]
    assert len(ledger_for_sku(db, sku.id, limit=1)) == 1


# --- available to sell --------------------------------------------------------------------------------------


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


def test_every_movement_arms_one_coalesced_stock_push_per_channel(db, shop):
    channel, east, _west = shop
    other = make_channel(db)  # not served by east: gets no push
    inactive = make_channel(db, active=False)
    link(db, inactive, east)
    sku = make_sku(db)
    make_stock(db, east, sku.id, 10)
    reserve_stock(db, [(east.id, sku.id, 3)], order_id=None, actor=ACTOR, now=NOW)
    [push] = pushes(db, channel.id, sku.id)
    assert (push.kind, push.transport, push.status, push.recipient, push.next_attempt_at) == (
        "stock_push",
        "channel",
        "pending",
        "webshop-t",
        NOW,
    )
    # the SKU to push, not a figure: the dispatcher reads available to sell when it sends
    assert push.payload == {"channel_id": channel.id, "channel": channel.code, "sku_id": sku.id}
    assert pushes(db, other.id, sku.id) == pushes(db, inactive.id, sku.id) == []
    later = NOW + timedelta(minutes=1)
    db.execute(update(OutboxMessage).values(attempts=2, last_error="HTTP 503"))  # pending, in back-off
    release_reservation(db, east.id, sku.id, 1, order_id=None, actor=ACTOR, now=later)
    db.expire_all()
    [again] = pushes(db, channel.id, sku.id)
    assert (again.id, again.status, again.attempts, again.last_error, again.next_attempt_at) == (
        push.id,
        "pending",
        2,
        "HTTP 503",
        NOW,
    )  # left as it was: one push, back-off kept


def test_stock_push_rearms_a_row_the_worker_finished(db, shop):
    channel, east, _west = shop
    sku = make_sku(db)
    make_stock(db, east, sku.id, 10)
    later = NOW + timedelta(minutes=1)
    for finished in ("sent", "failed"):
        db.execute(update(OutboxMessage).values(status=finished, attempts=8, last_error="HTTP 400"))
        adjust_stock(db, east.id, sku.id, -1, kind="write_off", actor=ACTOR, now=later)
        db.expire_all()
        [push] = pushes(db, channel.id, sku.id)
        assert (push.status, push.attempts, push.last_error, push.next_attempt_at) == (
            "pending",
            0,
            None,
            later,
        ), finished


def test_stock_push_being_sent_is_marked_to_go_again_keeping_its_lease(db, shop):
    channel, east, _west = shop
    sku = make_sku(db)
    make_stock(db, east, sku.id, 10)
    lease_end = NOW + timedelta(minutes=15)
    db.execute(update(OutboxMessage).values(status="sending", attempts=1, next_attempt_at=lease_end))
    reserve_stock(db, [(east.id, sku.id, 2)], order_id=None, actor=ACTOR, now=NOW + timedelta(minutes=1))
    db.expire_all()
    [push] = pushes(db, channel.id, sku.id)
    assert (push.status, push.attempts, push.next_attempt_at) == ("pending", 1, lease_end)


# --- allocation ---------------------------------------------------------------------------------------------


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
