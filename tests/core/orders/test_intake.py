"""Channel intake: raw payload stored first, idempotent upserts, holds that release, stale updates ignored."""

from __future__ import annotations

import copy
import json
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from core.catalog.services import add_listing
from core.customers.models import Customer
from core.orders import intake, statements, upsert
from core.orders.models import Allocation, InboundPayload, Order, OrderEvent
from tests.factories import NOW, make_channel, make_sku
from tests.fixtures import CHANNELS
from tests.inventory_factories import link, make_location, make_stock


def sample(path: str) -> dict:
    return json.loads((CHANNELS / path).read_text())


def ingest(db, channel, document, *, now=NOW, delivery_id=None):
    body = document if isinstance(document, str) else json.dumps(document)
    payload, is_new = intake.store_payload(
        db, channel, body, source="webhook", now=now, delivery_id=delivery_id
    )
    if not is_new:
        return payload, []
    [(stored, results)] = intake.process_payloads(db, channel, [payload], now=now)
    return stored, results


def stock_of(db, order) -> list[tuple[int, int]]:
    """(on_hand, reserved) of every stock level holding the order's SKUs."""
    from core.inventory.models import StockLevel

    sku_ids = [line.sku_id for line in order.lines]
    return [
        tuple(r)
        for r in db.execute(
            select(StockLevel.on_hand, StockLevel.reserved).where(StockLevel.sku_id.in_(sku_ids))
        )
    ]


def order_count(db) -> int:
    return db.scalar(select(func.count()).select_from(Order))


@pytest.fixture
def shopify(db):
    """A Shopify channel with listings for the fixture order's SKUs and 5 units of each in its warehouse."""
    channel = make_channel(db, code="shopify-x", kind="shopify", name="Shopify")
    warehouse = make_location(db, name="Warehouse East")
    link(db, channel, warehouse)
    for variant in ("KETTLE-CU-17", "MUG-ENAMEL-TEAL", "TOWEL-LIGHTHOUSE"):
        sku = make_sku(db, code=f"OUR-{variant}")
        add_listing(db, channel, variant, sku.code, now=NOW)
        make_stock(db, warehouse, sku.id, 5)
    return channel


def test_ingest_order_creates_order_with_lines_customer_and_timeline(db, shopify) -> None:
    payload, [result] = ingest(db, shopify, sample("shopify/order.json"))
    native = sample("shopify/order.json")["order"]
    assert (result.status, result.external_id) == ("created", str(native["id"]))
    order = db.get(Order, result.order_id)
    assert order.status == "confirmed" and order.number.startswith("CD-")
    assert [line.channel_sku for line in order.lines] == [item["sku"] for item in native["line_items"]]
    assert all(line.sku_id for line in order.lines)
    assert order.total == 15565 and order.currency == "USD"
    assert order.customer.email == native["email"]
    assert [e.kind for e in order.events] == ["placed", "allocated", "status_changed"]
    assert "Warehouse East" in order.events[1].message
    assert payload.status == "processed" and payload.order_id == order.id and payload.body
    assert sorted(stock_of(db, order)) == [(5, 1), (5, 1), (5, 2)]  # two mugs


def test_ingest_same_payload_twice_gives_one_order(db, shopify) -> None:
    ingest(db, shopify, sample("shopify/order.json"))
    _payload, [again] = ingest(db, shopify, sample("shopify/order.json"))
    assert again.status == "duplicate"
    assert order_count(db) == 1
    assert db.scalar(select(func.count()).select_from(InboundPayload)) == 2


def test_ingest_repeated_delivery_id_is_not_processed_again(db, shopify) -> None:
    ingest(db, shopify, sample("shopify/order.json"), delivery_id="d-1")
    payload, results = ingest(db, shopify, sample("shopify/order.json"), delivery_id="d-1")
    assert results == [] and payload.status == "processed"
    assert db.scalar(select(func.count()).select_from(InboundPayload)) == 1


