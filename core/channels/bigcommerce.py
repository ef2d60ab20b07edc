"""BigCommerce Orders v2: GET /v2/orders, GET /v2/orders/{id}, its products and its shipping addresses.

Documents: an order object, the orders list (a bare JSON array of orders), the sub-resources
GET /v2/orders/{id}/products and GET /v2/orders/{id}/shipping_addresses (bare arrays whose items name their
`order_id`), and the order webhook body `{"scope": "store/order/...", "data": {"type": "order", "id": ...}}`.
An order's `products` and `shipping_addresses` are either the lists themselves (embedded under those keys) or,
as the API gives them, resource links `{"url", "resource"}`: the sub-resource documents given in the same call
are then joined to their order by id, so `adapt(native)` reads the order with both lists set. An order whose
products were not fetched is still an order, with no lines and the warning PRODUCTS_NOT_FETCHED; one whose
shipping addresses were not fetched has none, with the warning ADDRESSES_NOT_FETCHED (both hold it).

Webhooks (store/order/created, updated, statusUpdated, archived, ...) carry only the order id: each gives an
Extracted naming the order to fetch (`fetch`), and `fetch_orders` fetches it, with its products and shipping
addresses, as the poll does (core.channel_sync.polling.fetch_announced_orders, run by the worker); the poll
(`poll_pages`) finds it too. BigCommerce does not sign webhooks: the hook is registered (POST
/v3/hooks) with the custom header `X-Crossdock-Webhook-Token: <the channel's webhook secret>`, which every
delivery carries and we compare in constant time.

Money is decimal strings ("79.0000") in the order's `currency_code`. Totals: subtotal = subtotal_ex_tax,
discounts = discount_amount + coupon_discount, shipping = shipping_cost_ex_tax + handling_cost_ex_tax, tax =
total_tax, total = total_inc_tax; gift wrapping (wrapping_cost_ex_tax) is a gift_wrap charge. An order whose
figures still differ holds with "totals do not add up: ...". A line's unit price is
price_ex_tax, its discount the sum of its applied_discounts, its tax total_tax. Times are RFC 2822
("Tue, 05 Mar 2019 21:14:26 +0000"). customer_id 0 is a guest. Status follows status_id.

Polling (`poll_pages`): GET /v2/orders by min_date_modified, page by page, each order with its products (all
pages) and shipping addresses. Every call carries `X-Auth-Token: credentials["access_token"]`.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any
from urllib.parse import quote

from core.channels.base import (
    Extracted,
    WebhookScheme,
    adapt_all,
    as_dict,
    as_list,
    check_shipping_address,
    clean,
    currency_code,
    first,
    full_name,
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
    ChannelStatus,
    ChargeKind,
)
from core.channels.http import ChannelHttpError, HttpClient, HttpResponse
from core.channels.polling_base import MAX_PAGES, Page, PollError, text_credential
from core.errors import PayloadError

KIND = "bigcommerce"
WEBHOOK = WebhookScheme("X-Crossdock-Webhook-Token", None, None, secret_header=True)
ORDERS_PATH = "/v2/orders"
PAGE_SIZE = 50
PRODUCTS_PAGE_SIZE = 250  # the most BigCommerce gives in one page

PRODUCTS_NOT_FETCHED = "order products not fetched (GET /v2/orders/{id}/products)"
ADDRESSES_NOT_FETCHED = "shipping addresses not fetched (GET /v2/orders/{id}/shipping_addresses)"
_EXPECTED = (
    "a BigCommerce v2 order, a list of orders, an order's products or shipping_addresses, "
    "or an order webhook body"
)

# status_id -> status; the ids are BigCommerce's fixed order statuses (names may be renamed per store).
_STATUSES = {
    0: ChannelStatus.PENDING,  # Incomplete
    1: ChannelStatus.PENDING,  # Pending
    2: ChannelStatus.SHIPPED,  # Shipped
    3: ChannelStatus.PAID,  # Partially Shipped
    4: ChannelStatus.REFUNDED,  # Refunded
    5: ChannelStatus.CANCELLED,  # Cancelled
    6: ChannelStatus.CANCELLED,  # Declined
    7: ChannelStatus.PENDING,  # Awaiting Payment
    8: ChannelStatus.PAID,  # Awaiting Pickup
    9: ChannelStatus.PAID,  # Awaiting Shipment
    10: ChannelStatus.SHIPPED,  # Completed
    11: ChannelStatus.PAID,  # Awaiting Fulfillment
    12: ChannelStatus.PENDING,  # Manual Verification Required
    13: ChannelStatus.PAID,  # Disputed
    14: ChannelStatus.PAID,  # Partially Refunded
}
_STATUS_WARNINGS = {
    12: "BigCommerce asks for manual verification of the order",
    13: "the buyer disputes the payment",
}
_AWAITING_PICKUP = 8


@dataclass
class _Found:
    """What one document holds: orders, sub-resource lists to join by order id, a webhook, or nothing."""

    orders: list = field(default_factory=list)
    joins: list[tuple[str, str, list[dict]]] = field(default_factory=list)  # (key, order id, items)
    webhook: dict | None = None
    reason: str | None = None


def extract(documents: Sequence[Any]) -> list[Extracted]:
    """All orders found in these documents, each with the products and addresses given in the same call."""
    found: list[tuple[Any, _Found]] = []
    for document in documents:
        try:
            data = load_document(document)
        except PayloadError as exc:
            found.append((document, _Found(reason=str(exc))))
            continue
        found.append((data, _classify(data)))

    order_ids = {clean(o.get("id")) for _, item in found for o in item.orders if isinstance(o, dict)}
    joined: dict[str, dict[str, list[dict]]] = {}
    for _, item in found:
        for key, order_id, items in item.joins:
            joined.setdefault(order_id, {}).setdefault(key, []).extend(items)

    results: list[Extracted] = []
    for data, item in found:
        if item.orders:
            results.extend(adapt_all([_join(order, joined) for order in item.orders], adapt))
        elif item.webhook is not None:
            results.append(_webhook(item.webhook))
        elif item.joins:
            for key, order_id, _ in item.joins:
                if order_id not in order_ids:
                    results.append(
                        no_order(
                            data, f"{key} of order {order_id}, which join that order given in the same call"
                        )
                    )
        else:
            results.append(no_order(data, item.reason or f"expected {_EXPECTED}"))
    return results


def _is_order(item: Any) -> bool:
    """An order (an order product has totals too, but names its order_id and has no status)."""
    return (
        isinstance(item, dict)
        and "id" in item
        and "order_id" not in item
        and ("status_id" in item or "billing_address" in item)
    )


def _classify(data: Any) -> _Found:
    """Sort a parsed document into orders, sub-resource items, a webhook, or nothing."""
    if isinstance(data, list):
        items = [item for item in data if isinstance(item, dict)]
        if any(_is_order(item) for item in items):
            return _Found(orders=data)
        if items and all("order_id" in item for item in items):
            key = (
                "products"
                if any("product_id" in i or "quantity" in i for i in items)
                else "shipping_addresses"
            )
            by_order: dict[str, list[dict]] = {}
            for item in items:
                by_order.setdefault(clean(item.get("order_id")) or "", []).append(item)
            return _Found(joins=[(key, order_id, group) for order_id, group in by_order.items()])
        return _Found(reason="an empty list holds no order" if not data else None)
    if not isinstance(data, dict):
        return _Found()
    if isinstance(data.get("scope"), str) and isinstance(data.get("data"), dict):
        return _Found(webhook=data)
    if _is_order(data):
        return _Found(orders=[data])
    if isinstance(data.get("title"), str) and "status" in data:  # an API error answer
        return _Found(reason=f"BigCommerce error response: {data.get('status')}: {data.get('title')}")
    return _Found()


def _join(order: Any, joined: dict[str, dict[str, list[dict]]]) -> Any:
    """The order with the products and shipping addresses fetched for it set under those keys."""
    if not isinstance(order, dict):
        return order
    parts = joined.get(clean(order.get("id")) or "", {})
    if not parts:
        return order
    return {**order, **parts}


def _webhook(body: dict) -> Extracted:
    """An order webhook names the order and nothing more: it is to be fetched."""
    scope = clean(body.get("scope")) or ""
    data = as_dict(body.get("data"), "data")
    order_id = clean(data.get("id"))
    if not scope.startswith("store/order/") or order_id is None:
        return no_order(body, f"webhook {scope!r} names no order")
    return Extracted(
        native=body,
        order=None,
        error=f"webhook {scope!r} carries only the id of order {order_id}: to be fetched",
        fetch=order_id,
    )


def fetch_orders(client: HttpClient, credentials: Mapping[str, Any], order_ids: Sequence[str]) -> Page:
    """GET /v2/orders/{id} of each announced order, with its products and shipping addresses: one Page, its
    documents read together. An order the channel no longer has (404) is reported in the page's errors."""
    headers = {"X-Auth-Token": text_credential(credentials, "access_token")}
    page = Page()
    for order_id in order_ids:
        path = f"{ORDERS_PATH}/{quote(str(order_id), safe='')}"
        try:
            response = client.get(path, headers=headers)
            if not isinstance(response.data, dict):
                raise PollError(f"GET {path}: expected a JSON object, got {response.text[:200]!r}")
            bodies = [("order", response), *_sub_resources(client, str(order_id), headers)]
        except ChannelHttpError as exc:
            if exc.retryable:
                raise
            page.errors.append(f"order {order_id}: {exc}")
            continue
        page.bodies += bodies
        page.orders += 1
    return page


