"""Walmart Marketplace Orders API v3 purchase orders (GET /v3/orders and GET /v3/orders/{purchaseOrderId}).

Documents: the orders list `{"list": {"meta": {"totalCount", "limit", "nextCursor"}, "elements": {"order":
[...]}}}`, the single order `{"order": {...}}`, a bare order or a JSON list of orders. The external id is the
purchaseOrderId (the one the API fetches and ships by); the number is the customerOrderId the buyer sees.
Times are epoch milliseconds (UTC). Amounts are numbers or decimal strings in `{"currency", "amount"}`.

Each order line carries its charges (`charges.charge[]`): PRODUCT is the line's merchandise for its whole
quantity, SHIPPING its share of shipping, each with its own tax; DISCOUNT (or a negative amount) lowers the
line.
Walmart (US) gives no order total, so the total is what the charges and their taxes add up to; a charge of any
other type (a fee, gift wrap, ...) is an order charge named after it and its line. Where an `orderTotal` is
given (Walmart Mexico) it is the total, and a difference from the charges holds the order ("totals do not add
up: ..."). Refunded charges (`refund.refundCharges`) make the
refunded total. A line's status is the last of its `orderLineStatuses`; the order is CANCELLED when every
line is, SHIPPED when every line still standing has shipped or been delivered, else PAID (Walmart releases
orders paid). The buyer's email is a relay address (...@relay.walmart.com) and is flagged as such; the
estimated ship and delivery dates go in the note. Orders with a WFS ship node are fulfilled by Walmart.

Polling (`poll_pages`): GET /v3/orders by lastModifiedStartDate, following meta.nextCursor. Pushes: stock
levels set the SKU's quantity (PUT /v3/inventory?sku=), shipment confirmations mark the shipped lines
Shipped with their tracking (POST /v3/orders/{purchaseOrderId}/shipping). Every call carries
`WM_SEC.ACCESS_TOKEN: credentials["access_token"]`, a fresh `WM_QOS.CORRELATION_ID` and `WM_SVC.NAME`.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

from core.channels.base import (
    Extracted,
    as_dict,
    as_list,
    check_shipping_address,
    clean,
    currency_or_hold,
    divide,
    extract_json,
    first,
    lines_missing,
    make_address,
    make_buyer,
    make_charges,
    make_line,
    money,
    parse_time,
    placed_time,
    quantity,
    reads_payload,
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
    CARRIERS,
    Request,
    access_token,
    carrier_name,
    created_reference,
    need,
    send,
    shipped_at,
    shipped_lines,
    stock_quantity,
)
from core.channels.polling_base import MAX_PAGES, Page, PollError, json_object, text_credential
from core.errors import PayloadError

KIND = "walmart"
ORDERS_PATH = "/v3/orders"
SERVICE_NAME = "Walmart Marketplace"
PAGE_SIZE = 100  # Walmart allows up to 200
# Without createdStartDate Walmart lists only orders created in the last 7 days; it keeps them 180 days.
CREATED_LOOKBACK = timedelta(days=180)

_EXPECTED = (
    'a Walmart orders list {"list": {"elements": {"order": [...]}}}, a single order {"order": {...}} '
    "or a purchase order object"
)
_OPEN = frozenset({"Created", "Acknowledged"})
_SENT = frozenset({"Shipped", "Delivered"})
_KNOWN = _OPEN | _SENT | {"Cancelled"}


def extract(documents: Sequence[Any]) -> list[Extracted]:
    """All orders found in these documents (the orders list, a single order), in order."""
    return extract_json(documents, _find_orders, adapt, _EXPECTED)


def _is_order(item: Any) -> bool:
    return isinstance(item, dict) and "purchaseOrderId" in item


def _find_orders(data: Any) -> list | None:
    """The native orders a document holds; an empty list page holds none."""
    if isinstance(data, list):
        return data if any(_is_order(item) for item in data) else None
    if not isinstance(data, dict):
        return None
    if isinstance(data.get("list"), dict):
        elements = data["list"].get("elements")
        orders = elements.get("order") if isinstance(elements, dict) else None
        return orders if isinstance(orders, list) and orders else None
    if isinstance(data.get("order"), dict):
        return [data["order"]]
    return [data] if _is_order(data) else None


@reads_payload
def adapt(native: dict) -> CanonicalOrder:
    """One purchase order -> canonical; raises PayloadError with an exact reason when it cannot be read."""
    warnings: list[str] = []
    external_id = clean(native.get("purchaseOrderId"))
    if external_id is None:
        raise PayloadError("purchaseOrderId: missing")
    raw_lines = [
        as_dict(raw, f"orderLines.orderLine[{i}]")
        for i, raw in enumerate(
            as_list(as_dict(native.get("orderLines"), "orderLines").get("orderLine"), "orderLines.orderLine")
        )
    ]
    if not raw_lines:
        warnings.append(lines_missing("orderLines.orderLine"))
    currency = currency_or_hold(_currency_of(native, raw_lines), "currency", warnings)

    parts = {"subtotal": 0, "discount": 0, "shipping": 0, "tax": 0, "other": 0}
    unplaced: list[tuple[str, str, int, int]] = []
    lines = tuple(_line(raw, i, currency, parts, unplaced, warnings) for i, raw in enumerate(raw_lines))
    refunded = sum(_refunded(raw, i, currency) for i, raw in enumerate(raw_lines))
    line_statuses = [_line_status(raw) for raw in raw_lines]
    status, raw_status = _status(line_statuses, warnings)

    order_charges = make_charges(*unplaced)
    charged = parts["subtotal"] - parts["discount"] + parts["shipping"] + parts["tax"] + parts["other"]
    order_total = as_dict(native.get("orderTotal"), "orderTotal")
    if clean(order_total.get("amount")) is not None:
        total = money(order_total.get("amount"), currency, "orderTotal.amount")
    else:
        total = charged
    if charged != total:
        warnings.append(
            f"totals do not add up: subtotal - discounts + shipping + tax + charges = {charged}, "
            f"order total {total}"
        )
    if total > 0 and refunded >= total:
        status = ChannelStatus.REFUNDED

    info = as_dict(native.get("shippingInfo"), "shippingInfo")
    shipping_address = _address(
        as_dict(info.get("postalAddress"), "shippingInfo.postalAddress"), info, warnings
    )
    by_walmart = _fulfilled_by_walmart(native)
    pickup = any(
        (clean(as_dict(raw.get("fulfillment"), "fulfillment").get("fulfillmentOption")) or "").upper()
        == "PICKUP"
        for raw in raw_lines
    )
    check_shipping_address(
        warnings,
        shipping_address,
        needed=not by_walmart and not pickup and status in (ChannelStatus.PAID, ChannelStatus.SHIPPED),
    )
    status_dates = [_epoch_ms(raw.get("statusDate"), "statusDate") for raw in raw_lines]
    return CanonicalOrder(
        channel_kind=KIND,
        external_id=external_id,
        number=first(native.get("customerOrderId"), external_id),
        placed_at=_placed(native.get("orderDate"), warnings),
        updated_at=max((d for d in status_dates if d is not None), default=None),
        currency=currency,
        status=status,
        raw_status=raw_status,
        buyer=make_buyer(
            name=shipping_address.name if shipping_address else None,
            email=native.get("customerEmailId"),
            phone=clean(info.get("phone")),
        ),
        billing_address=None,
        shipping_address=shipping_address,
        lines=lines,
        shipping_method=clean(info.get("methodCode")),
        subtotal=parts["subtotal"],
        discount_total=parts["discount"],
        shipping_total=parts["shipping"],
        tax_total=parts["tax"],
        total=total,
        charges=order_charges,
        lines_complete=bool(raw_lines),
        fulfilled_by_channel=by_walmart,
        refunded_total=refunded,
        shipments=tuple(s for raw in raw_lines for s in _shipments(raw)),
        source=first(native.get("orderType")),
        note=_estimates(info),
        warnings=tuple(warnings),
    )


def _epoch_ms(value: Any, field: str) -> datetime | None:
    """Epoch milliseconds (a number or digit string) as an aware UTC time; None when missing."""
    if value is None or value == "" or isinstance(value, bool):
        return None
    if isinstance(value, str) and not value.strip().lstrip("-").isdigit():
        return parse_time(value, field)
    try:
        return datetime.fromtimestamp(int(value) / 1000, UTC)
    except (TypeError, ValueError, OverflowError, OSError):
        raise PayloadError(f"{field}: not a time in epoch milliseconds: {value!r}") from None


def _placed(value: Any, warnings: list[str]) -> datetime | None:
    """orderDate; missing holds the order (placed_time)."""
    moment = _epoch_ms(value, "orderDate")
    return moment if moment is not None else placed_time(None, "orderDate", warnings)


def _time(value: Any, field: str) -> datetime:
    moment = _epoch_ms(value, field)
    if moment is None:
        raise PayloadError(f"{field}: missing")
    return moment


def _amount(value: Any, currency: str, field: str) -> int:
    """A Walmart money object {currency, amount}; missing is 0."""
    return money(as_dict(value, field).get("amount"), currency, field)


def _currency_of(native: dict, lines: list[dict]) -> Any:
    """The currency of the order total, else of the first charge that names one."""
    code = clean(as_dict(native.get("orderTotal"), "orderTotal").get("currency"))
    for line in lines:
        for raw in as_list(as_dict(line.get("charges"), "charges").get("charge"), "charges.charge"):
            code = code or clean(
                as_dict(as_dict(raw, "charge").get("chargeAmount"), "chargeAmount").get("currency")
            )
    return code


def _charge_kind(charge_type: str, name: str) -> str:
    """A line charge that is neither product, discount nor shipping: gift wrap, fee or other."""
    if "WRAP" in charge_type or "wrap" in name.lower():
        return ChargeKind.GIFT_WRAP.value
    if charge_type == "FEE" or "fee" in name.lower():
        return ChargeKind.FEE.value
    return ChargeKind.OTHER.value


def _line(
    raw: dict,
    index: int,
    currency: str,
    parts: dict[str, int],
    unplaced: list[tuple[str, str, int, int]],
    warnings: list[str],
) -> CanonicalLine:
    """One order line: merchandise from PRODUCT charges (whole quantity), its discounts and all its taxes."""
    field = f"orderLines.orderLine[{index}]"
    item = as_dict(raw.get("item"), f"{field}.item")
    count = quantity(
        as_dict(raw.get("orderLineQuantity"), f"{field}.orderLineQuantity").get("amount"),
        f"{field}.orderLineQuantity.amount",
    )
    merchandise = discount = tax = 0
    for j, entry in enumerate(
        as_list(as_dict(raw.get("charges"), f"{field}.charges").get("charge"), "charge")
    ):
        charge = as_dict(entry, f"{field}.charges.charge[{j}]")
        kind = (clean(charge.get("chargeType")) or "").upper()
        amount = _amount(charge.get("chargeAmount"), currency, f"{field}.charges.charge[{j}].chargeAmount")
        charge_tax = _amount(
            as_dict(charge.get("tax"), "tax").get("taxAmount"), currency, f"{field}.charges.charge[{j}].tax"
        )
        parts["tax"] += charge_tax
        if kind in ("PRODUCT", "DISCOUNT"):
            tax += charge_tax  # the line's own tax; tax on its shipping counts in the order's only
        if kind == "DISCOUNT" or (kind == "PRODUCT" and amount < 0):
            discount += abs(amount)
            parts["discount"] += abs(amount)
        elif kind == "PRODUCT":
            merchandise += amount
            parts["subtotal"] += amount
        elif kind == "SHIPPING":
            parts["shipping"] += amount
        else:
            parts["other"] += amount
            name = clean(charge.get("chargeName")) or kind.title() or "Charge"
            unplaced.append((_charge_kind(kind, name), f"{name} (line {index + 1})", amount, charge_tax))
    return make_line(
        warnings,
        index + 1,
        external_id=raw.get("lineNumber"),
        sku=item.get("sku"),
        title=item.get("productName"),
        quantity=count,
        unit_price=divide(merchandise, count),
        discount=discount,
        tax=tax,
    )


def _line_status(raw: dict) -> str | None:
    """A line's current status: the last of its orderLineStatuses."""
    statuses = as_list(
        as_dict(raw.get("orderLineStatuses"), "orderLineStatuses").get("orderLineStatus"), "orderLineStatus"
    )
    words = [clean(as_dict(s, "orderLineStatus").get("status")) for s in statuses]
    words = [w for w in words if w]
    return words[-1] if words else None


