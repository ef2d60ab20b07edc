"""WooCommerce REST API v3 orders -> canonical orders: our own order field by field (tests/fixtures/), and the
public "retrieve an order" doc example as an extra conformance check when ../shared/data is present."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime

import pytest

from core.channels import woocommerce
from core.channels.canonical import ChannelStatus
from core.errors import PayloadError
from tests.fixtures import channel_json


def _sample() -> dict:
    """Order 1318 as GET /wp-json/wc/v3/orders/1318 answers it: a starter kit and a proofing basket."""
    return channel_json("woocommerce", "order.json")


def _order() -> dict:
    return copy.deepcopy(_sample())


def test_woocommerce_order_field_by_field():
    sample = _sample()
    [result] = woocommerce.extract([sample])
    order = result.order
    assert result.error is None
    assert result.native == sample
    assert order.channel_kind == "woocommerce"
    assert order.external_id == str(sample["id"]) == "1318"
    assert order.number == sample["number"] == "1318"
    # date_created_gmt is documented as UTC though it has no offset; date_created is the site's local time.
    assert order.placed_at == datetime(2025, 4, 11, 15, 3, 27, tzinfo=UTC)
    assert order.updated_at == datetime(2025, 4, 11, 15, 5, 2, tzinfo=UTC)
    assert order.currency == sample["currency"] == "USD"
    assert order.status is ChannelStatus.PAID
    assert order.raw_status == "processing"
    assert order.subtotal == 4250
    assert order.discount_total == 0
    assert order.shipping_total == 695
    assert order.tax_total == 351
    assert order.total == 5296 == 4250 + 695 + 351
    assert order.refunded_total == 0
    assert order.shipping_method == "Flat rate"
    assert order.source == "checkout"
    assert order.note is None
    assert order.shipments == ()
    assert order.warnings == ()


def test_woocommerce_lines_field_by_field():
    sample = _sample()
    order = woocommerce.extract([sample])[0].order
    assert len(order.lines) == len(sample["line_items"]) == 2
    first, second = order.lines
    assert first.external_id == str(sample["line_items"][0]["id"]) == "1319"
    assert first.channel_sku == "product:412"  # a simple product with an empty sku
    assert first.title == "Sourdough Starter Kit"
    assert (first.quantity, first.unit_price, first.discount, first.tax, first.total) == (
        2,
        1200,
        0,
        198,
        2400,
    )
    assert second.channel_sku == sample["line_items"][1]["sku"] == "BANNETON-9-RND"
    assert second.title == "Proofing Basket – Size: 9in Round, Material: Rattan"  # "&ndash;" unescaped
    assert (second.quantity, second.unit_price, second.tax, second.total) == (1, 1850, 153, 1850)


def test_woocommerce_buyer_and_addresses():
    sample = _sample()
    order = woocommerce.extract([sample])[0].order
    assert order.buyer.name == "Tomás Rivera"
    assert order.buyer.email == sample["billing"]["email"] == "tomas.rivera@example.com"
    assert order.buyer.phone == "(512) 555-0134"
    assert order.buyer.external_id is None  # customer_id 0 is a guest
    address = order.shipping_address
    assert (address.name, address.line1, address.line2, address.city, address.region) == (
        "Tomás Rivera",
        "2417 Elm Street",
        None,
        "Austin",
        "TX",
    )
    assert (address.postal_code, address.country, address.company) == ("78705", "US", None)
    assert order.billing_address.phone == "(512) 555-0134"


def test_woocommerce_list_of_orders():
    second = _order()
    second["id"] = 1325
    second["number"] = "1325"
    results = woocommerce.extract([[_order(), second]])
    assert [r.order.external_id for r in results] == ["1318", "1325"]


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
        {"id": 1330, "reason": "", "total": "-20.00"},
        {"id": 1331, "reason": "basket arrived cracked", "total": "-32.96"},
    ]
    order = woocommerce.adapt(native)
    assert order.status is ChannelStatus.REFUNDED
    assert order.refunded_total == 5296 == order.total


def test_woocommerce_coupon_discount_is_subtotal_less_total():
    native = _order()
    native["line_items"][1].update(total="15.00", total_tax="1.24")
    native["discount_total"] = "3.50"
    order = woocommerce.adapt(native)
    assert (order.lines[1].unit_price, order.lines[1].discount, order.lines[1].total) == (1850, 350, 1500)
    assert order.discount_total == 350


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
    assert order.buyer.name == "Tomás Rivera"  # from the shipping address
    assert order.billing_address is None


def test_woocommerce_registered_customer_id_is_kept():
    native = _order()
    native["customer_id"] = 25
    native["billing"]["email"] = "Tomas.Rivera@Example.com"
    order = woocommerce.adapt(native)
    assert order.buyer.external_id == "25"
    assert order.buyer.email == "tomas.rivera@example.com"


def test_woocommerce_line_without_sku_or_product_is_kept_with_warning():
    native = _order()
    native["line_items"][0]["product_id"] = 0
    order = woocommerce.adapt(native)
    assert order.lines[0].channel_sku is None
    assert order.warnings == ("line 1 has no SKU",)


def test_woocommerce_variation_without_sku_names_the_variation():
    native = _order()
    native["line_items"][1]["sku"] = ""
    assert woocommerce.adapt(native).lines[1].channel_sku == "product:418:421"


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
    native["date_created"] = "2025-04-11T10:03:27-05:00"
    assert woocommerce.adapt(native).placed_at == datetime(2025, 4, 11, 15, 3, 27, tzinfo=UTC)


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
                    "date_shipped": "1744588800",
                }
            ],
        }
    )
    [shipment] = woocommerce.adapt(native).shipments
    assert (shipment.carrier, shipment.tracking_number) == ("usps", "9400111")
    assert shipment.shipped_at == datetime(2025, 4, 14, tzinfo=UTC)


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
        "id": 1330,
        "date_created": "2025-04-15T09:12:40",
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


# --- conformance: the public doc example in ../shared/data (skipped when absent) ----------------------------


def test_woocommerce_public_doc_example_field_by_field(shared_data):
    sample = json.loads((shared_data / "channels" / "woocommerce" / "retrieve_order.json").read_text())
    [result] = woocommerce.extract([sample])
    order = result.order
    assert result.error is None
    assert (order.external_id, order.number) == ("727", "727")
    assert order.placed_at == datetime(2017, 3, 22, 19, 28, 2, tzinfo=UTC)
    assert order.updated_at == datetime(2017, 3, 22, 19, 28, 8, tzinfo=UTC)
    assert (order.currency, order.status, order.raw_status) == ("USD", ChannelStatus.PAID, "processing")
    assert (order.subtotal, order.discount_total, order.shipping_total, order.tax_total, order.total) == (
        1800,
        0,
        1000,
        135,
        2935,
    )
    assert (order.shipping_method, order.source, order.note) == ("Flat Rate", "rest-api", None)
    first, second = order.lines
    assert (first.channel_sku, first.quantity, first.unit_price, first.tax, first.total) == (
        "product:93",
        2,
        300,
        45,
        600,
    )
    assert (second.channel_sku, second.title) == ("Bar3", "Ship Your Idea – Color: Black, Size: M Test")
    assert (order.buyer.name, order.buyer.email, order.buyer.external_id) == (
        "John Doe",
        "john.doe@example.com",
        None,
    )
    assert (order.shipping_address.line1, order.shipping_address.city) == ("969 Market", "San Francisco")
    assert order.warnings == ()
