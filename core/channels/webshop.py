"""The merchant's own web shop: a clean JSON order format, defined here and published as WEBSHOP_ORDER_SCHEMA.

Money is a decimal string in the order's currency ("19.99"), never a float, with at most the currency's
decimal places. Times are ISO 8601 with a UTC offset. Statuses are ours already: pending, paid, shipped,
cancelled, refunded. An order with a `shipping` block is shipped to `shipping_address` (its absence is a
warning); an order without one (digital goods, collection in store) needs no address. Documents: an order,
`{"order": {...}}`, `{"orders": [...]}` or a JSON list of orders.

Example:
    {"id": "WS-10042", "number": "10042", "placed_at": "2024-05-01T10:15:00+02:00", "status": "paid",
     "currency": "EUR", "customer": {"name": "Ann Lee", "email": "ann@example.com"},
     "shipping_address": {"name": "Ann Lee", "line1": "Hauptstr. 1", "city": "Berlin",
                          "postal_code": "10115", "country": "DE"},
     "lines": [{"id": "1", "sku": "MUG-RED", "title": "Red mug", "quantity": 2, "unit_price": "12.50",
                "discount": "0.00", "tax": "4.75"}],
     "shipping": {"method": "DHL Paket", "amount": "4.90"},
     "totals": {"subtotal": "25.00", "discount": "0.00", "shipping": "4.90", "tax": "4.75", "total": "34.65"}}
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from core.channels.base import (
    Extracted,
    WebhookScheme,
    check_shipping_address,
    clean,
    clean_email,
    currency_code,
    decimal_places_ok,
    extract_json,
    make_address,
    make_buyer,
    make_line,
    money,
    parse_time,
    reads_payload,
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
from core.errors import PayloadError

KIND = "webshop"
WEBHOOK = WebhookScheme("X-Crossdock-Signature", "X-Crossdock-Delivery", "X-Crossdock-Topic")

_MONEY = re.compile(r"^\d+(\.\d+)?$")
_STATUSES = {status.value: status for status in ChannelStatus}
_EXPECTED = 'a web shop order (see WEBSHOP_ORDER_SCHEMA), {"order": {...}} or {"orders": [...]}'

_MONEY_SCHEMA = {
    "type": "string",
    "pattern": r"^\d+(\.\d+)?$",
    "description": "A non-negative decimal amount in the order's currency, at most its decimal places.",
    "examples": ["19.99"],
}
_TEXT = {"type": ["string", "null"]}

WEBSHOP_ORDER_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "WebshopOrder",
    "description": "An order placed in the merchant's own web shop, as the shop sends it to Crossdock.",
    "type": "object",
    "required": ["id", "placed_at", "status", "currency", "lines", "totals"],
    "properties": {
        "id": {"type": "string", "minLength": 1, "description": "The shop's own order id (unique, stable)."},
        "number": {**_TEXT, "description": "The order number shown to the customer; defaults to id."},
        "placed_at": {"type": "string", "format": "date-time", "description": "ISO 8601 with a UTC offset."},
        "updated_at": {
            "type": ["string", "null"],
            "format": "date-time",
            "description": "Last change in the shop; a newer update replaces an older one.",
        },
        "status": {"enum": list(_STATUSES)},
        "currency": {"type": "string", "pattern": "^[A-Z]{3}$", "description": "ISO 4217 code."},
        "customer": {"anyOf": [{"$ref": "#/$defs/customer"}, {"type": "null"}]},
        "billing_address": {"anyOf": [{"$ref": "#/$defs/address"}, {"type": "null"}]},
        "shipping_address": {"anyOf": [{"$ref": "#/$defs/address"}, {"type": "null"}]},
        "lines": {"type": "array", "minItems": 1, "items": {"$ref": "#/$defs/line"}},
        "shipping": {
            "description": "How the order is shipped; absent or null when nothing is shipped.",
            "anyOf": [
                {
                    "type": "object",
                    "required": ["amount"],
                    "properties": {"method": _TEXT, "amount": {"$ref": "#/$defs/money"}},
                },
                {"type": "null"},
            ],
        },
        "totals": {"$ref": "#/$defs/totals"},
        "refunded": {"$ref": "#/$defs/money", "description": "Money paid back so far."},
        "shipments": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "carrier": _TEXT,
                    "tracking_number": _TEXT,
                    "shipped_at": {"type": ["string", "null"], "format": "date-time"},
                },
            },
        },
        "note": _TEXT,
    },
    "$defs": {
        "money": _MONEY_SCHEMA,
        "customer": {
            "type": "object",
            "properties": {
                "id": _TEXT,
                "name": _TEXT,
                "email": {"type": ["string", "null"], "format": "email"},
                "phone": _TEXT,
            },
        },
        "address": {
            "type": "object",
            "required": ["line1", "city", "country"],
            "properties": {
                "name": _TEXT,
                "company": _TEXT,
                "line1": {"type": "string", "minLength": 1},
                "line2": _TEXT,
                "city": {"type": "string", "minLength": 1},
                "region": _TEXT,
                "postal_code": _TEXT,
                "country": {"type": "string", "description": "ISO 3166-1 alpha-2 code, e.g. DE."},
                "phone": _TEXT,
            },
        },
        "line": {
            "type": "object",
            "required": ["title", "quantity", "unit_price"],
            "properties": {
                "id": _TEXT,
                "sku": {**_TEXT, "description": "The shop's SKU; a line without one is held for review."},
                "title": {"type": "string", "minLength": 1},
                "quantity": {"type": "integer", "minimum": 1},
                "unit_price": {
                    "$ref": "#/$defs/money",
                    "description": "Per unit, before discount, tax excluded.",
                },
                "discount": {"$ref": "#/$defs/money", "description": "For the whole line."},
                "tax": {"$ref": "#/$defs/money", "description": "For the whole line."},
            },
        },
        "totals": {
            "type": "object",
            "required": ["subtotal", "discount", "shipping", "tax", "total"],
            "properties": {
                **{
                    key: {"$ref": "#/$defs/money"}
                    for key in ("subtotal", "discount", "shipping", "tax", "total")
                },
                "charges": {
                    "type": "array",
                    "description": "Anything else the buyer paid (tax excluded): the total is subtotal - "
                    "discount + shipping + tax + the charges.",
                    "items": {
                        "type": "object",
                        "required": ["kind", "amount"],
                        "properties": {
                            "kind": {"enum": [kind.value for kind in ChargeKind]},
                            "title": {"type": "string", "maxLength": 200},
                            "amount": {"$ref": "#/$defs/money"},
                        },
                    },
                },
            },
        },
    },
}


def extract(documents: Sequence[Any]) -> list[Extracted]:
    """All orders found in these native documents (a single order, a list, a webhook body), in order."""
    return extract_json(documents, _find_orders, adapt, _EXPECTED)


def _is_order(item: Any) -> bool:
    """A web shop order object."""
    return isinstance(item, dict) and ("lines" in item or "totals" in item)


def _find_orders(data: Any) -> list | None:
    """The native orders a document holds."""
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
    """One web shop order -> canonical; raises PayloadError naming the field at fault (lines[2].quantity)."""
    warnings: list[str] = []
    external_id = _text(native, "id", "id", required=True)
    currency = currency_code(_required(native, "currency", "currency"))
    raw_status = native.get("status")
    status = _STATUSES.get(raw_status) if isinstance(raw_status, str) else None
    if status is None:
        raise PayloadError(f"status: must be one of {', '.join(_STATUSES)}")
    placed_at = _time(native, "placed_at", "placed_at", required=True)

    raw_lines = native.get("lines")
    if not isinstance(raw_lines, list) or not raw_lines:
        raise PayloadError("lines: must be a non-empty list")
    lines = tuple(_line(raw, i, currency, warnings) for i, raw in enumerate(raw_lines))

    totals = _object(native, "totals", "totals", required=True)
    shipping = _object(native, "shipping", "shipping")
    customer = _object(native, "customer", "customer")
    email = _text(customer, "email", "customer.email")
    if email is not None and clean_email(email) is None:
        raise PayloadError("customer.email: must be an email address")
    shipping_address = _address(native, "shipping_address", warnings)
    check_shipping_address(
        warnings,
        shipping_address,
        needed=bool(shipping) and status not in (ChannelStatus.CANCELLED, ChannelStatus.REFUNDED),
    )
    return CanonicalOrder(
        channel_kind=KIND,
        external_id=external_id,
        number=_text(native, "number", "number") or external_id,
        placed_at=placed_at,
        updated_at=_time(native, "updated_at", "updated_at"),
        currency=currency,
        status=status,
        raw_status=status.value,
        buyer=make_buyer(
            name=_text(customer, "name", "customer.name"),
            email=email,
            phone=_text(customer, "phone", "customer.phone"),
            external_id=_text(customer, "id", "customer.id"),
        ),
        billing_address=_address(native, "billing_address", warnings),
        shipping_address=shipping_address,
        lines=lines,
        shipping_method=_text(shipping, "method", "shipping.method"),
        subtotal=_money(totals, "subtotal", "totals.subtotal", currency, required=True),
        discount_total=_money(totals, "discount", "totals.discount", currency, required=True),
        shipping_total=_money(totals, "shipping", "totals.shipping", currency, required=True),
        tax_total=_money(totals, "tax", "totals.tax", currency, required=True),
        total=_money(totals, "total", "totals.total", currency, required=True),
        charges=_charges(totals, currency),
        refunded_total=_money(native, "refunded", "refunded", currency),
        shipments=_shipments(native),
        note=_text(native, "note", "note"),
        warnings=tuple(warnings),
    )


def _charges(totals: dict, currency: str) -> tuple[CanonicalCharge, ...]:
    """totals.charges: tips, gift wrap, fees ... each with a kind the canonical order knows."""
    raw = totals.get("charges")
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise PayloadError("totals.charges: must be a list")
    kinds = {kind.value for kind in ChargeKind}
    made = []
    for i, item in enumerate(raw):
        path = f"totals.charges[{i}]"
        charge = _object({"c": item}, "c", path, required=True)
        kind = _text(charge, "kind", f"{path}.kind")
        if kind not in kinds:
            raise PayloadError(f"{path}.kind: one of {', '.join(sorted(kinds))}")
        title = _text(charge, "title", f"{path}.title") or kind.replace("_", " ").capitalize()
        amount = _money(charge, "amount", f"{path}.amount", currency, required=True)
        made.append(CanonicalCharge(kind, title, amount))
    return tuple(made)


def _required(obj: dict, key: str, path: str) -> Any:
    """A field that must be present and not null."""
    if obj.get(key) is None:
        raise PayloadError(f"{path}: required")
    return obj[key]


def _text(obj: dict, key: str, path: str, *, required: bool = False) -> str | None:
    """A string field (stripped; empty counts as missing)."""
    value = obj.get(key)
    if value is not None and not isinstance(value, str):
        raise PayloadError(f"{path}: must be a string")
    text = clean(value)
    if text is None and required:
        raise PayloadError(f"{path}: required")
    return text


def _object(obj: dict, key: str, path: str, *, required: bool = False) -> dict:
    """An object field; missing or null is {} unless required."""
    value = obj.get(key)
    if value is None:
        if required:
            raise PayloadError(f"{path}: required")
        return {}
    if not isinstance(value, dict):
        raise PayloadError(f"{path}: must be an object")
    return value


def _money(obj: dict, key: str, path: str, currency: str, *, required: bool = False) -> int:
    """A decimal-string amount in minor units; missing is 0 unless required."""
    value = obj.get(key)
    if value is None:
        if required:
            raise PayloadError(f"{path}: required")
        return 0
    if not isinstance(value, str) or not _MONEY.match(value.strip()):
        raise PayloadError(f'{path}: must be a decimal string like "19.99"')
    if not decimal_places_ok(value.strip(), currency):
        raise PayloadError(f"{path}: more decimal places than {currency} has")
    return money(value, currency, path)


def _time(obj: dict, key: str, path: str, *, required: bool = False) -> datetime | None:
    """An ISO 8601 time with a UTC offset."""
    value = obj.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, str):
        raise PayloadError(f"{path}: required" if value is None else f"{path}: must be a string")
    try:
        return parse_time(value, path)
    except PayloadError:
        raise PayloadError(f"{path}: must be an ISO 8601 time with a UTC offset, got {value!r}") from None


def _line(raw: Any, index: int, currency: str, warnings: list[str]) -> CanonicalLine:
    """One order line, validated."""
    path = f"lines[{index}]"
    if not isinstance(raw, dict):
        raise PayloadError(f"{path}: must be an object")
    count = raw.get("quantity")
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        raise PayloadError(f"{path}.quantity: must be a positive integer")
    line_id = raw.get("id")
    if line_id is not None and not isinstance(line_id, (str, int)):
        raise PayloadError(f"{path}.id: must be a string")
    return make_line(
        warnings,
        index + 1,
        external_id=line_id,
        sku=_text(raw, "sku", f"{path}.sku"),
        title=_text(raw, "title", f"{path}.title", required=True),
        quantity=count,
        unit_price=_money(raw, "unit_price", f"{path}.unit_price", currency, required=True),
        discount=_money(raw, "discount", f"{path}.discount", currency),
        tax=_money(raw, "tax", f"{path}.tax", currency),
    )


def _address(native: dict, key: str, warnings: list[str]) -> CanonicalAddress | None:
    """An address block, validated: line1, city and country are required when the block is given."""
    raw = _object(native, key, key)
    if not raw:
        return None
    names = ("name", "company", "line1", "line2", "city", "region", "postal_code", "country", "phone")
    fields = {name: _text(raw, name, f"{key}.{name}") for name in names}
    for name in ("line1", "city", "country"):
        if fields[name] is None:
            raise PayloadError(f"{key}.{name}: required")
    return make_address(
        warnings,
        name=fields["name"],
        company=fields["company"],
        line1=fields["line1"],
        line2=fields["line2"],
        city=fields["city"],
        region=fields["region"],
        postal_code=fields["postal_code"],
        country_value=fields["country"],
        phone=fields["phone"],
    )


def _shipments(native: dict) -> tuple[CanonicalShipment, ...]:
    """Shipments the shop reports."""
    raw = native.get("shipments")
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise PayloadError("shipments: must be a list")
    shipments = []
    for i, item in enumerate(raw):
        if not isinstance(item, dict):
            raise PayloadError(f"shipments[{i}]: must be an object")
        shipped_at = _time(item, "shipped_at", f"shipments[{i}].shipped_at")
        shipments.append(
            CanonicalShipment(
                carrier=_text(item, "carrier", f"shipments[{i}].carrier"),
                tracking_number=_text(item, "tracking_number", f"shipments[{i}].tracking_number"),
                shipped_at=shipped_at,
            )
        )
    return tuple(shipments)
