"""eBay Sell Fulfillment API orders -> canonical orders, checked against the public getOrders sample."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from core.channels import ebay
from core.channels.canonical import ChannelStatus
from core.errors import PayloadError

SAMPLES = Path(__file__).resolve().parents[3] / ".." / "shared" / "data" / "channels" / "ebay"


def _sample() -> dict:
    return json.loads((SAMPLES / "getOrders_sample_full.json").read_text(encoding="utf-8"))


def _order(index: int = 0) -> dict:
    return copy.deepcopy(_sample()["orders"][index])


def _cents(amount: dict) -> int:
    return int(Decimal(amount["value"]) * 100)


def test_ebay_sample_gives_every_order_in_order():
    sample = _sample()
    results = ebay.extract([sample])
    assert len(results) == len(sample["orders"]) == 5
    assert [r.error for r in results] == [None] * 5
    assert [r.order.external_id for r in results] == [o["orderId"] for o in sample["orders"]]
    assert [r.native for r in results] == sample["orders"]


def test_ebay_sample_orders_field_by_field():
    for result, raw in zip(ebay.extract([_sample()]), _sample()["orders"], strict=True):
        order = result.order
        pricing = raw["pricingSummary"]
        ship_to = raw["fulfillmentStartInstructions"][0]["shippingStep"]["shipTo"]
        assert order.channel_kind == "ebay"
        assert order.number == raw["legacyOrderId"]
        assert order.placed_at == datetime.fromisoformat(raw["creationDate"])
        assert order.placed_at.tzinfo is not None
        assert order.updated_at == datetime.fromisoformat(raw["lastModifiedDate"])
        assert order.currency == "USD"
        assert order.status is ChannelStatus.PAID
        assert order.raw_status == "PAID/NOT_STARTED"
        assert order.subtotal == _cents(pricing["priceSubtotal"])
        assert order.shipping_total == _cents(pricing["deliveryCost"])
        assert order.total == _cents(pricing["total"])
        assert order.discount_total == 0
        assert order.tax_total == 0
        assert order.refunded_total == 0
        assert (
            order.shipping_method
            == raw["fulfillmentStartInstructions"][0]["shippingStep"]["shippingServiceCode"]
        )
        assert order.buyer.external_id == raw["buyer"]["username"]
        assert order.buyer.name == ship_to["fullName"]
        assert order.shipping_address.line1 == ship_to["contactAddress"]["addressLine1"]
        assert order.shipping_address.country == "US"
        assert len(order.lines) == len(raw["lineItems"])
        for line, item in zip(order.lines, raw["lineItems"], strict=True):
            assert line.external_id == item["lineItemId"]
            assert line.title == item["title"]
            assert line.quantity == item["quantity"]
            assert line.unit_price * line.quantity == _cents(item["lineItemCost"])
            assert line.total == _cents(item["lineItemCost"])
        assert order.warnings == ()


def test_ebay_sample_first_order_literal_values():
    order = ebay.extract([_sample()])[0].order
    assert order.external_id == "2*********9"
    assert order.number == "6********0"
    assert order.placed_at == datetime(2020, 6, 28, 4, 34, 8, tzinfo=UTC)
    assert (order.subtotal, order.shipping_total, order.total) == (600, 600, 1200)
    assert [(line.channel_sku, line.quantity, line.unit_price) for line in order.lines] == [
        ("T*****R", 1, 100),
        ("T*****R", 2, 100),
        ("T*****R", 3, 100),
    ]
    assert order.buyer.email == "m*****@***.com"
    assert order.buyer.phone == "9**-***-***1"
    assert order.source == "EBAY_US"


def test_ebay_line_without_sku_uses_legacy_item_id():
    order = ebay.extract([_sample()])[1].order
    [line] = order.lines
    assert line.channel_sku == "item:2********"
    assert (line.quantity, line.unit_price, line.tax, line.total) == (2, 110, 27, 220)


def test_ebay_line_without_sku_keeps_its_variation_apart():
    native = _order(0)
    del native["lineItems"][0]["sku"]
    assert ebay.adapt(native).lines[0].channel_sku == "item:2********3:5********8"


def test_ebay_line_without_any_id_is_kept_with_a_warning():
    native = _order(1)
    del native["lineItems"][0]["legacyItemId"]
    order = ebay.adapt(native)
    assert order.lines[0].channel_sku is None
    assert order.warnings == ("line 1 has no SKU",)


def test_ebay_global_shipping_order_ships_to_the_hub_address():
    order = ebay.extract([_sample()])[4].order
    assert order.shipping_address.name == "P********e"
    assert order.shipping_address.country == "US"
    assert order.shipping_method == "USPSPriorityFlatRateEnvelope"
    assert (order.subtotal, order.shipping_total, order.total) == (23000, 12419, 35419)


def test_ebay_single_order_object_is_an_order():
    [result] = ebay.extract([_order(2)])
    assert result.order.external_id == "0********"


@pytest.mark.parametrize(
    ("payment", "fulfillment", "cancel", "expected"),
    [
        ("PAID", "NOT_STARTED", "NONE_REQUESTED", ChannelStatus.PAID),
        ("PAID", "IN_PROGRESS", "NONE_REQUESTED", ChannelStatus.PAID),
        ("PAID", "FULFILLED", "NONE_REQUESTED", ChannelStatus.SHIPPED),
        ("PENDING", "NOT_STARTED", "NONE_REQUESTED", ChannelStatus.PENDING),
        ("PARTIALLY_REFUNDED", "FULFILLED", "NONE_REQUESTED", ChannelStatus.SHIPPED),
        ("PAID", "NOT_STARTED", "CANCELED", ChannelStatus.CANCELLED),
        ("FULLY_REFUNDED", "NOT_STARTED", "CANCELED", ChannelStatus.REFUNDED),
        ("FULLY_REFUNDED", "FULFILLED", "NONE_REQUESTED", ChannelStatus.REFUNDED),
        ("FAILED", "NOT_STARTED", "NONE_REQUESTED", ChannelStatus.PENDING),
    ],
)
def test_ebay_status_mapping(payment, fulfillment, cancel, expected):
    native = _order()
    native.update(orderPaymentStatus=payment, orderFulfillmentStatus=fulfillment)
    native["cancelStatus"]["cancelState"] = cancel
    assert ebay.adapt(native).status is expected


def test_ebay_cancelled_order_raw_status_names_the_cancel_state():
    native = _order()
    native["cancelStatus"]["cancelState"] = "CANCELED"
    order = ebay.adapt(native)
    assert order.raw_status == "PAID/NOT_STARTED/CANCELED"
    assert order.warnings == ()


def test_ebay_cancellation_request_in_progress_is_a_warning():
    native = _order()
    native["cancelStatus"]["cancelState"] = "IN_PROGRESS"
    order = ebay.adapt(native)
    assert order.status is ChannelStatus.PAID
    assert order.warnings == ("buyer requested cancellation",)


def test_ebay_failed_payment_is_a_warning():
    native = _order()
    native["orderPaymentStatus"] = "FAILED"
    assert ebay.adapt(native).warnings == ("payment failed",)


def test_ebay_refunds_that_went_through_are_counted():
    native = _order()
    native["orderPaymentStatus"] = "FULLY_REFUNDED"
    native["paymentSummary"]["refunds"] = [
        {"amount": {"value": "10.0", "currency": "USD"}, "refundStatus": "REFUNDED"},
        {"amount": {"value": "1.0", "currency": "USD"}, "refundStatus": "FAILED"},
    ]
    native["lineItems"][0]["refunds"] = [{"amount": {"value": "2.0", "currency": "USD"}}]
    order = ebay.adapt(native)
    assert order.status is ChannelStatus.REFUNDED
    assert order.refunded_total == 1000


def test_ebay_refund_listed_at_order_and_line_level_counts_once():
    # eBay repeats a line refund in paymentSummary.refunds (there as the seller's net amount).
    native = _order()
    native["orderPaymentStatus"] = "PARTIALLY_REFUNDED"
    native["paymentSummary"]["refunds"] = [
        {
            "amount": {"value": "1.70", "currency": "USD"},
            "refundStatus": "REFUNDED",
            "refundDate": "2020-07-01T00:00:00.000Z",
        }
    ]
    native["lineItems"][1]["refunds"] = [
        {"amount": {"value": "2.00", "currency": "USD"}, "refundDate": "2020-07-01T00:00:00.000Z"}
    ]
    order = ebay.adapt(native)
    assert order.refunded_total == 200
    assert order.refunded_total <= order.total


def test_ebay_refund_in_payout_currency_uses_the_order_currency_value():
    native = _order()
    for key in ("priceSubtotal", "deliveryCost", "total"):
        native["pricingSummary"][key]["currency"] = "EUR"
    for item in native["lineItems"]:
        item["lineItemCost"]["currency"] = "EUR"
    native["paymentSummary"]["refunds"] = [
        {
            "amount": {
                "value": "4.25",
                "currency": "GBP",
                "convertedFromValue": "5.00",
                "convertedFromCurrency": "EUR",
            },
            "refundStatus": "REFUNDED",
        },
        {"amount": {"value": "9.99", "currency": "GBP"}, "refundStatus": "REFUNDED"},
    ]
    order = ebay.adapt(native)
    assert order.currency == "EUR"
    assert order.refunded_total == 500


def test_ebay_negative_discounts_become_positive_totals():
    native = _order()
    native["pricingSummary"]["priceDiscount"] = {"value": "-1.50", "currency": "USD"}
    native["pricingSummary"]["deliveryDiscount"] = {"value": "-1.00", "currency": "USD"}
    native["pricingSummary"]["tax"] = {"value": "0.75", "currency": "USD"}
    native["lineItems"][2]["appliedPromotions"] = [
        {
            "description": "10% off",
            "discountAmount": {"value": "-1.50", "currency": "USD"},
            "promotionId": "1",
        }
    ]
    order = ebay.adapt(native)
    assert (order.discount_total, order.tax_total) == (250, 75)
    assert (order.lines[2].discount, order.lines[2].total) == (150, 150)


def test_ebay_registration_address_is_billing_and_email_is_lower_cased():
    native = _order()
    native["buyer"]["buyerRegistrationAddress"] = {
        "fullName": "Chris Smith",
        "email": "Chris.Smith@Example.COM",
        "primaryPhone": {"phoneNumber": "555"},
        "contactAddress": {
            "addressLine1": "1 Main St",
            "city": "San Jose",
            "stateOrProvince": "CA",
            "postalCode": "95125",
            "countryCode": "US",
        },
    }
    order = ebay.adapt(native)
    assert order.buyer.email == "chris.smith@example.com"
    assert order.buyer.name == "Chris Smith"
    assert order.billing_address.line1 == "1 Main St"


def test_ebay_missing_ship_to_is_a_warning_but_pickup_needs_none():
    native = _order()
    del native["fulfillmentStartInstructions"][0]["shippingStep"]["shipTo"]
    assert ebay.adapt(native).warnings == ("missing shipping address",)
    native["fulfillmentStartInstructions"][0]["fulfillmentInstructionsType"] = "PREPARE_FOR_PICKUP"
    assert ebay.adapt(native).warnings == ()


def test_ebay_missing_buyer_is_read():
    native = _order()
    del native["buyer"]
    del native["fulfillmentStartInstructions"]
    order = ebay.adapt(native)
    assert (order.buyer.name, order.buyer.email, order.buyer.external_id) == (None, None, None)
    assert order.shipping_address is None


def test_ebay_alpha3_or_unknown_country():
    native = _order()
    native["fulfillmentStartInstructions"][0]["shippingStep"]["shipTo"]["contactAddress"]["countryCode"] = (
        "DEU"
    )
    assert ebay.adapt(native).shipping_address.country == "DE"
    native["fulfillmentStartInstructions"][0]["shippingStep"]["shipTo"]["contactAddress"]["countryCode"] = (
        "QQ"
    )
    assert ebay.adapt(native).warnings == ("unknown country 'QQ'",)


def test_ebay_unknown_currency_is_an_error():
    native = _order()
    native["pricingSummary"]["total"]["currency"] = "XX"
    [result] = ebay.extract([{"orders": [native]}])
    assert result.error == "unknown currency 'XX'"
    with pytest.raises(PayloadError, match="unknown currency 'XX'"):
        ebay.adapt(native)


def test_ebay_missing_order_id_is_an_error():
    native = _order()
    del native["orderId"]
    with pytest.raises(PayloadError, match="orderId: missing"):
        ebay.adapt(native)


def test_ebay_empty_search_result_holds_no_order():
    [result] = ebay.extract([{"href": "x", "total": 0, "orders": []}])
    assert result.order is None
    assert result.error.startswith("no order found in document: expected an eBay Order object")
