"""The physical store's point of sale: Square Orders API orders.

Documents: RetrieveOrder / CreateOrder / UpdateOrder `{"order": {...}}`, BatchRetrieveOrders / SearchOrders
`{"orders": [...]}`, an Order object, or an `order.*` webhook event. Webhook events and SearchOrders with
`return_entries` carry only order ids: each gives an Extracted with an error saying the order must be fetched.

Money is `{"amount": <minor units>, "currency": "USD"}`. A line's channel SKU is its `catalog_object_id` (the
catalog item variation: Square orders carry no SKU text); ad-hoc lines have none. Square gives no order
subtotal: it is the sum of the lines' gross sales (base price plus modifiers, when Square leaves gross sales
out). Service charges count as shipping only on orders with a shipment or delivery fulfillment (gratuities
never); otherwise they are charges, as tips are. The currency
is that of the first Money in the order (a return receipt may carry no total_money).

A line sold by measure (`quantity_unit`, e.g. "2.5" pounds) may have a decimal quantity: canonical quantities
are whole, so it becomes one unit priced at the whole line, its title naming the measure, with a warning so
that a person checks the stock taken. A decimal quantity without a unit is malformed.

Point-of-sale orders are handed over at the till: COMPLETED means SHIPPED, and without a shipment or delivery
fulfillment no address is needed; only a shipment or delivery recipient gives the shipping address (a pickup
recipient names the buyer only), and a canceled or failed one is left out. An OPEN order is PAID when tenders
were taken and nothing is due (net_amount_due_money, or the tenders against the total where Square omits it).

In-store returns (`returns[].return_line_items`) become `returns`, and what was paid back becomes
`refunded_total`; an order made only of returns (the usual return receipt) is REFUNDED and names the sale it
returns in `note`.

Pushes: stock levels record a PHYSICAL_COUNT of the listing's channel_listing_id (the catalog item
variation) at credentials["location_id"], with `Authorization: Bearer credentials["access_token"]` and
`Square-Version: credentials["square_version"]` when set.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from core.channels.base import (
    Extracted,
    WebhookScheme,
    adapt_all,
    as_dict,
    as_list,
    check_shipping_address,
    clean,
    currency_or_hold,
    divide,
    first,
    full_name,
    lines_missing,
    load_document,
    make_address,
    make_buyer,
    make_charges,
    make_line,
    minor_units,
    no_order,
    optional_time,
    placed_time,
    quantity,
    reads_payload,
    unknown_status,
)
from core.channels.canonical import (
    CanonicalAddress,
    CanonicalLine,
    CanonicalOrder,
    CanonicalReturnLine,
    CanonicalShipment,
    ChannelStatus,
    ChargeKind,
)
from core.channels.http import HttpClient, HttpResponse
from core.channels.outbound_base import Request, access_token, need, send, stock_quantity
from core.errors import PayloadError

KIND = "square"
WEBHOOK = WebhookScheme("X-Square-Hmacsha256-Signature", None, None, signs_url=True)

_EXPECTED = 'a Square Order, {"order": {...}}, {"orders": [...]} or an order webhook event'
_SHIPPED_TYPES = frozenset({"SHIPMENT", "DELIVERY"})
_FULFILLMENT_ENDED = frozenset({"CANCELED", "FAILED"})
_REFUND_DONE = frozenset({"APPROVED", "COMPLETED"})
_UNIT_KINDS = ("weight_unit", "volume_unit", "length_unit", "area_unit", "time_unit", "generic_unit")


def extract(documents: Sequence[Any]) -> list[Extracted]:
    """All orders found in these documents (one order, a list/search response, a webhook body), in order."""
    results: list[Extracted] = []
    for document in documents:
        try:
            data = load_document(document)
        except PayloadError as exc:
            results.append(no_order(document, str(exc)))
            continue
        if isinstance(data, dict) and isinstance(data.get("data"), dict) and "type" in data:
            results.append(_webhook(data))
        elif (
            isinstance(data, dict) and isinstance(data.get("order_entries"), list) and not data.get("orders")
        ):
            results.extend(_fetch_needed(entry) for entry in data["order_entries"])
        else:
            natives = _find_orders(data)
            results.extend(
                adapt_all(natives, adapt) if natives else [no_order(data, f"expected {_EXPECTED}")]
            )
    return results


def _is_order(item: Any) -> bool:
    """An Order object."""
    return (
        isinstance(item, dict)
        and "location_id" in item
        and any(key in item for key in ("line_items", "returns", "state"))
    )


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


def _webhook(event: dict) -> Extracted:
    """An order webhook event: the full order if it carries one, else an error asking to fetch it."""
    payload = as_dict(event.get("data"), "data")
    obj = payload.get("object") if isinstance(payload.get("object"), dict) else {}
    if isinstance(obj.get("order"), dict):
        return adapt_all([obj["order"]], adapt)[0]
    summary = next((value for value in obj.values() if isinstance(value, dict)), {})
    order_id = first(summary.get("order_id"), payload.get("id"))
    if order_id is None:
        return no_order(event, f"webhook event {event.get('type')!r} names no order")
    version = summary.get("version")
    return Extracted(
        native=event,
        order=None,
        error=(
            f"webhook event {event.get('type')!r} carries only the id of order {order_id}"
            f"{f' (version {version})' if version is not None else ''}: fetch the order with RetrieveOrder"
        ),
    )


def _fetch_needed(entry: Any) -> Extracted:
    """A SearchOrders entry that names an order without its content."""
    order_id = clean(entry.get("order_id")) if isinstance(entry, dict) else None
    return Extracted(
        native=entry if isinstance(entry, dict) else {},
        order=None,
        error=f"search result carries only the id of order {order_id}: fetch it with BatchRetrieveOrders",
    )


@reads_payload
def adapt(native: dict) -> CanonicalOrder:
    """One native order -> canonical; raises PayloadError with an exact reason when it cannot be read."""
    warnings: list[str] = []
    external_id = clean(native.get("id"))
    if external_id is None:
        raise PayloadError("id: missing")
    warnings_first: list[str] = []
    currency = currency_or_hold(_currency_of(native), "currency", warnings_first)
    warnings.extend(warnings_first)
    raw_lines = [
        as_dict(raw, f"line_items[{i}]")
        for i, raw in enumerate(as_list(native.get("line_items"), "line_items"))
    ]
    lines = tuple(_line(raw, i, warnings) for i, raw in enumerate(raw_lines))
    returns, returned_amount, source_orders = _returns(native, warnings)
    if not returns and not raw_lines:
        # A return receipt may list only returns; anything else must sell something: held until fetched.
        warnings.append(lines_missing("line_items"))
    refunded_total = max(returned_amount, _refunds(native))
    fulfillments = [
        as_dict(raw, f"fulfillments[{i}]")
        for i, raw in enumerate(as_list(native.get("fulfillments"), "fulfillments"))
    ]
    shipped = [
        f
        for f in fulfillments
        if clean(f.get("type")) in _SHIPPED_TYPES and clean(f.get("state")) not in _FULFILLMENT_ENDED
    ]
    state = clean(native.get("state"))
    status = _status(native, state=state, lines=lines, returns=returns, shipped=shipped, warnings=warnings)
    raw_status = state or "none"
    if fulfillments:
        raw_status += "/" + ",".join(f"{f.get('type')}:{f.get('state')}" for f in fulfillments)

    recipient, shipping_address = _recipient(shipped, fulfillments, warnings)
    check_shipping_address(
        warnings,
        shipping_address,
        needed=bool(shipped) and status not in (ChannelStatus.CANCELLED, ChannelStatus.REFUNDED),
    )
    note = clean(native.get("note"))
    if source_orders and not raw_lines:
        note = f"return of order {', '.join(source_orders)}"

    def amount(key: str) -> int:
        return minor_units(as_dict(native.get(key), key).get("amount"), key)

    # Service charges are the delivery fee of an order shipped or delivered; gratuities, and every service
    # charge of an order handed over in the store, are charges.
    service_charges = _service_charges(native, amount("total_service_charge_money"))
    shipping_total = 0
    if shipped:
        shipping_total = sum(item[2] for item in service_charges if item[0] != ChargeKind.TIP.value)
        service_charges = [item for item in service_charges if item[0] == ChargeKind.TIP.value]
    return CanonicalOrder(
        channel_kind=KIND,
        external_id=external_id,
        number=clean(native.get("reference_id")),
        placed_at=placed_time(native.get("created_at"), "created_at", warnings),
        updated_at=optional_time(native.get("updated_at"), "updated_at"),
        currency=currency,
        status=status,
        raw_status=raw_status,
        buyer=make_buyer(
            name=first(recipient.get("display_name"), shipping_address.name if shipping_address else None),
            email=recipient.get("email_address"),
            phone=recipient.get("phone_number"),
            external_id=first(native.get("customer_id"), recipient.get("customer_id")),
        ),
        billing_address=None,
        shipping_address=shipping_address,
        lines=lines,
        shipping_method=first(
            *(as_dict(f.get("shipment_details"), "shipment_details").get("shipping_type") for f in shipped)
        )
        if shipped
        else None,
        subtotal=sum(_gross(raw, f"line_items[{i}]") for i, raw in enumerate(raw_lines)),
        discount_total=amount("total_discount_money"),
        shipping_total=shipping_total,
        charges=make_charges(*service_charges, (ChargeKind.TIP, "Tip", amount("total_tip_money"))),
        tax_total=amount("total_tax_money"),
        total=amount("total_money"),
        refunded_total=refunded_total,
        shipments=_shipments(shipped),
        returns=returns,
        lines_complete=bool(raw_lines or returns),
        source=clean(as_dict(native.get("source"), "source").get("name")),
        note=note,
        warnings=tuple(warnings),
    )


def _currency_of(native: dict) -> Any:
    """The order currency: from its total, else from the first Money anywhere in the order."""
    code = as_dict(native.get("total_money"), "total_money").get("currency")
    return code if clean(code) else _first_currency(native)


def _first_currency(value: Any) -> Any:
    """The currency of the first Money object ({"amount": ..., "currency": ...}) found in a JSON value."""
    if isinstance(value, dict):
        if "amount" in value and clean(value.get("currency")):
            return value["currency"]
        values: Any = value.values()
    elif isinstance(value, list):
        values = value
    else:
        return None
    for item in values:
        code = _first_currency(item)
        if code is not None:
            return code
    return None


def _status(
    native: dict,
    *,
    state: str | None,
    lines: tuple[CanonicalLine, ...],
    returns: tuple[CanonicalReturnLine, ...],
    shipped: list[dict],
    warnings: list[str],
) -> ChannelStatus:
    """Map the order state (and, for open orders, payment and shipment progress)."""
    if state == "CANCELED":
        return ChannelStatus.CANCELLED
    if returns and not lines:
        return ChannelStatus.REFUNDED
    if state == "COMPLETED":
        return ChannelStatus.SHIPPED
    if state == "OPEN":
        if shipped and all(f.get("state") == "COMPLETED" for f in shipped):
            return ChannelStatus.SHIPPED
        return ChannelStatus.PAID if _is_paid(native) else ChannelStatus.PENDING
    if state not in (None, "DRAFT"):
        unknown_status(warnings, state)
    return ChannelStatus.PENDING


def _is_paid(native: dict) -> bool:
    """True when tenders were taken and nothing is left to pay (net_amount_due_money is not always given)."""
    tenders = as_list(native.get("tenders"), "tenders")
    if not tenders:
        return False
    if isinstance(native.get("net_amount_due_money"), dict):
        due = native["net_amount_due_money"]
        return minor_units(due.get("amount"), "net_amount_due_money") <= 0
    tendered = sum(
        minor_units(
            as_dict(as_dict(tender, f"tenders[{i}]").get("amount_money"), f"tenders[{i}].amount_money").get(
                "amount"
            ),
            f"tenders[{i}].amount_money",
        )
        for i, tender in enumerate(tenders)
    )
    total = minor_units(as_dict(native.get("total_money"), "total_money").get("amount"), "total_money")
    return tendered >= total


def _service_charges(native: dict, total: int) -> list[tuple[str, str, int]]:
    """The service charges, each by its name (an auto-gratuity is a tip); one "Service charge" of Square's
    total when the listed ones don't add up to it."""
    listed = []
    for i, raw in enumerate(as_list(native.get("service_charges"), "service_charges")):
        charge = as_dict(raw, f"service_charges[{i}]")
        money_value = as_dict(charge.get("applied_money") or charge.get("amount_money"), "applied_money")
        value = minor_units(money_value.get("amount"), f"service_charges[{i}].applied_money")
        kind = ChargeKind.TIP if clean(charge.get("type")) == "AUTO_GRATUITY" else ChargeKind.SERVICE_CHARGE
        listed.append((kind.value, clean(charge.get("name")) or "Service charge", value))
    if sum(item[2] for item in listed) == total:
        return listed
    return [(ChargeKind.SERVICE_CHARGE.value, "Service charge", total)]