def test_ingest_cancellation_update_cancels_and_logs(db, shopify) -> None:
    doc = sample("shopify/order.json")
    _p, [created] = ingest(db, shopify, doc)
    update = copy.deepcopy(doc)
    update["order"]["cancelled_at"] = "2025-03-15T09:00:00-04:00"
    update["order"]["updated_at"] = "2025-03-15T09:00:00-04:00"
    _p, [result] = ingest(db, shopify, update)
    order = db.get(Order, created.order_id)
    assert result.status == "updated" and order.status == "cancelled"
    changes = db.scalars(
        select(OrderEvent).where(OrderEvent.order_id == order.id, OrderEvent.kind == "status_changed")
    ).all()
    assert [(c.from_status, c.to_status) for c in changes] == [
        ("pending", "confirmed"),
        ("confirmed", "cancelled"),
    ]
    assert all(reserved == 0 for _on_hand, reserved in stock_of(db, order))


def test_ingest_address_change_updates_and_logs(db, shopify) -> None:
    doc = sample("shopify/order.json")
    _p, [created] = ingest(db, shopify, doc)
    update = copy.deepcopy(doc)
    update["order"]["shipping_address"]["address1"] = "1 New Street"
    update["order"]["updated_at"] = "2025-03-16T12:00:00-04:00"
    ingest(db, shopify, update)
    order = db.get(Order, created.order_id)
    assert order.shipping_address["line1"] == "1 New Street"
    assert "address_changed" in [e.kind for e in order.events]


def test_ingest_older_update_is_recorded_and_ignored(db, shopify) -> None:
    doc = sample("shopify/order.json")
    newer = copy.deepcopy(doc)
    newer["order"]["updated_at"] = "2030-01-01T00:00:00Z"
    _p, [created] = ingest(db, shopify, newer)
    older = copy.deepcopy(doc)
    older["order"]["cancelled_at"] = "2025-03-15T09:00:00-04:00"
    older["order"]["updated_at"] = "2029-12-31T00:00:00Z"
    _p, [result] = ingest(db, shopify, older)
    order = db.get(Order, created.order_id)
    assert result.status == "stale" and order.status == "confirmed"
    assert "stale_update_ignored" in [e.kind for e in order.events]


def test_ingest_update_for_unseen_order_creates_it(db, shopify) -> None:
    doc = sample("shopify/order.json")
    doc["order"]["cancelled_at"] = "2025-03-15T09:00:00-04:00"
    _p, [result] = ingest(db, shopify, doc)
    assert result.status == "created"
    assert db.get(Order, result.order_id).status == "cancelled"


def test_ingest_unmapped_sku_holds_order_until_listing_added(db) -> None:
    channel = make_channel(db, kind="shopify")
    _p, [result] = ingest(db, channel, sample("shopify/order.json"))
    order = db.get(Order, result.order_id)
    assert result.status == "needs_attention" and order.status == "on_hold"
    assert "unmapped channel SKU: KETTLE-CU-17, MUG-ENAMEL-TEAL, TOWEL-LIGHTHOUSE" in order.hold_reason
    assert [line.sku_id for line in order.lines] == [None, None, None]
    for variant in ("KETTLE-CU-17", "MUG-ENAMEL-TEAL"):
        add_listing(db, channel, variant, make_sku(db, code=f"X-{variant}").code, now=NOW)
    assert upsert.reprocess_held_orders(db, channel.id, now=NOW, actor="ops") == []
    assert order.hold_reason == "unmapped channel SKU: TOWEL-LIGHTHOUSE"
    add_listing(db, channel, "TOWEL-LIGHTHOUSE", make_sku(db, code="X-TOWEL").code, now=NOW)
    assert upsert.reprocess_held_orders(db, channel.id, now=NOW, actor="ops") == [order.id]
    assert order.status == "backordered" and order.hold_reason is None  # paid; released, but no stock yet


def test_ingest_paid_order_without_stock_is_backordered(db) -> None:
    channel = make_channel(db, kind="shopify")
    for variant in ("KETTLE-CU-17", "MUG-ENAMEL-TEAL", "TOWEL-LIGHTHOUSE"):
        add_listing(db, channel, variant, make_sku(db, code=f"B-{variant}").code, now=NOW)
    _p, [result] = ingest(db, channel, sample("shopify/order.json"))
    assert result.status == "created" and db.get(Order, result.order_id).status == "backordered"


