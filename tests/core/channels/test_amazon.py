"""Amazon SP-API Orders v0 and v2026-01-01 -> canonical orders: our own fixtures field by field
(tests/fixtures/), and the public sandbox samples as an extra conformance check when ../shared/data is
present."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime

import pytest

from core.channels import amazon
from core.channels.canonical import ChannelStatus
from core.errors import PayloadError
from tests.fixtures import channel_json

FIRST, SECOND = "113-4827365-1029384", "113-5938271-6647105"


def _orders() -> dict:
    """getOrders: two unshipped Amazon.com orders, buyer and address withheld (no restricted data token)."""
    return channel_json("amazon", "getOrders.json")


def _items() -> dict:
    """getOrderItems of the first order: two pour-over drippers and a pack of filters."""
    return channel_json("amazon", "getOrderItems.json")


def _v2026() -> dict:
    """v2026-01-01 getOrder: a hand grinder pair sold on Amazon.de, items embedded."""
    return channel_json("amazon", "v2026-01-01_getOrder.json")


def _v0_order(index: int = 0) -> dict:
    return copy.deepcopy(_orders()["payload"]["Orders"][index])


# --- v0 -----------------------------------------------------------------------------------------------------


def test_amazon_v0_get_orders_joins_get_order_items_field_by_field():
    orders, items = _orders(), _items()
    first_raw = orders["payload"]["Orders"][0]
    results = amazon.extract([orders, items])
    assert [r.error for r in results] == [None, None]
    order = results[0].order
    assert order.channel_kind == "amazon"
    assert order.external_id == first_raw["AmazonOrderId"] == FIRST
    assert order.number == FIRST
    assert order.placed_at == datetime(2025, 6, 2, 14, 7, 19, tzinfo=UTC)
    assert order.placed_at == datetime.fromisoformat(first_raw["PurchaseDate"])
    assert order.updated_at == datetime(2025, 6, 2, 14, 37, 45, tzinfo=UTC)
    assert order.currency == first_raw["OrderTotal"]["CurrencyCode"] == "USD"
    assert order.status is ChannelStatus.PAID
    assert order.raw_status == first_raw["OrderStatus"] == "Unshipped"
    assert order.shipping_method == first_raw["ShipServiceLevel"] == "Std US D2D Dom"
    assert order.source == "Amazon.com"
    assert order.fulfilled_by_channel is False
    assert order.total == 5042 == 4197 + 499 + 346
    assert (order.subtotal, order.tax_total, order.discount_total, order.shipping_total) == (
        4197,
        346,
        0,
        499,
    )
    dripper, filters = order.lines
    assert (dripper.external_id, dripper.channel_sku, dripper.title) == (
        "48213059371842",
        "DRIPPER-CER-WHT",
        "Slow Pour Ceramic Pour-Over Coffee Dripper, Size 02, White",
    )
    # ItemPrice is the whole line (2 x 16.99): the unit price is derived from it.
    assert (dripper.quantity, dripper.unit_price, dripper.tax, dripper.discount, dripper.total) == (
        2,
        1699,
        280,
        0,
        3398,
    )
    assert (filters.external_id, filters.channel_sku, filters.quantity, filters.unit_price, filters.tax) == (
        "48213059371843",
        "FILTER-02-100",
        1,
        799,
        66,
    )
    # No address and no buyer in getOrders without a restricted data token.
    assert order.shipping_address is None
    assert order.buyer.email is None
    assert order.warnings == ("missing shipping address",)


def test_amazon_v0_joined_native_carries_items_and_adapts_to_the_same_order():
    result = amazon.extract([_orders(), _items()])[0]
    assert result.native["OrderItems"] == _items()["payload"]["OrderItems"]
    assert result.native["AmazonOrderId"] == FIRST
    assert amazon.adapt(result.native) == result.order


def test_amazon_v0_order_without_items_document_is_an_order_with_a_warning():
    results = amazon.extract([_orders(), _items()])
    second = results[1].order
    assert second.external_id == SECOND
    assert second.lines == ()
    assert amazon.ITEMS_NOT_FETCHED == "order items not fetched (getOrderItems)"
    assert "order items not fetched (getOrderItems)" in second.warnings
    assert second.total == 1406  # from OrderTotal, though no item was fetched
    assert results[1].error is None


def test_amazon_v0_get_orders_alone_gives_both_orders_without_lines():
    results = amazon.extract([_orders()])
    assert [r.order.external_id for r in results] == [FIRST, SECOND]
    assert all(r.order.lines == () for r in results)


def test_amazon_v0_items_document_alone_holds_no_order():
    [result] = amazon.extract([_items()])
    assert result.order is None
    assert result.native == _items()
    assert result.error == (
        f"no order found in document: getOrderItems response for order {FIRST}, "
        "which joins that order given in the same call"
    )


def test_amazon_v0_items_given_before_the_orders_still_join():
    results = amazon.extract([_items(), _orders()])
    assert len(results) == 2
    assert len(results[0].order.lines) == 2


def test_amazon_v0_items_pages_are_all_joined():
    page2 = _items()
    extra = page2["payload"]["OrderItems"][0]
    extra.update(OrderItemId="48213059371899", SellerSKU="KETTLE-GOOSENECK")
    page2["payload"]["OrderItems"] = [extra]
    order = amazon.extract([_orders(), _items(), page2])[0].order
    assert [line.channel_sku for line in order.lines] == [
        "DRIPPER-CER-WHT",
        "FILTER-02-100",
        "KETTLE-GOOSENECK",
    ]


def test_amazon_v0_get_order_response_and_address_and_buyer_info_join():
    get_order = {"payload": _v0_order()}
    address = {
        "payload": {
            "AmazonOrderId": FIRST,
            "ShippingAddress": {
                "Name": "Jane Doe",
                "AddressLine1": "1 Main St",
                "AddressLine2": "Apt 2",
                "City": "SEATTLE",
                "StateOrRegion": "WA",
                "PostalCode": "98121",
                "CountryCode": "US",
                "Phone": "+1 206 555 0100",
            },
        }
    }
    buyer = {
        "payload": {
            "AmazonOrderId": FIRST,
            "BuyerEmail": "ABC123@Marketplace.Amazon.com",
            "BuyerName": "Jane Doe",
        }
    }
    results = amazon.extract([get_order, _items(), address, buyer])
    [result] = results
    order = result.order
    assert order.shipping_address.line1 == "1 Main St"
    assert order.shipping_address.country == "US"
    assert order.buyer.email == "abc123@marketplace.amazon.com"
    assert order.buyer.email_is_relay is True
    assert order.buyer.name == "Jane Doe"
    assert order.warnings == ()
    assert amazon.adapt(result.native) == order


def test_amazon_v0_fba_order_is_fulfilled_by_channel_and_needs_no_address():
    native = _v0_order()
    native["FulfillmentChannel"] = "AFN"
    native["OrderStatus"] = "Shipped"
    order = amazon.adapt(native)
    assert order.fulfilled_by_channel is True
    assert order.status is ChannelStatus.SHIPPED
    assert "missing shipping address" not in order.warnings


def test_amazon_v0_pending_order_without_buyer_or_total_is_read():
    native = _v0_order()
    native["OrderStatus"] = "Pending"
    for key in ("OrderTotal", "BuyerInfo", "ShippingAddress", "DefaultShipFromLocationAddress"):
        native.pop(key, None)
    order = amazon.adapt(native)
    assert order.status is ChannelStatus.PENDING
    assert order.currency == "USD"  # from the marketplace ATVPDKIKX0DER
    assert order.total == 0
    assert (order.buyer.name, order.buyer.email) == (None, None)
    assert order.warnings == ("order items not fetched (getOrderItems)",)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Pending", ChannelStatus.PENDING),
        ("PendingAvailability", ChannelStatus.PENDING),
        ("Unshipped", ChannelStatus.PAID),
        ("PartiallyShipped", ChannelStatus.PAID),
        ("Shipped", ChannelStatus.SHIPPED),
        ("InvoiceUnconfirmed", ChannelStatus.SHIPPED),
        ("Canceled", ChannelStatus.CANCELLED),
        ("Unfulfillable", ChannelStatus.PENDING),
    ],
)
def test_amazon_v0_status_mapping(raw, expected):
    native = _v0_order()
    native["OrderStatus"] = raw
    order = amazon.adapt(native)
    assert order.status is expected
    assert order.raw_status == raw


def test_amazon_unfulfillable_order_carries_a_warning():
    native = _v0_order()
    native["OrderStatus"] = "Unfulfillable"
    assert "Amazon reports the order unfulfillable" in amazon.adapt(native).warnings


def test_amazon_cancelled_order_is_not_held_for_its_address():
    native = _v0_order()
    native["OrderStatus"] = "Canceled"
    assert amazon.adapt(native).warnings == ("order items not fetched (getOrderItems)",)


def test_amazon_v0_unknown_currency_is_an_error():
    native = _v0_order()
    native["OrderTotal"]["CurrencyCode"] = "XX"
    [result] = amazon.extract([{"payload": native}])
    assert result.order is None
    assert result.error == "unknown currency 'XX'"
    with pytest.raises(PayloadError, match="unknown currency 'XX'"):
        amazon.adapt(native)


def test_amazon_v0_item_price_is_for_the_whole_line():
    items = _items()
    item = items["payload"]["OrderItems"][0]
    item.update(
        QuantityOrdered=3,
        ItemPrice={"CurrencyCode": "USD", "Amount": "30.00"},
        PromotionDiscount={"CurrencyCode": "USD", "Amount": "5.00"},
    )
    order = amazon.extract([_orders(), items])[0].order
    assert (order.lines[0].unit_price, order.lines[0].discount, order.lines[0].total) == (1000, 500, 2500)
    assert order.discount_total == 500


def test_amazon_v0_item_without_sku_is_kept_with_a_warning():
    items = _items()
    del items["payload"]["OrderItems"][0]["SellerSKU"]
    order = amazon.extract([_orders(), items])[0].order
    assert order.lines[0].channel_sku is None
    assert "line 1 has no SKU" in order.warnings


def test_amazon_error_response_holds_no_order():
    [result] = amazon.extract([{"errors": [{"code": "InvalidInput", "message": "Invalid Input"}]}])
    assert result.order is None
    assert result.error == "no order found in document: Amazon error response: InvalidInput: Invalid Input"


def test_amazon_unrelated_document_holds_no_order():
    [result] = amazon.extract([{"hello": "world"}])
    assert result.error.startswith("no order found in document: expected an Amazon Orders v0 response")


# --- v2026-01-01 --------------------------------------------------------------------------------------------


def test_amazon_v2026_get_order_field_by_field():
    raw = _v2026()["order"]
    [result] = amazon.extract([_v2026()])
    order = result.order
    assert result.error is None
    assert result.native == raw
    assert order.external_id == raw["orderId"] == "302-7741958-3306521"
    assert order.number == "302-7741958-3306521"
    assert order.placed_at == datetime(2025, 9, 17, 6, 45, 12, tzinfo=UTC)
    assert order.updated_at == datetime.fromisoformat(raw["lastUpdatedTime"])
    assert order.currency == "EUR"
    assert order.status is ChannelStatus.PAID
    assert order.raw_status == "UNSHIPPED"
    assert order.shipping_method == "STANDARD"
    assert order.source == "Amazon.de"
    assert order.fulfilled_by_channel is False
    # No order-level breakdowns: the item's ITEM and SHIPPING breakdowns make the order's.
    assert (order.subtotal, order.discount_total, order.shipping_total, order.tax_total, order.total) == (
        3990,
        0,
        299,
        0,
        4289,
    )
    assert order.buyer.name == "Jonas Becker"
    assert order.buyer.email == raw["buyer"]["buyerEmail"] == "q7rz3kd0m1x4vwy@marketplace.amazon.de"
    assert order.buyer.email_is_relay is True
    address = order.shipping_address
    assert (address.name, address.line1, address.line2) == (
        "Jonas Becker",
        "Schanzenstraße 27",
        "3. OG links",
    )
    assert (address.city, address.region, address.postal_code, address.country) == (
        "Hamburg",
        "Hamburg",
        "20357",
        "DE",
    )
    assert address.phone == "+49 40 5550 1234"
    [line] = order.lines
    item = raw["orderItems"][0]
    assert line.external_id == item["orderItemId"] == "30277419583365"
    assert line.channel_sku == item["product"]["sellerSku"] == "GRINDER-HAND-DE"
    assert line.title == "Slow Pour Handkaffeemühle aus Edelstahl, Kegelmahlwerk"
    assert (line.quantity, line.unit_price, line.total) == (2, 1995, 3990)
    assert order.shipments == ()
    assert order.warnings == ()


def test_amazon_v2026_search_orders_response_and_breakdowns():
    native = copy.deepcopy(_v2026()["order"])
    native["proceeds"] = {
        "grandTotal": {"amount": "103.97", "currencyCode": "GBP"},
        "breakdowns": [
            {"type": "ITEM", "subtotal": {"amount": "89.97", "currencyCode": "GBP"}},
            {"type": "SHIPPING", "subtotal": {"amount": "10.00", "currencyCode": "GBP"}},
            {"type": "TAX", "subtotal": {"amount": "4.00", "currencyCode": "GBP"}},
        ],
    }
    item = native["orderItems"][0]
    item["quantityOrdered"] = 3
    item["product"]["price"]["unitPrice"] = {"amount": "29.99", "currencyCode": "GBP"}
    item["proceeds"] = {
        "proceedsTotal": {"amount": "103.97", "currencyCode": "GBP"},
        "breakdowns": [
            {"type": "ITEM", "subtotal": {"amount": "89.97", "currencyCode": "GBP"}},
            {"type": "TAX", "subtotal": {"amount": "4.00", "currencyCode": "GBP"}},
            {"type": "DISCOUNT", "subtotal": {"amount": "-2.00", "currencyCode": "GBP"}},
        ],
    }
    [result] = amazon.extract([{"orders": [native], "pagination": {"nextToken": "x"}}])
    order = result.order
    assert order.currency == "GBP"
    assert (order.subtotal, order.shipping_total, order.tax_total, order.total) == (8997, 1000, 400, 10397)
    assert (order.lines[0].unit_price, order.lines[0].tax, order.lines[0].discount) == (2999, 400, 200)
    assert order.lines[0].total == 2999 * 3 - 200


def test_amazon_v2026_fba_order_is_fulfilled_by_channel():
    native = copy.deepcopy(_v2026()["order"])
    native["fulfillment"]["fulfilledBy"] = "AMAZON"
    native["fulfillment"]["fulfillmentStatus"] = "SHIPPED"
    del native["recipient"]
    order = amazon.adapt(native)
    assert order.fulfilled_by_channel is True
    assert order.status is ChannelStatus.SHIPPED
    assert order.warnings == ()


def test_amazon_v2026_missing_buyer_and_recipient_is_read():
    native = copy.deepcopy(_v2026()["order"])
    del native["buyer"]
    del native["recipient"]
    order = amazon.adapt(native)
    assert (order.buyer.name, order.buyer.email, order.buyer.email_is_relay) == (None, None, False)
    assert order.warnings == ("missing shipping address",)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("PENDING_AVAILABILITY", ChannelStatus.PENDING),
        ("PENDING", ChannelStatus.PENDING),
        ("UNSHIPPED", ChannelStatus.PAID),
        ("PARTIALLY_SHIPPED", ChannelStatus.PAID),
        ("SHIPPED", ChannelStatus.SHIPPED),
        ("CANCELLED", ChannelStatus.CANCELLED),
        ("UNFULFILLABLE", ChannelStatus.PENDING),
    ],
)
def test_amazon_v2026_status_mapping(raw, expected):
    native = copy.deepcopy(_v2026()["order"])
    native["fulfillment"]["fulfillmentStatus"] = raw
    assert amazon.adapt(native).status is expected


def test_amazon_v2026_packages_become_shipments():
    native = copy.deepcopy(_v2026()["order"])
    native["fulfillment"]["fulfillmentStatus"] = "SHIPPED"
    native["packages"] = [
        {
            "packageReferenceId": "P1",
            "packageStatus": {"status": "IN_TRANSIT"},
            "carrier": "DHL",
            "shipTime": "2025-09-18T09:30:00Z",
            "trackingNumber": "JJD0001",
        },
        {
            "packageReferenceId": "P2",
            "packageStatus": {"status": "CANCELLED"},
            "carrier": "DHL",
            "trackingNumber": "JJD0002",
        },
    ]
    [shipment] = amazon.adapt(native).shipments
    assert (shipment.carrier, shipment.tracking_number) == ("DHL", "JJD0001")
    assert shipment.shipped_at == datetime(2025, 9, 18, 9, 30, tzinfo=UTC)


def test_amazon_v2026_without_proceeds_takes_currency_from_unit_price():
    native = copy.deepcopy(_v2026()["order"])
    del native["proceeds"]
    del native["orderItems"][0]["proceeds"]
    order = amazon.adapt(native)
    assert order.currency == "EUR"
    assert (order.subtotal, order.total) == (3990, 3990)


def test_amazon_v2026_unknown_currency_is_read_for_intake_to_hold():
    native = copy.deepcopy(_v2026()["order"])
    native["proceeds"]["grandTotal"]["currencyCode"] = "ZZZ"
    result = amazon.extract([{"order": native}])[0]
    assert result.error is None and result.order.currency == "ZZZ"


def test_amazon_adapt_errors_for_an_order_of_neither_version():
    with pytest.raises(PayloadError, match="neither AmazonOrderId"):
        amazon.adapt({"id": 1})


# --- conformance: the public sandbox samples in ../shared/data (skipped when absent) ------------------------


def _public(shared_data, name: str) -> dict:
    return json.loads((shared_data / "channels" / "amazon" / name).read_text(encoding="utf-8"))


def test_amazon_public_v0_sandbox_get_orders_joins_get_order_items(shared_data):
    orders = _public(shared_data, "getOrders_sandbox_TEST_CASE_200.json")
    items = _public(shared_data, "getOrderItems_sandbox_TEST_CASE_200.json")
    results = amazon.extract([orders, items])
    assert [r.error for r in results] == [None, None]
    order = results[0].order
    assert order.external_id == "902-1845936-5435065"
    assert order.placed_at == datetime(1970, 1, 19, 3, 58, 30, tzinfo=UTC)
    assert (order.currency, order.status, order.raw_status) == ("USD", ChannelStatus.PAID, "Unshipped")
    assert (order.shipping_method, order.source) == ("Std US D2D Dom", "Amazon.com")
    assert order.total == 1101
    assert (order.subtotal, order.tax_total, order.discount_total, order.shipping_total) == (1000, 101, 0, 0)
    [line] = order.lines
    assert (line.external_id, line.channel_sku, line.quantity) == (
        "05015851154158",
        "NABetaASINB00551Q3CS",
        1,
    )
    assert (line.unit_price, line.tax, line.discount, line.total) == (1000, 101, 0, 1000)
    assert order.warnings == ("missing shipping address",)
    second = results[1].order
    assert (second.external_id, second.lines, second.total) == ("902-8745147-1934268", (), 1101)
    assert "order items not fetched (getOrderItems)" in second.warnings
    assert amazon.adapt(results[0].native) == order


def test_amazon_public_v2026_sandbox_get_order(shared_data):
    raw = _public(shared_data, "v2026-01-01_getOrder_sandbox_0.json")["order"]
    [result] = amazon.extract([{"order": raw}])
    order = result.order
    assert result.error is None
    assert order.external_id == "171-9876543-2109876"
    assert order.placed_at == datetime(2024, 12, 24, 20, 30, tzinfo=UTC)
    assert (order.currency, order.status, order.source) == ("BRL", ChannelStatus.PAID, "Amazon.com.br")
    assert (order.subtotal, order.discount_total, order.shipping_total, order.tax_total, order.total) == (
        29990,
        0,
        0,
        0,
        29990,
    )
    assert (order.buyer.name, order.buyer.email_is_relay) == ("Maria Silva Santos", True)
    address = order.shipping_address
    assert (address.line1, address.line2, address.city, address.postal_code, address.country) == (
        "Rua das Flores, 123",
        "Apartamento 45",
        "São Paulo",
        "01234-567",
        "BR",
    )
    [line] = order.lines
    assert (line.channel_sku, line.quantity, line.unit_price, line.total) == (
        "ECHO-DOT-4-BR-PRETO",
        1,
        29990,
        29990,
    )
    assert order.warnings == ()
