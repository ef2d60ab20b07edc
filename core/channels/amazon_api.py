"""Amazon Selling Partner API calls: the poll and push hooks of the amazon adapter (core.channels.amazon).

Polling (`poll_pages`): getOrders pages by LastUpdatedAfter for credentials["marketplace_ids"], each with the
getOrderItems responses of its orders. Pushes: stock levels patch the listing's seller-fulfilled quantity
(Listings Items API) for credentials `seller_id`, `marketplace_id` (or the first of `marketplace_ids`) and
`product_type` (default "PRODUCT"); shipment confirmations are Orders v0 confirmShipment. Every call carries
`x-amz-access-token: credentials["access_token"]`.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

from core.channels.base import MissingCredentials
from core.channels.http import ChannelHttpError, HttpClient, HttpResponse
from core.channels.outbound_base import (
    CARRIERS,
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

ORDERS_PATH = "/orders/v0/orders"
LATEST = timedelta(minutes=2)  # Amazon wants LastUpdatedBefore at least 2 minutes in the past


def amazon_time(moment: datetime) -> str:
    """ISO 8601 in UTC as Amazon's APIs take it: 2026-11-20T12:00:00Z."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# --- polling (the hook of core.channels.polling_base) -------------------------------------------------------


def poll_pages(
    client: HttpClient, credentials: Mapping[str, Any], since: datetime, until: datetime | None
) -> Iterator[Page]:
    """getOrders pages (following NextToken), each with the getOrderItems responses of its orders.

    A window with an end stops LATEST before it: Amazon answers only for times that far in the past."""
    headers = {"x-amz-access-token": text_credential(credentials, "access_token")}
    marketplaces = _poll_marketplaces(credentials)
    params: dict[str, Any] = {"MarketplaceIds": marketplaces, "LastUpdatedAfter": amazon_time(since)}
    if until is not None:
        params["LastUpdatedBefore"] = amazon_time(until - LATEST)
    for _ in range(MAX_PAGES):
        response = client.get(ORDERS_PATH, params, headers=headers)
        payload = json_object(response, "getOrders").get("payload")
        if not isinstance(payload, dict) or not isinstance(payload.get("Orders"), list):
            raise PollError(f"getOrders: no payload.Orders in {response.text[:200]!r}")
        page = Page(bodies=[("getOrders", response)])
        for order in payload["Orders"]:
            if not isinstance(order, dict):
                continue
            page.orders += 1
            updated = as_time(order.get("LastUpdateDate")) or as_time(order.get("PurchaseDate"))
            if updated is not None:
                page.updated.append(updated)
            order_id = order.get("AmazonOrderId")
            if not isinstance(order_id, str) or not order_id:
                continue
            try:
                page.bodies += _order_items(client, order_id, headers)
            except ChannelHttpError as exc:
                if exc.retryable:
                    raise
                page.errors.append(f"getOrderItems {order_id}: {exc}")
                page.incomplete.append(updated or since)
        yield page
        token = payload.get("NextToken")
        if not token:
            return
        params = {"MarketplaceIds": marketplaces, "NextToken": token}
    raise PollError(f"getOrders: more than {MAX_PAGES} pages; stopped")


def _poll_marketplaces(credentials: Mapping[str, Any]) -> str:
    value = credentials.get("marketplace_ids") or credentials.get("marketplace_id")
    ids = value if isinstance(value, list) else str(value or "").split(",")
    ids = [str(i).strip() for i in ids if str(i).strip()]
    if not ids:
        raise MissingCredentials("credentials['marketplace_ids']")
    return ",".join(ids)


