"""eBay Sell Fulfillment API orders -> canonical orders: our own getOrders page field by field
(tests/fixtures/), and the public getOrders sample as an extra conformance check when ../shared/data is
present."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from core.channels import ebay
from core.channels.canonical import ChannelStatus
from core.errors import PayloadError
from tests.fixtures import channel_json


def _sample() -> dict:
    """A getOrders page of three paid orders: record care, a stylus without SKU, one via Global Shipping."""
    return channel_json("ebay", "getOrders.json")


def _order(index: int = 0) -> dict:
    return copy.deepcopy(_sample()["orders"][index])


def _cents(amount: dict) -> int:
    return int(Decimal(amount["value"]) * 100)


def _check_every_order_against_its_native(sample: dict) -> None:
    """Each canonical order agrees with its own native order, field by field."""
    for result, raw in zip(ebay.extract([sample]), sample["orders"], strict=True):
        order = result.order
        pricing = raw["pricingSummary"]
        ship_to = raw["fulfillmentStartInstructions"][0]["shippingStep"]["shipTo"]
        assert order.channel_kind == "ebay"
        assert order.external_id == raw["orderId"]
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
        assert (order.discount_total, order.tax_total, order.refunded_total) == (0, 0, 0)
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


def test_ebay_get_orders_page_gives_every_order_in_order():
    sample = _sample()
    results = ebay.extract([sample])
    assert len(results) == len(sample["orders"]) == 3
    assert [r.error for r in results] == [None] * 3
    assert [r.order.external_id for r in results] == ["14-11823-40651", "03-11824-77312", "27-11820-05533"]
    assert [r.native for r in results] == sample["orders"]


def test_ebay_orders_field_by_field():
    _check_every_order_against_its_native(_sample())


def test_ebay_first_order_literal_values():
    order = ebay.extract([_sample()])[0].order
    assert order.external_id == "14-11823-40651"
    assert order.number == "395012847261-2785516830019"
    assert order.placed_at == datetime(2025, 9, 8, 17, 42, 10, tzinfo=UTC)
    assert (order.subtotal, order.shipping_total, order.total) == (4600, 650, 5250)
    assert [(line.channel_sku, line.quantity, line.unit_price, line.tax) for line in order.lines] == [
        ("SLIPMAT-FELT-BLK", 2, 950, 157),
        ("BRUSH-CARBON", 1, 1200, 99),
        ("SLEEVE-OUTER-50", 1, 1500, 124),
    ]
    assert (order.buyer.name, order.buyer.external_id) == ("Vera Lindqvist", "vinyl_vera")
    assert order.buyer.email == "vera.lindqvist@example.org"
    assert order.buyer.phone == "415-555-0166"
    assert (order.shipping_address.line2, order.shipping_address.region) == ("Unit 4", "CA")
    assert order.source == "EBAY_US"


def test_ebay_line_without_sku_uses_legacy_item_id():
    order = ebay.extract([_sample()])[1].order
    [line] = order.lines
    assert line.channel_sku == "item:395012849987"
    assert (line.quantity, line.unit_price, line.tax, line.total) == (2, 1100, 182, 2200)
    # eBay's relay address for the buyer: kept on the order, flagged as relay.
    assert (order.buyer.email, order.buyer.email_is_relay) == ("4f9c2e71ab@members.ebay.com", True)


def test_ebay_line_without_sku_keeps_its_variation_apart():
    native = _order(0)
    del native["lineItems"][0]["sku"]
    assert ebay.adapt(native).lines[0].channel_sku == "item:395012847261:664208915532"


def test_ebay_line_without_any_id_is_kept_with_a_warning():
    native = _order(1)
    del native["lineItems"][0]["legacyItemId"]
    order = ebay.adapt(native)
    assert order.lines[0].channel_sku is None
    assert order.warnings == ("line 1 has no SKU",)


def test_ebay_global_shipping_order_ships_to_the_hub_address():
    order = ebay.extract([_sample()])[2].order
    assert order.shipping_address.name == "Priya Raman"
    assert (order.shipping_address.city, order.shipping_address.line2) == ("Erlanger", "Reference #3AB9ZQ")
    assert order.shipping_address.country == "US"  # the hub, not the buyer's final address in AU
    assert order.shipping_method == "USPSPriority"
    # Delivery cost includes the import charges collected for the onward journey.
    assert (order.subtotal, order.shipping_total, order.total) == (7900, 3625, 11525)


def test_ebay_single_order_object_is_an_order():
    [result] = ebay.extract([_order(2)])
    assert result.order.external_id == "27-11820-05533"


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
            "refundDate": "2025-09-20T00:00:00.000Z",
        }
    ]
    native["lineItems"][1]["refunds"] = [
        {"amount": {"value": "2.00", "currency": "USD"}, "refundDate": "2025-09-20T00:00:00.000Z"}
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
    assert (order.lines[2].discount, order.lines[2].total) == (150, 1350)


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


# --- conformance: the public getOrders sample in ../shared/data (skipped when absent) -----------------------


def test_ebay_public_sample_orders_field_by_field(shared_data):
    sample = json.loads((shared_data / "channels" / "ebay" / "getOrders_sample_full.json").read_text())
    assert len(ebay.extract([sample])) == len(sample["orders"]) == 5
    _check_every_order_against_its_native(sample)
    results = ebay.extract([sample])
    first = results[0].order
    assert (first.external_id, first.number) == ("2*********9", "6********0")
    assert first.placed_at == datetime(2020, 6, 28, 4, 34, 8, tzinfo=UTC)
    assert (first.subtotal, first.shipping_total, first.total) == (600, 600, 1200)
    assert [(line.channel_sku, line.quantity, line.unit_price) for line in first.lines] == [
        ("T*****R", 1, 100),
        ("T*****R", 2, 100),
        ("T*****R", 3, 100),
    ]
    [unlisted] = results[1].order.lines
    assert unlisted.channel_sku == "item:2********"
    assert (unlisted.quantity, unlisted.unit_price, unlisted.tax, unlisted.total) == (2, 110, 27, 220)
    hub = results[4].order
    assert (hub.shipping_address.name, hub.shipping_address.country) == ("P********e", "US")
    assert (hub.subtotal, hub.shipping_total, hub.total) == (23000, 12419, 35419)