def _status(line_statuses: list[str | None], warnings: list[str]) -> tuple[ChannelStatus, str]:
    """Cancelled when every line is, shipped when every line standing went out, else paid."""
    words = [w or "none" for w in line_statuses]
    raw = "/".join(dict.fromkeys(words))
    unknown = [w for w in dict.fromkeys(words) if w not in _KNOWN]
    if unknown:
        unknown_status(warnings, unknown[0])
        return ChannelStatus.PENDING, raw
    standing = [w for w in words if w != "Cancelled"]
    if not standing:
        return ChannelStatus.CANCELLED, raw
    if all(w in _SENT for w in standing):
        return ChannelStatus.SHIPPED, raw
    return ChannelStatus.PAID, raw


def _refunded(raw: dict, index: int, currency: str) -> int:
    """What was paid back on one line: its refund charges and their taxes (Walmart gives them negative)."""
    refund = as_dict(raw.get("refund"), f"orderLines.orderLine[{index}].refund")
    charges = as_list(
        as_dict(refund.get("refundCharges"), "refundCharges").get("refundCharge"), "refundCharge"
    )
    total = 0
    for j, entry in enumerate(charges):
        charge = as_dict(as_dict(entry, "refundCharge").get("charge"), "refundCharge.charge")
        field = f"orderLines.orderLine[{index}].refund.refundCharges.refundCharge[{j}]"
        total += abs(_amount(charge.get("chargeAmount"), currency, f"{field}.chargeAmount"))
        total += abs(_amount(as_dict(charge.get("tax"), "tax").get("taxAmount"), currency, f"{field}.tax"))
    return total


