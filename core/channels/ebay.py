"""eBay Sell Fulfillment API orders: the Order object (getOrder) and the getOrders response {"orders": [...]}.

Amounts are `{"value": "12.0", "currency": "USD"}` in the seller's currency. `lineItemCost` is the line's
price times its quantity, so the unit price is derived from it. eBay-collected ("collect and remit") tax is
only in the order total when the order was fetched with fieldGroups=TAX_BREAKDOWN: `tax_total` follows
`pricingSummary.tax`, so totals stay consistent with the payload either way. The Order object carries no
tracking numbers (those live in shipping fulfillments), so `shipments` stays empty.

Polling (`poll_pages`): getOrders pages filtered by lastmodifieddate. Pushes: stock levels set the channel
SKU's ship-to-home quantity (Inventory API bulkUpdatePriceQuantity); shipment confirmations create a
shipping fulfillment (Sell Fulfillment API). Every call carries `Authorization: Bearer
credentials["access_token"]`.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime
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
    shipped_at,
    shipped_lines,
    stock_quantity,
)
from core.channels.polling_base import MAX_PAGES, Page, PollError, as_time, json_object, text_credential
from core.errors import PayloadError

KIND = "ebay"
ORDERS_PATH = "/sell/fulfillment/v1/order"
PAGE_SIZE = 50

_EXPECTED = 'an eBay Order object (getOrder) or a getOrders response {"orders": [...]}'
# Fulfillment types where a parcel goes to an address (the others are digital or picked up).
_SHIPPED_TYPES = frozenset({"SHIP_TO", None})


def extract(documents: Sequence[Any]) -> list[Extracted]:
    """All orders found in these documents (one order, a list/search response, a webhook body), in order."""
    return extract_json(documents, _find_orders, adapt, _EXPECTED)


def _is_order(item: Any) -> bool:
    """An Order object."""
    return isinstance(item, dict) and "orderId" in item and ("lineItems" in item or "pricingSummary" in item)


def _find_orders(data: Any) -> list | None:
    """The native orders a document holds."""
    if isinstance(data, list):
        return data if any(_is_order(item) for item in data) else None
    if isinstance(data, dict) and isinstance(data.get("orders"), list):
        return data["orders"]
    return [data] if _is_order(data) else None


@reads_payload
def adapt(native: dict) -> CanonicalOrder:
    """One native order -> canonical; raises PayloadError with an exact reason when it cannot be read."""
    warnings: list[str] = []
    external_id = clean(native.get("orderId"))
    if external_id is None:
        raise PayloadError("orderId: missing")
    pricing = as_dict(native.get("pricingSummary"), "pricingSummary")
    raw_items = [
        as_dict(raw, f"lineItems[{i}]") for i, raw in enumerate(as_list(native.get("lineItems"), "lineItems"))
    ]
    if not raw_items:
        warnings.append(lines_missing("lineItems"))
    currency = currency_or_hold(_currency_of(pricing, raw_items), "currency", warnings)
    status, raw_status = _status(native, warnings)
    lines = tuple(_line(raw, i, currency, warnings) for i, raw in enumerate(raw_items))

    buyer = as_dict(native.get("buyer"), "buyer")
    registration = as_dict(buyer.get("buyerRegistrationAddress"), "buyer.buyerRegistrationAddress")
    instructions = as_list(native.get("fulfillmentStartInstructions"), "fulfillmentStartInstructions")
    instruction = as_dict(instructions[0], "fulfillmentStartInstructions[0]") if instructions else {}
    step = as_dict(instruction.get("shippingStep"), "fulfillmentStartInstructions[0].shippingStep")
    ship_to = as_dict(step.get("shipTo"), "fulfillmentStartInstructions[0].shippingStep.shipTo")
    shipping_address = _address(ship_to, "shipTo", warnings)
    billing_address = _address(registration, "buyerRegistrationAddress", warnings)
    check_shipping_address(
        warnings,
        shipping_address,
        needed=clean(instruction.get("fulfillmentInstructionsType")) in _SHIPPED_TYPES
        and status not in (ChannelStatus.CANCELLED, ChannelStatus.REFUNDED),
    )

    def amount(key: str) -> int:
        return abs(
            money(
                as_dict(pricing.get(key), f"pricingSummary.{key}").get("value"),
                currency,
                f"pricingSummary.{key}",
            )
        )

    return CanonicalOrder(
        channel_kind=KIND,
        external_id=external_id,
        number=first(native.get("legacyOrderId"), external_id),
        placed_at=placed_time(native.get("creationDate"), "creationDate", warnings),
        updated_at=optional_time(native.get("lastModifiedDate"), "lastModifiedDate"),
        currency=currency,
        status=status,
        raw_status=raw_status,
        buyer=make_buyer(
            name=first(registration.get("fullName"), ship_to.get("fullName")),
            email=first(registration.get("email"), ship_to.get("email")),
            phone=first(_phone(registration), _phone(ship_to)),
            external_id=buyer.get("username"),
        ),
        billing_address=billing_address,
        shipping_address=shipping_address,
        lines=lines,
        shipping_method=first(step.get("shippingServiceCode")),
        subtotal=amount("priceSubtotal"),
        # eBay reports discounts as negative amounts; item and delivery discounts together make the order's.
        discount_total=amount("priceDiscount") + amount("deliveryDiscount"),
        shipping_total=amount("deliveryCost"),
        tax_total=amount("tax"),
        total=amount("total"),
        # Charged beside the items: a fee eBay adds for some categories, and an adjustment (a credit when
        # negative) the seller or eBay made to the order.
        charges=make_charges(
            (ChargeKind.FEE, "Fee", amount("fee")),
            (
                ChargeKind.OTHER,
                "Adjustment",
                money(
                    as_dict(pricing.get("adjustment"), "pricingSummary.adjustment").get("value"),
                    currency,
                    "pricingSummary.adjustment",
                ),
            ),
        ),
        lines_complete=bool(raw_items),
        refunded_total=_refunded(native, raw_items, currency),
        source=first(raw_items[0].get("purchaseMarketplaceId")) if raw_items else None,
        note=clean(native.get("buyerCheckoutNotes")),
        warnings=tuple(warnings),
    )


def _currency_of(pricing: dict, items: list[dict]) -> Any:
    """The order currency: from the order total, else from any priced part of the order."""
    for key in ("total", "priceSubtotal"):
        code = as_dict(pricing.get(key), f"pricingSummary.{key}").get("currency")
        if clean(code):
            return code
    for item in items:
        code = as_dict(item.get("lineItemCost"), "lineItemCost").get("currency")
        if clean(code):
            return code
    return None


def _status(native: dict, warnings: list[str]) -> tuple[ChannelStatus, str]:
    """Reduce payment, fulfillment and cancel states to one status, and the raw words for the timeline."""
    payment = clean(native.get("orderPaymentStatus"))
    fulfillment = clean(native.get("orderFulfillmentStatus"))
    cancel = clean(as_dict(native.get("cancelStatus"), "cancelStatus").get("cancelState"))
    raw = f"{payment or 'NONE'}/{fulfillment or 'NONE'}"
    if cancel not in (None, "NONE_REQUESTED"):
        raw += f"/{cancel}"
    if cancel == "IN_PROGRESS":
        warnings.append("buyer requested cancellation")
    if payment == "FULLY_REFUNDED":
        return ChannelStatus.REFUNDED, raw
    if cancel == "CANCELED":
        return ChannelStatus.CANCELLED, raw
    if fulfillment == "FULFILLED":
        return ChannelStatus.SHIPPED, raw
    if payment in ("PAID", "PARTIALLY_REFUNDED"):
        return ChannelStatus.PAID, raw
    if payment == "FAILED":
        warnings.append("payment failed")
    elif payment not in (None, "PENDING"):
        unknown_status(warnings, payment)
    return ChannelStatus.PENDING, raw


def _line(raw: dict, index: int, currency: str, warnings: list[str]) -> CanonicalLine:
    """One line item: unit price = lineItemCost / quantity, discount from appliedPromotions, tax: taxes."""
    field = f"lineItems[{index}]"
    count = quantity(raw.get("quantity"), f"{field}.quantity")
    cost = money(
        as_dict(raw.get("lineItemCost"), f"{field}.lineItemCost").get("value"),
        currency,
        f"{field}.lineItemCost",
    )
    discount = sum(
        abs(
            money(
                as_dict(as_dict(p, f"{field}.appliedPromotions").get("discountAmount"), "discountAmount").get(
                    "value"
                ),
                currency,
                f"{field}.appliedPromotions[{i}].discountAmount",
            )
        )
        for i, p in enumerate(as_list(raw.get("appliedPromotions"), f"{field}.appliedPromotions"))
    )
    tax = sum(
        money(
            as_dict(as_dict(t, f"{field}.taxes").get("amount"), "amount").get("value"),
            currency,
            f"{field}.taxes[{i}]",
        )
        for i, t in enumerate(as_list(raw.get("taxes"), f"{field}.taxes"))
    )
    sku = clean(raw.get("sku"))
    item_id, variation_id = clean(raw.get("legacyItemId")), clean(raw.get("legacyVariationId"))
    if sku is None and item_id is not None:
        # One listing can hold several variations: the variation keeps them apart.
        sku = f"item:{item_id}" if variation_id is None else f"item:{item_id}:{variation_id}"
    return make_line(
        warnings,
        index + 1,
        external_id=raw.get("lineItemId"),
        sku=sku,
        title=raw.get("title"),
        quantity=count,
        unit_price=divide(cost, count),
        discount=discount,
        tax=tax,
    )


def _phone(contact: dict) -> str | None:
    """The primary phone number of an eBay contact."""
    return clean(as_dict(contact.get("primaryPhone"), "primaryPhone").get("phoneNumber"))


def _address(contact: dict, field: str, warnings: list[str]) -> CanonicalAddress | None:
    """An eBay contact (fullName, companyName, contactAddress, primaryPhone) as an address."""
    raw = as_dict(contact.get("contactAddress"), f"{field}.contactAddress")
    return make_address(
        warnings,
        name=contact.get("fullName"),
        company=contact.get("companyName"),
        line1=raw.get("addressLine1"),
        line2=raw.get("addressLine2"),
        city=raw.get("city"),
        region=raw.get("stateOrProvince"),
        postal_code=raw.get("postalCode"),
        country_value=raw.get("countryCode"),
        phone=_phone(contact),
    )


def _refunded(native: dict, items: list[dict], currency: str) -> int:
    """What was refunded: the order-level list, or the line-level refunds where those add up to more.

    eBay shows one refund at both levels (paymentSummary.refunds lists every refund of the order, the line
    items repeat theirs), so the two are never added together."""
    summary = as_dict(native.get("paymentSummary"), "paymentSummary")
    order_level = 0
    for i, raw in enumerate(as_list(summary.get("refunds"), "paymentSummary.refunds")):
        refund = as_dict(raw, f"paymentSummary.refunds[{i}]")
        if refund.get("refundStatus") in ("REFUNDED", None):
            order_level += _order_amount(
                refund.get("amount"), currency, f"paymentSummary.refunds[{i}].amount"
            )
    line_level = 0
    for i, item in enumerate(items):
        for j, raw in enumerate(as_list(item.get("refunds"), f"lineItems[{i}].refunds")):
            refund = as_dict(raw, f"lineItems[{i}].refunds[{j}]")
            line_level += _order_amount(refund.get("amount"), currency, f"lineItems[{i}].refunds[{j}].amount")
    return max(order_level, line_level)


def _order_amount(value: Any, currency: str, field: str) -> int:
    """An amount in the order currency (absolute); payment amounts may be in the seller's payout currency,
    with the order-currency figure in convertedFromValue. An amount in neither counts as 0."""
    raw = as_dict(value, field)
    code = (clean(raw.get("currency")) or currency).upper()
    if code == currency:
        return abs(money(raw.get("value"), currency, field))
    if (clean(raw.get("convertedFromCurrency")) or "").upper() == currency:
        return abs(money(raw.get("convertedFromValue"), currency, f"{field}.convertedFromValue"))
    return 0


def ebay_time(moment: datetime) -> str:
    """ISO 8601 in UTC with milliseconds, as eBay's APIs take it: 2026-11-20T12:00:00.000Z."""
    utc = moment.astimezone(UTC)
    return f"{utc.strftime('%Y-%m-%dT%H:%M:%S')}.{utc.microsecond // 1000:03d}Z"


