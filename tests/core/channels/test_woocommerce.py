"""WooCommerce REST API v3 orders -> canonical orders, checked against the public "retrieve an order" doc."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from core.channels import woocommerce
from core.channels.canonical import ChannelStatus
from core.errors import PayloadError

SAMPLES = Path(__file__).resolve().parents[3] / ".." / "shared" / "data" / "channels" / "woocommerce"


def _sample() -> dict:
    return json.loads((SAMPLES / "retrieve_order.json").read_text(encoding="utf-8"))


def _order() -> dict:
    return copy.deepcopy(_sample())


def test_woocommerce_sample_order_field_by_field():
    sample = _sample()
    [result] = woocommerce.extract([sample])
    order = result.order
    assert result.error is None
    assert result.native == sample
    assert order.channel_kind == "woocommerce"
    assert order.external_id == str(sample["id"]) == "727"
    assert order.number == sample["number"] == "727"
    # date_created_gmt is documented as UTC though it has no offset; date_created is the site's local time.
    assert order.placed_at == datetime(2017, 3, 22, 19, 28, 2, tzinfo=UTC)
    assert order.updated_at == datetime(2017, 3, 22, 19, 28, 8, tzinfo=UTC)
    assert order.currency == sample["currency"] == "USD"
    assert order.status is ChannelStatus.PAID
    assert order.raw_status == "processing"
    assert order.subtotal == 1800
    assert order.discount_total == 0
    assert order.shipping_total == 1000
    assert order.tax_total == 135
    assert order.total == 2935
    assert order.refunded_total == 0
    assert order.shipping_method == "Flat Rate"
    assert order.source == "rest-api"
    assert order.note is None
    assert order.shipments == ()
    assert order.warnings == ()


def test_woocommerce_sample_lines_field_by_field():
    sample = _sample()
    order = woocommerce.extract([sample])[0].order
    assert len(order.lines) == len(sample["line_items"]) == 2
    first, second = order.lines
    assert first.external_id == str(sample["line_items"][0]["id"]) == "315"
    assert first.channel_sku == "product:93"  # the sample line has an empty sku
    assert first.title == "Woo Single #1"
    assert (first.quantity, first.unit_price, first.discount, first.tax, first.total) == (2, 300, 0, 45, 600)
    assert second.channel_sku == sample["line_items"][1]["sku"] == "Bar3"
    assert second.title == "Ship Your Idea – Color: Black, Size: M Test"  # "&ndash;" unescaped
    assert (second.quantity, second.unit_price, second.tax, second.total) == (1, 1200, 90, 1200)


def test_woocommerce_sample_buyer_and_addresses():
    sample = _sample()
    order = woocommerce.extract([sample])[0].order
    assert order.buyer.name == "John Doe"
    assert order.buyer.email == sample["billing"]["email"] == "john.doe@example.com"
    assert order.buyer.phone == "(555) 555-5555"
    assert order.buyer.external_id is None  # customer_id 0 is a guest
    address = order.shipping_address
    assert (address.name, address.line1, address.line2, address.city, address.region) == (
        "John Doe",
        "969 Market",
        None,
        "San Francisco",
        "CA",
    )
    assert (address.postal_code, address.country, address.company) == ("94103", "US", None)
    assert order.billing_address.phone == "(555) 555-5555"


def test_woocommerce_list_of_orders():
    second = _order()
    second["id"] = 728
    second["number"] = "728"
    results = woocommerce.extract([[_order(), second]])
    assert [r.order.external_id for r in results] == ["727", "728"]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("pending", ChannelStatus.PENDING),
        ("on-hold", ChannelStatus.PENDING),
        ("processing", ChannelStatus.PAID),
        ("completed", ChannelStatus.SHIPPED),
        ("cancelled", ChannelStatus.CANCELLED),
        ("failed", ChannelStatus.CANCELLED),
        ("refunded", ChannelStatus.REFUNDED),
    ],
)
def test_woocommerce_status_mapping(raw, expected):
    native = _order()
    native["status"] = raw
    order = woocommerce.adapt(native)
    assert order.status is expected
    assert order.raw_status == raw


def test_woocommerce_unknown_status_waits_as_pending_with_warning():
    native = _order()
    native["status"] = "awaiting-shipment"
    order = woocommerce.adapt(native)
    assert order.status is ChannelStatus.PENDING
    assert order.warnings == ("unknown order status 'awaiting-shipment'",)


def test_woocommerce_refunds_sum_to_refunded_total():
    native = _order()
    native["status"] = "refunded"
    native["refunds"] = [
        {"id": 726, "reason": "", "total": "-10.00"},
        {"id": 730, "reason": "x", "total": "-19.35"},
    ]
    order = woocommerce.adapt(native)
    assert order.status is ChannelStatus.REFUNDED
    assert order.refunded_total == 2935


def test_woocommerce_coupon_discount_is_subtotal_less_total():
    native = _order()
    native["line_items"][1].update(total="9.00", total_tax="0.68")
    native["discount_total"] = "3.00"
    order = woocommerce.adapt(native)
    assert (order.lines[1].unit_price, order.lines[1].discount, order.lines[1].total) == (1200, 300, 900)
    assert order.discount_total == 300


def test_woocommerce_missing_shipping_address_is_a_warning():
    native = _order()
    native["shipping"] = {key: "" for key in native["shipping"]}
    order = woocommerce.adapt(native)
    assert order.shipping_address is None
    assert order.warnings == ("missing shipping address",)


def test_woocommerce_virtual_or_pickup_order_needs_no_address():
    virtual = _order()
    virtual["shipping"] = {}
    virtual["shipping_lines"] = []
    assert woocommerce.adapt(virtual).warnings == ()
    pickup = _order()
    pickup["shipping"] = {}
    pickup["shipping_lines"][0]["method_id"] = "local_pickup"
    assert woocommerce.adapt(pickup).warnings == ()


def test_woocommerce_missing_buyer_is_read():
    native = _order()
    native["billing"] = {}
    order = woocommerce.adapt(native)
    assert order.buyer.email is None
    assert order.buyer.name == "John Doe"  # from the shipping address
    assert order.billing_address is None


def test_woocommerce_registered_customer_id_is_kept():
    native = _order()
    native["customer_id"] = 25
    native["billing"]["email"] = "John.Doe@Example.com"
    order = woocommerce.adapt(native)
    assert order.buyer.external_id == "25"
    assert order.buyer.email == "john.doe@example.com"


def test_woocommerce_line_without_sku_or_product_is_kept_with_warning():
    native = _order()
    native["line_items"][0]["product_id"] = 0
    order = woocommerce.adapt(native)
    assert order.lines[0].channel_sku is None
    assert order.warnings == ("line 1 has no SKU",)


def test_woocommerce_variation_without_sku_names_the_variation():
    native = _order()
    native["line_items"][1]["sku"] = ""
    assert woocommerce.adapt(native).lines[1].channel_sku == "product:22:23"


def test_woocommerce_alpha3_and_unknown_country():
    native = _order()
    native["shipping"]["country"] = "DEU"
    native["billing"]["country"] = "Elbonia"
    order = woocommerce.adapt(native)
    assert order.shipping_address.country == "DE"
    assert order.billing_address.country is None
    assert order.warnings == ("unknown country 'Elbonia'",)


def test_woocommerce_local_time_with_offset_is_used_without_gmt_field():
    native = _order()
    del native["date_created_gmt"]
    native["date_created"] = "2017-03-22T16:28:02-03:00"
    assert woocommerce.adapt(native).placed_at == datetime(2017, 3, 22, 19, 28, 2, tzinfo=UTC)


def test_woocommerce_local_time_without_offset_cannot_be_placed():
    native = _order()
    del native["date_created_gmt"]
    with pytest.raises(PayloadError, match="date_created: time without a UTC offset"):
        woocommerce.adapt(native)


def test_woocommerce_shipment_tracking_meta_becomes_shipments():
    native = _order()
    native["status"] = "completed"
    native["meta_data"].append(
        {
            "id": 1,
            "key": "_wc_shipment_tracking_items",
            "value": [
                {
                    "tracking_provider": "usps",
                    "custom_tracking_provider": "",
                    "tracking_number": "9400111",
                    "date_shipped": "1490227200",
                }
            ],
        }
    )
    [shipment] = woocommerce.adapt(native).shipments
    assert (shipment.carrier, shipment.tracking_number) == ("usps", "9400111")
    assert shipment.shipped_at == datetime(2017, 3, 23, tzinfo=UTC)


def test_woocommerce_unknown_currency_is_an_error():
    native = _order()
    native["currency"] = "XX"
    [result] = woocommerce.extract([native])
    assert result.error == "unknown currency 'XX'"


def test_woocommerce_bad_amount_names_the_field():
    native = _order()
    native["line_items"][0]["subtotal"] = "six"
    with pytest.raises(PayloadError, match=r"line_items\[0\].subtotal: not a money amount"):
        woocommerce.adapt(native)


def test_woocommerce_refund_object_holds_no_order():
    refund = {
        "id": 726,
        "date_created": "2017-03-21T17:07:11",
        "amount": "10.00",
        "reason": "",
        "refunded_by": 1,
        "line_items": [],
    }
    [result] = woocommerce.extract([refund])
    assert result.order is None
    assert result.error.startswith("no order found in document: expected a WooCommerce order")


def test_woocommerce_shipping_method_title_is_unescaped():
    native = _order()
    native["shipping_lines"][0]["method_title"] = "Ground Advantage&#8482; &amp; more"
    assert woocommerce.adapt(native).shipping_method == "Ground Advantage™ & more"


def test_woocommerce_pickup_method_with_instance_suffix_needs_no_address():
    # WooCommerce 2.6-3.x wrote the zone instance into method_id ("flat_rate:25", "local_pickup:3").
    native = _order()
    native["shipping"] = {}
    native["shipping_lines"][0].update(method_id="local_pickup:3", method_title="Local pickup", total="0.00")
    assert woocommerce.adapt(native).warnings == ()
    delivered = _order()
    delivered["shipping"] = {}
    delivered["shipping_lines"][0]["method_id"] = "flat_rate:25"
    assert woocommerce.adapt(delivered).warnings == ("missing shipping address",)


def test_woocommerce_unit_price_comes_from_subtotal_not_discounted_price():
    # `price` is the line total after coupons divided by quantity; the unit price is the pre-coupon one.
    native = _order()
    native["line_items"][0].update(
        quantity=3, subtotal="10.00", total="7.00", total_tax="0.53", price=2.3333333333
    )
    line = woocommerce.adapt(native).lines[0]
    assert (line.quantity, line.unit_price, line.discount, line.total) == (3, 333, 300, 699)