def _order_items(
    client: HttpClient, order_id: str, headers: dict[str, str]
) -> list[tuple[str, HttpResponse]]:
    """Every getOrderItems page of one order."""
    path = f"{ORDERS_PATH}/{order_id}/orderItems"
    responses: list[tuple[str, HttpResponse]] = []
    params: dict[str, Any] = {}
    for _ in range(MAX_PAGES):
        response = client.get(path, params, headers=headers)
        responses.append(("getOrderItems", response))
        payload = json_object(response, "getOrderItems").get("payload")
        token = payload.get("NextToken") if isinstance(payload, dict) else None
        if not token:
            return responses
        params = {"NextToken": token}
    raise PollError(f"getOrderItems {order_id}: more than {MAX_PAGES} pages; stopped")


# --- pushes (hooks of core.channels.outbound_base) ----------------------------------------------------------


def auth_headers(credentials: Mapping[str, Any]) -> dict[str, str]:
    """The Selling Partner API access token header."""
    return {"x-amz-access-token": access_token(credentials)}


def _push_marketplace(credentials: Mapping[str, Any]) -> Any:
    marketplaces = credentials.get("marketplace_ids") or []
    return credentials.get("marketplace_id") or (marketplaces[0] if marketplaces else None)


def stock_push_request(payload: Mapping[str, Any]) -> Request:
    """Listings Items patchListingsItem: merge the seller-fulfilled (DEFAULT) quantity."""
    seller = quote(str(need(payload, "seller_id")), safe="")
    sku = quote(str(need(payload, "channel_sku")), safe="")
    marketplace = quote(str(need(payload, "marketplace_id")), safe="")
    body = {
        "productType": payload.get("product_type") or "PRODUCT",
        "patches": [
            {
                "op": "merge",
                "path": "/attributes/fulfillment_availability",
                "value": [{"fulfillment_channel_code": "DEFAULT", "quantity": stock_quantity(payload)}],
            }
        ],
    }
    return "PATCH", f"/listings/2021-08-01/items/{seller}/{sku}?marketplaceIds={marketplace}", body


def send_stock(
    client: HttpClient, headers: dict[str, str], credentials: Mapping[str, Any], push: Mapping[str, Any]
) -> HttpResponse:
    """Patch the listing's quantity; a permanent OutboundError when Amazon answers the patch is INVALID."""
    payload = {
        **push,
        "seller_id": credentials.get("seller_id"),
        "marketplace_id": _push_marketplace(credentials),
        "product_type": credentials.get("product_type"),
    }
    response = send(client, stock_push_request(payload), headers)
    data = response.data if isinstance(response.data, dict) else {}
    if data.get("status") == "INVALID":
        raise OutboundError(f"Amazon refused the listing patch: {data.get('issues')}"[:2000], permanent=True)
    return response


def shipment_request(payload: Mapping[str, Any]) -> Request:
    """Orders v0 confirmShipment: one package with carrier, tracking number, ship date and items."""
    carrier = carrier_name(payload.get("carrier"))
    known = carrier in CARRIERS.values()
    detail: dict[str, Any] = {
        "packageReferenceId": str(need(payload, "shipment_id")),
        "carrierCode": carrier if known else "Other",
        "trackingNumber": str(need(payload, "tracking_number")),
        "shipDate": amazon_time(shipped_at(payload)),
        "orderItems": [{"orderItemId": item, "quantity": qty} for item, qty in shipped_lines(payload)],
    }
    if not known:
        detail["carrierName"] = carrier or "Other"
    if payload.get("shipping_method"):
        detail["shippingMethod"] = payload["shipping_method"]
    order_id = quote(str(need(payload, "order_external_id")), safe="")
    body = {"marketplaceId": str(need(payload, "marketplace_id")), "packageDetail": detail}
    return "POST", f"{ORDERS_PATH}/{order_id}/shipmentConfirmation", body


def send_shipment(
    client: HttpClient, headers: dict[str, str], credentials: Mapping[str, Any], shipment: Mapping[str, Any]
) -> str:
    """Confirm the shipment in the marketplace of the payload's marketplace_id, else of the credentials."""
    payload = {"marketplace_id": _push_marketplace(credentials), **shipment}
    return created_reference(send(client, shipment_request(payload), headers))
