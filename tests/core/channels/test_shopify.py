"""Shopify REST Admin API orders -> canonical orders: our own fixtures field by field (tests/fixtures/),
and the public order.json sample as an extra conformance check when ../shared/data is present."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime

import pytest

from core.channels import shopify
from core.channels.canonical import ChannelStatus
from core.errors import PayloadError
from tests.fixtures import channel_json, channel_text


def _sample() -> dict:
    """Order #1042 as GET /admin/api/2024-10/orders/{id}.json answers it, {"order": {...}}."""
    return channel_json("shopify", "order.json")


def _order() -> dict:
    return copy.deepcopy(_sample()["order"])


def _adapt(native: dict):
    return shopify.adapt(native)


def test_shopify_order_field_by_field():
    sample = _sample()["order"]
    [result] = shopify.extract([_sample()])
    order = result.order
    assert result.error is None
    assert result.native == sample
    assert order.channel_kind == "shopify"
    assert order.external_id == str(sample["id"]) == "6012345678901"
    assert order.number == sample["name"] == "#1042"
    assert order.placed_at == datetime.fromisoformat(sample["created_at"])
    assert order.placed_at == datetime(2025, 3, 14, 13, 26, 53, tzinfo=UTC)
    assert order.placed_at.utcoffset().total_seconds() == -4 * 3600
    assert order.updated_at == datetime.fromisoformat(sample["updated_at"])
    assert order.currency == sample["currency"] == "USD"
    # financial_status "paid", nothing fulfilled yet: paid, ready to fulfil.
    assert order.status is ChannelStatus.PAID
    assert order.raw_status == "paid/unfulfilled"
    assert order.subtotal == 14000
    assert order.discount_total == 0
    assert order.shipping_total == 795  # total_shipping_price_set.shop_money
    assert order.tax_total == 770
    assert order.total == 15565 == 14000 + 795 + 770
    assert order.refunded_total == 0
    assert order.shipping_method == "Standard"
    assert order.source == "web"
    assert order.note == "Please leave the parcel in the porch."
    assert order.fulfilled_by_channel is False
    assert order.warnings == ()


def test_shopify_lines_field_by_field():
    sample = _sample()["order"]
    order = shopify.extract([_sample()])[0].order
    assert len(order.lines) == len(sample["line_items"]) == 3
    for line, raw in zip(order.lines, sample["line_items"], strict=True):
        assert line.external_id == str(raw["id"])
        assert line.channel_sku == raw["sku"]
        assert line.title == raw["name"]
        assert line.quantity == raw["quantity"]
        assert line.discount == 0
    assert [
        (line.channel_sku, line.quantity, line.unit_price, line.tax, line.total) for line in order.lines
    ] == [
        ("KETTLE-CU-17", 1, 8900, 489, 8900),
        ("MUG-ENAMEL-TEAL", 2, 1450, 160, 2900),
        ("TOWEL-LIGHTHOUSE", 1, 2200, 121, 2200),
    ]
    assert order.lines[1].title == "Enamel Mug - Teal"
    assert sum(line.tax for line in order.lines) == order.tax_total


def test_shopify_buyer_and_addresses():
    order = shopify.extract([_sample()])[0].order
    assert order.buyer.email == "marisol.okafor@example.net"
    assert order.buyer.name == "Marisol Okafor"
    assert order.buyer.external_id == "7300112233"
    assert order.buyer.phone == "+1 207-555-0142"  # the customer has none: the billing address's
    assert order.buyer.email_is_relay is False
    address = order.shipping_address
    assert (address.name, address.line1, address.line2, address.city) == (
        "Marisol Okafor",
        "18 Lighthouse Lane",
        None,
        "Portland",
    )
    assert (address.region, address.postal_code, address.country) == ("ME", "04101", "US")
    assert order.billing_address == address


def test_shopify_cancelled_fulfillment_is_no_shipment():
    # The order's only fulfillment was cancelled (the label voided): nothing left the warehouse.
    assert _sample()["order"]["fulfillments"][0]["status"] == "cancelled"
    assert shopify.extract([_sample()])[0].order.shipments == ()


def test_shopify_orders_list_instagram_and_pos_orders_field_by_field():
    instagram, pos = shopify.extract([channel_text("shopify", "orders.json")])
    assert (instagram.error, pos.error) == (None, None)
    order = instagram.order
    assert (order.external_id, order.number, order.source, order.status) == (
        "6012345679100",
        "#1043",
        "instagram",
        ChannelStatus.PAID,
    )
    assert (order.subtotal, order.discount_total, order.shipping_total, order.tax_total, order.total) == (
        3400,
        340,
        500,
        210,
        3770,
    )
    [apron] = order.lines
    assert (apron.channel_sku, apron.unit_price, apron.discount, apron.tax, apron.total) == (
        "APRON-LINEN-RUST",
        3400,
        340,
        210,
        3060,
    )
    assert (order.buyer.name, order.buyer.email) == ("Ingrid Solberg", "ingrid.solberg@example.com")
    assert (order.shipping_address.line2, order.shipping_address.region) == ("Apt 9C", "MN")
    till = pos.order
    # Sold at the till: handed over (fulfilled), no buyer, no address needed.
    assert (till.number, till.source, till.status, till.raw_status) == (
        "#1044",
        "pos",
        ChannelStatus.SHIPPED,
        "paid/fulfilled",
    )
    assert (till.buyer.name, till.buyer.email, till.shipping_address) == (None, None, None)
    assert [(line.channel_sku, line.quantity, line.total) for line in till.lines] == [
        ("CANDLE-BEESWAX-TALL", 3, 3600)
    ]
    assert (till.total, till.warnings) == (3798, ())


