"""The web shop's own JSON order format -> canonical orders, and its validation messages."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime

import pytest

from core.channels import webshop
from core.channels.canonical import ChannelStatus
from core.errors import PayloadError

ORDER = {
    "id": "WS-10042",
    "number": "10042",
    "placed_at": "2024-05-01T10:15:00+02:00",
    "updated_at": "2024-05-01T10:20:00+02:00",
    "status": "paid",
    "currency": "EUR",
    "customer": {"id": "C-7", "name": "Ann Lee", "email": "Ann.Lee@Example.com", "phone": "+49 30 1234"},
    "billing_address": {
        "name": "Ann Lee",
        "line1": "Hauptstr. 1",
        "city": "Berlin",
        "postal_code": "10115",
        "country": "DE",
    },
    "shipping_address": {
        "name": "Ann Lee",
        "line1": "Hauptstr. 1",
        "line2": "Hinterhaus",
        "city": "Berlin",
        "region": "BE",
        "postal_code": "10115",
        "country": "DE",
    },
    "lines": [
        {
            "id": "1",
            "sku": "MUG-RED",
            "title": "Red mug",
            "quantity": 2,
            "unit_price": "12.50",
            "discount": "0.00",
            "tax": "4.75",
        },
        {
            "id": "2",
            "sku": "TEE-M",
            "title": "T-shirt M",
            "quantity": 1,
            "unit_price": "19.99",
            "discount": "2.00",
            "tax": "3.42",
        },
    ],
    "shipping": {"method": "DHL Paket", "amount": "4.90"},
    "totals": {"subtotal": "44.99", "discount": "2.00", "shipping": "4.90", "tax": "8.17", "total": "56.06"},
}


def _order() -> dict:
    return copy.deepcopy(ORDER)


def test_webshop_order_field_by_field():
    [result] = webshop.extract([ORDER])
    order = result.order
    assert result.error is None
    assert order.channel_kind == "webshop"
    assert (order.external_id, order.number) == ("WS-10042", "10042")
    assert order.placed_at == datetime(2024, 5, 1, 8, 15, tzinfo=UTC)
    assert order.placed_at.utcoffset().total_seconds() == 7200
    assert order.updated_at == datetime(2024, 5, 1, 8, 20, tzinfo=UTC)
    assert order.currency == "EUR"
    assert order.status is ChannelStatus.PAID
    assert order.raw_status == "paid"
    assert (order.subtotal, order.discount_total, order.shipping_total, order.tax_total, order.total) == (
        4499,
        200,
        490,
        817,
        5606,
    )
    assert order.shipping_method == "DHL Paket"
    assert order.buyer.email == "ann.lee@example.com"
    assert (order.buyer.name, order.buyer.phone, order.buyer.external_id) == ("Ann Lee", "+49 30 1234", "C-7")
    address = order.shipping_address
    assert (
        address.line1,
        address.line2,
        address.city,
        address.region,
        address.postal_code,
        address.country,
    ) == ("Hauptstr. 1", "Hinterhaus", "Berlin", "BE", "10115", "DE")
    assert order.billing_address.line2 is None
    mug, tee = order.lines
    assert (
        mug.external_id,
        mug.channel_sku,
        mug.title,
        mug.quantity,
        mug.unit_price,
        mug.tax,
        mug.total,
    ) == ("1", "MUG-RED", "Red mug", 2, 1250, 475, 2500)
    assert (tee.unit_price, tee.discount, tee.total) == (1999, 200, 1799)
    assert order.warnings == ()


def test_webshop_extract_reads_wrappers_lists_and_text():
    second = _order()
    second["id"] = "WS-10043"
    results = webshop.extract([{"order": ORDER}, {"orders": [ORDER, second]}, json.dumps([second])])
    assert [r.order.external_id for r in results] == ["WS-10042", "WS-10042", "WS-10043", "WS-10043"]


@pytest.mark.parametrize("status", ["pending", "paid", "shipped", "cancelled", "refunded"])
def test_webshop_statuses_are_ours_already(status):
    native = _order()
    native["status"] = status
    assert webshop.adapt(native).status.value == status


@pytest.mark.parametrize("key", webshop.WEBSHOP_ORDER_SCHEMA["required"])
def test_webshop_every_required_field_is_enforced(key):
    native = _order()
    del native[key]
    with pytest.raises(PayloadError, match=f"^{key}"):
        webshop.adapt(native)


def test_webshop_required_fields_match_the_schema():
    assert webshop.WEBSHOP_ORDER_SCHEMA["required"] == [
        "id",
        "placed_at",
        "status",
        "currency",
        "lines",
        "totals",
    ]
    assert webshop.WEBSHOP_ORDER_SCHEMA["$defs"]["totals"]["required"] == [
        "subtotal",
        "discount",
        "shipping",
        "tax",
        "total",
    ]
    assert webshop.WEBSHOP_ORDER_SCHEMA["$defs"]["line"]["required"] == ["title", "quantity", "unit_price"]


def test_webshop_schema_is_plain_json():
    assert json.loads(json.dumps(webshop.WEBSHOP_ORDER_SCHEMA)) == webshop.WEBSHOP_ORDER_SCHEMA
    assert webshop.WEBSHOP_ORDER_SCHEMA["properties"]["status"]["enum"] == [
        "pending",
        "paid",
        "shipped",
        "cancelled",
        "refunded",
    ]


def _with(path: tuple, value) -> dict:
    native = _order()
    target = native
    for step in path[:-1]:
        target = target[step]
    if value is _DELETE:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return native


_DELETE = object()


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        (("lines", 1, "quantity"), 0, "lines[1].quantity: must be a positive integer"),
        (("lines", 1, "quantity"), "2", "lines[1].quantity: must be a positive integer"),
        (("lines", 1, "quantity"), 1.5, "lines[1].quantity: must be a positive integer"),
        (("lines", 1, "quantity"), True, "lines[1].quantity: must be a positive integer"),
        (("lines", 0, "unit_price"), 12.5, 'lines[0].unit_price: must be a decimal string like "19.99"'),
        (("lines", 0, "unit_price"), "-1.00", 'lines[0].unit_price: must be a decimal string like "19.99"'),
        (("lines", 0, "unit_price"), "12.505", "lines[0].unit_price: more decimal places than EUR has"),
        (("lines", 0, "unit_price"), _DELETE, "lines[0].unit_price: required"),
        (("lines", 0, "title"), "  ", "lines[0].title: required"),
        (("lines", 0, "sku"), 42, "lines[0].sku: must be a string"),
        (("lines", 0), "mug", "lines[0]: must be an object"),
        (("lines",), [], "lines: must be a non-empty list"),
        (("totals", "total"), _DELETE, "totals.total: required"),
        (("totals", "tax"), "8,17", 'totals.tax: must be a decimal string like "19.99"'),
        (("totals",), "56.06", "totals: must be an object"),
        (("status",), "sent", "status: must be one of pending, paid, shipped, cancelled, refunded"),
        (("status",), ["paid"], "status: must be one of pending, paid, shipped, cancelled, refunded"),
        (("currency",), "XX", "unknown currency 'XX'"),
        (("currency",), None, "currency: required"),
        (("id",), "", "id: required"),
        (("id",), 10042, "id: must be a string"),
        (("placed_at",), "2024-05-01 10:15", "placed_at: must be an ISO 8601 time with a UTC offset"),
        (("placed_at",), "yesterday", "placed_at: must be an ISO 8601 time with a UTC offset"),
        (("customer", "email"), "ann at example", "customer.email: must be an email address"),
        (("shipping_address", "line1"), _DELETE, "shipping_address.line1: required"),
        (("shipping_address", "country"), "", "shipping_address.country: required"),
        (("shipping",), [], "shipping: must be an object"),
    ],
)
def test_webshop_invalid_order_names_the_field(path, value, message):
    native = _with(path, value)
    with pytest.raises(PayloadError) as error:
        webshop.adapt(native)
    assert str(error.value).startswith(message)
    [result] = webshop.extract([native])
    assert result.order is None
    assert result.error.startswith(message)


def test_webshop_line_without_sku_is_kept_with_warning():
    order = webshop.adapt(_with(("lines", 1, "sku"), None))
    assert order.lines[1].channel_sku is None
    assert order.warnings == ("line 2 has no SKU",)


def test_webshop_missing_shipping_address_is_a_warning_when_shipping():
    order = webshop.adapt(_with(("shipping_address",), _DELETE))
    assert order.shipping_address is None
    assert order.warnings == ("missing shipping address",)


def test_webshop_order_without_shipping_needs_no_address():
    native = _with(("shipping_address",), None)
    del native["shipping"]
    order = webshop.adapt(native)
    assert order.shipping_method is None
    assert order.warnings == ()


def test_webshop_optional_fields_may_be_missing():
    native = _order()
    for key in ("number", "updated_at", "customer", "billing_address"):
        del native[key]
    order = webshop.adapt(native)
    assert order.number == "WS-10042"
    assert order.updated_at is None
    assert (order.buyer.name, order.buyer.email) == (None, None)
    assert order.billing_address is None


def test_webshop_alpha3_and_unknown_country():
    assert webshop.adapt(_with(("shipping_address", "country"), "DEU")).shipping_address.country == "DE"
    order = webshop.adapt(_with(("shipping_address", "country"), "Utopia"))
    assert order.shipping_address.country is None
    assert order.warnings == ("unknown country 'Utopia'",)


def test_webshop_shipments_and_refunds():
    native = _order()
    native["status"] = "shipped"
    native["refunded"] = "2.00"
    native["shipments"] = [
        {"carrier": "DHL", "tracking_number": "00340434", "shipped_at": "2024-05-02T08:00:00Z"}
    ]
    order = webshop.adapt(native)
    assert order.refunded_total == 200
    [shipment] = order.shipments
    assert (shipment.carrier, shipment.tracking_number) == ("DHL", "00340434")
    assert shipment.shipped_at == datetime(2024, 5, 2, 8, 0, tzinfo=UTC)


def test_webshop_document_without_order_holds_none():
    [result] = webshop.extract([{"hello": "world"}])
    assert result.error.startswith("no order found in document: expected a web shop order")