def test_ingest_unpaid_order_stays_pending_without_reserving(db, shopify) -> None:
    doc = sample("shopify/order.json")
    doc["order"]["financial_status"] = "pending"
    _p, [result] = ingest(db, shopify, doc)
    order = db.get(Order, result.order_id)
    assert order.status == "pending" and all(reserved == 0 for _h, reserved in stock_of(db, order))


def test_ingest_channel_fulfilled_order_is_confirmed_without_stock(db) -> None:
    channel = make_channel(db, kind="amazon", name="Amazon")
    doc = json.loads((CHANNELS / "amazon" / "v2026-01-01_getOrder.json").read_text())
    native = doc["order"]
    for item in native["orderItems"]:
        add_listing(db, channel, item["product"]["sellerSku"], make_sku(db).code, now=NOW)
    native["fulfillment"]["fulfilledBy"] = "AMAZON"
    _p, [result] = ingest(db, channel, doc)
    order = db.get(Order, result.order_id)
    assert order.fulfilled_by_channel is True and order.status == "confirmed"
    assert not any(e.kind == "allocated" for e in order.events)
    assert "nothing is allocated from our stock" in order.events[-1].message


def test_ingest_unknown_currency_holds_order(db, shopify) -> None:
    doc = sample("shopify/order.json")
    doc["order"]["currency"] = "ZZZ"
    _p, [result] = ingest(db, shopify, doc)
    assert result.status == "needs_attention"
    assert "unknown currency 'ZZZ'" in db.get(Order, result.order_id).hold_reason


def test_ingest_missing_address_holds_order_and_keeps_it_on_release(db, shopify) -> None:
    doc = sample("shopify/order.json")
    del doc["order"]["shipping_address"]
    _p, [result] = ingest(db, shopify, doc)
    order = db.get(Order, result.order_id)
    assert "missing shipping address" in order.hold_reason
    assert upsert.reprocess_held_orders(db, shopify.id, now=NOW, actor="ops") == []
    assert order.status == "on_hold"


def test_ingest_rejects_unreadable_order_with_reason_and_keeps_payload(db, shopify) -> None:
    payload, [result] = ingest(
        db, shopify, {"order": {"id": 5, "created_at": "not a time", "currency": "USD"}}
    )
    assert result.status == "rejected" and result.error
    assert payload.status == "rejected" and payload.error and payload.body
    assert order_count(db) == 0


def test_ingest_document_without_order_is_rejected(db, shopify) -> None:
    payload, results = ingest(db, shopify, {"hello": "world"})
    assert payload.status == "rejected" and "no order found" in payload.error
    assert [r.status for r in results] == ["rejected"]


def test_ingest_amazon_v0_joins_items_given_in_the_same_call(db) -> None:
    channel = make_channel(db, kind="amazon")
    bodies = [(CHANNELS / "amazon" / name).read_text() for name in ("getOrders.json", "getOrderItems.json")]
    payloads = [intake.store_payload(db, channel, b, source="import", now=NOW)[0] for b in bodies]
    outcome = intake.process_payloads(db, channel, payloads, now=NOW)
    items = json.loads(bodies[1])["payload"]
    order = db.scalar(select(Order).where(Order.external_id == items["AmazonOrderId"]))
    assert [line.channel_sku for line in order.lines] == [i["SellerSKU"] for i in items["OrderItems"]]
    assert [r.external_id for r in outcome[1][1]] == [items["AmazonOrderId"]]
    assert outcome[1][0].status != "rejected"


def test_ingest_same_buyer_on_two_channels_is_one_customer(db, shopify) -> None:
    ingest(db, shopify, sample("shopify/order.json"))
    web = make_channel(db, kind="shopify", code="insta", name="Instagram")
    doc = sample("shopify/order.json")
    doc["order"]["id"] = 999
    ingest(db, web, doc)
    assert db.scalar(select(func.count()).select_from(Customer)) == 1


def test_ingest_relay_email_is_not_the_customers_email(db) -> None:
    channel = make_channel(db, kind="shopify")
    doc = sample("shopify/order.json")
    doc["order"]["email"] = "abc123@marketplace.amazon.com"
    _p, [result] = ingest(db, channel, doc)
    order = db.get(Order, result.order_id)
    assert order.email == "abc123@marketplace.amazon.com" and order.customer.email is None