def _line(raw: dict, index: int, warnings: list[str]) -> CanonicalLine:
    """One line item: unit price from gross sales / quantity (it includes modifiers)."""
    field = f"line_items[{index}]"
    count, _, measure = _quantity(raw, field)
    title = " - ".join(filter(None, (clean(raw.get("name")), clean(raw.get("variation_name")))))
    if measure is not None:
        title = f"{title} ({measure})" if title else measure
        warnings.append(f"line {index + 1} is sold by measure ({measure}): counted as 1")
    return make_line(
        warnings,
        index + 1,
        external_id=raw.get("uid"),
        sku=raw.get("catalog_object_id"),
        title=title,
        quantity=count,
        unit_price=divide(_gross(raw, field), count)
        if count
        else minor_units(as_dict(raw.get("base_price_money"), "base_price_money").get("amount"), field),
        discount=minor_units(
            as_dict(raw.get("total_discount_money"), "money").get("amount"), f"{field}.total_discount"
        ),
        tax=minor_units(
            as_dict(raw.get("total_tax_money"), "money").get("amount"), f"{field}.total_tax_money"
        ),
    )


def _quantity(raw: dict, field: str) -> tuple[int, Decimal, str | None]:
    """The canonical quantity, the exact one, and for a decimal quantity of a line with a `quantity_unit`
    (counted as 1) its measure ("2.5 IMPERIAL_POUND")."""
    unit = as_dict(raw.get("quantity_unit"), f"{field}.quantity_unit")
    value = raw.get("quantity")
    if unit and isinstance(value, (str, int, float)) and not isinstance(value, bool):
        try:
            amount = Decimal(str(value).strip())
        except InvalidOperation:
            amount = Decimal("NaN")
        if amount.is_finite() and amount > 0 and amount != amount.to_integral_value():
            return 1, amount, f"{amount.normalize():f} {_unit_name(unit)}".strip()
    count = quantity(value, f"{field}.quantity")
    return count, Decimal(count), None


