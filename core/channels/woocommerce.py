"""WooCommerce REST API v3 orders (GET /wp-json/wc/v3/orders[/<id>]; the order webhook body is the same).

Documents: an order object or a JSON list of them. Amounts are decimal strings in the order's currency.
Times come from the `*_gmt` fields, which WooCommerce gives without an offset but documents as UTC.
Product names arrive HTML-escaped and are unescaped. Tracking numbers are read from the Shipment Tracking
extension's `_wc_shipment_tracking_items` meta, when present.

Pushes: stock levels set the managed stock quantity of the listing's channel_listing_id, "product" or
"product/variation", authenticated with HTTP Basic credentials `consumer_key` and `consumer_secret`.
"""

from __future__ import annotations

import base64
import html
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from core.channels.base import (
    Extracted,
    MissingCredentials,
    WebhookScheme,
    as_dict,
    as_list,
    check_shipping_address,
    clean,
    currency_or_hold,
    divide,
    extract_json,
    first,
    full_name,
    given_lines,
    make_address,
    make_buyer,
    make_charges,
    make_line,
    money,
    optional_time,
    parse_time,
    placed_time,
    quantity,
    reads_payload,
    unknown_status,
)
from core.channels.canonical import (
    CanonicalAddress,
    CanonicalCharge,
    CanonicalLine,
    CanonicalOrder,
    CanonicalShipment,
    ChannelStatus,
    ChargeKind,
)
from core.channels.http import HttpClient, HttpResponse
from core.channels.outbound_base import Request, need, send, stock_quantity
from core.errors import PayloadError

KIND = "woocommerce"
WEBHOOK = WebhookScheme("X-WC-Webhook-Signature", "X-WC-Webhook-Delivery-ID", "X-WC-Webhook-Topic")

_EXPECTED = (
    'a WooCommerce order object, a list of them, a batch response {"create": [...], "update": [...]} or '
    '{"order": {...}} / {"orders": [...]}'
)
_STATUSES = {
    "pending": ChannelStatus.PENDING,
    "on-hold": ChannelStatus.PENDING,
    "checkout-draft": ChannelStatus.PENDING,
    "processing": ChannelStatus.PAID,
    "completed": ChannelStatus.SHIPPED,
    "cancelled": ChannelStatus.CANCELLED,
    "failed": ChannelStatus.CANCELLED,
    "trash": ChannelStatus.CANCELLED,
    "refunded": ChannelStatus.REFUNDED,
}
# Shipping methods where the buyer collects the parcel: no shipping address is needed.
_PICKUP_METHODS = frozenset({"local_pickup", "pickup_location"})
_TRACKING_META = "_wc_shipment_tracking_items"


def extract(documents: Sequence[Any]) -> list[Extracted]:
    """All orders found in these documents (one order, a list/search response, a webhook body), in order."""
    return extract_json(documents, _find_orders, adapt, _EXPECTED)


# Fields of an order object; a refund object has line items and a date too, but none of these.
_ORDER_FIELDS = ("status", "billing", "order_key", "number", "currency", "line_items")
# Batch responses (POST orders/batch) list what each action made; deleted orders are not orders to take.
_BATCH_KEYS = ("create", "update")


def _is_order(item: Any) -> bool:
    """An order object, whole or limited by a `_fields` filter (a refund names who refunded it)."""
    return (
        isinstance(item, dict)
        and "id" in item
        and "refunded_by" not in item
        and "amount" not in item
        and any(key in item for key in _ORDER_FIELDS if key != "line_items" or "status" in item)
    )


def _is_batch_item(item: Any) -> bool:
    """An order of a batch response, or its error (an item the batch could not create or update)."""
    return _is_order(item) or (isinstance(item, dict) and isinstance(item.get("error"), dict))


def _find_orders(data: Any) -> list | None:
    """The native orders a document holds: an order, a list of them (the REST list, or a webhook's), a
    batch response's created and updated orders, or the legacy API's `order` / `orders` envelopes; a list
    of refunds holds none."""
    if isinstance(data, list):
        return data if any(_is_order(item) for item in data) else None
    if not isinstance(data, dict):
        return None
    if any(isinstance(data.get(key), list) for key in _BATCH_KEYS) and not _is_order(data):
        items = [item for key in _BATCH_KEYS for item in data.get(key) or [] if _is_batch_item(item)]
        return items or None
    if isinstance(data.get("order"), dict):
        return [data["order"]]
    if isinstance(data.get("orders"), list):
        return data["orders"] or None
    return [data] if _is_order(data) else None


