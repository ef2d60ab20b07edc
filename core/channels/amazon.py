"""Amazon Selling Partner API orders, Orders API v0 and v2026-01-01, told apart by their field names.

v0 (PascalCase, `AmazonOrderId`): getOrders `{"payload": {"Orders": [...]}}` and getOrder `{"payload": {...}}`
carry no items. `extract` joins the getOrderItems responses (`{"payload": {"AmazonOrderId", "OrderItems"}}`,
all pages), getOrderBuyerInfo and getOrderAddress responses given in the same call to their order by
AmazonOrderId; the joined native is the v0 order with `OrderItems` (and the fetched `BuyerInfo` /
`ShippingAddress`) set, so `adapt(native)` reproduces the order. A v0 order without its items document is
still an order, with no lines and the warning "order items not fetched (getOrderItems)". v0 `ItemPrice` is
the price of the whole line (unit price x quantity).

v2026-01-01 (camelCase, `orderId`): searchOrders `{"orders": [...]}` and getOrder `{"order": {...}}` with the
items embedded. Money is `{"amount", "currencyCode"}`; the order's financial breakdown is in `proceeds`.

Amazon withholds buyer data (and often the total) on pending orders; the order is read without it. Its buyer
emails are relay addresses (...@marketplace.amazon.com), flagged as such.

The channel is polled and takes both pushes: the calls to the Selling Partner API are in amazon_api, and its
hooks are bound here, on the adapter module, where core.channels.registry looks them up.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from core.channels import amazon_api
from core.channels.base import (
    Extracted,
    adapt_all,
    as_dict,
    as_list,
    check_shipping_address,
    clean,
    currency_code,
    currency_or_hold,
    divide,
    first,
    lines_missing,
    load_document,
    make_address,
    make_buyer,
    make_charges,
    make_line,
    money,
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
    CanonicalShipment,
    ChannelStatus,
    ChargeKind,
)
from core.errors import PayloadError

KIND = "amazon"

# The adapter's optional hooks (the channel is polled and takes both pushes), made in amazon_api.
poll_pages = amazon_api.poll_pages
auth_headers = amazon_api.auth_headers
send_stock = amazon_api.send_stock
send_shipment = amazon_api.send_shipment

ITEMS_NOT_FETCHED = "order items not fetched (getOrderItems)"
_EXPECTED = (
    'expected an Amazon Orders v0 response (getOrders {"payload": {"Orders": [...]}}, getOrder '
    '{"payload": {...}}) or a v2026-01-01 response (searchOrders {"orders": [...]}, '
    'getOrder {"order": {...}})'
)

# OrderStatus (v0) and fulfillmentStatus (v2026-01-01), both spellings.
_STATUSES = {
    "PENDING": ChannelStatus.PENDING,
    "PENDINGAVAILABILITY": ChannelStatus.PENDING,
    "UNFULFILLABLE": ChannelStatus.PENDING,
    "UNSHIPPED": ChannelStatus.PAID,
    "PARTIALLYSHIPPED": ChannelStatus.PAID,
    "SHIPPED": ChannelStatus.SHIPPED,
    "INVOICEUNCONFIRMED": ChannelStatus.SHIPPED,
    "CANCELED": ChannelStatus.CANCELLED,
    "CANCELLED": ChannelStatus.CANCELLED,
}

# Amazon marketplaces: id, sales channel name, currency; for pending orders that carry no amount at all.
_MARKETPLACES = (
    ("ATVPDKIKX0DER", "Amazon.com", "USD"),
    ("A2EUQ1WTGCTBG2", "Amazon.ca", "CAD"),
    ("A1AM78C64UM0Y8", "Amazon.com.mx", "MXN"),
    ("A2Q3Y263D00KWC", "Amazon.com.br", "BRL"),
    ("A1F83G8C2ARO7P", "Amazon.co.uk", "GBP"),
    ("A28R8C7NBKEWEA", "Amazon.ie", "EUR"),
    ("A1PA6795UKMFR9", "Amazon.de", "EUR"),
    ("A13V1IB3VIYZZH", "Amazon.fr", "EUR"),
    ("A1RKKUPIHCS9HS", "Amazon.es", "EUR"),
    ("APJ6JRA9NG5V4", "Amazon.it", "EUR"),
    ("A1805IZSGTT6HS", "Amazon.nl", "EUR"),
    ("AMEN7PMS3EDWL", "Amazon.com.be", "EUR"),
    ("A2NODRKZP88ZB9", "Amazon.se", "SEK"),
    ("A1C3SOZRARQ6R3", "Amazon.pl", "PLN"),
    ("A33AVAJ2PDY3EV", "Amazon.com.tr", "TRY"),
    ("ARBP9OOSHTCHU", "Amazon.eg", "EGP"),
    ("A17E79C6D8DWNP", "Amazon.sa", "SAR"),
    ("A2VIGQ35RCS4UG", "Amazon.ae", "AED"),
    ("A21TJRUUN4KGV", "Amazon.in", "INR"),
    ("AE08WJ6YKNBMC", "Amazon.co.za", "ZAR"),
    ("A19VAU5U5O7RUS", "Amazon.sg", "SGD"),
    ("A39IBJ37TRP1C6", "Amazon.com.au", "AUD"),
    ("A1VC38T7YXB528", "Amazon.co.jp", "JPY"),
)
_MARKETPLACE_CURRENCY = {
    key.lower(): currency for mid, name, currency in _MARKETPLACES for key in (mid, name)
}

_BUYER_FIELDS = ("BuyerEmail", "BuyerName", "BuyerCounty", "BuyerTaxInfo", "PurchaseOrderNumber")


@dataclass
class _Found:
    """What one document holds: orders, or data to join to an order, or nothing."""

    orders: list = field(default_factory=list)
    joins: list[tuple[str, str, dict]] = field(default_factory=list)  # (kind, AmazonOrderId, payload)
    reason: str | None = None


def extract(documents: Sequence[Any]) -> list[Extracted]:
    """All orders found in these native documents (a single order, a list/search response), in order.

    v0 getOrderItems, getOrderBuyerInfo and getOrderAddress responses join the v0 orders given in the same
    call; one whose order is not among them is reported as a document holding no order.
    """
    found: list[tuple[Any, _Found]] = []
    for document in documents:
        try:
            data = load_document(document)
        except PayloadError as exc:
            found.append((document, _Found(reason=str(exc))))
            continue
        found.append((data, _classify(data)))

    order_ids = {
        clean(order.get("AmazonOrderId"))
        for _, item in found
        for order in item.orders
        if isinstance(order, dict) and "AmazonOrderId" in order
    }
    joined: dict[str, dict[str, list[dict]]] = {}
    for _, item in found:
        for kind, order_id, payload in item.joins:
            joined.setdefault(order_id, {}).setdefault(kind, []).append(payload)

    results: list[Extracted] = []
    for data, item in found:
        if item.orders:
            results.extend(adapt_all([_join(order, joined) for order in item.orders], adapt))
        elif item.joins:
            for kind, order_id, _ in item.joins:
                if order_id not in order_ids:
                    results.append(
                        no_order(
                            data,
                            f"{kind} response for order {order_id}, "
                            "which joins that order given in the same call",
                        )
                    )
        else:
            results.append(no_order(data, item.reason or _EXPECTED))
    return results


def _classify(data: Any) -> _Found:
    """Sort a parsed document into orders, data to join, or nothing."""
    if isinstance(data, list):
        is_order = [
            isinstance(item, dict) and ("AmazonOrderId" in item or "orderId" in item) for item in data
        ]
        return _Found(orders=data if any(is_order) else [])
    if not isinstance(data, dict):
        return _Found()
    if isinstance(data.get("payload"), dict):
        return _classify_v0_payload(data["payload"])
    if isinstance(data.get("orders"), list):
        return _Found(orders=data["orders"])
    if isinstance(data.get("order"), dict):
        return _Found(orders=[data["order"]])
    if "orderId" in data and ("orderItems" in data or "createdTime" in data):
        return _Found(orders=[data])
    if "AmazonOrderId" in data:
        return _classify_v0_payload(data)
    errors = as_list(data.get("errors"), "errors") if isinstance(data.get("errors"), list) else []
    if errors and isinstance(errors[0], dict):
        return _Found(reason=f"Amazon error response: {errors[0].get('code')}: {errors[0].get('message')}")
    return _Found()


def _classify_v0_payload(payload: dict) -> _Found:
    """A v0 `payload`: orders list, one order, or an items / buyer / address response."""
    if isinstance(payload.get("Orders"), list):
        return _Found(orders=payload["Orders"])
    order_id = clean(payload.get("AmazonOrderId"))
    if order_id is None:
        return _Found()
    if "PurchaseDate" in payload or "OrderStatus" in payload:
        return _Found(orders=[payload])
    if isinstance(payload.get("OrderItems"), list):
        items = [item for item in payload["OrderItems"] if isinstance(item, dict)]
        # getOrderItemsBuyerInfo also lists OrderItems, but only gift and customisation details.
        is_items = any("QuantityOrdered" in item or "SellerSKU" in item or "ASIN" in item for item in items)
        return _Found(joins=[("getOrderItems" if is_items else "getOrderItemsBuyerInfo", order_id, payload)])
    if "ShippingAddress" in payload:
        return _Found(joins=[("getOrderAddress", order_id, payload)])
    return _Found(joins=[("getOrderBuyerInfo", order_id, payload)])


def _join(order: Any, joined: dict[str, dict[str, list[dict]]]) -> Any:
    """A v0 order with the items, buyer info and address fetched for it set into it."""
    if not isinstance(order, dict) or "AmazonOrderId" not in order:
        return order
    parts = joined.get(clean(order.get("AmazonOrderId")) or "", {})
    if not parts:
        return order
    merged = dict(order)
    if "getOrderItems" in parts:
        merged["OrderItems"] = [item for page in parts["getOrderItems"] for item in page["OrderItems"]]
    for payload in parts.get("getOrderBuyerInfo", []):
        buyer = dict(as_dict(merged.get("BuyerInfo"), "BuyerInfo"))
        buyer.update({key: payload[key] for key in _BUYER_FIELDS if key in payload})
        merged["BuyerInfo"] = buyer
    for payload in parts.get("getOrderAddress", []):
        if isinstance(payload.get("ShippingAddress"), dict):
            merged["ShippingAddress"] = payload["ShippingAddress"]
    return merged


@reads_payload
def adapt(native: dict) -> CanonicalOrder:
    """One native order (v0, with `OrderItems` joined if fetched, or v2026-01-01) -> canonical order."""
    if "AmazonOrderId" in native:
        return _adapt_v0(native)
    if "orderId" in native:
        return _adapt_v2026(native)
    raise PayloadError("neither AmazonOrderId (Orders v0) nor orderId (Orders v2026-01-01) present")


def _status(raw: str | None, warnings: list[str]) -> ChannelStatus:
    """Map OrderStatus / fulfillmentStatus; unknown or unfulfillable orders wait as pending with a warning."""
    key = (raw or "").replace("_", "").upper()
    if key == "UNFULFILLABLE":
        warnings.append("Amazon reports the order unfulfillable")
    status = _STATUSES.get(key)
    if status is None:
        unknown_status(warnings, raw)
        return ChannelStatus.PENDING
    return status


def _marketplace_currency(*keys: Any) -> str | None:
    """The currency of a marketplace named by id or sales channel name."""
    for key in keys:
        currency = _MARKETPLACE_CURRENCY.get((clean(key) or "").lower())
        if currency:
            return currency
    return None


def _needs_address(status: ChannelStatus, by_amazon: bool) -> bool:
    """Only orders we ship ourselves need an address; Amazon withholds it until the order leaves pending."""
    return not by_amazon and status in (ChannelStatus.PAID, ChannelStatus.SHIPPED)


# --- v0 -----------------------------------------------------------------------------------------------------


def _adapt_v0(native: dict) -> CanonicalOrder:
    """An Orders v0 Order (with OrderItems joined when fetched)."""
    warnings: list[str] = []
    external_id = clean(native.get("AmazonOrderId"))
    if external_id is None:
        raise PayloadError("AmazonOrderId: missing")
    has_items = isinstance(native.get("OrderItems"), list)
    items = [
        as_dict(raw, f"OrderItems[{i}]")
        for i, raw in enumerate(as_list(native.get("OrderItems"), "OrderItems"))
    ]
    currency = currency_code(_v0_currency(native, items))
    raw_status = clean(native.get("OrderStatus"))
    status = _status(raw_status, warnings)
    by_amazon = clean(native.get("FulfillmentChannel")) == "AFN"

    if has_items:
        lines = tuple(_v0_line(item, i, currency, warnings) for i, item in enumerate(items))
    else:
        lines = ()
        warnings.append(ITEMS_NOT_FETCHED)

    def total_of(key: str) -> int:
        return sum(abs(_v0_money(item.get(key), currency, key)) for item in items)

    subtotal = total_of("ItemPrice")
    discount_total = total_of("PromotionDiscount") + total_of("ShippingDiscount")
    shipping_total = total_of("ShippingPrice")
    tax_total = total_of("ItemTax") + total_of("ShippingTax") + total_of("GiftWrapTax")
    order_charges = make_charges(
        (ChargeKind.GIFT_WRAP, "Gift wrap", total_of("GiftWrapPrice"), total_of("GiftWrapTax")),
        (ChargeKind.FEE, "Cash on delivery fee", total_of("CODFee") - total_of("CODFeeDiscount")),
    )
    before_tax = subtotal - discount_total + shipping_total + sum(c.amount for c in order_charges)
    order_total = as_dict(native.get("OrderTotal"), "OrderTotal")
    if clean(order_total.get("Amount")) is not None:
        total = _v0_money(order_total, currency, "OrderTotal")
    else:
        total = before_tax + tax_total
    # Marketplaces with VAT (Amazon.de, .co.uk, ...) give prices that include the tax they report: the
    # order total then equals the parts without the tax.
    taxes_included = bool(items) and tax_total != 0 and total == before_tax

    shipping_address = _v0_address(as_dict(native.get("ShippingAddress"), "ShippingAddress"), warnings)
    check_shipping_address(
        warnings,
        shipping_address,
        needed=_needs_address(status, by_amazon) and native.get("IsISPU") is not True,
    )
    buyer = as_dict(native.get("BuyerInfo"), "BuyerInfo")
    return CanonicalOrder(
        channel_kind=KIND,
        external_id=external_id,
        number=external_id,
        placed_at=placed_time(native.get("PurchaseDate"), "PurchaseDate", warnings),
        updated_at=optional_time(native.get("LastUpdateDate"), "LastUpdateDate"),
        currency=currency,
        status=status,
        raw_status=raw_status or "none",
        buyer=make_buyer(
            name=first(buyer.get("BuyerName"), shipping_address.name if shipping_address else None),
            email=buyer.get("BuyerEmail"),
            phone=shipping_address.phone if shipping_address else None,
        ),
        billing_address=None,
        shipping_address=shipping_address,
        lines=lines,
        shipping_method=first(native.get("ShipServiceLevel"), native.get("ShipmentServiceLevelCategory")),
        subtotal=subtotal,
        discount_total=discount_total,
        shipping_total=shipping_total,
        tax_total=tax_total,
        total=total,
        charges=order_charges,
        taxes_included=taxes_included,
        lines_complete=has_items,
        fulfilled_by_channel=by_amazon,
        source=clean(native.get("SalesChannel")),
        warnings=tuple(warnings),
    )


def _v0_money(value: Any, currency: str, field: str) -> int:
    """A v0 Money object {CurrencyCode, Amount}; missing is 0."""
    return money(as_dict(value, field).get("Amount"), currency, field)


def _v0_currency(native: dict, items: list[dict]) -> Any:
    """From OrderTotal, else from the items' prices, else from the marketplace."""
    code = as_dict(native.get("OrderTotal"), "OrderTotal").get("CurrencyCode")
    for item in items:
        code = code or as_dict(item.get("ItemPrice"), "ItemPrice").get("CurrencyCode")
    return code or _marketplace_currency(native.get("MarketplaceId"), native.get("SalesChannel"))