def _unit_name(unit: dict) -> str:
    """The name of a quantity unit: a custom unit's abbreviation or name, else the standard unit's code."""
    measurement = as_dict(unit.get("measurement_unit"), "quantity_unit.measurement_unit")
    custom = as_dict(measurement.get("custom_unit"), "measurement_unit.custom_unit")
    return (
        first(custom.get("abbreviation"), custom.get("name"), *(measurement.get(k) for k in _UNIT_KINDS))
        or ""
    )


def _gross(raw: dict, field: str) -> int:
    """A line's gross sales; without it, the variation's price (base price x quantity) plus its modifiers."""
    if isinstance(raw.get("gross_sales_money"), dict):
        return minor_units(raw["gross_sales_money"].get("amount"), f"{field}.gross_sales_money")
    if isinstance(raw.get("variation_total_price_money"), dict):
        gross = minor_units(
            raw["variation_total_price_money"].get("amount"), f"{field}.variation_total_price_money"
        )
    else:
        _, exact, _ = _quantity(raw, field)
        base = minor_units(
            as_dict(raw.get("base_price_money"), f"{field}.base_price_money").get("amount"),
            f"{field}.base_price_money",
        )
        gross = int((base * exact).quantize(Decimal(1), rounding=ROUND_HALF_UP))
    for j, modifier in enumerate(as_list(raw.get("modifiers"), f"{field}.modifiers")):
        money = as_dict(as_dict(modifier, f"{field}.modifiers[{j}]").get("total_price_money"), "money")
        gross += minor_units(money.get("amount"), f"{field}.modifiers[{j}].total_price_money")
    return gross