def _shipments(raw: dict) -> list[CanonicalShipment]:
    """The tracking of a line's Shipped / Delivered statuses."""
    shipments = []
    statuses = as_list(
        as_dict(raw.get("orderLineStatuses"), "orderLineStatuses").get("orderLineStatus"), "orderLineStatus"
    )
    for entry in statuses:
        status = as_dict(entry, "orderLineStatus")
        tracking = as_dict(status.get("trackingInfo"), "trackingInfo")
        if clean(status.get("status")) not in _SENT or not tracking:
            continue
        carrier = as_dict(tracking.get("carrierName"), "carrierName")
        shipments.append(
            CanonicalShipment(
                carrier=first(carrier.get("carrier"), carrier.get("otherCarrier")),
                tracking_number=clean(tracking.get("trackingNumber")),
                shipped_at=_epoch_ms(tracking.get("shipDateTime"), "trackingInfo.shipDateTime"),
            )
        )
    return shipments


def _address(raw: dict, info: dict, warnings: list[str]) -> CanonicalAddress | None:
    """shippingInfo.postalAddress (country is ISO alpha-3, "USA"), with shippingInfo.phone."""
    return make_address(
        warnings,
        name=raw.get("name"),
        line1=raw.get("address1"),
        line2=raw.get("address2"),
        city=raw.get("city"),
        region=raw.get("state"),
        postal_code=raw.get("postalCode"),
        country_value=raw.get("country"),
        phone=info.get("phone"),
    )