def _v0_line(item: dict, index: int, currency: str, warnings: list[str]) -> CanonicalLine:
    """A v0 OrderItem: ItemPrice covers the whole quantity."""
    field = f"OrderItems[{index}]"
    count = quantity(item.get("QuantityOrdered"), f"{field}.QuantityOrdered")
    return make_line(
        warnings,
        index + 1,
        external_id=item.get("OrderItemId"),
        sku=item.get("SellerSKU"),
        title=first(item.get("Title"), item.get("ASIN")),
        quantity=count,
        unit_price=divide(_v0_money(item.get("ItemPrice"), currency, f"{field}.ItemPrice"), count),
        discount=abs(_v0_money(item.get("PromotionDiscount"), currency, f"{field}.PromotionDiscount")),
        tax=_v0_money(item.get("ItemTax"), currency, f"{field}.ItemTax"),
    )


def _v0_address(raw: dict, warnings: list[str]) -> CanonicalAddress | None:
    """A v0 Address."""
    return make_address(
        warnings,
        name=raw.get("Name"),
        company=raw.get("CompanyName"),
        line1=raw.get("AddressLine1"),
        line2=" ".join(filter(None, (clean(raw.get("AddressLine2")), clean(raw.get("AddressLine3"))))),
        city=raw.get("City"),
        region=raw.get("StateOrRegion"),
        postal_code=raw.get("PostalCode"),
        country_value=raw.get("CountryCode"),
        phone=raw.get("Phone"),
    )


