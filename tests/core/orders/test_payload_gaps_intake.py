"""Intake keeps an order whose payload lacks its lines or creation time: created on hold with the reason
(not rejected), completed and released by the full payload; a partial payload about an order we hold
complete updates the rest and keeps the lines and amounts."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from core.catalog.services import add_listing
from core.orders import intake
from core.orders.models import InboundPayload, Order
from tests.factories import NOW, make_channel, make_sku
from tests.fixtures import channel_json
from tests.inventory_factories import link, make_location, make_stock

PARTIAL = {
    "orders": [
        {
            "id": 6012345678901,
            "name": "#1042",
            "financial_status": "paid",
            "updated_at": "2025-01-01T00:00:00Z",
        }
    ]
}


def ingest(db, channel, document, *, now=NOW):
    payload, _ = intake.store_payload(db, channel, json.dumps(document), source="import", now=now)
    [(stored, results)] = intake.process_payloads(db, channel, [payload], now=now)
    return stored, results


@pytest.fixture
def shopify(db):
    channel = make_channel(db, code="shopify-gaps", kind="shopify", name="Shopify")
    warehouse = make_location(db, name="Warehouse Gaps")
    link(db, channel, warehouse)
    for variant in ("KETTLE-CU-17", "MUG-ENAMEL-TEAL", "TOWEL-LIGHTHOUSE"):
        sku = make_sku(db, code=f"GAP-{variant}")
        add_listing(db, channel, variant, sku.code, now=NOW)
        make_stock(db, warehouse, sku.id, 5)
    return channel


def test_partial_payload_creates_the_order_on_hold_with_the_reasons(db, shopify) -> None:
    payload, [result] = ingest(db, shopify, PARTIAL)
    assert result.status == "needs_attention" and result.order_id
    assert payload.status == "needs_attention"
    order = db.get(Order, result.order_id)
    assert order.status == "on_hold" and order.lines == []
    assert "order lines not in the payload (line_items missing or empty)" in order.hold_reason
    assert "created_at missing: creation time unknown" in order.hold_reason
    assert "unknown currency 'XXX'" in order.hold_reason
    assert order.placed_at == NOW  # the time received stands in


def test_full_payload_completes_and_releases_a_partial_order(db, shopify) -> None:
    _, [first] = ingest(db, shopify, PARTIAL)
    full = channel_json("shopify", "order.json")
    _, [second] = ingest(db, shopify, full, now=NOW + timedelta(minutes=1))
    assert second.order_id == first.order_id
    order = db.get(Order, first.order_id)
    assert order.hold_reason is None and order.status == "confirmed"
    assert len(order.lines) == 3 and order.total == 15565 and order.currency == "USD"
    assert order.placed_at.isoformat().startswith(full["order"]["created_at"][:10])


def test_partial_payload_for_a_complete_order_keeps_lines_and_amounts(db, shopify) -> None:
    full = channel_json("shopify", "order.json")
    _, [first] = ingest(db, shopify, full)
    order = db.get(Order, first.order_id)
    placed, lines_before = order.placed_at, [(line.channel_sku, line.quantity) for line in order.lines]
    partial = json.loads(json.dumps(PARTIAL))
    partial["orders"][0]["currency"] = "USD"
    partial["orders"][0]["updated_at"] = "2030-01-01T00:00:00Z"
    _, [second] = ingest(db, shopify, partial, now=NOW + timedelta(minutes=1))
    db.expire_all()
    order = db.get(Order, first.order_id)
    assert second.status in ("updated", "duplicate")
    assert order.status == "confirmed" and order.hold_reason is None
    assert [(line.channel_sku, line.quantity) for line in order.lines] == lines_before
    assert order.total == 15565 and order.subtotal == 14000 and order.placed_at == placed


def test_nothing_is_rejected_for_a_gap(db, shopify) -> None:
    payload, results = ingest(db, shopify, {"orders": [{"id": 1, "financial_status": "pending"}]})
    assert [r.status for r in results] == ["needs_attention"]
    assert db.get(InboundPayload, payload.id).status != "rejected"