def _fulfilled_by_walmart(native: dict) -> bool:
    """A WFS (Walmart Fulfillment Services) ship node: Walmart ships it from its own stock."""
    node = as_dict(native.get("shipNode"), "shipNode")
    return (clean(node.get("type")) or "").upper().startswith("WFS")


def _estimates(info: dict) -> str | None:
    """Walmart's promised dates, for whoever ships the order."""
    parts = []
    for key, label in (("estimatedShipDate", "ship by"), ("estimatedDeliveryDate", "deliver by")):
        moment = _epoch_ms(info.get(key), f"shippingInfo.{key}")
        if moment is not None:
            parts.append(f"{label} {moment.strftime('%Y-%m-%d %H:%M UTC')}")
    return f"Walmart estimates: {', '.join(parts)}" if parts else None


def walmart_time(moment: datetime) -> str:
    """ISO 8601 in UTC as Walmart's query parameters take it: 2026-11-20T12:00:00Z."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# --- polling (the hook of core.channels.polling_base) -------------------------------------------------------


def _headers(credentials: Mapping[str, Any], token: str) -> dict[str, str]:
    headers = {
        "WM_SEC.ACCESS_TOKEN": token,
        "WM_QOS.CORRELATION_ID": str(uuid.uuid4()),
        "WM_SVC.NAME": SERVICE_NAME,
    }
    if credentials.get("channel_type"):
        headers["WM_CONSUMER.CHANNEL.TYPE"] = str(credentials["channel_type"])
    return headers


def poll_pages(
    client: HttpClient, credentials: Mapping[str, Any], since: datetime, until: datetime | None
) -> Iterator[Page]:
    """GET /v3/orders pages of orders modified in the window, following meta.nextCursor."""
    token = text_credential(credentials, "access_token")
    params: dict[str, Any] | None = {
        "lastModifiedStartDate": walmart_time(since),
        "lastModifiedEndDate": walmart_time(until) if until else None,
        "createdStartDate": walmart_time(since - CREATED_LOOKBACK),
        "limit": PAGE_SIZE,
    }
    path = ORDERS_PATH
    for _ in range(MAX_PAGES):
        response = client.get(path, params, headers=_headers(credentials, token))
        listing = json_object(response, "getAllOrders").get("list")
        if not isinstance(listing, dict):
            raise PollError(f"getAllOrders: no list in {response.text[:200]!r}")
        elements = listing.get("elements")
        orders = (elements.get("order") if isinstance(elements, dict) else None) or []
        if not isinstance(orders, list):
            raise PollError(f"getAllOrders: list.elements.order is not a list in {response.text[:200]!r}")
        page = Page(bodies=[("getAllOrders", response)])
        for order in orders:
            if not isinstance(order, dict):
                continue
            page.orders += 1
            try:
                lines = as_list(as_dict(order.get("orderLines"), "orderLines").get("orderLine"), "orderLine")
                dates = [
                    _epoch_ms(as_dict(line, "orderLine").get("statusDate"), "statusDate") for line in lines
                ]
                moment = max((d for d in dates if d), default=None) or _epoch_ms(
                    order.get("orderDate"), "orderDate"
                )
            except PayloadError:
                moment = None
            if moment is not None:
                page.updated.append(moment)
        yield page
        meta = listing.get("meta")
        cursor = clean(meta.get("nextCursor")) if isinstance(meta, dict) else None
        if not orders or not cursor:
            return
        path, params = f"{ORDERS_PATH}{cursor if cursor.startswith('?') else '?' + cursor}", None
    raise PollError(f"getAllOrders: more than {MAX_PAGES} pages; stopped")


# --- pushes (hooks of core.channels.outbound_base) ----------------------------------------------------------


def auth_headers(credentials: Mapping[str, Any]) -> dict[str, str]:
    """The access token, a fresh correlation id and the service name."""
    return _headers(credentials, str(access_token(credentials)))


def stock_push_request(payload: Mapping[str, Any]) -> Request:
    """Inventory: the SKU's quantity (at the ship node, when one is given)."""
    sku = str(need(payload, "channel_sku"))
    path = f"/v3/inventory?sku={quote(sku, safe='')}"
    if payload.get("ship_node"):
        path += f"&shipNode={quote(str(payload['ship_node']), safe='')}"
    body = {"sku": sku, "quantity": {"unit": "EACH", "amount": stock_quantity(payload)}}
    return "PUT", path, body


