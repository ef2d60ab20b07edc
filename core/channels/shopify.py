"""Shopify REST Admin API orders (also the orders/create and orders/updated webhook bodies, same shape).

Documents: an order object, `{"order": {...}}`, `{"orders": [...]}` or a JSON list of orders. Orders placed
through Shopify's sales channels (Instagram, Facebook, POS, ...) come through here too; `source_name` tells
them apart and becomes `CanonicalOrder.source`. Amounts are read from the `*_set.shop_money` values when
present (the shop's currency, `currency`), else from the plain fields.

Pushes (REST Admin API, `X-Shopify-Access-Token: credentials["access_token"]`): stock levels set the available
quantity of the listing's inventory item at credentials["location_id"]; the inventory item is
credentials["inventory_item_ids"][channel SKU], or else the listing's variant's (looked up with GET
variants/{id}.json). Shipment confirmations fulfill the shipped lines of the order's open fulfillment orders
(GET orders/{id}/fulfillment_orders.json).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import quote

from core.channels.base import (
    Extracted,
    WebhookScheme,
    as_dict,
    as_list,
    check_shipping_address,
    clean,
    currency_or_hold,
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
    placed_time,
    quantity,
    reads_payload,
    removed_units_charge,
    unknown_status,
)
from core.channels.canonical import (
    CanonicalAddress,
    CanonicalLine,
    CanonicalOrder,
    CanonicalShipment,
    ChannelStatus,
    ChargeKind,
)
from core.channels.http import HttpClient, HttpResponse
from core.channels.outbound_base import (
    OutboundError,
    Request,
    access_token,
    carrier_name,
    created_reference,
    need,
    send,
    shipped_lines,
    stock_quantity,
)
from core.errors import PayloadError

KIND = "shopify"
API = "/admin/api/2024-10"
WEBHOOK = WebhookScheme("X-Shopify-Hmac-Sha256", "X-Shopify-Webhook-Id", "X-Shopify-Topic")

_EXPECTED = 'a Shopify order object, {"order": {...}} or {"orders": [...]}'
_PAID = frozenset({"paid", "partially_paid", "authorized", "partially_refunded"})
# Fulfillments in these states never left the warehouse.
_VOID_FULFILLMENTS = frozenset({"cancelled", "failure", "error"})


def extract(documents: Sequence[Any]) -> list[Extracted]:
    """All orders found in these documents (one order, a list/search response, a webhook body), in order."""
    return extract_json(documents, _find_orders, adapt, _EXPECTED)


# Fields an order object has and its sub-resources (refunds, transactions, fulfillments: they name their
# order_id) lack; a list limited by a `fields` filter keeps at least one besides the id.
_ORDER_FIELDS = ("line_items", "order_number", "financial_status", "total_price", "name", "created_at")


def _is_order(item: Any) -> bool:
    """An order object, whole or limited by a fields filter (a refund has refund_line_items, a
    transaction or fulfillment names its order_id)."""
    return (
        isinstance(item, dict)
        and ("id" in item or "line_items" in item)
        and "refund_line_items" not in item
        and "order_id" not in item
        and any(key in item for key in _ORDER_FIELDS)
    )


def _find_orders(data: Any) -> list | None:
    """The native orders a document holds; a list of something else (refunds) holds none."""
    if isinstance(data, list):
        return data if any(_is_order(item) for item in data) else None
    if not isinstance(data, dict):
        return None
    if isinstance(data.get("order"), dict):
        return [data["order"]]
    if isinstance(data.get("orders"), list):
        return data["orders"]
    return [data] if _is_order(data) else None


@reads_payload
def adapt(native: dict) -> CanonicalOrder:
    """One native order -> canonical; raises PayloadError with an exact reason when it cannot be read."""
    warnings: list[str] = []
    external_id = clean(native.get("id"))
    if external_id is None:
        raise PayloadError("id: missing")
    currency = currency_or_hold(native.get("currency"), "currency", warnings)
    financial = clean(native.get("financial_status"))
    fulfillment = clean(native.get("fulfillment_status"))
    status = _status(native, financial, fulfillment, warnings)
    raw_status = f"{financial or 'none'}/{fulfillment or 'unfulfilled'}"
    if clean(native.get("cancelled_at")):
        raw_status += "/cancelled"

    raw_lines = given_lines(native, "line_items", warnings)
    cancelled_units = _cancelled_units(native)
    lines = tuple(
        _line(as_dict(raw, f"line_items[{i}]"), i, currency, warnings, cancelled_units)
        for i, raw in enumerate(raw_lines)
    )
    shipping_address = _address(native.get("shipping_address"), "shipping_address", warnings)
    billing_address = _address(native.get("billing_address"), "billing_address", warnings)
    source = clean(native.get("source_name"))
    needs_shipping = source != "pos" and any(
        raw.get("requires_shipping", True) is not False for raw in raw_lines
    )
    check_shipping_address(
        warnings,
        shipping_address,
        needed=needs_shipping and status not in (ChannelStatus.CANCELLED, ChannelStatus.REFUNDED),
    )

    shipping_lines = as_list(native.get("shipping_lines"), "shipping_lines")
    first_shipping = as_dict(shipping_lines[0], "shipping_lines[0]") if shipping_lines else {}
    if _has_amount(native, "total_shipping_price"):
        shipping_total = _amount(native, "total_shipping_price", currency)
    else:
        shipping_total = sum(
            _amount(as_dict(raw, f"shipping_lines[{i}]"), "price", currency)
            for i, raw in enumerate(shipping_lines)
        )
    if _has_amount(native, "total_line_items_price"):
        subtotal = _amount(native, "total_line_items_price", currency)
    else:
        subtotal = sum(line.unit_price * line.quantity for line in lines)

    discount_total = _amount(native, "total_discounts", currency)
    tax_total = _amount(native, "total_tax", currency)
    total = _amount(native, "total_price", currency)
    taxes_included = native.get("taxes_included") is True
    order_charges = make_charges(
        (ChargeKind.TIP, "Tip", money(native.get("total_tip_received"), currency, "total_tip_received")),
        (ChargeKind.FEE, "Additional fees", _first_amount(native, currency, _FEE_KEYS)),
        (ChargeKind.DUTY, "Duties", _first_amount(native, currency, _DUTY_KEYS)),
    )
    added = subtotal - discount_total + shipping_total + (0 if taxes_included else tax_total)
    added += sum(charge.amount for charge in order_charges)
    order_charges += removed_units_charge(lines, total - added)

    customer = as_dict(native.get("customer"), "customer")
    return CanonicalOrder(
        channel_kind=KIND,
        external_id=external_id,
        number=first(native.get("name"), native.get("order_number")),
        placed_at=placed_time(
            first(native.get("created_at"), native.get("processed_at")), "created_at", warnings
        ),
        updated_at=optional_time(native.get("updated_at"), "updated_at"),
        currency=currency,
        status=status,
        raw_status=raw_status,
        buyer=make_buyer(
            name=first(
                full_name(customer.get("first_name"), customer.get("last_name")),
                billing_address.name if billing_address else None,
                shipping_address.name if shipping_address else None,
            ),
            email=first(native.get("email"), native.get("contact_email"), customer.get("email")),
            phone=first(
                native.get("phone"),
                customer.get("phone"),
                billing_address.phone if billing_address else None,
                shipping_address.phone if shipping_address else None,
            ),
            external_id=customer.get("id"),
        ),
        billing_address=billing_address,
        shipping_address=shipping_address,
        lines=lines,
        shipping_method=first(first_shipping.get("code"), first_shipping.get("title")),
        subtotal=subtotal,
        discount_total=discount_total,
        shipping_total=shipping_total,
        tax_total=tax_total,
        total=total,
        charges=order_charges,
        taxes_included=taxes_included,
        lines_complete=bool(raw_lines),
        refunded_total=_refunded(native, currency),
        shipments=_shipments(native),
        source=source,
        note=clean(native.get("note")),
        warnings=tuple(warnings),
    )


# Additional fees and duties: the amounts charged at checkout, before any later refund of them.
_FEE_KEYS = ("original_total_additional_fees", "total_additional_fees")
_DUTY_KEYS = ("original_total_duties", "total_duties")


def _first_amount(native: dict, currency: str, keys: Sequence[str]) -> int:
    """The first of these amounts the order carries (as `<key>_set` or plain); 0 when none."""
    for key in keys:
        if _has_amount(native, key):
            return _amount(native, key, currency)
    return 0


def _removed(raw: dict, refunded: dict[str, int], field: str) -> int:
    """Units of a line removed after ordering: quantity - current_quantity (edits and refunds), else the
    units refunded with restock type "cancel" (taken off before they were fulfilled)."""
    if clean(raw.get("current_quantity")) is not None:
        ordered = quantity(raw.get("quantity"), f"{field}.quantity")
        return max(0, ordered - quantity(raw.get("current_quantity"), f"{field}.current_quantity"))
    return refunded.get(clean(raw.get("id")) or "", 0)


def _cancelled_units(native: dict) -> dict[str, int]:
    """Line item id -> units refunded before fulfilment (refund_line_items with restock_type "cancel")."""
    units: dict[str, int] = {}
    for i, refund in enumerate(as_list(native.get("refunds"), "refunds")):
        items = as_list(as_dict(refund, f"refunds[{i}]").get("refund_line_items"), "refund_line_items")
        for j, raw in enumerate(items):
            item = as_dict(raw, f"refunds[{i}].refund_line_items[{j}]")
            line_id = clean(item.get("line_item_id"))
            if line_id and clean(item.get("restock_type")) == "cancel":
                count = quantity(item.get("quantity"), f"refunds[{i}].refund_line_items[{j}].quantity")
                units[line_id] = units.get(line_id, 0) + count
    return units


def _status(
    native: dict, financial: str | None, fulfillment: str | None, warnings: list[str]
) -> ChannelStatus:
    """Reduce financial_status, fulfillment_status and cancelled_at to one status."""
    if financial == "refunded":
        return ChannelStatus.REFUNDED
    if financial == "voided" or clean(native.get("cancelled_at")):
        return ChannelStatus.CANCELLED
    if fulfillment == "fulfilled":
        return ChannelStatus.SHIPPED
    if financial in _PAID:
        return ChannelStatus.PAID
    if financial == "expired":
        warnings.append("payment authorization expired")
    elif financial not in (None, "pending"):
        unknown_status(warnings, financial)
    return ChannelStatus.PENDING


def _has_amount(obj: dict, key: str) -> bool:
    """True when the object carries the amount, as a *_set or a plain field."""
    return isinstance(obj.get(f"{key}_set"), dict) or clean(obj.get(key)) is not None


def _amount(obj: dict, key: str, currency: str, field: str | None = None) -> int:
    """An amount in shop currency: `<key>_set.shop_money.amount` when present, else `<key>`."""
    money_set = obj.get(f"{key}_set")
    if isinstance(money_set, dict):
        shop_money = as_dict(money_set.get("shop_money"), f"{key}_set.shop_money")
        if "amount" in shop_money:
            return money(shop_money["amount"], currency, f"{field or key}_set.shop_money.amount")
    return money(obj.get(key), currency, field or key)


def _line(
    raw: dict, index: int, currency: str, warnings: list[str], cancelled_units: dict[str, int]
) -> CanonicalLine:
    """One line item; discount from discount_allocations (else total_discount), tax from tax_lines."""
    field = f"line_items[{index}]"
    allocations = as_list(raw.get("discount_allocations"), f"{field}.discount_allocations")
    if allocations:
        discount = sum(
            _amount(as_dict(item, f"{field}.discount_allocations[{i}]"), "amount", currency)
            for i, item in enumerate(allocations)
        )
    else:
        discount = _amount(raw, "total_discount", currency, f"{field}.total_discount")
    tax = sum(
        _amount(as_dict(item, f"{field}.tax_lines[{i}]"), "price", currency)
        for i, item in enumerate(as_list(raw.get("tax_lines"), f"{field}.tax_lines"))
    )
    sku = clean(raw.get("sku"))
    if sku is None and clean(raw.get("variant_id")) is not None:
        sku = f"variant:{clean(raw.get('variant_id'))}"
    return make_line(
        warnings,
        index + 1,
        external_id=raw.get("id"),
        sku=sku,
        title=first(raw.get("name"), raw.get("title")),
        quantity=quantity(raw.get("quantity"), f"{field}.quantity"),
        unit_price=_amount(raw, "price", currency, f"{field}.price"),
        discount=discount,
        tax=tax,
        removed_quantity=_removed(raw, cancelled_units, field),
    )


def _address(value: Any, field: str, warnings: list[str]) -> CanonicalAddress | None:
    """A Shopify address object."""
    raw = as_dict(value, field)
    return make_address(
        warnings,
        name=first(raw.get("name"), full_name(raw.get("first_name"), raw.get("last_name"))),
        company=raw.get("company"),
        line1=raw.get("address1"),
        line2=raw.get("address2"),
        city=raw.get("city"),
        region=first(raw.get("province_code"), raw.get("province")),
        postal_code=raw.get("zip"),
        country_value=first(raw.get("country_code"), raw.get("country")),
        phone=raw.get("phone"),
    )


def _refunded(native: dict, currency: str) -> int:
    """Money actually refunded: successful refund transactions of all refunds."""
    total = 0
    for i, refund in enumerate(as_list(native.get("refunds"), "refunds")):
        transactions = as_list(
            as_dict(refund, f"refunds[{i}]").get("transactions"), f"refunds[{i}].transactions"
        )
        for j, raw in enumerate(transactions):
            transaction = as_dict(raw, f"refunds[{i}].transactions[{j}]")
            if transaction.get("kind") == "refund" and transaction.get("status") in ("success", None):
                total += _amount(transaction, "amount", currency, f"refunds[{i}].transactions[{j}].amount")
    return total


def _shipments(native: dict) -> tuple[CanonicalShipment, ...]:
    """One shipment per tracking number of each fulfillment that went out."""
    shipments: list[CanonicalShipment] = []
    for i, raw in enumerate(as_list(native.get("fulfillments"), "fulfillments")):
        fulfillment = as_dict(raw, f"fulfillments[{i}]")
        if clean(fulfillment.get("status")) in _VOID_FULFILLMENTS:
            continue
        carrier = clean(fulfillment.get("tracking_company"))
        shipped_at = optional_time(fulfillment.get("created_at"), f"fulfillments[{i}].created_at")
        numbers = [
            clean(n)
            for n in as_list(fulfillment.get("tracking_numbers"), f"fulfillments[{i}].tracking_numbers")
        ]
        numbers = [n for n in numbers if n] or [clean(fulfillment.get("tracking_number"))]
        shipments.extend(CanonicalShipment(carrier, number, shipped_at) for number in numbers)
    return tuple(shipments)


# --- pushes (hooks of core.channels.outbound_base) ----------------------------------------------------------


def auth_headers(credentials: Mapping[str, Any]) -> dict[str, str]:
    """The Admin API access token header."""
    return {"X-Shopify-Access-Token": access_token(credentials)}


def _numeric_id(value: Any) -> Any:
    """Shopify's ids are integers in its JSON; a digit string becomes one."""
    return int(value) if isinstance(value, str) and value.isdigit() else value