@reads_payload
def adapt(native: dict) -> CanonicalOrder:
    """One native order -> canonical; raises PayloadError with an exact reason when it cannot be read."""
    warnings: list[str] = []
    error = native.get("error")
    if isinstance(error, dict):
        raise PayloadError(
            f"the batch could not save order {native.get('id')}: {error.get('code')}: {error.get('message')}"
        )
    external_id = clean(native.get("id"))
    if external_id is None:
        raise PayloadError("id: missing")
    currency = currency_or_hold(native.get("currency"), "currency", warnings)
    raw_status = clean(native.get("status")) or "none"
    status = _STATUSES.get(raw_status)
    if status is None:
        unknown_status(warnings, raw_status)
        status = ChannelStatus.PENDING

    raw_lines = given_lines(native, "line_items", warnings)
    lines = tuple(
        _line(as_dict(raw, f"line_items[{i}]"), i, currency, warnings) for i, raw in enumerate(raw_lines)
    )
    billing = as_dict(native.get("billing"), "billing")
    billing_address = _address(billing, warnings)
    shipping_address = _address(as_dict(native.get("shipping"), "shipping"), warnings)
    shipping_lines = [
        as_dict(raw, f"shipping_lines[{i}]")
        for i, raw in enumerate(as_list(native.get("shipping_lines"), "shipping_lines"))
    ]
    delivered = [line for line in shipping_lines if _method(line) not in _PICKUP_METHODS]
    check_shipping_address(
        warnings,
        shipping_address,
        needed=bool(delivered) and status not in (ChannelStatus.CANCELLED, ChannelStatus.REFUNDED),
    )
    first_shipping = shipping_lines[0] if shipping_lines else {}
    customer_id = clean(native.get("customer_id"))

    return CanonicalOrder(
        channel_kind=KIND,
        external_id=external_id,
        number=first(native.get("number"), external_id),
        placed_at=_time(native, "date_created", required=True, warnings=warnings),
        updated_at=_time(native, "date_modified", required=False),
        currency=currency,
        status=status,
        raw_status=raw_status,
        buyer=make_buyer(
            name=first(
                full_name(billing.get("first_name"), billing.get("last_name")),
                shipping_address.name if shipping_address else None,
            ),
            email=billing.get("email"),
            phone=first(billing.get("phone"), shipping_address.phone if shipping_address else None),
            external_id=None if customer_id in (None, "0") else customer_id,
        ),
        billing_address=billing_address,
        shipping_address=shipping_address,
        lines=lines,
        # Method titles arrive HTML-escaped like product names ("Ground Advantage&#8482;").
        shipping_method=_unescape(first(first_shipping.get("method_title"), first_shipping.get("method_id"))),
        # WooCommerce gives no order subtotal: it is the sum of the line subtotals (before coupons), as
        # given (a unit price rounded from a subtotal of 3 units at 10.00 would not add up again).
        subtotal=sum(
            money(as_dict(raw, f"line_items[{i}]").get("subtotal"), currency, f"line_items[{i}].subtotal")
            for i, raw in enumerate(raw_lines)
        ),
        discount_total=money(native.get("discount_total"), currency, "discount_total"),
        shipping_total=money(native.get("shipping_total"), currency, "shipping_total"),
        tax_total=money(native.get("total_tax"), currency, "total_tax"),
        total=money(native.get("total"), currency, "total"),
        charges=_fees(native, currency),
        lines_complete=bool(raw_lines),
        refunded_total=sum(
            abs(money(as_dict(raw, f"refunds[{i}]").get("total"), currency, f"refunds[{i}].total"))
            for i, raw in enumerate(as_list(native.get("refunds"), "refunds"))
        ),
        shipments=_shipments(native),
        source=clean(native.get("created_via")),
        note=clean(native.get("customer_note")),
        warnings=tuple(warnings),
    )


def _fees(native: dict, currency: str) -> tuple[CanonicalCharge, ...]:
    """Fee lines (payment surcharges, gift wrap, negative fees used as discounts): charges, their tax being
    in total_tax already. A fee named like gift wrapping is one."""
    fees = []
    for i, raw in enumerate(as_list(native.get("fee_lines"), "fee_lines")):
        fee = as_dict(raw, f"fee_lines[{i}]")
        title = _unescape(clean(fee.get("name"))) or "Fee"
        kind = ChargeKind.GIFT_WRAP if "wrap" in title.lower() else ChargeKind.FEE
        amount = money(fee.get("total"), currency, f"fee_lines[{i}].total")
        tax = money(fee.get("total_tax"), currency, f"fee_lines[{i}].total_tax")
        fees.append((kind, title, amount, tax))
    return make_charges(*fees)


def _method(shipping_line: dict) -> str | None:
    """The shipping method id without the zone instance WooCommerce 2.6-3.x appended ("local_pickup:3")."""
    method = clean(shipping_line.get("method_id"))
    return method.partition(":")[0] if method else None


def _unescape(text: str | None) -> str | None:
    """A name as the buyer saw it: WooCommerce sends item and method names HTML-escaped."""
    return html.unescape(text) if text else text