def send_stock(
    client: HttpClient, headers: dict[str, str], credentials: Mapping[str, Any], push: Mapping[str, Any]
) -> HttpResponse:
    """Set the SKU's quantity, at credentials["ship_node"] when set."""
    return send(client, stock_push_request({**push, "ship_node": credentials.get("ship_node")}), headers)


def shipment_request(payload: Mapping[str, Any]) -> Request:
    """Ship Order Lines: each shipped line (by lineNumber) Shipped with its quantity and tracking."""
    carrier = carrier_name(payload.get("carrier"))
    tracking: dict[str, Any] = {
        "shipDateTime": int(shipped_at(payload).timestamp() * 1000),
        "carrierName": {"carrier": carrier}
        if carrier in CARRIERS.values()
        else {"otherCarrier": carrier or "Other"},
        "methodCode": payload.get("shipping_method") or "Standard",
        "trackingNumber": str(need(payload, "tracking_number")),
    }
    if payload.get("tracking_url"):
        tracking["trackingURL"] = payload["tracking_url"]
    lines = [
        {
            "lineNumber": line_number,
            "orderLineStatuses": {
                "orderLineStatus": [
                    {
                        "status": "Shipped",
                        "statusQuantity": {"unitOfMeasurement": "EACH", "amount": str(count)},
                        "trackingInfo": tracking,
                    }
                ]
            },
        }
        for line_number, count in shipped_lines(payload)
    ]
    order_id = quote(str(need(payload, "order_external_id")), safe="")
    return (
        "POST",
        f"{ORDERS_PATH}/{order_id}/shipping",
        {"orderShipment": {"orderLines": {"orderLine": lines}}},
    )


def send_shipment(
    client: HttpClient, headers: dict[str, str], credentials: Mapping[str, Any], shipment: Mapping[str, Any]
) -> str:
    """Mark the shipped lines Shipped; the reference is the purchase order and tracking number."""
    response = send(client, shipment_request(shipment), headers)
    order = as_dict(response.data, "response").get("order") if isinstance(response.data, dict) else None
    if isinstance(order, dict) and order.get("purchaseOrderId"):
        return f"purchase order {order['purchaseOrderId']} shipped ({shipment.get('tracking_number')})"
    return created_reference(response)
