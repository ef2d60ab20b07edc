"""Fulfillment services against a real database: shipping options and promises, in-house pack and ship with
stock, drop-ship purchase orders confirmed through signed links, 3PL export and confirmation import."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import func, select

from core.errors import DomainError, NotFound
from core.fulfillment.csv_import import InvalidImport
from core.fulfillment.models import Shipment, ShipmentLine, ShippingOption
from core.fulfillment.queries import order_shipments, packing_slip, pick_list
from core.fulfillment.services import (
    DROPSHIP_LINK_MAX_AGE,
    InvalidLink,
    choose_shipping_option,
    confirm_dropship_shipment,
    export_fulfillment_requests,
    import_shipment_confirmations,
    make_dropship_token,
    mark_packed,
    mark_shipped,
    promise_delivery,
    read_dropship_token,
    send_purchase_order,
    set_shipping_option,
)
from core.inventory.models import StockMovement
from core.inventory.queries import verify_ledger
from core.notifications.models import OutboxMessage
from tests.factories import NOW, make_channel, make_order, make_sku
from tests.fulfillment_factories import (
    ACTOR,
    allocations,
    committed_database,
    make_confirmed_order,
    make_shipping_option,
    run_at_once,
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
    parcel = mark_packed(db, order.id, east.id, actor=ACTOR, now=NOW)
    assert (parcel.status, parcel.packed_at, parcel.location_id) == ("packed", NOW, east.id)
    assert mark_packed(db, order.id, east.id, actor=ACTOR, now=NOW + timedelta(minutes=5)) is parcel
    assert [e.kind for e in timeline(db, order)].count("packed") == 1
    with pytest.raises(DomainError, match="nothing reserved at Warehouse West"):
        mark_packed(db, order.id, west.id, actor=ACTOR, now=NOW)


def test_in_house_flow_two_locations_ships_stock_and_rolls_up(db, shop):
    channel, east, west = shop
    lamp, rug = make_sku(db, code="LAMP-F2"), make_sku(db, code="RUG-F2")
    make_stock(db, east, lamp.id, 5)
    make_stock(db, west, rug.id, 3)
    make_shipping_option(db, channel)
    order = make_confirmed_order(db, channel, [(lamp.id, 2), (rug.id, 1)], shipping_method="Standard")
    assert {(loc, qty) for _line, loc, qty, _s in allocations(db, order)} == {(east.id, 2), (west.id, 1)}
    assert level(db, east.id, lamp.id) == (5, 2)

    packed = mark_packed(db, order.id, east.id, actor=ACTOR, now=NOW)
    [first] = mark_shipped(
        db,
        order.id,
        location_id=east.id,
        carrier="ups",
        tracking_number="1z 999 aa1 01 2345 6784",
        actor=ACTOR,
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
        actor=ACTOR,
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
        db, order.id, carrier="FedEx", tracking_number="794698558011", actor=ACTOR, now=NOW
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
        actor=ACTOR,
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
    mark_shipped(db, order.id, carrier="UPS", tracking_number="1ZPART0000000002", actor=ACTOR, now=NOW)
    assert (line.quantity_shipped, order.status, level(db, east.id, lamp.id)) == (3, "shipped", (1, 0))
    assert verify_ledger(db) == []


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
        mark_shipped(db, order.id, carrier=carrier, tracking_number=tracking, actor=ACTOR, now=NOW)
    assert level(db, east.id, lamp.id) == (1, 1)


def test_mark_shipped_refuses_orders_not_confirmed_and_lines_not_reserved(db, shop):
    channel, east, _west = shop
    lamp = make_sku(db)
    make_stock(db, east, lamp.id, 2)
    pending = make_order(db, channel_id=channel.id)
    with pytest.raises(DomainError, match="is pending: only confirmed or partially shipped orders ship"):
        mark_shipped(
            db, pending.id, carrier="UPS", tracking_number="1Z999AA10123456784", actor=ACTOR, now=NOW
        )
    order = make_confirmed_order(db, channel, [(lamp.id, 1)])
    with pytest.raises(DomainError, match="2 to ship but only 1 reserved"):
        mark_shipped(
            db,
            order.id,
            carrier="UPS",
            tracking_number="1Z999AA10123456784",
            actor=ACTOR,
            now=NOW,
            lines={order.lines[0].id: 2},
        )
    with pytest.raises(NotFound):
        mark_shipped(db, 10**9, carrier="UPS", tracking_number="1Z999AA10123456784", actor=ACTOR, now=NOW)


# --- drop-ship -----------------------------------------------------------------------------------------


@pytest.fixture
def dropship(db, shop):
    """An order for a drop-shipped teapot: reserved at the supplier, who has an email address."""
    channel, _east, _west = shop
    supplier = make_location(
        db,
        name="Tea Co",
        code="DS-TEA",
        kind="dropship",
        fulfillment_method="dropship",
        email="po@teaco.example",
    )
    teapot = make_sku(db, code="TEAPOT-1", title="Teapot", dropship_location_id=supplier.id)
    make_stock(db, supplier, teapot.id, 50)
    order = make_confirmed_order(db, channel, [(teapot.id, 2)], phone="+1 555 0100")
    return order, supplier, teapot


def test_send_purchase_order_queues_one_email_with_a_signed_link(db, dropship):
    order, supplier, _teapot = dropship
    message = send_purchase_order(db, order.id, supplier.id, secret=SECRET, base_url=BASE_URL, now=NOW)
    assert (message.kind, message.transport, message.dedup_key, message.recipient, message.status) == (
        "dropship_po",
        "email",
        f"po:{order.id}:{supplier.id}",
        "po@teaco.example",
        "pending",
    )
    payload = message.payload
    assert payload["order_number"] == order.number
    assert payload["lines"] == [{"sku": "TEAPOT-1", "title": "Item 1", "quantity": 2}]
    assert payload["ship_to"] | {} == {
        "name": "Ada Lovelace",
        "company": "",
        "line1": "12 Analytical Row",
        "line2": "",
        "city": "Springfield",
        "region": "IL",
        "postal_code": "62701",
        "country": "US",
        "phone": "+1 555 0100",
    }
    assert payload["confirm_url"].startswith(BASE_URL + "/")
    token = payload["confirm_url"].rsplit("/", 1)[1]
    assert read_dropship_token(SECRET, token, now=NOW) == (order.id, supplier.id)
    assert (
        send_purchase_order(db, order.id, supplier.id, secret=SECRET, base_url=BASE_URL, now=NOW) is message
    )
    assert (
        db.scalar(select(func.count()).select_from(OutboxMessage).where(OutboxMessage.kind == "dropship_po"))
        == 1
    )
    assert "purchase_order_sent" in [e.kind for e in timeline(db, order)]


def test_send_purchase_order_only_to_dropship_suppliers_with_email(db, shop, dropship):
    order, supplier, _teapot = dropship
    _channel, east, _west = shop
    with pytest.raises(DomainError, match="not a drop-ship supplier"):
        send_purchase_order(db, order.id, east.id, secret=SECRET, base_url=BASE_URL, now=NOW)
    supplier.email = None
    with pytest.raises(DomainError, match="no email address"):
        send_purchase_order(db, order.id, supplier.id, secret=SECRET, base_url=BASE_URL, now=NOW)


def test_confirm_dropship_shipment_ships_once(db, dropship):
    order, supplier, teapot = dropship
    token = make_dropship_token(SECRET, order.id, supplier.id, now=NOW)
    later = NOW + timedelta(days=2)
    parcel = confirm_dropship_shipment(
        db, token, secret=SECRET, carrier="fedex", tracking_number="7946 9855 8011", now=later
    )
    assert (parcel.status, parcel.carrier, parcel.tracking_number, parcel.location_id) == (
        "in_transit",
        "FedEx",
        "794698558011",
        supplier.id,
    )
    assert order.status == "shipped"
    assert level(db, supplier.id, teapot.id) == (48, 0)
    again = confirm_dropship_shipment(
        db,
        token,
        secret=SECRET,
        carrier="UPS",
        tracking_number="1ZOTHER0000001",
        now=later + timedelta(hours=1),
    )
    assert again is parcel and parcel.carrier == "FedEx"
    assert db.scalar(select(func.count()).select_from(Shipment).where(Shipment.order_id == order.id)) == 1
    assert level(db, supplier.id, teapot.id) == (48, 0)
    assert verify_ledger(db) == []
    [shipped] = [e for e in timeline(db, order) if e.kind == "shipped"]
    assert shipped.actor == "supplier:DS-TEA"


def test_confirm_dropship_shipment_rejects_tampered_foreign_and_expired_links(db, dropship):
    order, supplier, _teapot = dropship
    token = make_dropship_token(SECRET, order.id, supplier.id, now=NOW)
    forged = make_dropship_token("another-secret", order.id, supplier.id, now=NOW)
    tampered = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    for bad in (tampered, forged, "not-a-token"):
        with pytest.raises(InvalidLink, match="not valid"):
            confirm_dropship_shipment(
                db, bad, secret=SECRET, carrier="UPS", tracking_number="1Z999AA10123456784", now=NOW
            )
    expired_at = NOW + DROPSHIP_LINK_MAX_AGE + timedelta(seconds=1)
    with pytest.raises(InvalidLink, match="expired"):
        confirm_dropship_shipment(
            db, token, secret=SECRET, carrier="UPS", tracking_number="1Z999AA10123456784", now=expired_at
        )
    assert order.status == "confirmed"
    assert read_dropship_token(SECRET, token, now=NOW + DROPSHIP_LINK_MAX_AGE) == (order.id, supplier.id)


# --- 3PL -----------------------------------------------------------------------------------------------


@pytest.fixture
def three_pl(db):
    """A marketplace served only by a 3PL, with two confirmed orders."""
    channel = make_channel(db, name="Marketplace")
    hub = make_location(db, name="Fulfil Co", code="3PL-FC", kind="3pl", fulfillment_method="3pl")
    link(db, channel, hub)
    mug, cap = make_sku(db, code="MUG-3PL", title="Mug"), make_sku(db, code="CAP-3PL", title="Cap")
    make_stock(db, hub, mug.id, 10)
    make_stock(db, hub, cap.id, 10)
    first = make_confirmed_order(db, channel, [(mug.id, 2), (cap.id, 1)], shipping_method="Expedited")
    second = make_confirmed_order(db, channel, [(mug.id, 1)], placed_at=NOW + timedelta(hours=2))
    return hub, first, second, mug, cap


def test_export_fulfillment_requests_csv_has_ship_to_and_lines(db, three_pl):
    hub, first, second, *_ = three_pl
    rows = list(csv.DictReader(io.StringIO(export_fulfillment_requests(db, hub.id, fmt="csv"))))
    assert [(r["order_number"], r["sku"], r["quantity"]) for r in rows] == [
        (first.number, "MUG-3PL", "2"),
        (first.number, "CAP-3PL", "1"),
        (second.number, "MUG-3PL", "1"),
    ]
    assert (rows[0]["ship_to_name"], rows[0]["ship_to_postal_code"], rows[0]["shipping_method"]) == (
        "Ada Lovelace",
        "62701",
        "Expedited",
    )


def test_export_fulfillment_requests_json_groups_lines_per_order(db, three_pl):
    hub, first, second, *_ = three_pl
    document = json.loads(export_fulfillment_requests(db, hub.id, fmt="json"))
    assert document["location"] == "3PL-FC"
    assert [
        (r["order_number"], [(ln["sku"], ln["quantity"]) for ln in r["lines"]]) for r in document["requests"]
    ] == [(first.number, [("MUG-3PL", 2), ("CAP-3PL", 1)]), (second.number, [("MUG-3PL", 1)])]
    assert document["requests"][0]["ship_to"]["line1"] == "12 Analytical Row"
    with pytest.raises(DomainError, match="unknown export format"):
        export_fulfillment_requests(db, hub.id, fmt="xml")


def _confirmations(*rows: str) -> str:
    return "\n".join(["order_number,sku,quantity,carrier,tracking_number,shipped_at", *rows]) + "\n"


def test_import_shipment_confirmations_reports_every_bad_row_and_applies_nothing(db, three_pl):
    hub, first, second, mug, _cap = three_pl
    text = _confirmations(
        f"{first.number},MUG-3PL,2,UPS,1ZIMPORT00000001,2026-11-20T15:00:00Z",  # fine
        f"{first.number},CAP-3PL,two,UPS,1ZIMPORT00000001,2026-11-20T15:00:00Z",
        "CD-0000000,MUG-3PL,1,UPS,1ZIMPORT00000002,2026-11-20",
        f"{second.number},HAT-3PL,1,UPS,1ZIMPORT00000003,2026-11-20",
        f"{second.number},MUG-3PL,5,UPS,1ZIMPORT00000003,2026-11-20",
        f"{second.number},MUG-3PL,1,,1ZIMPORT00000003,yesterday",
        f"{second.number},MUG-3PL,1,UPS,1ZIMPORT00000003,2027-01-01",
    )
    with pytest.raises(InvalidImport) as caught:
        import_shipment_confirmations(db, hub.id, text, actor=ACTOR, now=NOW + timedelta(hours=6))
    assert [(e.line, e.message) for e in caught.value.errors] == [
        (3, "quantity 'two' is not a positive whole number"),
        (4, "unknown order 'CD-0000000'"),
        (5, f"order {second.number} has no line with SKU 'HAT-3PL'"),
        (6, f"order {second.number}: 5 x MUG-3PL, 1 reserved at Fulfil Co"),
        (7, "carrier is empty; shipped_at 'yesterday' is not an ISO 8601 date or time"),
        (8, "shipped_at '2027-01-01' is in the future"),
    ]
    assert "nothing applied" in str(caught.value)
    assert db.scalar(select(func.count()).select_from(Shipment).where(Shipment.location_id == hub.id)) == 0
    assert level(db, hub.id, mug.id) == (10, 3)


def test_import_shipment_confirmations_rejects_a_file_without_the_columns(db, three_pl):
    hub, *_ = three_pl
    with pytest.raises(InvalidImport) as caught:
        import_shipment_confirmations(db, hub.id, "order,sku,qty\nCD-1,MUG,1\n", actor=ACTOR, now=NOW)
    assert str(caught.value.errors[0]).startswith(
        "line 1: missing column(s): order_number, quantity, carrier"
    )
    with pytest.raises(InvalidImport, match="the file is empty"):
        import_shipment_confirmations(db, hub.id, "", actor=ACTOR, now=NOW)


def test_import_shipment_confirmations_ships_parcels_and_is_idempotent(db, three_pl):
    hub, first, second, mug, cap = three_pl
    text = _confirmations(
        f"{first.number},MUG-3PL,2,UPS,1ZIMPORT00000001,2026-11-20T15:00:00Z",
        f"{first.number},cap-3pl,1,UPS,1ZIMPORT00000001,2026-11-20T15:00:00Z",
        f"{second.number},MUG-3PL,1,usps,9400 1118 9922 3197 4284 90,2026-11-20",
    )
    result = import_shipment_confirmations(db, hub.id, text, actor="3pl-import", now=NOW + timedelta(hours=6))
    assert (result.rows, len(result.shipments), result.already_applied) == (3, 2, 0)
    assert (first.status, second.status) == ("shipped", "shipped")
    parcels = db.scalars(select(Shipment).where(Shipment.location_id == hub.id).order_by(Shipment.id)).all()
    assert [(p.order_id, p.carrier, p.tracking_number, p.shipped_at) for p in parcels] == [
        (first.id, "UPS", "1ZIMPORT00000001", datetime(2026, 11, 20, 15, tzinfo=UTC)),
        (second.id, "USPS", "9400111899223197428490", datetime(2026, 11, 20, tzinfo=UTC)),
    ]
    assert level(db, hub.id, mug.id) == (7, 0) and level(db, hub.id, cap.id) == (9, 0)
    again = import_shipment_confirmations(db, hub.id, text, actor="3pl-import", now=NOW + timedelta(hours=7))
    assert (again.shipments, again.already_applied) == ((), 3)
    assert (
        db.scalar(
            select(func.count())
            .select_from(ShipmentLine)
            .join(Shipment, Shipment.id == ShipmentLine.shipment_id)
            .where(Shipment.location_id == hub.id)
        )
        == 3
    )
    assert verify_ledger(db) == []


def test_confirm_dropship_shipment_clicked_twice_at_once_ships_once(committed_factory):
    with committed_factory() as session:
        channel = make_channel(session)
        supplier = make_location(
            session, kind="dropship", fulfillment_method="dropship", email="po@x.example"
        )
        link(session, channel, supplier)
        kettle = make_sku(session, dropship_location_id=supplier.id)
        make_stock(session, supplier, kettle.id, 5)
        order = make_confirmed_order(session, channel, [(kettle.id, 1)])
        session.commit()
        order_id, supplier_id, kettle_id = order.id, supplier.id, kettle.id
    token = make_dropship_token(SECRET, order_id, supplier_id, now=NOW)

    def confirm(session):
        return confirm_dropship_shipment(
            session, token, secret=SECRET, carrier="UPS", tracking_number="1ZCLICKTWICE0001", now=NOW
        ).id

    shipment_ids = run_at_once(committed_factory, confirm, 4)

    assert len(set(shipment_ids)) == 1
    with committed_factory() as session:
        assert level(session, supplier_id, kettle_id) == (4, 0)
        assert (
            session.scalar(
                select(func.count())
                .select_from(StockMovement)
                .where(StockMovement.order_id == order_id, StockMovement.kind == "shipment")
            )
            == 1
        )
        assert verify_ledger(session) == []
