"""Every list, search, batch and webhook envelope of each channel is read, and an order a payload holds but
that lacks a field we need (creation time, lines, currency) is kept, with warnings that hold it, instead of
being rejected: nothing a channel sent is lost."""

from __future__ import annotations

import json

import pytest

from core.channels import amazon, bigcommerce, ebay, shopify, square, walmart, woocommerce
from core.channels.base import NO_CURRENCY, is_lines_gap, is_payload_gap
from core.channels.canonical import CanonicalOrder
from tests.fixtures import channel_json


def _orders(module, document) -> list[CanonicalOrder]:
    extracted = module.extract([json.dumps(document)])
    assert all(item.error is None for item in extracted), [item.error for item in extracted]
    return [item.order for item in extracted]


def _held_for_gaps(order: CanonicalOrder, *, lines: bool, created: bool) -> None:
    assert any(is_lines_gap(w) for w in order.warnings) is lines, order.warnings
    assert any("creation time unknown" in w for w in order.warnings) is created, order.warnings
    assert order.lines_complete is not lines
    assert all(is_payload_gap(w) or "currency" in w or "address" in w for w in order.warnings)


# --- Shopify ------------------------------------------------------------------------------------------------


def test_shopify_order_and_orders_envelopes_are_read():
    order = channel_json("shopify", "order.json")
    listed = channel_json("shopify", "orders.json")
    assert [o.external_id for o in _orders(shopify, order)] == ["6012345678901"]
    assert len(_orders(shopify, listed)) == 2
    assert len(_orders(shopify, listed["orders"])) == 2  # a bare list (a webhook batch)


@pytest.mark.parametrize("envelope", [lambda items: {"orders": items}, lambda items: items])
def test_shopify_list_limited_by_a_fields_filter_holds_each_order(envelope):
    # GET /orders.json?fields=id,name,financial_status,updated_at
    items = [
        {
            "id": 6012345680000,
            "name": "#1050",
            "financial_status": "paid",
            "updated_at": "2025-03-01T10:00:00Z",
        }
    ]
    [order] = _orders(shopify, envelope(items))
    assert order.external_id == "6012345680000" and order.number == "#1050"
    assert order.placed_at is None and order.currency == NO_CURRENCY
    _held_for_gaps(order, lines=True, created=True)


def test_shopify_refunds_and_transactions_are_not_orders():
    refund = channel_json("shopify", "refund.json")
    assert all(item.order is None for item in shopify.extract([json.dumps(refund)]))
    transactions = [
        {"id": 1, "order_id": 6012345678901, "kind": "sale", "created_at": "2025-01-01T00:00:00Z"}
    ]
    assert all(item.order is None for item in shopify.extract([json.dumps(transactions)]))


# --- Amazon -------------------------------------------------------------------------------------------------


def test_amazon_v0_orders_list_is_read_and_held_until_items_come():
    orders = _orders(amazon, channel_json("amazon", "getOrders.json"))
    assert len(orders) == 2
    for order in orders:
        assert not order.lines_complete and any(is_lines_gap(w) for w in order.warnings)


def test_amazon_v2026_search_without_creation_time_or_items_holds():
    native = channel_json("amazon", "v2026-01-01_getOrder.json")["order"]
    del native["createdTime"]
    native["orderItems"] = []
    [order] = _orders(amazon, {"orders": [native], "pagination": {}})
    assert order.placed_at is None
    _held_for_gaps(order, lines=True, created=True)


def test_amazon_v0_order_without_purchase_date_holds():
    document = channel_json("amazon", "getOrders.json")
    del document["payload"]["Orders"][0]["PurchaseDate"]
    order = _orders(amazon, document)[0]
    assert order.placed_at is None and any("PurchaseDate missing" in w for w in order.warnings)


# --- eBay ---------------------------------------------------------------------------------------------------


def test_ebay_get_orders_and_search_results_envelope_read_each_order():
    document = channel_json("ebay", "getOrders.json")
    assert len(_orders(ebay, document)) == 3
    assert len(_orders(ebay, document["orders"][0])) == 1  # a single getOrder


def test_ebay_order_without_creation_date_or_line_items_holds():
    document = channel_json("ebay", "getOrders.json")
    del document["orders"][0]["creationDate"]
    del document["orders"][0]["lineItems"]
    order = _orders(ebay, document)[0]
    assert order.currency == "USD"  # from the pricing summary
    _held_for_gaps(order, lines=True, created=True)


# --- WooCommerce --------------------------------------------------------------------------------------------


def test_woocommerce_batch_response_reads_created_and_updated_orders():
    order = channel_json("woocommerce", "order.json")
    updated = {**order, "id": 1319, "number": "1319"}
    deleted = {**order, "id": 1320, "number": "1320", "status": "trash"}
    batch = {"create": [order], "update": [updated], "delete": [deleted]}
    assert [o.external_id for o in _orders(woocommerce, batch)] == ["1318", "1319"]


def test_woocommerce_batch_item_error_is_reported_with_its_message():
    batch = {
        "create": [channel_json("woocommerce", "order.json")],
        "update": [
            {"id": 99, "error": {"code": "woocommerce_rest_shop_order_invalid_id", "message": "Invalid ID."}}
        ],
    }
    created, failed = woocommerce.extract([json.dumps(batch)])
    assert created.order is not None and created.order.external_id == "1318"
    assert failed.order is None
    assert (
        failed.error
        == "the batch could not save order 99: woocommerce_rest_shop_order_invalid_id: Invalid ID."
    )


def test_woocommerce_legacy_envelopes_are_read():
    order = channel_json("woocommerce", "order.json")
    assert len(_orders(woocommerce, {"order": order})) == 1
    assert len(_orders(woocommerce, {"orders": [order]})) == 1


def test_woocommerce_list_limited_by_fields_holds_each_order():
    # GET /wp-json/wc/v3/orders?_fields=id,status,currency
    [order] = _orders(woocommerce, [{"id": 1400, "status": "processing", "currency": "USD"}])
    _held_for_gaps(order, lines=True, created=True)


def test_woocommerce_refunds_list_holds_no_order():
    refunds = [
        {
            "id": 726,
            "date_created": "2025-01-01T00:00:00",
            "amount": "10.00",
            "refunded_by": 1,
            "line_items": [],
        }
    ]
    assert all(item.order is None for item in woocommerce.extract([json.dumps(refunds)]))


# --- Square -------------------------------------------------------------------------------------------------


def test_square_search_orders_without_lines_or_creation_time_holds():
    native = channel_json("square", "order.json")["order"]
    del native["line_items"]
    del native["created_at"]
    [order] = _orders(square, {"orders": [native], "cursor": "abc"})
    _held_for_gaps(order, lines=True, created=True)


# --- Walmart ------------------------------------------------------------------------------------------------


def test_walmart_list_elements_order_without_date_or_lines_holds():
    document = channel_json("walmart", "getAllOrders.json")
    native = document["list"]["elements"]["order"][0]
    del native["orderDate"]
    native["orderLines"] = {"orderLine": []}
    order = _orders(walmart, document)[0]
    assert order.currency == NO_CURRENCY and any("currency missing" in w for w in order.warnings)
    _held_for_gaps(order, lines=True, created=True)


# --- BigCommerce --------------------------------------------------------------------------------------------


def test_bigcommerce_list_order_without_creation_date_holds():
    document = channel_json("bigcommerce", "orders.json")
    del document[0]["date_created"]
    order = _orders(bigcommerce, document)[0]
    assert order.placed_at is None and any("date_created missing" in w for w in order.warnings)
    assert not order.lines_complete  # its products are a link, not yet fetched
