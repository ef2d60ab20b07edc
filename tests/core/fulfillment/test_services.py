"""Fulfillment services against a real database: shipping options and promises, in-house pack and ship with
stock and their audit entries."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select

from core.audit.models import AuditEntry
from core.errors import DomainError, NotFound
from core.fulfillment.models import ShippingOption
from core.fulfillment.queries import order_shipments, packing_slip, pick_list
from core.fulfillment.services import (
    choose_shipping_option,
    mark_packed,
    mark_shipped,
    promise_delivery,
    set_shipping_option,
)
from core.inventory.models import StockMovement
from core.inventory.queries import verify_ledger
from core.security.roles import Actor
from tests.factories import NOW, make_channel, make_order, make_sku
from tests.fulfillment_factories import (
    PACKER,
    allocations,
    audit_trail,
    committed_database,
    make_confirmed_order,
    make_shipping_option,
    timeline,
)
from tests.inventory_factories import level, link, make_location, make_stock

SECRET = "test-secret"
BASE_URL = "https://shop.example/dropship/confirm"


@pytest.fixture(scope="module")
def committed_factory(tmp_path_factory):
    with committed_database(tmp_path_factory) as factory:
        yield factory


@pytest.fixture
def shop(db):
    """A web shop served by two warehouses."""
    channel = make_channel(db, name="Web shop")
    east = make_location(db, name="Warehouse East", code="WH-EAST-F", priority=10)
    west = make_location(db, name="Warehouse West", code="WH-WEST-F", priority=20)
    link(db, channel, east, west)
    return channel, east, west


def eod(day: int, month: int = 11) -> datetime:
    return datetime(2026, month, day, 23, 59, 59, 999999, tzinfo=UTC)


# --- shipping options and promises ---------------------------------------------------------------------


def _options() -> list[ShippingOption]:
    return [
        ShippingOption(id=1, code="standard", name="Standard shipping", is_pickup=False),
        ShippingOption(id=2, code="expedited", name="Expedited shipping", is_pickup=False),
        ShippingOption(id=3, code="SecondDay", name="Two-Day Shipping", is_pickup=False),
        ShippingOption(id=4, code="pickup", name="Pick up at Downtown Store", is_pickup=True),
    ]


@pytest.mark.parametrize(
    ("method", "expected"),
    [
        ("standard", 1),
        ("EXPEDITED", 2),
        ("Expedited  Shipping", 2),
        ("second_day", 3),
        ("two-day shipping", 3),
        ("Pick up at Downtown Store", 4),
        ("Carrier pigeon", 1),  # unknown text: the channel's standard
        (None, 1),
        ("", 1),
    ],
)
def test_choose_shipping_option_matches_code_or_name_else_standard(method, expected):
    assert choose_shipping_option(_options(), method).id == expected


def test_choose_shipping_option_without_standard_is_none():
    assert (
        choose_shipping_option([ShippingOption(code="express", name="Express", is_pickup=False)], "x") is None
    )


def test_set_shipping_option_uses_the_channels_options(db, shop):
    channel, _east, _west = shop
    make_shipping_option(db, channel)
    expedited = make_shipping_option(
        db, channel, code="expedited", name="Expedited", price=1500, min_business_days=1, max_business_days=3
    )
    order = make_order(db, channel_id=channel.id, shipping_method="Expedited")
    assert set_shipping_option(db, order) == expedited
    assert order.shipping_option_id == expedited.id


def test_set_shipping_option_falls_back_to_shared_options(db):
    channel = make_channel(db)
    shared = make_shipping_option(db, None, code="standard-shared", name="Standard")
    order = make_order(db, channel_id=channel.id, shipping_method="Whatever the marketplace says")
    assert set_shipping_option(db, order) == shared
    assert set_shipping_option(db, make_order(db, channel_id=make_channel(db).id), method="x") == shared


def test_promise_delivery_sets_dispatch_and_window_once(db, shop):
    channel, _east, _west = shop
    make_shipping_option(db, channel)  # 1 day to dispatch, 3-7 on the way
    order = make_order(db, channel_id=channel.id, placed_at=NOW, shipping_method="standard")  # a Friday
    promise = promise_delivery(db, order, now=NOW, holidays={date(2026, 11, 26)})
    assert order.shipping_option_id is not None
    assert order.expected_dispatch_by == promise.dispatch_by == eod(23)
    assert (order.promised_delivery_from, order.promised_delivery_to) == (eod(27), eod(3, 12))
    order.shipping_option_id = make_shipping_option(
        db, channel, code="express", min_business_days=1, max_business_days=1
    ).id
    promise_delivery(db, order, now=NOW + timedelta(days=1))
    assert (order.promised_delivery_from, order.promised_delivery_to) == (eod(27), eod(3, 12))  # first kept


# --- in-house: pick, pack, ship ------------------------------------------------------------------------


def test_pick_list_and_packing_slip_show_reserved_units(db, shop):
    channel, east, _west = shop
    lamp, rug = make_sku(db, code="LAMP-F1", title="Desk lamp"), make_sku(db, code="RUG-F1", title="Rug")
    make_stock(db, east, lamp.id, 10)
    make_stock(db, east, rug.id, 10)
    first = make_confirmed_order(db, channel, [(lamp.id, 2), (rug.id, 1)], note="Leave with the doorman")
    second = make_confirmed_order(db, channel, [(lamp.id, 1)], placed_at=NOW + timedelta(hours=1))
    picks = pick_list(db, east.id)
    assert [(i.sku_code, i.quantity, i.order_numbers) for i in picks.items] == [
        ("LAMP-F1", 3, (first.number, second.number)),
        ("RUG-F1", 1, (first.number,)),
    ]
    assert (picks.units, picks.order_count) == (4, 2)
    assert [line.order_number for line in picks.lines] == [first.number, first.number, second.number]
    slip = packing_slip(db, first.id, east.id)
    assert [(ln.line_no, ln.sku_code, ln.quantity) for ln in slip.lines] == [
        (1, "LAMP-F1", 2),
        (2, "RUG-F1", 1),
    ]
    assert (slip.ship_to["name"], slip.ship_to["city"], slip.note, slip.shipped) == (
        "Ada Lovelace",
        "Springfield",
        "Leave with the doorman",
        False,
    )


def test_mark_packed_opens_one_packed_parcel(db, shop):
    channel, east, west = shop
    lamp = make_sku(db)
    make_stock(db, east, lamp.id, 5)
    order = make_confirmed_order(db, channel, [(lamp.id, 1)])
    parcel = mark_packed(db, order.id, east.id, actor=PACKER, now=NOW)
    assert (parcel.status, parcel.packed_at, parcel.location_id) == ("packed", NOW, east.id)
    assert mark_packed(db, order.id, east.id, actor=PACKER, now=NOW + timedelta(minutes=5)) is parcel
    assert [e.kind for e in timeline(db, order)].count("packed") == 1
    with pytest.raises(DomainError, match="nothing reserved at Warehouse West"):
        mark_packed(db, order.id, west.id, actor=PACKER, now=NOW)


def test_in_house_flow_two_locations_ships_stock_and_rolls_up(db, shop):
    channel, east, west = shop
    lamp, rug = make_sku(db, code="LAMP-F2"), make_sku(db, code="RUG-F2")
    make_stock(db, east, lamp.id, 5)
    make_stock(db, west, rug.id, 3)
    make_shipping_option(db, channel)
    order = make_confirmed_order(db, channel, [(lamp.id, 2), (rug.id, 1)], shipping_method="Standard")
    assert {(loc, qty) for _line, loc, qty, _s in allocations(db, order)} == {(east.id, 2), (west.id, 1)}
    assert level(db, east.id, lamp.id) == (5, 2)

    packed = mark_packed(db, order.id, east.id, actor=PACKER, now=NOW)
    [first] = mark_shipped(
        db,
        order.id,
        location_id=east.id,
        carrier="ups",
        tracking_number="1z 999 aa1 01 2345 6784",
        actor=PACKER,
        now=NOW,
    )
    assert first is packed
    assert (first.status, first.carrier, first.tracking_number, first.shipped_at) == (
        "in_transit",
        "UPS",
        "1Z999AA10123456784",
        NOW,
    )
    assert first.tracking_url == "https://www.ups.com/track?tracknum=1Z999AA10123456784"
    assert (first.estimated_from, first.estimated_to) == (
        eod(25),
        eod(1, 12),
    )  # 3-7 business days from Friday
    assert (first.first_estimated_from, first.first_estimated_to) == (
        first.estimated_from,
        first.estimated_to,
    )
    assert level(db, east.id, lamp.id) == (3, 0)  # on hand and reserved both dropped by 2
    assert level(db, west.id, rug.id) == (3, 1)  # the other parcel has not left
    assert order.status == "partially_shipped"
    assert [(ln.order_line_id, ln.quantity) for ln in first.lines] == [(order.lines[0].id, 2)]
    assert [line.quantity_shipped for line in order.lines] == [2, 0]

    [second] = mark_shipped(
        db,
        order.id,
        location_id=west.id,
        carrier="USPS",
        tracking_number="9400111899223197428490",
        actor=PACKER,
        now=NOW + timedelta(hours=3),
    )
    assert level(db, west.id, rug.id) == (2, 0)
    assert order.status == "shipped"
    assert sorted(status for *_rest, status in allocations(db, order)) == ["shipped", "shipped"]
    assert verify_ledger(db) == []
    moves = db.execute(
        select(StockMovement.location_id, StockMovement.on_hand_delta, StockMovement.reserved_delta)
        .where(StockMovement.order_id == order.id, StockMovement.kind == "shipment")
        .order_by(StockMovement.id)
    ).all()
    assert [tuple(m) for m in moves] == [(east.id, -2, -2), (west.id, -1, -1)]
    entries = [(e.kind, e.to_status, e.visible_to_customer) for e in timeline(db, order)]
    assert ("shipped", None, True) in entries
    assert [(kind, to) for kind, to, _v in entries if kind == "status_changed"][-2:] == [
        ("status_changed", "partially_shipped"),
        ("status_changed", "shipped"),
    ]
    assert order.promised_delivery_to is not None  # promised on the way if intake had not
    views = order_shipments(db, order.id)
    assert [(v.id, v.location_name, v.carrier, [ln.quantity for ln in v.lines]) for v in views] == [
        (first.id, "Warehouse East", "UPS", [2]),
        (second.id, "Warehouse West", "USPS", [1]),
    ]
    slip = packing_slip(db, order.id, east.id)  # reprint after shipping: the parcel's lines
    assert (slip.shipped, slip.shipment_id, [ln.quantity for ln in slip.lines]) == (True, first.id, [2])


def test_mark_shipped_without_location_ships_every_location_at_once(db, shop):
    channel, east, west = shop
    lamp, rug = make_sku(db), make_sku(db)
    make_stock(db, east, lamp.id, 1)
    make_stock(db, west, rug.id, 1)
    order = make_confirmed_order(db, channel, [(lamp.id, 1), (rug.id, 1)])
    parcels = mark_shipped(
        db, order.id, carrier="FedEx", tracking_number="794698558011", actor=PACKER, now=NOW
    )
    assert sorted(p.location_id for p in parcels) == sorted([east.id, west.id])
    assert order.status == "shipped"
    assert [e.to_status for e in timeline(db, order) if e.kind == "status_changed"][-1:] == ["shipped"]
    assert "partially_shipped" not in [e.to_status for e in timeline(db, order)]


def test_mark_shipped_part_of_a_line_splits_the_allocation(db, shop):
    channel, east, _west = shop
    lamp = make_sku(db)
    make_stock(db, east, lamp.id, 4)
    order = make_confirmed_order(db, channel, [(lamp.id, 3)])
    line = order.lines[0]
    mark_shipped(
        db,
        order.id,
        carrier="UPS",
        tracking_number="1ZPART0000000001",
        actor=PACKER,
        now=NOW,
        lines={line.id: 1},
    )
    assert sorted(allocations(db, order)) == sorted(
        [(line.id, east.id, 2, "reserved"), (line.id, east.id, 1, "shipped")]
    )
    assert (line.quantity_shipped, order.status, level(db, east.id, lamp.id)) == (
        1,
        "partially_shipped",
        (3, 2),
    )
    mark_shipped(db, order.id, carrier="UPS", tracking_number="1ZPART0000000002", actor=PACKER, now=NOW)
    assert (line.quantity_shipped, order.status, level(db, east.id, lamp.id)) == (3, "shipped", (1, 0))
    assert verify_ledger(db) == []


def test_mark_packed_records_who_packed_the_parcel_once(db, shop):
    channel, east, _west = shop
    lamp = make_sku(db)
    make_stock(db, east, lamp.id, 2)
    order = make_confirmed_order(db, channel, [(lamp.id, 1)])

    parcel = mark_packed(db, order.id, east.id, actor=PACKER, now=NOW)
    mark_packed(db, order.id, east.id, actor=PACKER, now=NOW + timedelta(minutes=5))  # already packed

    assert audit_trail(db, order) == [
        (
            "packer@example.org",
            "order.packed",
            None,
            {"shipment_id": parcel.id, "location_id": east.id, "status": "packed"},
        )
    ]


def test_mark_shipped_records_who_shipped_which_parcel(db, shop):
    channel, east, west = shop
    lamp, rug = make_sku(db), make_sku(db)
    make_stock(db, east, lamp.id, 2)
    make_stock(db, west, rug.id, 2)
    order = make_confirmed_order(db, channel, [(lamp.id, 1), (rug.id, 1)])
    packer = Actor(label="ops@example.org", user_id=None, role="agent", ip_address="192.0.2.7")

    [parcel] = mark_shipped(
        db,
        order.id,
        location_id=east.id,
        carrier="UPS",
        tracking_number="1ZAUDIT000000001",
        actor=packer,
        now=NOW,
    )

    [entry] = db.scalars(select(AuditEntry).where(AuditEntry.entity_id == str(order.id))).all()
    assert (entry.actor_label, entry.ip_address, entry.action, entry.entity_type, entry.created_at) == (
        "ops@example.org",
        "192.0.2.7",
        "order.shipped",
        "order",
        NOW,
    )
    assert entry.before == {"status": "confirmed"}
    assert entry.after == {
        "status": "partially_shipped",
        "location_id": east.id,
        "source": "packing",
        "shipments": [{"id": parcel.id, "carrier": "UPS", "tracking_number": "1ZAUDIT000000001"}],
    }


def test_mark_shipped_that_fails_records_nothing(db, shop):
    channel, east, _west = shop
    lamp = make_sku(db)
    make_stock(db, east, lamp.id, 1)
    order = make_confirmed_order(db, channel, [(lamp.id, 1)])

    with pytest.raises(DomainError):
        mark_shipped(db, order.id, carrier="UPS", tracking_number="n/a", actor=PACKER, now=NOW)

    assert audit_trail(db, order) == []


@pytest.mark.parametrize(
    ("carrier", "tracking", "message"),
    [("", "1Z999AA10123456784", "carrier is required"), ("UPS", "n/a", "not a valid tracking number")],
)
def test_mark_shipped_rejects_missing_carrier_or_bad_tracking(db, shop, carrier, tracking, message):
    channel, east, _west = shop
    lamp = make_sku(db)
    make_stock(db, east, lamp.id, 1)
    order = make_confirmed_order(db, channel, [(lamp.id, 1)])
    with pytest.raises(DomainError, match=message):
        mark_shipped(db, order.id, carrier=carrier, tracking_number=tracking, actor=PACKER, now=NOW)
    assert level(db, east.id, lamp.id) == (1, 1)


def test_mark_shipped_refuses_orders_not_confirmed_and_lines_not_reserved(db, shop):
    channel, east, _west = shop
    lamp = make_sku(db)
    make_stock(db, east, lamp.id, 2)
    pending = make_order(db, channel_id=channel.id)
    with pytest.raises(DomainError, match="is pending: only confirmed or partially shipped orders ship"):
        mark_shipped(
            db, pending.id, carrier="UPS", tracking_number="1Z999AA10123456784", actor=PACKER, now=NOW
        )
    order = make_confirmed_order(db, channel, [(lamp.id, 1)])
    with pytest.raises(DomainError, match="2 to ship but only 1 reserved"):
        mark_shipped(
            db,
            order.id,
            carrier="UPS",
            tracking_number="1Z999AA10123456784",
            actor=PACKER,
            now=NOW,
            lines={order.lines[0].id: 2},
        )
    with pytest.raises(NotFound):
        mark_shipped(db, 10**9, carrier="UPS", tracking_number="1Z999AA10123456784", actor=PACKER, now=NOW)