# --- polling (the hook of core.channels.polling_base) -------------------------------------------------------


def poll_pages(
    client: HttpClient, credentials: Mapping[str, Any], since: datetime, until: datetime | None
) -> Iterator[Page]:
    """getOrders pages filtered by lastmodifieddate, following the offset while eBay gives a next page."""
    headers = {"Authorization": f"Bearer {text_credential(credentials, 'access_token')}"}
    window = f"lastmodifieddate:[{ebay_time(since)}..{ebay_time(until) if until else ''}]"
    offset = 0
    for _ in range(MAX_PAGES):
        response = client.get(
            ORDERS_PATH, {"filter": window, "limit": PAGE_SIZE, "offset": offset}, headers=headers
        )
        data = json_object(response, "getOrders")
        orders = data.get("orders") or []
        if not isinstance(orders, list):
            raise PollError(f"getOrders: orders is not a list in {response.text[:200]!r}")
        page = Page(bodies=[("getOrders", response)])
        for order in orders:
            if isinstance(order, dict):
                page.orders += 1
                updated = as_time(order.get("lastModifiedDate")) or as_time(order.get("creationDate"))
                if updated is not None:
                    page.updated.append(updated)
        yield page
        if not orders or not data.get("next"):
            return
        offset += len(orders)
    raise PollError(f"getOrders: more than {MAX_PAGES} pages; stopped")


