"""Square Orders API (the store's point of sale) -> canonical orders: our own till order field by field
(tests/fixtures/), and the public RetrieveOrder example as an extra conformance check when ../shared/data is
present."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime

import pytest

from core.channels import square
from core.channels.canonical import ChannelStatus
from core.errors import PayloadError
from tests.fixtures import channel_json

ORDER_ID = "Hq7tZ2mWkX9vR4bN1cYdLpE8sFgA"
MUG, WRAP = "7QZKV3XHJ5M2RTYB4CNWEFPA", "R5T9V3X7Z1B4D8F2H6J0L3N7"


def _sample() -> dict:
    """RetrieveOrder: a tab open at till 2, two teal mugs and gift wrapping, staff 20% off, tax added."""
    return channel_json("square", "order.json")


def _order() -> dict:
    return copy.deepcopy(_sample()["order"])


def _usd(amount: int) -> dict:
    return {"amount": amount, "currency": "USD"}


def _completed_sale() -> dict:
    """The order, paid and closed at the till, the gift wrapping tied to its catalog variation too."""
    native = _order()
    native["state"] = "COMPLETED"
    native["customer_id"] = "C4N8R2W6Y0A3E7H1K5M9P2S6U0"
    native["tenders"] = [{"id": "T1", "type": "CARD", "amount_money": _usd(2701)}]
    native["net_amount_due_money"] = _usd(0)
    native["line_items"][1]["catalog_object_id"] = WRAP
    return native


def _return_order() -> dict:
    """An in-store return receipt: no sale lines, one of the two mugs of the order handed back."""
    return {
        "id": "RETURN-ORDER-1",
        "location_id": "L8Q2XN4B7RTWZ",
        "created_at": "2025-10-05T10:00:00.000Z",
        "updated_at": "2025-10-05T10:00:05.000Z",
        "state": "COMPLETED",
        "returns": [
            {
                "uid": "R1",
                "source_order_id": ORDER_ID,
                "return_line_items": [
                    {
                        "uid": "RL1",
                        "source_line_item_uid": "k3Vn8QeT1sLw0YpZa7XbRc",
                        "name": "Enamel Mug",
                        "variation_name": "Teal",
                        "quantity": "1",
                        "catalog_object_id": MUG,
                        "base_price_money": _usd(1450),
                        "gross_return_money": _usd(1450),
                        "total_discount_money": _usd(290),
                        "total_money": _usd(1160),
                    }
                ],
            }
        ],
        "return_amounts": {"total_money": _usd(1160), "discount_money": _usd(290), "tax_money": _usd(0)},
        "total_money": _usd(0),
        "refunds": [{"id": "RF1", "amount_money": _usd(1160), "status": "APPROVED"}],
    }


def test_square_order_field_by_field():
    sample = _sample()["order"]
    [result] = square.extract([_sample()])
    order = result.order
    assert result.error is None
    assert result.native == sample
    assert order.channel_kind == "square"
    assert order.external_id == sample["id"] == ORDER_ID
    assert order.number == sample["reference_id"] == "TILL2-0417"
    assert order.placed_at == datetime(2025, 10, 3, 15, 22, 8, 412000, tzinfo=UTC)
    assert order.updated_at == datetime.fromisoformat(sample["updated_at"])
    assert order.currency == "USD"
    # OPEN at the till with the whole amount still due: nothing tendered yet.
    assert order.status is ChannelStatus.PENDING
    assert order.raw_status == "OPEN"
    assert order.subtotal == 3200
    assert order.discount_total == sample["total_discount_money"]["amount"] == 640
    assert order.tax_total == sample["total_tax_money"]["amount"] == 141
    assert order.shipping_total == 0
    assert order.total == sample["total_money"]["amount"] == 2701 == 3200 - 640 + 141
    assert order.refunded_total == 0
    assert order.returns == ()
    assert order.shipping_address is None
    assert order.shipping_method is None
    assert order.buyer.external_id is None
    assert order.source == "Harbour & Hearth Store"


def test_square_lines_field_by_field():
    sample = _sample()["order"]
    order = square.extract([_sample()])[0].order
    assert len(order.lines) == 2
    for line, raw in zip(order.lines, sample["line_items"], strict=True):
        assert line.external_id == raw["uid"]
        assert line.quantity == int(raw["quantity"])
        assert line.discount == raw["total_discount_money"]["amount"]
        assert line.tax == raw["total_tax_money"]["amount"]
        assert line.total + line.tax == raw["total_money"]["amount"]
    assert [
        (line.channel_sku, line.title, line.unit_price, line.quantity, line.discount, line.total)
        for line in order.lines
    ] == [
        (MUG, "Enamel Mug - Teal", 1450, 2, 580, 2320),
        (None, "Gift Wrapping", 300, 1, 60, 240),
    ]
    # A custom-amount line has no catalog variation: kept, and held for a person to map.
    assert order.warnings == ("line 2 has no SKU",)


def test_square_completed_pos_sale_is_handed_over_without_address():
    order = square.adapt(_completed_sale())
    assert order.status is ChannelStatus.SHIPPED
    assert order.raw_status == "COMPLETED"
    assert order.shipping_address is None
    assert "missing shipping address" not in order.warnings
    assert order.warnings == ()
    assert order.buyer.external_id == "C4N8R2W6Y0A3E7H1K5M9P2S6U0"
    assert [line.channel_sku for line in order.lines] == [MUG, WRAP]


def test_square_open_paid_order_is_paid():
    native = _completed_sale()
    native["state"] = "OPEN"
    assert square.adapt(native).status is ChannelStatus.PAID


@pytest.mark.parametrize(
    ("state", "expected"),
    [
        ("DRAFT", ChannelStatus.PENDING),
        ("CANCELED", ChannelStatus.CANCELLED),
        ("COMPLETED", ChannelStatus.SHIPPED),
    ],
)
def test_square_state_mapping(state, expected):
    native = _order()
    native["state"] = state
    assert square.adapt(native).status is expected


def test_square_shipment_fulfillment_gives_address_buyer_and_tracking():
    native = _completed_sale()
    native["state"] = "OPEN"
    native["service_charges"] = [{"name": "Shipping", "total_money": _usd(499)}]
    native["total_service_charge_money"] = _usd(499)
    native["fulfillments"] = [
        {
            "uid": "F1",
            "type": "SHIPMENT",
            "state": "COMPLETED",
            "shipment_details": {
                "recipient": {
                    "display_name": "Jaiden Urie",
                    "email_address": "Jaiden.Urie@Example.com",
                    "phone_number": "1-212-555-4250",
                    "address": {
                        "address_line_1": "1955 Broadway",
                        "address_line_2": "Suite 600",
                        "locality": "Oakland",
                        "administrative_district_level_1": "CA",
                        "postal_code": "94612",
                        "country": "US",
                    },
                },
                "carrier": "USPS",
                "tracking_number": "9400100000000000000000",
                "shipping_type": "First Class",
                "shipped_at": "2020-05-19T09:00:00Z",
            },
        }
    ]
    order = square.adapt(native)
    assert order.status is ChannelStatus.SHIPPED
    assert order.raw_status == "OPEN/SHIPMENT:COMPLETED"
    assert order.buyer.name == "Jaiden Urie"
    assert order.buyer.email == "jaiden.urie@example.com"
    assert (order.shipping_address.line1, order.shipping_address.city) == ("1955 Broadway", "Oakland")
    assert order.shipping_address.country == "US"
    assert order.shipping_method == "First Class"
    assert order.shipping_total == 499
    [shipment] = order.shipments
    assert (shipment.carrier, shipment.tracking_number) == ("USPS", "9400100000000000000000")
    assert shipment.shipped_at == datetime(2020, 5, 19, 9, 0, tzinfo=UTC)
    assert order.warnings == ()


def test_square_shipment_without_address_is_a_warning():
    native = _completed_sale()
    native["state"] = "OPEN"
    native["fulfillments"] = [
        {
            "uid": "F1",
            "type": "SHIPMENT",
            "state": "PROPOSED",
            "shipment_details": {"recipient": {"display_name": "Jaiden Urie"}},
        }
    ]
    order = square.adapt(native)
    assert order.status is ChannelStatus.PAID
    assert order.buyer.name == "Jaiden Urie"
    assert order.warnings == ("missing shipping address",)


def test_square_pickup_needs_no_address():
    native = _completed_sale()
    native["state"] = "OPEN"
    native["fulfillments"] = [
        {
            "uid": "F1",
            "type": "PICKUP",
            "state": "PROPOSED",
            "pickup_details": {"recipient": {"display_name": "Jaiden Urie", "phone_number": "555"}},
        }
    ]
    order = square.adapt(native)
    assert order.buyer.phone == "555"
    assert order.shipping_address is None
    assert order.warnings == ()


def test_square_in_store_return_becomes_returns_and_refunded_total():
    [result] = square.extract([{"order": _return_order()}])
    order = result.order
    assert result.error is None
    assert order.external_id == "RETURN-ORDER-1"
    assert order.status is ChannelStatus.REFUNDED
    assert order.lines == ()
    assert order.refunded_total == 1160
    [returned] = order.returns
    assert returned.external_id == "k3Vn8QeT1sLw0YpZa7XbRc"
    assert returned.channel_sku == MUG
    assert (returned.title, returned.quantity, returned.amount) == ("Enamel Mug - Teal", 1, 1160)
    assert order.note == f"return of order {ORDER_ID}"
    assert order.warnings == ()


def test_square_exchange_keeps_sale_lines_and_returns():
    native = _completed_sale()
    native["returns"] = _return_order()["returns"]
    native["return_amounts"] = _return_order()["return_amounts"]
    order = square.adapt(native)
    assert order.status is ChannelStatus.SHIPPED
    assert len(order.lines) == 2
    assert len(order.returns) == 1
    assert order.refunded_total == 1160


def test_square_fractional_quantity_is_an_error():
    native = _order()
    native["line_items"][0]["quantity"] = "1.5"
    [result] = square.extract([{"order": native}])
    assert result.error == "line_items[0].quantity: quantity must be a whole number: '1.5'"


def test_square_search_orders_response_gives_each_order():
    second = _completed_sale()
    second["id"] = "SECOND"
    results = square.extract([{"orders": [_order(), second], "cursor": "abc"}])
    assert [r.order.external_id for r in results] == [ORDER_ID, "SECOND"]


def test_square_webhook_with_only_ids_asks_to_fetch_the_order():
    event = {
        "merchant_id": "5S9MXCS9Y99KK",
        "type": "order.updated",
        "event_id": "4b8e5c91",
        "created_at": "2020-04-16T23:14:26.129Z",
        "data": {
            "type": "order_updated",
            "id": "eA3vssLHKJrv9H0IdJCM3gNqfdcZY",
            "object": {
                "order_updated": {
                    "order_id": "eA3vssLHKJrv9H0IdJCM3gNqfdcZY",
                    "version": 2,
                    "location_id": "FPYCBCHYMXFK1",
                    "state": "OPEN",
                }
            },
        },
    }
    [result] = square.extract([event])
    assert result.order is None
    assert result.native == event
    assert result.error == (
        "webhook event 'order.updated' carries only the id of order eA3vssLHKJrv9H0IdJCM3gNqfdcZY "
        "(version 2): fetch the order with RetrieveOrder"
    )


def test_square_search_entries_ask_to_fetch_each_order():
    results = square.extract([{"order_entries": [{"order_id": "A", "version": 1}, {"order_id": "B"}]}])
    assert [r.error for r in results] == [
        "search result carries only the id of order A: fetch it with BatchRetrieveOrders",
        "search result carries only the id of order B: fetch it with BatchRetrieveOrders",
    ]


def test_square_unknown_currency_is_an_error():
    native = _order()
    native["total_money"]["currency"] = "XX"
    with pytest.raises(PayloadError, match="unknown currency 'XX'"):
        square.adapt(native)


def test_square_error_response_holds_no_order():
    [result] = square.extract([{"errors": [{"category": "INVALID_REQUEST_ERROR", "code": "NOT_FOUND"}]}])
    assert result.order is None
    assert result.error.startswith("no order found in document: expected a Square Order")


def _line_by_weight() -> dict:
    """A deli line sold by the pound: Square allows a decimal quantity on a line with a quantity_unit."""
    return {
        "uid": "W1",
        "name": "Coffee beans",
        "variation_name": "House blend",
        "catalog_object_id": "BEANS-VAR",
        "quantity": "2.50",
        "quantity_unit": {"measurement_unit": {"weight_unit": "IMPERIAL_POUND"}, "precision": 2},
        "base_price_money": _usd(1200),
        "gross_sales_money": _usd(3000),
        "total_discount_money": _usd(0),
        "total_tax_money": _usd(0),
        "total_money": _usd(3000),
    }


def test_square_line_sold_by_weight_is_one_unit_of_the_whole_line_with_a_warning():
    native = _completed_sale()
    native["line_items"].append(_line_by_weight())
    order = square.adapt(native)
    weighed = order.lines[2]
    assert weighed.channel_sku == "BEANS-VAR"
    assert weighed.title == "Coffee beans - House blend (2.5 IMPERIAL_POUND)"
    assert (weighed.quantity, weighed.unit_price, weighed.total) == (1, 3000, 3000)
    assert order.subtotal == 3200 + 3000
    assert order.warnings == ("line 3 is sold by measure (2.5 IMPERIAL_POUND): counted as 1",)


def test_square_line_by_custom_unit_without_gross_sales_prices_the_measure():
    line = _line_by_weight()
    del line["gross_sales_money"]
    line["quantity"] = "0.75"
    line["quantity_unit"] = {"measurement_unit": {"custom_unit": {"name": "Kilogram", "abbreviation": "kg"}}}
    native = _completed_sale()
    native["line_items"] = [line]
    [weighed] = square.adapt(native).lines
    assert weighed.title == "Coffee beans - House blend (0.75 kg)"
    assert (weighed.quantity, weighed.unit_price) == (1, 900)


def test_square_whole_quantity_with_a_unit_stays_a_count():
    line = _line_by_weight()
    line["quantity"] = "3.00"
    line["gross_sales_money"] = _usd(3600)
    native = _completed_sale()
    native["line_items"] = [line]
    order = square.adapt(native)
    [counted] = order.lines
    assert (counted.title, counted.quantity, counted.unit_price) == ("Coffee beans - House blend", 3, 1200)
    assert order.warnings == ()


def test_square_returned_line_sold_by_weight_is_kept():
    native = _return_order()
    item = native["returns"][0]["return_line_items"][0]
    item["quantity"] = "1.5"
    item["quantity_unit"] = {"measurement_unit": {"weight_unit": "METRIC_KILOGRAM"}}
    order = square.adapt(native)
    [returned] = order.returns
    assert (returned.title, returned.quantity, returned.amount) == (
        "Enamel Mug - Teal (1.5 METRIC_KILOGRAM)",
        1,
        1160,
    )
    assert order.warnings == ("return line 1 is sold by measure (1.5 METRIC_KILOGRAM): counted as 1",)


def test_square_line_without_gross_sales_counts_its_modifiers():
    native = _completed_sale()
    line = native["line_items"][1]
    del line["gross_sales_money"]
    line["variation_total_price_money"] = _usd(300)
    line["modifiers"] = [
        {"uid": "M1", "name": "Satin ribbon", "base_price_money": _usd(50), "total_price_money": _usd(50)}
    ]
    order = square.adapt(native)
    assert (order.lines[1].quantity, order.lines[1].unit_price) == (1, 350)
    assert order.subtotal == 2900 + 350


def test_square_return_receipt_without_total_takes_currency_from_its_returns():
    native = _return_order()
    del native["total_money"]
    del native["return_amounts"]
    native["refunds"] = []
    for key in ("base_price_money", "gross_return_money", "total_discount_money", "total_money"):
        native["returns"][0]["return_line_items"][0][key]["currency"] = "JPY"
    native["returns"][0]["return_line_items"][0]["total_money"]["amount"] = 1500
    order = square.adapt(native)
    assert order.currency == "JPY"
    assert (order.total, order.refunded_total) == (0, 1500)
    assert order.status is ChannelStatus.REFUNDED


def test_square_open_order_without_amount_due_is_paid_only_when_tenders_cover_the_total():
    native = _completed_sale()
    native["state"] = "OPEN"
    del native["net_amount_due_money"]
    native["tenders"] = [{"id": "T1", "type": "CASH", "amount_money": _usd(2000)}]
    assert square.adapt(native).status is ChannelStatus.PENDING
    native["tenders"].append({"id": "T2", "type": "CARD", "amount_money": _usd(701)})
    assert square.adapt(native).status is ChannelStatus.PAID


def _recipient(name: str, street: str | None) -> dict:
    address = {"locality": "Oakland", "postal_code": "94612", "country": "US"}
    if street:
        address["address_line_1"] = street
    return {"display_name": name, "address": address}


def test_square_pickup_recipient_names_the_buyer_but_gives_no_shipping_address():
    native = _completed_sale()
    native["state"] = "OPEN"
    native["fulfillments"] = [
        {
            "uid": "F1",
            "type": "PICKUP",
            "state": "PROPOSED",
            "pickup_details": {"recipient": _recipient("Ann Lee", "1 Home St")},
        }
    ]
    order = square.adapt(native)
    assert order.buyer.name == "Ann Lee"
    assert order.shipping_address is None
    assert order.warnings == ()


def test_square_delivery_recipient_gives_the_address_before_a_pickup_one():
    native = _completed_sale()
    native["state"] = "OPEN"
    native["fulfillments"] = [
        {
            "uid": "F1",
            "type": "PICKUP",
            "state": "CANCELED",
            "pickup_details": {"recipient": _recipient("Ann", None)},
        },
        {
            "uid": "F2",
            "type": "DELIVERY",
            "state": "RESERVED",
            "delivery_details": {"recipient": _recipient("Bo Chen", "2 Bay Rd")},
        },
    ]
    order = square.adapt(native)
    assert order.status is ChannelStatus.PAID
    assert order.buyer.name == "Bo Chen"
    assert (order.shipping_address.name, order.shipping_address.line1) == ("Bo Chen", "2 Bay Rd")
    assert order.shipping_address.country == "US"
    assert order.warnings == ()


def test_square_canceled_shipment_is_left_out():
    native = _completed_sale()
    native["state"] = "OPEN"
    native["total_service_charge_money"] = _usd(499)
    canceled = {
        "uid": "F1",
        "type": "SHIPMENT",
        "state": "CANCELED",
        "shipment_details": {"recipient": {"display_name": "Old"}, "carrier": "UPS", "tracking_number": "1Z"},
    }
    done = {
        "uid": "F2",
        "type": "SHIPMENT",
        "state": "COMPLETED",
        "shipment_details": {
            "recipient": _recipient("New", "3 Dock St"),
            "carrier": "USPS",
            "tracking_number": "94",
        },
    }
    native["fulfillments"] = [canceled, done]
    order = square.adapt(native)
    assert order.status is ChannelStatus.SHIPPED
    assert order.raw_status == "OPEN/SHIPMENT:CANCELED,SHIPMENT:COMPLETED"
    assert (order.buyer.name, order.shipping_address.line1) == ("New", "3 Dock St")
    assert [(s.carrier, s.tracking_number) for s in order.shipments] == [("USPS", "94")]
    # With only a canceled shipment, the sale is handed over at the till: no address, no shipping charge.
    native["fulfillments"] = [canceled]
    order = square.adapt(native)
    assert (order.shipping_address, order.shipping_total, order.shipments) == (None, 0, ())
    assert order.warnings == ()


# --- conformance: the public RetrieveOrder example in ../shared/data (skipped when absent) ------------------


def test_square_public_example_field_by_field(shared_data):
    sample = json.loads((shared_data / "channels" / "square" / "RetrieveOrderResponse.json").read_text())
    [result] = square.extract([sample])
    order = result.order
    assert result.error is None
    assert (order.external_id, order.number) == ("CAISENgvlJ6jLWAzERDzjyHVybY", None)
    assert order.placed_at == datetime(2020, 5, 18, 16, 30, 49, 614000, tzinfo=UTC)
    assert (order.currency, order.status, order.raw_status) == ("USD", ChannelStatus.PENDING, "OPEN")
    assert (order.subtotal, order.discount_total, order.tax_total, order.total) == (1100, 550, 0, 550)
    assert [(line.unit_price, line.quantity, line.discount, line.total) for line in order.lines] == [
        (500, 1, 250, 250),
        (300, 2, 300, 300),
    ]
    assert [line.channel_sku for line in order.lines] == [None, None]
    assert order.warnings == ("line 1 has no SKU", "line 2 has no SKU")