def _returns(native: dict, warnings: list[str]) -> tuple[tuple[CanonicalReturnLine, ...], int, list[str]]:
    """Returned lines, the money they returned, and the sales they came from."""
    lines: list[CanonicalReturnLine] = []
    returned = 0
    sources: list[str] = []
    for i, raw in enumerate(as_list(native.get("returns"), "returns")):
        entry = as_dict(raw, f"returns[{i}]")
        source = clean(entry.get("source_order_id"))
        if source and source not in sources:
            sources.append(source)
        entry_total = 0
        for j, item_raw in enumerate(
            as_list(entry.get("return_line_items"), f"returns[{i}].return_line_items")
        ):
            item = as_dict(item_raw, f"returns[{i}].return_line_items[{j}]")
            field = f"returns[{i}].return_line_items[{j}]"
            amount = minor_units(
                as_dict(item.get("total_money"), "total_money").get("amount"), f"{field}.total_money"
            )
            entry_total += amount
            count, _, measure = _quantity(item, field)
            title = " - ".join(filter(None, (clean(item.get("name")), clean(item.get("variation_name")))))
            if measure is not None:
                title = f"{title} ({measure})" if title else measure
                warnings.append(f"return line {len(lines) + 1} is sold by measure ({measure}): counted as 1")
            lines.append(
                CanonicalReturnLine(
                    external_id=clean(item.get("source_line_item_uid")) or clean(item.get("uid")),
                    channel_sku=clean(item.get("catalog_object_id")),
                    title=title or f"return line {j + 1}",
                    quantity=count,
                    amount=amount,
                )
            )
        amounts = as_dict(entry.get("return_amounts"), f"returns[{i}].return_amounts")
        if isinstance(amounts.get("total_money"), dict):
            entry_total = minor_units(
                amounts["total_money"].get("amount"), f"returns[{i}].return_amounts.total_money"
            )
        returned += entry_total
    order_amounts = as_dict(native.get("return_amounts"), "return_amounts")
    if isinstance(order_amounts.get("total_money"), dict):
        returned = minor_units(order_amounts["total_money"].get("amount"), "return_amounts.total_money")
    return tuple(lines), returned, sources