@reads_payload
def adapt(native: dict) -> CanonicalOrder:
    """One order (products and shipping_addresses embedded or joined) -> canonical order."""
    warnings: list[str] = []
    external_id = clean(native.get("id"))
    if external_id is None:
        raise PayloadError("id: missing")
    currency = currency_code(first(native.get("currency_code"), native.get("default_currency_code")))
    status_id = _status_id(native.get("status_id"))
    raw_status = first(native.get("custom_status"), native.get("status")) or "none"
    status = _STATUSES.get(status_id) if status_id is not None else None
    if status is None:
        unknown_status(warnings, f"{status_id}: {raw_status}")
        status = ChannelStatus.PENDING
    if status_id in _STATUS_WARNINGS:
        warnings.append(_STATUS_WARNINGS[status_id])

    if isinstance(native.get("products"), list):
        raw_lines = [as_dict(raw, f"products[{i}]") for i, raw in enumerate(native["products"])]
        if not raw_lines:
            raise PayloadError("products: an order needs at least one line")
        lines = tuple(_line(raw, i, currency, warnings) for i, raw in enumerate(raw_lines))
    else:
        lines = ()
        warnings.append(PRODUCTS_NOT_FETCHED)

    billing = as_dict(native.get("billing_address"), "billing_address")
    billing_address = _address(billing, warnings)
    shipping_address, shipping_method = None, None
    ships = (
        native.get("order_is_digital") is not True
        and status_id != _AWAITING_PICKUP
        and status in (ChannelStatus.PAID, ChannelStatus.SHIPPED)
    )
    if isinstance(native.get("shipping_addresses"), list):
        destinations = [
            as_dict(raw, f"shipping_addresses[{i}]") for i, raw in enumerate(native["shipping_addresses"])
        ]
        if destinations:
            shipping_address = _address(destinations[0], warnings)
            shipping_method = clean(destinations[0].get("shipping_method"))
        if len(destinations) > 1:
            warnings.append(f"the order ships to {len(destinations)} addresses; only the first is kept")
        check_shipping_address(warnings, shipping_address, needed=ships)
    elif ships:
        warnings.append(ADDRESSES_NOT_FETCHED)

    def amount(key: str) -> int:
        return money(native.get(key), currency, key)

    subtotal = amount("subtotal_ex_tax")
    discount_total = abs(amount("discount_amount")) + abs(amount("coupon_discount"))
    shipping_total = amount("shipping_cost_ex_tax") + amount("handling_cost_ex_tax")
    tax_total = amount("total_tax")
    total = amount("total_inc_tax")
    order_charges = make_charges(
        (
            ChargeKind.GIFT_WRAP,
            "Gift wrapping",
            amount("wrapping_cost_ex_tax"),
            amount("wrapping_cost_tax") if clean(native.get("wrapping_cost_tax")) else 0,
        ),
    )
    charged = subtotal - discount_total + shipping_total + tax_total + sum(c.amount for c in order_charges)
    if charged != total:
        warnings.append(
            f"totals do not add up: subtotal - discounts + shipping + tax + charges = {charged}, "
            f"order total {total}"
        )

    customer_id = clean(native.get("customer_id"))
    return CanonicalOrder(
        channel_kind=KIND,
        external_id=external_id,
        number=external_id,
        placed_at=placed_time(native.get("date_created"), "date_created", warnings),
        updated_at=optional_time(native.get("date_modified"), "date_modified"),
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
        shipping_method=shipping_method,
        subtotal=subtotal,
        discount_total=discount_total,
        shipping_total=shipping_total,
        tax_total=tax_total,
        total=total,
        charges=order_charges,
        lines_complete=isinstance(native.get("products"), list),
        refunded_total=abs(amount("refunded_amount")),
        source=first(native.get("order_source"), native.get("external_source")),
        note=clean(native.get("customer_message")),
        warnings=tuple(warnings),
    )