def _time(native: dict, name: str, *, required: bool, warnings: list[str] | None = None) -> datetime | None:
    """`<name>_gmt` read as UTC; without it, the site-local `<name>` only when it carries an offset. A
    required time missing altogether holds the order (placed_time)."""
    gmt = native.get(f"{name}_gmt")
    if clean(gmt) is not None:
        return parse_time(gmt, f"{name}_gmt", naive_is_utc=True)
    if required:
        return placed_time(native.get(name), name, warnings if warnings is not None else [])
    try:
        return optional_time(native.get(name), name)
    except PayloadError:
        # A site-local time of unknown zone only orders updates; better none than a wrong one.
        return None


def _line(raw: dict, index: int, currency: str, warnings: list[str]) -> CanonicalLine:
    """One line item: unit price from the pre-coupon subtotal, discount = subtotal - total."""
    field = f"line_items[{index}]"
    count = quantity(raw.get("quantity"), f"{field}.quantity")
    subtotal = money(raw.get("subtotal"), currency, f"{field}.subtotal")
    total = money(raw.get("total"), currency, f"{field}.total") if clean(raw.get("total")) else subtotal
    # `price` is the line total after coupons per unit, so the unit price comes from the subtotal (rounded).
    unit_price = divide(subtotal, count) if count else money(raw.get("price"), currency, f"{field}.price")
    sku = clean(raw.get("sku"))
    product_id, variation_id = clean(raw.get("product_id")), clean(raw.get("variation_id"))
    if sku is None and product_id not in (None, "0"):
        sku = (
            f"product:{product_id}" if variation_id in (None, "0") else f"product:{product_id}:{variation_id}"
        )
    return make_line(
        warnings,
        index + 1,
        external_id=raw.get("id"),
        sku=sku,
        # WooCommerce sends product names HTML-escaped ("&ndash;").
        title=_unescape(clean(raw.get("name"))),
        quantity=count,
        unit_price=unit_price,
        discount=max(subtotal - total, 0),
        tax=money(raw.get("total_tax"), currency, f"{field}.total_tax"),
    )


def _address(raw: dict, warnings: list[str]) -> CanonicalAddress | None:
    """A WooCommerce billing or shipping block."""
    return make_address(
        warnings,
        name=full_name(raw.get("first_name"), raw.get("last_name")),
        company=raw.get("company"),
        line1=raw.get("address_1"),
        line2=raw.get("address_2"),
        city=raw.get("city"),
        region=raw.get("state"),
        postal_code=raw.get("postcode"),
        country_value=raw.get("country"),
        phone=raw.get("phone"),
    )


def _shipments(native: dict) -> tuple[CanonicalShipment, ...]:
    """Tracking numbers stored by the Shipment Tracking extension in the order's meta data."""
    shipments: list[CanonicalShipment] = []
    for i, raw in enumerate(as_list(native.get("meta_data"), "meta_data")):
        meta = as_dict(raw, f"meta_data[{i}]")
        if meta.get("key") != _TRACKING_META or not isinstance(meta.get("value"), list):
            continue
        for item in meta["value"]:
            if not isinstance(item, dict):
                continue
            shipped = clean(item.get("date_shipped"))
            shipments.append(
                CanonicalShipment(
                    carrier=first(item.get("custom_tracking_provider"), item.get("tracking_provider")),
                    tracking_number=clean(item.get("tracking_number")),
                    shipped_at=datetime.fromtimestamp(int(shipped), UTC)
                    if shipped and shipped.isdigit()
                    else None,
                )
            )
    return tuple(shipments)


# --- pushes (hooks of core.channels.outbound_base) ----------------------------------------------------------


def auth_headers(credentials: Mapping[str, Any]) -> dict[str, str]:
    """HTTP Basic with the REST API consumer key and secret."""
    key, secret = credentials.get("consumer_key"), credentials.get("consumer_secret")
    if not key or not secret:
        raise MissingCredentials("credentials consumer_key/consumer_secret")
    token = base64.b64encode(f"{key}:{secret}".encode()).decode("ascii")
    return {"Authorization": f"Basic {token}"}


def stock_push_request(payload: Mapping[str, Any]) -> Request:
    """REST v3: a product's (or a variation's, "product/variation") managed stock quantity."""
    listing = str(need(payload, "channel_listing_id")).strip("/")
    product, _, variation = listing.partition("/")
    path = f"/wp-json/wc/v3/products/{quote(product, safe='')}"
    if variation:
        path += f"/variations/{quote(variation, safe='')}"
    return "PUT", path, {"stock_quantity": stock_quantity(payload), "manage_stock": True}


def send_stock(
    client: HttpClient, headers: dict[str, str], credentials: Mapping[str, Any], push: Mapping[str, Any]
) -> HttpResponse:
    """Set the product's (or variation's) stock quantity."""
    return send(client, stock_push_request(push), headers)