def _refunds(native: dict) -> int:
    """Refunds of this order's tenders that went through."""
    total = 0
    for i, raw in enumerate(as_list(native.get("refunds"), "refunds")):
        refund = as_dict(raw, f"refunds[{i}]")
        if clean(refund.get("status")) in _REFUND_DONE:
            total += minor_units(
                as_dict(refund.get("amount_money"), "amount_money").get("amount"), f"refunds[{i}]"
            )
    return total


def _recipient(
    shipped: list[dict], fulfillments: list[dict], warnings: list[str]
) -> tuple[dict, CanonicalAddress | None]:
    """The buyer's recipient entry (a shipment's or delivery's first, else a pickup's) and the shipping
    address, which only a shipment or delivery recipient gives."""
    found: dict = {}
    for fulfillment in [*shipped, *fulfillments]:
        for key in ("shipment_details", "delivery_details", "pickup_details"):
            details = as_dict(fulfillment.get(key), key)
            recipient = as_dict(details.get("recipient"), f"{key}.recipient")
            if not recipient:
                continue
            if fulfillment in shipped and key != "pickup_details":
                return recipient, _address(recipient, warnings)
            found = found or recipient
    return found, None


def _address(recipient: dict, warnings: list[str]) -> CanonicalAddress | None:
    """A Square Address of a fulfillment recipient."""
    raw = as_dict(recipient.get("address"), "recipient.address")
    return make_address(
        warnings,
        name=first(recipient.get("display_name"), full_name(raw.get("first_name"), raw.get("last_name"))),
        company=raw.get("organization"),
        line1=raw.get("address_line_1"),
        line2=" ".join(filter(None, (clean(raw.get("address_line_2")), clean(raw.get("address_line_3"))))),
        city=first(raw.get("locality"), raw.get("sublocality")),
        region=raw.get("administrative_district_level_1"),
        postal_code=raw.get("postal_code"),
        country_value=raw.get("country"),
        phone=recipient.get("phone_number"),
    )