# --- v2026-01-01 --------------------------------------------------------------------------------------------


def _adapt_v2026(native: dict) -> CanonicalOrder:
    """An Orders v2026-01-01 Order (items embedded)."""
    warnings: list[str] = []
    external_id = clean(native.get("orderId"))
    if external_id is None:
        raise PayloadError("orderId: missing")
    items = [
        as_dict(raw, f"orderItems[{i}]")
        for i, raw in enumerate(as_list(native.get("orderItems"), "orderItems"))
    ]
    if not items:
        warnings.append(lines_missing("orderItems"))
    proceeds = as_dict(native.get("proceeds"), "proceeds")
    sales_channel = as_dict(native.get("salesChannel"), "salesChannel")
    currency = currency_or_hold(_v2026_currency(proceeds, items, sales_channel), "currency", warnings)
    fulfillment = as_dict(native.get("fulfillment"), "fulfillment")
    raw_status = clean(fulfillment.get("fulfillmentStatus"))
    status = _status(raw_status, warnings)
    by_amazon = clean(fulfillment.get("fulfilledBy")) == "AMAZON"
    lines = tuple(_v2026_line(item, i, currency, warnings) for i, item in enumerate(items))

    order_parts = _breakdowns(proceeds, currency, "proceeds")
    item_parts: dict[str, int] = {}
    for i, item in enumerate(items):
        for kind, amount in _breakdowns(
            as_dict(item.get("proceeds"), "proceeds"), currency, f"orderItems[{i}]"
        ).items():
            item_parts[kind] = item_parts.get(kind, 0) + amount
    parts = order_parts or item_parts

    subtotal = parts.get("ITEM", sum(line.unit_price * line.quantity for line in lines))
    discount_total = abs(parts.get("DISCOUNT", 0))
    shipping_total = parts.get("SHIPPING", 0)
    tax_total = parts.get("TAX", 0)
    order_charges = make_charges(
        *(
            (_V2026_CHARGES.get(kind, ChargeKind.OTHER).value, kind.replace("_", " ").capitalize(), amount)
            for kind, amount in sorted(parts.items())
            if kind not in _V2026_PLACED
        )
    )
    grand_total = as_dict(proceeds.get("grandTotal"), "proceeds.grandTotal")
    if clean(grand_total.get("amount")) is not None:
        total = _v2026_money(grand_total, currency, "proceeds.grandTotal")
    elif any(clean(as_dict(item.get("proceeds"), "proceeds").get("proceedsTotal")) for item in items):
        total = sum(
            _v2026_money(
                as_dict(item.get("proceeds"), "proceeds").get("proceedsTotal"), currency, "proceedsTotal"
            )
            for item in items
        )
    else:
        total = subtotal - discount_total + shipping_total + tax_total + sum(c.amount for c in order_charges)

    recipient = as_dict(native.get("recipient"), "recipient")
    shipping_address = _v2026_address(
        as_dict(recipient.get("deliveryAddress"), "recipient.deliveryAddress"), warnings
    )
    check_shipping_address(warnings, shipping_address, needed=_needs_address(status, by_amazon))
    buyer = as_dict(native.get("buyer"), "buyer")
    return CanonicalOrder(
        channel_kind=KIND,
        external_id=external_id,
        number=external_id,
        placed_at=placed_time(native.get("createdTime"), "createdTime", warnings),
        updated_at=optional_time(native.get("lastUpdatedTime"), "lastUpdatedTime"),
        currency=currency,
        status=status,
        raw_status=raw_status or "none",
        buyer=make_buyer(
            name=first(buyer.get("buyerName"), shipping_address.name if shipping_address else None),
            email=buyer.get("buyerEmail"),
            phone=shipping_address.phone if shipping_address else None,
        ),
        billing_address=None,
        shipping_address=shipping_address,
        lines=lines,
        shipping_method=clean(fulfillment.get("fulfillmentServiceLevel")),
        subtotal=subtotal,
        discount_total=discount_total,
        shipping_total=shipping_total,
        tax_total=tax_total,
        total=total,
        charges=order_charges,
        lines_complete=bool(items),
        fulfilled_by_channel=by_amazon,
        shipments=_packages(native),
        source=first(sales_channel.get("marketplaceName"), sales_channel.get("channelName")),
        warnings=tuple(warnings),
    )