def _status_id(value: Any) -> int | None:
    text = clean(value)
    return int(text) if text is not None and text.isdigit() else None


def _line(raw: dict, index: int, currency: str, warnings: list[str]) -> CanonicalLine:
    """One order product: unit price ex tax, its applied discounts, its tax."""
    field = f"products[{index}]"
    discount = sum(
        abs(money(as_dict(d, f"{field}.applied_discounts[{i}]").get("amount"), currency, f"{field}.discount"))
        for i, d in enumerate(as_list(raw.get("applied_discounts"), f"{field}.applied_discounts"))
    )
    sku = clean(raw.get("sku"))
    product_id, variant_id = clean(raw.get("product_id")), clean(raw.get("variant_id"))
    if sku is None and product_id not in (None, "0"):
        sku = f"product:{product_id}" if variant_id in (None, "0") else f"product:{product_id}:{variant_id}"
    return make_line(
        warnings,
        index + 1,
        external_id=raw.get("id"),
        sku=sku,
        title=raw.get("name"),
        quantity=quantity(raw.get("quantity"), f"{field}.quantity"),
        unit_price=money(
            first(raw.get("price_ex_tax"), raw.get("base_price")), currency, f"{field}.price_ex_tax"
        ),
        discount=discount,
        tax=money(raw.get("total_tax"), currency, f"{field}.total_tax"),
    )