@pytest.mark.parametrize(
    ("kind", "files"),
    [
        ("shopify", ["shopify/order.json"]),
        (
            "amazon",
            [
                "amazon/getOrders.json",
                "amazon/getOrderItems.json",
                "amazon/v2026-01-01_getOrder.json",
            ],
        ),
        ("ebay", ["ebay/getOrders.json"]),
        ("woocommerce", ["woocommerce/order.json"]),
        ("square", ["square/order.json"]),
        ("webshop", ["webshop/order.json"]),
        ("pos_csv", ["pos_csv/receipts.csv"]),
    ],
)
def test_every_fixture_ingests_and_replays_as_duplicate(db, kind: str, files: list[str]) -> None:
    _ingests_and_replays_as_duplicate(db, kind, [(CHANNELS / f).read_text() for f in files])


@pytest.mark.parametrize(
    ("kind", "files"),
    [
        ("shopify", ["order.json"]),
        (
            "amazon",
            [
                "getOrders_sandbox_TEST_CASE_200.json",
                "getOrderItems_sandbox_TEST_CASE_200.json",
                "v2026-01-01_getOrder_sandbox_0.json",
            ],
        ),
        ("ebay", ["getOrders_sample_full.json"]),
        ("woocommerce", ["retrieve_order.json"]),
        ("square", ["RetrieveOrderResponse.json"]),
    ],
)
def test_every_public_sample_ingests_and_replays_as_duplicate(
    db, shared_data, kind: str, files: list[str]
) -> None:
    folder = shared_data / "channels" / kind
    _ingests_and_replays_as_duplicate(db, kind, [(folder / f).read_text() for f in files])


def _ingests_and_replays_as_duplicate(db, kind: str, bodies: list[str]) -> None:
    channel = make_channel(db, kind=kind)
    for attempt in ("first", "replay"):
        payloads = [intake.store_payload(db, channel, b, source="import", now=NOW)[0] for b in bodies]
        outcome = intake.process_payloads(db, channel, payloads, now=NOW + timedelta(minutes=1))
        statuses = {r.status for _p, results in outcome for r in results}
        if attempt == "first":
            assert statuses <= {"created", "needs_attention"} and statuses
            count = order_count(db)
        else:
            assert statuses == {"duplicate"}
            assert order_count(db) == count


def test_an_order_with_more_lines_than_one_insert_takes_keeps_every_line(db) -> None:
    channel = make_channel(db, code="webshop-long", kind="webshop", name="Web shop")
    warehouse = make_location(db)
    link(db, channel, warehouse)
    count = statements.LINES_PER_INSERT * 2 + 7
    for n in range(count):
        sku = make_sku(db, code=f"LONG-{n:03d}")
        add_listing(db, channel, sku.code, sku.code, now=NOW)
        make_stock(db, warehouse, sku.id, 3)
    lines = [
        {
            "id": str(n),
            "sku": f"LONG-{n:03d}",
            "title": f"Item {n}",
            "quantity": 1 + n % 2,
            "unit_price": "1.00",
        }
        for n in range(count)
    ]
    subtotal = sum(line["quantity"] for line in lines)
    document = {
        "id": "LONG-1",
        "status": "paid",
        "currency": "USD",
        "placed_at": NOW.isoformat(),
        "customer": {"name": "Long Buyer", "email": "long@example.org"},
        "shipping_address": {"line1": "1 Main St", "city": "Springfield", "country": "US"},
        "shipping": {"method": "standard", "amount": "0.00"},
        "lines": lines,
        "totals": {
            "subtotal": f"{subtotal}.00",
            "discount": "0.00",
            "shipping": "0.00",
            "tax": "0.00",
            "total": f"{subtotal}.00",
        },
    }
    _payload, [result] = ingest(db, channel, document)
    assert result.status == "created", result
    order = db.get_one(Order, result.order_id)
    assert [(line.line_no, line.channel_sku, line.quantity) for line in order.lines] == [
        (n + 1, f"LONG-{n:03d}", 1 + n % 2) for n in range(count)
    ]
    assert order.status == "confirmed"
    allocated = db.scalars(
        select(Allocation.order_line_id).where(
            Allocation.order_line_id.in_([line.id for line in order.lines])
        )
    ).all()
    assert sorted(allocated) == sorted(line.id for line in order.lines)