def _v2026_money(value: Any, currency: str, field: str) -> int:
    """A v2026-01-01 Money object {amount, currencyCode}; missing is 0."""
    return money(as_dict(value, field).get("amount"), currency, field)


def _v2026_currency(proceeds: dict, items: list[dict], sales_channel: dict) -> Any:
    """From the grand total, else from the items' unit prices, else from the marketplace."""
    code = as_dict(proceeds.get("grandTotal"), "proceeds.grandTotal").get("currencyCode")
    for item in items:
        price = as_dict(as_dict(item.get("product"), "product").get("price"), "product.price")
        code = code or as_dict(price.get("unitPrice"), "unitPrice").get("currencyCode")
    return code or _marketplace_currency(
        sales_channel.get("marketplaceId"), sales_channel.get("marketplaceName")
    )


# Proceeds breakdown types with a place of their own; any other is a charge.
_V2026_PLACED = frozenset({"ITEM", "DISCOUNT", "SHIPPING", "TAX"})
_V2026_CHARGES = {
    "GIFT_WRAP": ChargeKind.GIFT_WRAP,
    "GIFTWRAP": ChargeKind.GIFT_WRAP,
    "COD_FEE": ChargeKind.FEE,
    "FEE": ChargeKind.FEE,
    "SERVICE_FEE": ChargeKind.FEE,
}