def test_shopify_refund_fixture_holds_no_order():
    [result] = shopify.extract([channel_text("shopify", "refund.json")])
    assert result.order is None
    assert result.native["refund"]["order_id"] == 6012345678901
    assert result.error.startswith("no order found in document: expected a Shopify order")


def test_shopify_extract_reads_bare_order_webhook_body_and_orders_list():
    native = _order()
    second = _order()
    second["id"] = 6012345678902
    second["name"] = "#1045"
    results = shopify.extract([native, {"orders": [native, second]}, [second]])
    assert [r.order.external_id for r in results] == [
        "6012345678901",
        "6012345678901",
        "6012345678902",
        "6012345678902",
    ]
    assert all(r.error is None for r in results)


def test_shopify_extract_reads_json_text():
    [result] = shopify.extract([channel_text("shopify", "order.json")])
    assert result.order.external_id == "6012345678901"


def test_shopify_refunded_order_sums_successful_refund_transactions():
    native = _order()
    native["financial_status"] = "refunded"
    native["refunds"] = [
        {
            "id": 1,
            "transactions": [
                {"kind": "refund", "status": "success", "amount": "150.00"},
                {"kind": "refund", "status": "failure", "amount": "5.65"},
            ],
        },
        {"id": 2, "transactions": [{"kind": "refund", "status": "success", "amount": "5.65"}]},
    ]
    order = _adapt(native)
    assert order.status is ChannelStatus.REFUNDED
    assert order.refunded_total == 15565 == order.total
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
        ({"cancelled_at": "2025-03-15T09:00:00-04:00"}, ChannelStatus.CANCELLED),
        ({"financial_status": "voided"}, ChannelStatus.CANCELLED),
        ({"financial_status": "paid", "fulfillment_status": "fulfilled"}, ChannelStatus.SHIPPED),
        ({"financial_status": "paid", "fulfillment_status": "partial"}, ChannelStatus.PAID),
        ({"financial_status": "partially_paid"}, ChannelStatus.PAID),
        ({"financial_status": "pending"}, ChannelStatus.PENDING),
        ({"financial_status": None}, ChannelStatus.PENDING),
        (
            {"financial_status": "refunded", "cancelled_at": "2025-03-15T09:00:00-04:00"},
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
    native["cancelled_at"] = "2025-03-15T09:00:00-04:00"
    assert _adapt(native).raw_status == "paid/unfulfilled/cancelled"


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
    assert order.shipments[0].shipped_at == datetime.fromisoformat("2025-03-14T15:58:02-04:00")


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
    native["cancelled_at"] = "2025-03-15T09:00:00-04:00"
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
    assert order.lines[0].channel_sku == "variant:45100200300401"
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
    assert (order.lines[0].discount, order.lines[0].tax, order.lines[0].total) == (1500, 1104, 7400)
    assert (order.lines[1].discount, order.lines[1].total) == (250, 2650)


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
    assert results[1].order.external_id == "6012345678901"
    assert results[2].error == "an order must be a JSON object, not str"


def test_shopify_refund_document_holds_no_order():
    refund = {
        "refund": {"id": 929361461, "order_id": 6012345678901, "refund_line_items": [], "transactions": []}
    }
    [result] = shopify.extract([refund])
    assert result.order is None
    assert result.native == refund
    assert result.error.startswith("no order found in document: expected a Shopify order")


def test_shopify_non_json_text_holds_no_order():
    [result] = shopify.extract(["<html>"])
    assert result.native == {}
    assert result.error.startswith("no order found in document: not JSON")


# --- conformance: the public sample in ../shared/data (skipped when absent) ---------------------------------


def _public_sample(shared_data) -> dict:
    """The published single-order response from Shopify's SDK fixtures."""
    return json.loads((shared_data / "channels" / "shopify" / "order.json").read_text(encoding="utf-8"))


def test_shopify_public_sample_order_field_by_field(shared_data):
    sample = _public_sample(shared_data)["order"]
    [result] = shopify.extract([_public_sample(shared_data)])
    order = result.order
    assert result.error is None
    assert result.native == sample
    assert order.external_id == str(sample["id"]) == "450789469"
    assert order.number == sample["name"] == "#1001"
    assert order.placed_at == datetime(2008, 1, 10, 16, 0, tzinfo=UTC)
    assert order.placed_at.utcoffset().total_seconds() == -5 * 3600
    assert order.currency == "USD"
    # financial_status "authorized", not yet fulfilled: paid (authorised), ready to fulfil.
    assert order.status is ChannelStatus.PAID
    assert order.raw_status == "authorized/unfulfilled"
    assert (order.subtotal, order.discount_total, order.shipping_total, order.tax_total, order.total) == (
        39800,
        0,
        0,
        1194,
        40994,
    )
    assert (order.shipping_method, order.source, order.note) == ("Free Shipping", "web", None)
    assert [(line.channel_sku, line.quantity, line.unit_price) for line in order.lines] == [
        ("IPOD2008GREEN", 1, 19900),
        ("IPOD2008RED", 1, 19900),
        ("IPOD2008BLACK", 1, 19900),
    ]
    assert (order.buyer.name, order.buyer.email, order.buyer.external_id, order.buyer.phone) == (
        "Bob Norman",
        "bob.norman@hostmail.com",
        "207119551",
        "555-625-1199",
    )
    address = order.shipping_address
    assert (address.line1, address.city, address.region, address.postal_code, address.country) == (
        "Chestnut Street 92",
        "Louisville",
        "KY",
        "40202",
        "US",
    )
    # The sample's only fulfillment has status "failure": nothing left the warehouse.
    assert order.shipments == ()
    assert order.warnings == ()