def stock_push_request(payload: Mapping[str, Any]) -> Request:
    """InventoryLevel set: the available quantity of an inventory item at a location."""
    body = {
        "location_id": _numeric_id(need(payload, "location_id")),
        "inventory_item_id": _numeric_id(need(payload, "inventory_item_id")),
        "available": stock_quantity(payload),
    }
    return "POST", f"{API}/inventory_levels/set.json", body


def send_stock(
    client: HttpClient, headers: dict[str, str], credentials: Mapping[str, Any], push: Mapping[str, Any]
) -> HttpResponse:
    """Set the listing's available quantity at the location, looking its inventory item up if need be."""
    item = _inventory_item(client, headers, credentials, push["channel_sku"], push["channel_listing_id"])
    payload = {**push, "location_id": credentials.get("location_id"), "inventory_item_id": item}
    return send(client, stock_push_request(payload), headers)


def _inventory_item(
    client: HttpClient,
    headers: dict[str, str],
    credentials: Mapping[str, Any],
    channel_sku: str,
    variant: str | None,
) -> Any:
    known = (credentials.get("inventory_item_ids") or {}).get(channel_sku)
    if known:
        return known
    if not variant:
        raise OutboundError(f"listing {channel_sku!r} has no Shopify variant id", permanent=True)
    response = client.get(f"{API}/variants/{quote(str(variant), safe='')}.json", headers=headers)
    item = (
        (response.data or {}).get("variant", {}).get("inventory_item_id")
        if isinstance(response.data, dict)
        else None
    )
    if not item:
        raise OutboundError(f"Shopify variant {variant} has no inventory_item_id", permanent=True)
    return item