def _breakdowns(proceeds: dict, currency: str, field: str) -> dict[str, int]:
    """Proceeds breakdowns summed by type (ITEM, SHIPPING, TAX, DISCOUNT, ...)."""
    totals: dict[str, int] = {}
    for i, raw in enumerate(as_list(proceeds.get("breakdowns"), f"{field}.breakdowns")):
        breakdown = as_dict(raw, f"{field}.breakdowns[{i}]")
        kind = clean(breakdown.get("type")) or "OTHER"
        amount = _v2026_money(breakdown.get("subtotal"), currency, f"{field}.breakdowns[{i}].subtotal")
        totals[kind] = totals.get(kind, 0) + amount
    return totals


def _v2026_line(item: dict, index: int, currency: str, warnings: list[str]) -> CanonicalLine:
    """A v2026-01-01 OrderItem: unit price from product.price.unitPrice, discount and tax from proceeds."""
    field = f"orderItems[{index}]"
    product = as_dict(item.get("product"), f"{field}.product")
    price = as_dict(product.get("price"), f"{field}.product.price")
    parts = _breakdowns(as_dict(item.get("proceeds"), f"{field}.proceeds"), currency, field)
    return make_line(
        warnings,
        index + 1,
        external_id=item.get("orderItemId"),
        sku=product.get("sellerSku"),
        title=first(product.get("title"), product.get("asin")),
        quantity=quantity(item.get("quantityOrdered"), f"{field}.quantityOrdered"),
        unit_price=_v2026_money(price.get("unitPrice"), currency, f"{field}.product.price.unitPrice"),
        discount=abs(parts.get("DISCOUNT", 0)),
        tax=parts.get("TAX", 0),
    )