# --- pushes (hooks of core.channels.outbound_base) ----------------------------------------------------------


def auth_headers(credentials: Mapping[str, Any]) -> dict[str, str]:
    """The OAuth user token as a bearer token."""
    return {"Authorization": f"Bearer {access_token(credentials)}"}


def stock_push_request(payload: Mapping[str, Any]) -> Request:
    """Inventory bulkUpdatePriceQuantity: the item's total ship-to-home quantity (live offers follow)."""
    body = {
        "requests": [
            {
                "sku": str(need(payload, "channel_sku")),
                "shipToLocationAvailability": {"quantity": stock_quantity(payload)},
            }
        ]
    }
    return "POST", "/sell/inventory/v1/bulk_update_price_quantity", body


def send_stock(
    client: HttpClient, headers: dict[str, str], credentials: Mapping[str, Any], push: Mapping[str, Any]
) -> HttpResponse:
    """Update the SKU's quantity; a permanent OutboundError when the bulk answer (a 200) refuses it."""
    response = send(client, stock_push_request(push), headers)
    data = response.data if isinstance(response.data, dict) else {}
    refused = [r for r in data.get("responses") or [] if int(r.get("statusCode") or 200) >= 400]
    if refused:
        raise OutboundError(f"eBay refused the quantity update: {refused}"[:2000], permanent=True)
    return response


def shipment_request(payload: Mapping[str, Any]) -> Request:
    """Sell Fulfillment createShippingFulfillment: line items, ship date, carrier and tracking number."""
    body = {
        "lineItems": [{"lineItemId": item, "quantity": qty} for item, qty in shipped_lines(payload)],
        "shippedDate": ebay_time(shipped_at(payload)),
    }
    if payload.get("tracking_number"):  # optional for eBay, though usually known
        body["shippingCarrierCode"] = carrier_name(payload.get("carrier")) or "Other"
        body["trackingNumber"] = str(payload["tracking_number"])
    order_id = quote(str(need(payload, "order_external_id")), safe="")
    return "POST", f"{ORDERS_PATH}/{order_id}/shipping_fulfillment", body


def send_shipment(
    client: HttpClient, headers: dict[str, str], credentials: Mapping[str, Any], shipment: Mapping[str, Any]
) -> str:
    """Create the shipping fulfillment; the reference is its id, from the Location eBay answers with."""
    return created_reference(send(client, shipment_request(shipment), headers))