def _shipments(shipped: list[dict]) -> tuple[CanonicalShipment, ...]:
    """Shipments with a carrier or tracking number from shipment fulfillments."""
    shipments = []
    for i, fulfillment in enumerate(shipped):
        details = as_dict(fulfillment.get("shipment_details"), "shipment_details")
        carrier, tracking = clean(details.get("carrier")), clean(details.get("tracking_number"))
        if carrier or tracking:
            shipped_at = optional_time(
                details.get("shipped_at"), f"fulfillments[{i}].shipment_details.shipped_at"
            )
            shipments.append(CanonicalShipment(carrier, tracking, shipped_at))
    return tuple(shipments)


# --- pushes (hooks of core.channels.outbound_base) ----------------------------------------------------------


def auth_headers(credentials: Mapping[str, Any]) -> dict[str, str]:
    """The access token as a bearer token, and the API version when the credentials pin one."""
    headers = {"Authorization": f"Bearer {access_token(credentials)}"}
    if credentials.get("square_version"):
        headers["Square-Version"] = str(credentials["square_version"])
    return headers


def stock_push_request(payload: Mapping[str, Any]) -> Request:
    """Inventory BatchChangeInventory: a PHYSICAL_COUNT of the variation IN_STOCK at a location."""
    body = {
        "idempotency_key": str(need(payload, "idempotency_key")),
        "changes": [
            {
                "type": "PHYSICAL_COUNT",
                "physical_count": {
                    "catalog_object_id": str(need(payload, "channel_listing_id")),
                    "location_id": str(need(payload, "location_id")),
                    "state": "IN_STOCK",
                    "quantity": str(stock_quantity(payload)),
                    "occurred_at": str(need(payload, "occurred_at")),
                },
            }
        ],
        "ignore_unchanged_counts": True,
    }
    return "POST", "/v2/inventory/changes/batch-create", body


def send_stock(
    client: HttpClient, headers: dict[str, str], credentials: Mapping[str, Any], push: Mapping[str, Any]
) -> HttpResponse:
    """Record the count at the location, under a fresh idempotency key."""
    payload = {**push, "location_id": credentials.get("location_id"), "idempotency_key": str(uuid.uuid4())}
    return send(client, stock_push_request(payload), headers)