def _v2026_address(raw: dict, warnings: list[str]) -> CanonicalAddress | None:
    """A v2026-01-01 CustomerAddress."""
    return make_address(
        warnings,
        name=raw.get("name"),
        company=raw.get("companyName"),
        line1=raw.get("addressLine1"),
        line2=" ".join(filter(None, (clean(raw.get("addressLine2")), clean(raw.get("addressLine3"))))),
        city=raw.get("city"),
        region=raw.get("stateOrRegion"),
        postal_code=raw.get("postalCode"),
        country_value=raw.get("countryCode"),
        phone=raw.get("phone"),
    )


def _packages(native: dict) -> tuple[CanonicalShipment, ...]:
    """Shipments from the packages of merchant-fulfilled orders (cancelled packages left out)."""
    shipments = []
    for i, raw in enumerate(as_list(native.get("packages"), "packages")):
        package = as_dict(raw, f"packages[{i}]")
        if as_dict(package.get("packageStatus"), "packageStatus").get("status") == "CANCELLED":
            continue
        shipments.append(
            CanonicalShipment(
                carrier=clean(package.get("carrier")),
                tracking_number=clean(package.get("trackingNumber")),
                shipped_at=optional_time(package.get("shipTime"), f"packages[{i}].shipTime"),
            )
        )
    return tuple(shipments)
