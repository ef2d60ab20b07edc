"""Shopify REST Admin API orders -> canonical orders, checked against the public order.json sample."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from core.channels import shopify
from core.channels.canonical import ChannelStatus
from core.errors import PayloadError

SAMPLES = Path(__file__).resolve().parents[3] / ".." / "shared" / "data" / "channels" / "shopify"


def _sample() -> dict:
    """The published single-order response, {"order": {...}}."""
    return json.loads((SAMPLES / "order.json").read_text(encoding="utf-8"))


def _order() -> dict:
    return copy.deepcopy(_sample()["order"])


def _adapt(native: dict):
    return shopify.adapt(native)


def test_shopify_sample_order_field_by_field():
    sample = _sample()["order"]
    [result] = shopify.extract([_sample()])
    order = result.order
    assert result.error is None
    assert result.native == sample
    assert order.channel_kind == "shopify"
    assert order.external_id == str(sample["id"]) == "450789469"
    assert order.number == sample["name"] == "#1001"
    assert order.placed_at == datetime.fromisoformat(sample["created_at"])
    assert order.placed_at == datetime(2008, 1, 10, 16, 0, tzinfo=UTC)
    assert order.placed_at.utcoffset().total_seconds() == -5 * 3600
    assert order.updated_at == datetime.fromisoformat(sample["updated_at"])
    assert order.currency == sample["currency"] == "USD"
    # financial_status "authorized", not yet fulfilled: paid (authorised), ready to fulfil.
    assert order.status is ChannelStatus.PAID
    assert order.raw_status == "authorized/unfulfilled"
    assert order.subtotal == 39800
    assert order.discount_total == 0
    assert order.shipping_total == 0
    assert order.tax_total == 1194
    assert order.total == 40994
    assert order.refunded_total == 0
    assert order.shipping_method == "Free Shipping"
    assert order.source == "web"
    assert order.note is None
    assert order.fulfilled_by_channel is False
    assert order.warnings == ()


def test_shopify_sample_lines_field_by_field():
    sample = _sample()["order"]
    order = shopify.extract([_sample()])[0].order
    assert len(order.lines) == len(sample["line_items"]) == 3
    for line, raw in zip(order.lines, sample["line_items"], strict=True):
        assert line.external_id == str(raw["id"])
        assert line.channel_sku == raw["sku"]
        assert line.title == raw["name"]
        assert line.quantity == raw["quantity"] == 1
        assert line.unit_price == 19900
        assert line.discount == 0
        assert line.total == 19900
    assert [line.channel_sku for line in order.lines] == ["IPOD2008GREEN", "IPOD2008RED", "IPOD2008BLACK"]


def test_shopify_sample_buyer_and_addresses():
    order = shopify.extract([_sample()])[0].order
    assert order.buyer.email == "bob.norman@hostmail.com"
    assert order.buyer.name == "Bob Norman"
    assert order.buyer.external_id == "207119551"
    assert order.buyer.phone == "555-625-1199"
    assert order.buyer.email_is_relay is False
    address = order.shipping_address
    assert (address.name, address.line1, address.line2, address.city) == (
        "Bob Norman",
        "Chestnut Street 92",
        None,
        "Louisville",
    )
    assert (address.region, address.postal_code, address.country) == ("KY", "40202", "US")
    assert order.billing_address == address


def test_shopify_sample_failed_fulfillment_is_no_shipment():
    # The sample's only fulfillment has status "failure": nothing left the warehouse.
    assert _sample()["order"]["fulfillments"][0]["status"] == "failure"
    assert shopify.extract([_sample()])[0].order.shipments == ()


def test_shopify_extract_reads_bare_order_webhook_body_and_orders_list():
    native = _order()
    second = _order()
    second["id"] = 450789470
    second["name"] = "#1002"
    results = shopify.extract([native, {"orders": [native, second]}, [second]])
    assert [r.order.external_id for r in results] == ["450789469", "450789469", "450789470", "450789470"]
    assert all(r.error is None for r in results)


def test_shopify_extract_reads_json_text():
    [result] = shopify.extract([(SAMPLES / "order.json").read_text(encoding="utf-8")])
    assert result.order.external_id == "450789469"


def test_shopify_refunded_order_sums_successful_refund_transactions():
    native = _order()
    native["financial_status"] = "refunded"
    native["refunds"] = [
        {
            "id": 1,
            "transactions": [
                {"kind": "refund", "status": "success", "amount": "400.00"},
                {"kind": "refund", "status": "failure", "amount": "9.94"},
            ],
        },
        {"id": 2, "transactions": [{"kind": "refund", "status": "success", "amount": "9.94"}]},
    ]
    order = _adapt(native)
    assert order.status is ChannelStatus.REFUNDED
    assert order.refunded_total == 40994
    assert order.raw_status == "refunded/unfulfilled"


def test_shopify_partially_refunded_order_stays_paid():
    native = _order()
    native["financial_status"] = "partially_refunded"
    native["refunds"] = [{"transactions": [{"kind": "refund", "status": "success", "amount": "10.00"}]}]
    order = _adapt(native)
    assert order.status is ChannelStatus.PAID
    assert order.refunded_total == 1000


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"cancelled_at": "2008-01-11T09:00:00-05:00"}, ChannelStatus.CANCELLED),
        ({"financial_status": "voided"}, ChannelStatus.CANCELLED),
        ({"financial_status": "paid", "fulfillment_status": "fulfilled"}, ChannelStatus.SHIPPED),
        ({"financial_status": "paid", "fulfillment_status": "partial"}, ChannelStatus.PAID),
        ({"financial_status": "partially_paid"}, ChannelStatus.PAID),
        ({"financial_status": "pending"}, ChannelStatus.PENDING),
        ({"financial_status": None}, ChannelStatus.PENDING),
        (
            {"financial_status": "refunded", "cancelled_at": "2008-01-11T09:00:00-05:00"},
            ChannelStatus.REFUNDED,
        ),
    ],
)
def test_shopify_status_mapping(changes, expected):
    native = _order()
    native.update(changes)
    assert _adapt(native).status is expected


def test_shopify_cancelled_order_raw_status_says_cancelled():
    native = _order()
    native["cancelled_at"] = "2008-01-11T09:00:00-05:00"
    assert _adapt(native).raw_status == "authorized/unfulfilled/cancelled"


def test_shopify_unknown_financial_status_waits_as_pending_with_warning():
    native = _order()
    native["financial_status"] = "mystery"
    order = _adapt(native)
    assert order.status is ChannelStatus.PENDING
    assert "unknown order status 'mystery'" in order.warnings


def test_shopify_shipped_order_has_one_shipment_per_tracking_number():
    native = _order()
    native["fulfillment_status"] = "fulfilled"
    native["fulfillments"][0].update(
        status="success",
        tracking_company="UPS",
        tracking_numbers=["1Z2345", "1Z2346"],
        tracking_number="1Z2345",
    )
    order = _adapt(native)
    assert order.status is ChannelStatus.SHIPPED
    assert [(s.carrier, s.tracking_number) for s in order.shipments] == [("UPS", "1Z2345"), ("UPS", "1Z2346")]
    assert order.shipments[0].shipped_at == datetime.fromisoformat("2014-01-22T15:58:27-05:00")


def test_shopify_instagram_order_keeps_its_source():
    native = _order()
    native["source_name"] = "instagram"
    assert _adapt(native).source == "instagram"


def test_shopify_missing_shipping_address_is_a_warning():
    native = _order()
    native["shipping_address"] = None
    order = _adapt(native)
    assert order.shipping_address is None
    assert order.warnings == ("missing shipping address",)


def test_shopify_pos_or_digital_order_needs_no_address():
    pos = _order()
    pos["shipping_address"] = None
    pos["source_name"] = "pos"
    assert _adapt(pos).warnings == ()
    digital = _order()
    del digital["shipping_address"]
    for item in digital["line_items"]:
        item["requires_shipping"] = False
    assert _adapt(digital).warnings == ()


def test_shopify_cancelled_order_without_address_is_not_held():
    native = _order()
    native["shipping_address"] = None
    native["cancelled_at"] = "2008-01-11T09:00:00-05:00"
    assert _adapt(native).warnings == ()


def test_shopify_missing_buyer_is_read_as_unknown():
    native = _order()
    for key in ("customer", "email", "billing_address"):
        native.pop(key)
    native["shipping_address"]["phone"] = None
    native["shipping_address"]["name"] = None
    native["shipping_address"]["first_name"] = None
    native["shipping_address"]["last_name"] = None
    buyer = _adapt(native).buyer
    assert (buyer.name, buyer.email, buyer.phone, buyer.external_id) == (None, None, None, None)


def test_shopify_line_without_sku_falls_back_to_variant():
    native = _order()
    native["line_items"][0]["sku"] = ""
    native["line_items"][1]["sku"] = None
    native["line_items"][1]["variant_id"] = None
    order = _adapt(native)
    assert order.lines[0].channel_sku == "variant:39072856"
    assert order.lines[1].channel_sku is None
    assert len(order.lines) == 3
    assert order.warnings == ("line 2 has no SKU",)


def test_shopify_prefers_shop_money_sets_over_plain_fields():
    native = _order()
    native["currency"] = "EUR"
    native["total_price_set"] = {
        "shop_money": {"amount": "380.00", "currency_code": "EUR"},
        "presentment_money": {"amount": "409.94", "currency_code": "USD"},
    }
    native["line_items"][0]["price_set"] = {"shop_money": {"amount": "180.00", "currency_code": "EUR"}}
    native["total_shipping_price_set"] = {"shop_money": {"amount": "5.00", "currency_code": "EUR"}}
    order = _adapt(native)
    assert order.currency == "EUR"
    assert order.total == 38000
    assert order.lines[0].unit_price == 18000
    assert order.shipping_total == 500


def test_shopify_line_discount_and_tax_from_allocations_and_tax_lines():
    native = _order()
    native["line_items"][0]["discount_allocations"] = [
        {"amount": "10.00", "amount_set": {"shop_money": {"amount": "10.00", "currency_code": "USD"}}},
        {"amount": "5.00"},
    ]
    native["line_items"][0]["tax_lines"] = [{"price": "11.04", "rate": 0.06, "title": "State Tax"}]
    native["line_items"][1]["total_discount"] = "2.50"
    order = _adapt(native)
    assert (order.lines[0].discount, order.lines[0].tax, order.lines[0].total) == (1500, 1104, 18400)
    assert (order.lines[1].discount, order.lines[1].total) == (250, 19650)


def test_shopify_country_name_and_alpha3_are_normalised():
    native = _order()
    native["shipping_address"].pop("country_code")
    native["shipping_address"]["country"] = "Germany"
    native["billing_address"]["country_code"] = "DEU"
    order = _adapt(native)
    assert order.shipping_address.country == "DE"
    assert order.billing_address.country == "DE"


def test_shopify_unknown_country_is_a_warning():
    native = _order()
    native["shipping_address"]["country_code"] = None
    native["shipping_address"]["country"] = "Narnia"
    order = _adapt(native)
    assert order.shipping_address.country is None
    assert order.warnings == ("unknown country 'Narnia'",)


def test_shopify_unknown_currency_is_an_error():
    native = _order()
    native["currency"] = "XX"
    with pytest.raises(PayloadError, match="unknown currency 'XX'"):
        _adapt(native)
    [result] = shopify.extract([{"order": native}])
    assert result.order is None
    assert result.error == "unknown currency 'XX'"
    assert result.native == native


def test_shopify_order_without_id_is_an_error():
    native = _order()
    del native["id"]
    assert shopify.extract([native])[0].error == "id: missing"


def test_shopify_bad_order_in_a_list_does_not_stop_the_others():
    bad = _order()
    bad["created_at"] = "not a time"
    results = shopify.extract([{"orders": [bad, _order(), "junk"]}])
    assert results[0].error == "created_at: not a time: 'not a time'"
    assert results[1].order.external_id == "450789469"
    assert results[2].error == "an order must be a JSON object, not str"


def test_shopify_refund_document_holds_no_order():
    refund = {"refund": {"id": 509562969, "order_id": 450789469, "refund_line_items": [], "transactions": []}}
    [result] = shopify.extract([refund])
    assert result.order is None
    assert result.native == refund
    assert result.error.startswith("no order found in document: expected a Shopify order")


def test_shopify_non_json_text_holds_no_order():
    [result] = shopify.extract(["<html>"])
    assert result.native == {}
    assert result.error.startswith("no order found in document: not JSON")