def _address(raw: dict, warnings: list[str]) -> CanonicalAddress | None:
    """A billing or shipping address (street_1/street_2, state, zip, country_iso2 or country name)."""
    return make_address(
        warnings,
        name=full_name(raw.get("first_name"), raw.get("last_name")),
        company=raw.get("company"),
        line1=raw.get("street_1"),
        line2=raw.get("street_2"),
        city=raw.get("city"),
        region=raw.get("state"),
        postal_code=raw.get("zip"),
        country_value=first(raw.get("country_iso2"), raw.get("country")),
        phone=raw.get("phone"),
    )


# --- polling (the hook of core.channels.polling_base) -------------------------------------------------------


def bigcommerce_time(moment: datetime) -> str:
    """RFC 2822 in UTC, as the v2 date filters take it: Fri, 20 Nov 2026 12:00:00 +0000."""
    return format_datetime(moment.astimezone(UTC))


def _items(response: HttpResponse, what: str) -> list:
    """A v2 list answer: a JSON array, or nothing at all (204 No Content when the list is empty)."""
    if response.status == 204 or response.data in (None, ""):
        return []
    if not isinstance(response.data, list):
        raise PollError(f"{what}: expected a JSON array, got {response.text[:200]!r}")
    return response.data


def poll_pages(
    client: HttpClient, credentials: Mapping[str, Any], since: datetime, until: datetime | None
) -> Iterator[Page]:
    """GET /v2/orders pages modified in the window, oldest first, each with its orders' sub-resources."""
    headers = {"X-Auth-Token": text_credential(credentials, "access_token")}
    params: dict[str, Any] = {
        "min_date_modified": bigcommerce_time(since),
        "max_date_modified": bigcommerce_time(until) if until else None,
        "sort": "date_modified:asc",
        "limit": PAGE_SIZE,
    }
    for number in range(1, MAX_PAGES + 1):
        response = client.get(ORDERS_PATH, {**params, "page": number}, headers=headers)
        orders = _items(response, "GET /v2/orders")
        page = Page(bodies=[("orders", response)])
        for order in orders:
            if not isinstance(order, dict):
                continue
            page.orders += 1
            try:
                updated = optional_time(first(order.get("date_modified"), order.get("date_created")), "date")
            except PayloadError:
                updated = None
            if updated is not None:
                page.updated.append(updated)
            order_id = clean(order.get("id"))
            if order_id is None:
                continue
            try:
                page.bodies += _sub_resources(client, order_id, headers)
            except ChannelHttpError as exc:
                if exc.retryable:
                    raise
                page.errors.append(f"order {order_id}: {exc}")
                page.incomplete.append(updated or since)
        yield page
        if len(orders) < PAGE_SIZE:
            return
    raise PollError(f"GET /v2/orders: more than {MAX_PAGES} pages; stopped")


def _sub_resources(
    client: HttpClient, order_id: str, headers: dict[str, str]
) -> list[tuple[str, HttpResponse]]:
    """Every products page and the shipping addresses of one order; an empty answer (a digital order has
    no shipping address) adds nothing to the order and is not kept."""
    bodies: list[tuple[str, HttpResponse]] = []
    path = f"{ORDERS_PATH}/{order_id}"
    for number in range(1, MAX_PAGES + 1):
        response = client.get(
            f"{path}/products", {"limit": PRODUCTS_PAGE_SIZE, "page": number}, headers=headers
        )
        items = _items(response, f"GET {path}/products")
        if items:
            bodies.append(("products", response))
        if len(items) < PRODUCTS_PAGE_SIZE:
            break
    else:
        raise PollError(f"GET {path}/products: more than {MAX_PAGES} pages; stopped")
    response = client.get(f"{path}/shipping_addresses", headers=headers)
    if _items(response, f"GET {path}/shipping_addresses"):
        bodies.append(("shipping_addresses", response))
    return bodies
