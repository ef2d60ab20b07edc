"""Charges, taxes-included and removed units are stored with the order by intake, updated by a newer payload,
and given in the canonical JSON."""

from __future__ import annotations

import json
from datetime import timedelta

from sqlalchemy import select

from core.channels.canonical import expected_total
from core.orders import intake
from core.orders.models import Order, OrderLine
from core.orders.queries import canonical_order_json
from tests.factories import NOW, make_channel
from tests.fixtures import channel_json


def _ingest(db, channel, document, *, now=NOW):
    payload, _ = intake.store_payload(db, channel, json.dumps(document), source="webhook", now=now)
    [(_stored, results)] = intake.process_payloads(db, channel, [payload], now=now)
    return results


def _woo_with_fees() -> dict:
    native = channel_json("woocommerce", "order.json")
    native["fee_lines"] = [{"id": 9, "name": "Gift wrap", "total": "3.00", "total_tax": "0.25"}]
    native["total_tax"] = "3.76"
    native["total"] = "56.21"
    return native


def test_intake_stores_charges_and_the_stored_order_adds_up(db) -> None:
    channel = make_channel(db, code="woo-charges", kind="woocommerce", name="Woo")
    [result] = _ingest(db, channel, _woo_with_fees())
    order = db.get(Order, result.order_id)
    assert order.charges == [{"kind": "gift_wrap", "title": "Gift wrap", "amount": 300, "tax": 25}]
    assert order.taxes_included is False
    assert expected_total(order) == order.total == 5621
    data = canonical_order_json(db, order)
    assert data["charges"] == [{"kind": "gift_wrap", "title": "Gift wrap", "amount": "3.00", "tax": "0.25"}]
    assert data["charges_total"] == "3.00" and data["taxes_included"] is False


def test_a_newer_payload_updates_the_charges(db) -> None:
    channel = make_channel(db, code="woo-charges-2", kind="woocommerce", name="Woo")
    native = _woo_with_fees()
    [first] = _ingest(db, channel, native)
    native["fee_lines"][0]["total"] = "4.00"
    native["total"] = "57.21"
    native["date_modified"] = "2030-01-01T00:00:00"
    native["date_modified_gmt"] = "2030-01-01T00:00:00"
    [second] = _ingest(db, channel, native, now=NOW + timedelta(minutes=5))
    assert second.order_id == first.order_id and second.status == "needs_attention"  # SKUs unmapped
    order = db.scalar(
        select(Order).where(Order.id == first.order_id).execution_options(populate_existing=True)
    )
    assert order.charges[0]["amount"] == 400 and expected_total(order) == order.total


def test_intake_stores_units_removed_from_a_line(db) -> None:
    channel = make_channel(db, code="shopify-removed", kind="shopify", name="Shopify")
    document = channel_json("shopify", "order.json")
    document["order"]["line_items"][1]["current_quantity"] = 1
    document["order"]["total_price"] = "141.15"
    [result] = _ingest(db, channel, document)
    removed = db.scalars(
        select(OrderLine.quantity_removed)
        .where(OrderLine.order_id == result.order_id)
        .order_by(OrderLine.line_no)
    ).all()
    assert removed == [0, 1, 0]
    order = db.get(Order, result.order_id)
    assert order.charges == [
        {"kind": "removed", "title": "1 unit(s) removed after ordering", "amount": -1450, "tax": 0}
    ]
    assert expected_total(order) == order.total
    assert canonical_order_json(db, order)["lines"][1]["removed_quantity"] == 1