def shipment_request(payload: Mapping[str, Any]) -> Request:
    """Fulfillment for fulfillment orders: the shipped line items with the tracking number.

    Needs payload["fulfillment_orders"]: the order's, from GET orders/{id}/fulfillment_orders.json."""
    wanted = dict(shipped_lines(payload))
    groups = []
    for fulfillment_order in payload.get("fulfillment_orders") or []:
        if fulfillment_order.get("status") not in ("open", "in_progress"):
            continue
        items = []
        for item in fulfillment_order.get("line_items") or []:
            key = str(item.get("line_item_id"))
            take = min(wanted.get(key, 0), int(item.get("fulfillable_quantity") or 0))
            if take > 0:
                items.append({"id": _numeric_id(item["id"]), "quantity": take})
                wanted[key] -= take
        if items:
            groups.append(
                {
                    "fulfillment_order_id": _numeric_id(fulfillment_order["id"]),
                    "fulfillment_order_line_items": items,
                }
            )
    if not groups:
        raise OutboundError(
            "no open fulfillment order holds the shipped lines (already fulfilled?)", permanent=True
        )
    tracking = {
        "number": payload.get("tracking_number"),
        "company": carrier_name(payload.get("carrier")),
        "url": payload.get("tracking_url"),
    }
    body = {
        "fulfillment": {
            "line_items_by_fulfillment_order": groups,
            "tracking_info": {k: v for k, v in tracking.items() if v},
            "notify_customer": False,  # we send our own shipping email
        }
    }
    return "POST", f"{API}/fulfillments.json", body


def send_shipment(
    client: HttpClient, headers: dict[str, str], credentials: Mapping[str, Any], shipment: Mapping[str, Any]
) -> str:
    """Fulfill the shipped lines of the order's fulfillment orders; the reference is the fulfillment id."""
    order_id = quote(str(need(shipment, "order_external_id")), safe="")
    response = client.get(f"{API}/orders/{order_id}/fulfillment_orders.json", headers=headers)
    data = response.data if isinstance(response.data, dict) else {}
    payload = {**shipment, "fulfillment_orders": data.get("fulfillment_orders") or []}
    response = send(client, shipment_request(payload), headers)
    data = response.data if isinstance(response.data, dict) else {}
    fulfillment = data.get("fulfillment")
    if isinstance(fulfillment, dict) and fulfillment.get("id"):
        return f"fulfillment {fulfillment['id']}"
    return created_reference(response)
