"""Pushes to channels through the outbox (transport 'channel'): stock levels and shipment confirmations.

Rows are written in the transaction of the change that causes them: `stock_push` rows by the inventory area
(one pending row per channel and SKU, its payload updated in place, so many changes make one push of the
latest figure), `shipment_confirmation` rows by `queue_shipment_confirmation`. The worker sends them with
`dispatch_channel_outbox`, one row at a time:
1. claim: in a short write transaction, take the oldest due pending row (PostgreSQL: FOR UPDATE SKIP LOCKED;
   SQLite: under begin_write's lock) and push its next attempt time forward by a lease, so no other
   dispatcher takes it while it is being sent; commit. No lock is held while talking to the channel.
2. send the row's payload (as claimed) to the channel: pure request builders below, one per channel kind.
3. finish, in a second write transaction with the row locked again: sent; or, if the payload was replaced
   while it was being sent (a newer stock figure), left pending and due now so the newer value goes out;
   or, on failure, attempts + 1, the next attempt after min(2**attempts x 30 s, 6 h) and the exact error in
   last_error; failed for good after 8 attempts or on a 4xx other than 429.
A dispatcher that dies mid-send leaves its row pending; it is retried once the lease runs out.

Where the ids a channel needs come from: Shopify `location_id` from channel.credentials and the inventory item
from credentials["inventory_item_ids"][channel SKU] or else from the listing's variant id (looked up with
GET variants/{id}.json); Amazon `seller_id`, `marketplace_id` (or the first of `marketplace_ids`) and
`product_type` (default "PRODUCT") from credentials; eBay the channel SKU; WooCommerce the listing's
channel_listing_id, "product" or "product/variation"; Square the listing's channel_listing_id (the catalog
item variation) and credentials["location_id"]. Every channel's token is credentials["access_token"]
(WooCommerce: consumer_key and consumer_secret).
"""

from __future__ import annotations

import base64
import copy
import logging
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from core.catalog.models import Listing
from core.channels.http import ChannelHttpError, HttpClient, HttpResponse
from core.channels.models import Channel
from core.channels.polling import job_session_factory
from core.db import begin_write
from core.fulfillment.models import Shipment
from core.notifications.models import OutboxMessage
from core.orders.models import Order, OrderLine

log = logging.getLogger("crossdock.channels")

STOCK_PUSH = "stock_push"
SHIPMENT_CONFIRMATION = "shipment_confirmation"
MAX_ATTEMPTS = 8
RETRY_BASE = timedelta(seconds=30)
RETRY_CAP = timedelta(hours=6)
CLAIM_LEASE = timedelta(minutes=15)  # longer than one row's sends can take with the client's bounded retries
SHOPIFY_API = "/admin/api/2024-10"

Request = tuple[str, str, dict[str, Any]]  # (method, path with any query, JSON body)


class OutboundError(Exception):
    """A push that cannot be made as asked; `permanent` when trying again will not help."""

    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


def retry_delay(attempts: int) -> timedelta:
    """How long to wait after the given number of failed attempts: 2**attempts x 30 s, at most 6 hours."""
    return min(RETRY_BASE * 2 ** min(attempts, 20), RETRY_CAP)


# Fields the queued row itself carries: when one is missing, trying again cannot help. The rest (ids from
# the channel's credentials and listings) can be fixed by ops, so those failures are retried.
_ROW_FIELDS = frozenset({"quantity", "order_external_id", "shipment_id", "shipped_at", "tracking_number"})


def _need(payload: Mapping[str, Any], key: str) -> Any:
    value = payload.get(key)
    if value is None or value == "":
        raise OutboundError(f"missing {key!r} for this channel", permanent=key in _ROW_FIELDS)
    return value


def _numeric_id(value: Any) -> Any:
    """Shopify's ids are integers in its JSON; a digit string becomes one."""
    return int(value) if isinstance(value, str) and value.isdigit() else value


def _quantity(payload: Mapping[str, Any]) -> int:
    return max(0, int(_need(payload, "quantity")))


# --- request builders: stock levels -------------------------------------------------------------------------
# payload: {"channel_sku", "quantity", "channel_listing_id", plus the channel's ids from its credentials}


def shopify_stock_push(payload: Mapping[str, Any]) -> Request:
    """Shopify InventoryLevel set: the available quantity of an inventory item at a location."""
    body = {
        "location_id": _numeric_id(_need(payload, "location_id")),
        "inventory_item_id": _numeric_id(_need(payload, "inventory_item_id")),
        "available": _quantity(payload),
    }
    return "POST", f"{SHOPIFY_API}/inventory_levels/set.json", body


def amazon_stock_push(payload: Mapping[str, Any]) -> Request:
    """Amazon Listings Items patchListingsItem: merge the seller-fulfilled (DEFAULT) quantity."""
    seller = quote(str(_need(payload, "seller_id")), safe="")
    sku = quote(str(_need(payload, "channel_sku")), safe="")
    marketplace = quote(str(_need(payload, "marketplace_id")), safe="")
    body = {
        "productType": payload.get("product_type") or "PRODUCT",
        "patches": [
            {
                "op": "merge",
                "path": "/attributes/fulfillment_availability",
                "value": [{"fulfillment_channel_code": "DEFAULT", "quantity": _quantity(payload)}],
            }
        ],
    }
    return "PATCH", f"/listings/2021-08-01/items/{seller}/{sku}?marketplaceIds={marketplace}", body


def ebay_stock_push(payload: Mapping[str, Any]) -> Request:
    """eBay Inventory bulkUpdatePriceQuantity: the item's total ship-to-home quantity (live offers follow)."""
    body = {
        "requests": [
            {
                "sku": str(_need(payload, "channel_sku")),
                "shipToLocationAvailability": {"quantity": _quantity(payload)},
            }
        ]
    }
    return "POST", "/sell/inventory/v1/bulk_update_price_quantity", body


def woocommerce_stock_push(payload: Mapping[str, Any]) -> Request:
    """WooCommerce REST v3: a product's (or a variation's, "product/variation") managed stock quantity."""
    listing = str(_need(payload, "channel_listing_id")).strip("/")
    product, _, variation = listing.partition("/")
    path = f"/wp-json/wc/v3/products/{quote(product, safe='')}"
    if variation:
        path += f"/variations/{quote(variation, safe='')}"
    return "PUT", path, {"stock_quantity": _quantity(payload), "manage_stock": True}


def square_stock_push(payload: Mapping[str, Any]) -> Request:
    """Square Inventory BatchChangeInventory: a PHYSICAL_COUNT of the variation IN_STOCK at a location."""
    body = {
        "idempotency_key": str(_need(payload, "idempotency_key")),
        "changes": [
            {
                "type": "PHYSICAL_COUNT",
                "physical_count": {
                    "catalog_object_id": str(_need(payload, "channel_listing_id")),
                    "location_id": str(_need(payload, "location_id")),
                    "state": "IN_STOCK",
                    "quantity": str(_quantity(payload)),
                    "occurred_at": str(_need(payload, "occurred_at")),
                },
            }
        ],
        "ignore_unchanged_counts": True,
    }
    return "POST", "/v2/inventory/changes/batch-create", body


# --- request builders: shipment confirmations ---------------------------------------------------------------
# payload: {"order_external_id", "carrier", "tracking_number", "tracking_url", "shipped_at" (ISO 8601 UTC),
#           "shipment_id", "lines": [{"line_item_id", "quantity"}], plus the channel's ids}

_CARRIERS = {"ups": "UPS", "usps": "USPS", "fedex": "FedEx", "dhl": "DHL"}


def _carrier(name: Any) -> str | None:
    text = str(name or "").strip()
    return _CARRIERS.get(text.lower().replace(" ", "").replace("-", ""), text or None)


def _lines(payload: Mapping[str, Any]) -> list[tuple[str, int]]:
    lines = [
        (str(line["line_item_id"]), int(line["quantity"]))
        for line in payload.get("lines") or []
        if line.get("line_item_id") and int(line.get("quantity") or 0) > 0
    ]
    if not lines:
        raise OutboundError("the shipment has no lines with the channel's line item ids", permanent=True)
    return lines


def _shipped_at(payload: Mapping[str, Any], *, millis: bool = False) -> str:
    moment = datetime.fromisoformat(str(_need(payload, "shipped_at"))).astimezone(UTC)
    if millis:
        return f"{moment.strftime('%Y-%m-%dT%H:%M:%S')}.{moment.microsecond // 1000:03d}Z"
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def shopify_shipment_confirmation(payload: Mapping[str, Any]) -> Request:
    """Shopify fulfillment for fulfillment orders: the shipped line items with the tracking number.

    Needs payload["fulfillment_orders"]: the order's, from GET orders/{id}/fulfillment_orders.json."""
    wanted = dict(_lines(payload))
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
        "company": _carrier(payload.get("carrier")),
        "url": payload.get("tracking_url"),
    }
    body = {
        "fulfillment": {
            "line_items_by_fulfillment_order": groups,
            "tracking_info": {k: v for k, v in tracking.items() if v},
            "notify_customer": False,  # we send our own shipping email
        }
    }
    return "POST", f"{SHOPIFY_API}/fulfillments.json", body


def amazon_shipment_confirmation(payload: Mapping[str, Any]) -> Request:
    """Amazon Orders v0 confirmShipment: one package with carrier, tracking number, ship date and items."""
    carrier = _carrier(payload.get("carrier"))
    known = carrier in _CARRIERS.values()
    detail: dict[str, Any] = {
        "packageReferenceId": str(_need(payload, "shipment_id")),
        "carrierCode": carrier if known else "Other",
        "trackingNumber": str(_need(payload, "tracking_number")),
        "shipDate": _shipped_at(payload),
        "orderItems": [{"orderItemId": item, "quantity": qty} for item, qty in _lines(payload)],
    }
    if not known:
        detail["carrierName"] = carrier or "Other"
    if payload.get("shipping_method"):
        detail["shippingMethod"] = payload["shipping_method"]
    order_id = quote(str(_need(payload, "order_external_id")), safe="")
    body = {"marketplaceId": str(_need(payload, "marketplace_id")), "packageDetail": detail}
    return "POST", f"/orders/v0/orders/{order_id}/shipmentConfirmation", body


def ebay_shipment_confirmation(payload: Mapping[str, Any]) -> Request:
    """eBay Sell Fulfillment createShippingFulfillment: line items, ship date, carrier and tracking number."""
    body = {
        "lineItems": [{"lineItemId": item, "quantity": qty} for item, qty in _lines(payload)],
        "shippedDate": _shipped_at(payload, millis=True),
    }
    if payload.get("tracking_number"):  # optional for eBay, though usually known
        body["shippingCarrierCode"] = _carrier(payload.get("carrier")) or "Other"
        body["trackingNumber"] = str(payload["tracking_number"])
    order_id = quote(str(_need(payload, "order_external_id")), safe="")
    return "POST", f"/sell/fulfillment/v1/order/{order_id}/shipping_fulfillment", body


STOCK_PUSH_BUILDERS: dict[str, Callable[[Mapping[str, Any]], Request]] = {
    "shopify": shopify_stock_push,
    "amazon": amazon_stock_push,
    "ebay": ebay_stock_push,
    "woocommerce": woocommerce_stock_push,
    "square": square_stock_push,
}
SHIPMENT_BUILDERS: dict[str, Callable[[Mapping[str, Any]], Request]] = {
    "shopify": shopify_shipment_confirmation,
    "amazon": amazon_shipment_confirmation,
    "ebay": ebay_shipment_confirmation,
}


# --- queueing -----------------------------------------------------------------------------------------------


def queue_shipment_confirmation(
    session: Session, shipment: Shipment, *, now: datetime
) -> OutboxMessage | None:
    """Queue the shipment's confirmation to its channel, once; None when the channel takes none."""
    order = session.get(Order, shipment.order_id)
    if order is None or order.fulfilled_by_channel or order.channel.kind not in SHIPMENT_BUILDERS:
        return None
    key = f"shipconfirm:{shipment.id}"
    existing = session.scalar(select(OutboxMessage).where(OutboxMessage.dedup_key == key))
    if existing is not None:
        return existing
    by_id = {line.id: line for line in order.lines}
    shipped = [(by_id.get(s.order_line_id), s.quantity) for s in shipment.lines]
    if not shipped:  # a shipment recorded without lines ships the whole order
        shipped = [(line, line.quantity - line.quantity_cancelled) for line in order.lines]
    message = OutboxMessage(
        kind=SHIPMENT_CONFIRMATION,
        transport="channel",
        dedup_key=key,
        recipient=order.channel.code,
        subject=f"shipment {shipment.id} of order {order.number}",
        payload={
            "channel_id": order.channel_id,
            "channel": order.channel.code,
            "order_id": order.id,
            "order_external_id": order.external_id,
            "shipment_id": shipment.id,
            "carrier": shipment.carrier,
            "tracking_number": shipment.tracking_number,
            "tracking_url": shipment.tracking_url,
            "shipping_method": order.shipping_method,
            "shipped_at": (shipment.shipped_at or now).astimezone(UTC).isoformat(),
            "lines": [_shipped_line(line, quantity) for line, quantity in shipped if line is not None],
        },
        status="pending",
        attempts=0,
        next_attempt_at=now,
        created_at=now,
    )
    try:
        with session.begin_nested():
            session.add(message)
    except IntegrityError:  # queued concurrently by another transaction
        existing = session.scalar(select(OutboxMessage).where(OutboxMessage.dedup_key == key))
        if existing is None:
            raise
        return existing
    return message


def _shipped_line(line: OrderLine, quantity: int) -> dict[str, Any]:
    return {"line_item_id": line.external_id, "channel_sku": line.channel_sku, "quantity": quantity}


# --- dispatch -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DispatchResult:
    """Rows claimed in one dispatch, and how each ended: sent, to be retried, or failed for good."""

    claimed: int = 0
    sent: int = 0
    retrying: int = 0
    failed: int = 0


@dataclass(frozen=True)
class _Claimed:
    id: int
    kind: str
    recipient: str
    payload: dict[str, Any]
    attempts: int


@dataclass(frozen=True)
class _Outcome:
    ok: bool
    reference: str | None = None  # the channel's id for what was created, or why nothing was sent
    error: str | None = None
    permanent: bool = False


@dataclass(frozen=True)
class _Target:
    """What sending needs from the channel, read before any request so no session stays open."""

    code: str
    kind: str
    base_url: str | None
    credentials: dict[str, Any]
    listings: tuple[tuple[str, str | None], ...]  # (channel SKU, channel listing id)


def dispatch_channel_outbox(
    session_factory: sessionmaker[Session],
    *,
    now: datetime,
    clients: Mapping[str, HttpClient] | None = None,
    batch: int = 50,
) -> DispatchResult:
    """Send up to `batch` due channel rows (module docstring); `clients` by channel code, for tests."""
    claimed = sent = retrying = failed = 0
    for _ in range(batch):
        row = _claim(session_factory, now)
        if row is None:
            break
        claimed += 1
        outcome = _deliver(session_factory, row, now=now, clients=clients or {})
        status = _finish(session_factory, row, outcome, now=now)
        sent += status == "sent"
        retrying += status == "retrying"
        failed += status == "failed"
    return DispatchResult(claimed, sent, retrying, failed)


def channel_push_job(session: Session, now: datetime) -> DispatchResult:
    """Worker job (every 30 s): send the due channel pushes."""
    return dispatch_channel_outbox(job_session_factory(session), now=now)


def _claim(factory: sessionmaker[Session], now: datetime) -> _Claimed | None:
    with factory() as session:
        begin_write(session)
        stmt = (
            select(OutboxMessage)
            .where(
                OutboxMessage.transport == "channel",
                OutboxMessage.status == "pending",
                OutboxMessage.next_attempt_at <= now,
            )
            .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
            .limit(1)
        )
        if session.get_bind().dialect.name == "postgresql":
            stmt = stmt.with_for_update(skip_locked=True)
        row = session.scalars(stmt).first()
        if row is None:
            session.rollback()
            return None
        claimed = _Claimed(row.id, row.kind, row.recipient, copy.deepcopy(row.payload or {}), row.attempts)
        row.next_attempt_at = now + CLAIM_LEASE
        session.commit()
    return claimed


def _finish(factory: sessionmaker[Session], claimed: _Claimed, outcome: _Outcome, *, now: datetime) -> str:
    with factory() as session:
        begin_write(session)
        row = session.get(OutboxMessage, claimed.id, with_for_update=True)
        if row is None or row.status != "pending":
            session.rollback()
            return "gone"
        replaced = row.payload != claimed.payload
        attempt = row.attempts + 1
        where = f"{claimed.kind} #{claimed.id} to {claimed.recipient}"
        if outcome.ok and replaced:
            row.next_attempt_at = now
            status = "retrying"
            log.info(
                "%s: sent (attempt %d), payload replaced meanwhile: sending the newer one", where, attempt
            )
        elif outcome.ok:
            row.status, row.sent_at, row.last_error = "sent", now, None
            row.message_id = (outcome.reference or "")[:200] or None
            status = "sent"
            log.info("%s: sent (attempt %d) %s", where, attempt, outcome.reference or "")
        else:
            row.attempts = attempt
            row.last_error = outcome.error
            if (outcome.permanent and not replaced) or attempt >= MAX_ATTEMPTS:
                row.status = "failed"
                status = "failed"
                log.error("%s: attempt %d failed, giving up: %s", where, attempt, outcome.error)
            else:
                row.next_attempt_at = now + retry_delay(attempt)
                status = "retrying"
                log.warning(
                    "%s: attempt %d failed, next at %s: %s",
                    where,
                    attempt,
                    row.next_attempt_at.isoformat(),
                    outcome.error,
                )
        session.commit()
    return status


def _deliver(
    factory: sessionmaker[Session], claimed: _Claimed, *, now: datetime, clients: Mapping[str, HttpClient]
) -> _Outcome:
    try:
        target = _target(factory, claimed)
        if claimed.kind == STOCK_PUSH:
            return _send_stock(target, claimed, now=now, clients=clients)
        if claimed.kind == SHIPMENT_CONFIRMATION:
            return _send_shipment(target, claimed, clients=clients)
        return _Outcome(False, error=f"unknown channel message kind {claimed.kind!r}", permanent=True)
    except ChannelHttpError as exc:
        return _Outcome(False, error=str(exc), permanent=not exc.retryable)
    except OutboundError as exc:
        return _Outcome(False, error=str(exc), permanent=exc.permanent)
    except (KeyError, TypeError, ValueError) as exc:
        return _Outcome(False, error=f"bad payload: {type(exc).__name__}: {exc}", permanent=True)


def _target(factory: sessionmaker[Session], claimed: _Claimed) -> _Target:
    with factory() as session:
        channel_id = claimed.payload.get("channel_id")
        channel = session.get(Channel, channel_id) if channel_id else None
        if channel is None:
            channel = session.scalar(select(Channel).where(Channel.code == claimed.recipient))
        if channel is None:
            raise OutboundError(f"channel {claimed.recipient!r} not found", permanent=True)
        if not channel.active:
            raise OutboundError(f"channel {channel.code!r} is not active", permanent=True)
        listings: tuple[tuple[str, str | None], ...] = ()
        if claimed.kind == STOCK_PUSH:
            if claimed.payload.get("channel_sku"):
                listings = ((claimed.payload["channel_sku"], claimed.payload.get("channel_listing_id")),)
            else:
                rows = session.execute(
                    select(Listing.channel_sku, Listing.channel_listing_id)
                    .where(
                        Listing.channel_id == channel.id,
                        Listing.sku_id == claimed.payload.get("sku_id"),
                        Listing.active.is_(True),
                    )
                    .order_by(Listing.id)
                ).all()
                listings = tuple((sku, listing_id) for sku, listing_id in rows)
        target = _Target(
            channel.code, channel.kind, channel.base_url, dict(channel.credentials or {}), listings
        )
        session.rollback()
    return target


def _client(target: _Target, clients: Mapping[str, HttpClient]) -> HttpClient:
    if target.code in clients:
        return clients[target.code]
    if not target.base_url:
        raise OutboundError(f"channel {target.code!r} has no base URL")
    try:
        return HttpClient(target.base_url, max_wait=30.0)
    except ValueError as exc:
        raise OutboundError(f"channel {target.code!r}: {exc}", permanent=True) from None


def _auth_headers(target: _Target) -> dict[str, str]:
    creds = target.credentials
    if target.kind == "woocommerce":
        key, secret = creds.get("consumer_key"), creds.get("consumer_secret")
        if not key or not secret:
            raise OutboundError(f"channel {target.code!r} has no credentials consumer_key/consumer_secret")
        token = base64.b64encode(f"{key}:{secret}".encode()).decode("ascii")
        return {"Authorization": f"Basic {token}"}
    token = creds.get("access_token")
    if not token:
        raise OutboundError(f"channel {target.code!r} has no credentials['access_token']")
    if target.kind == "shopify":
        return {"X-Shopify-Access-Token": token}
    if target.kind == "amazon":
        return {"x-amz-access-token": token}
    headers = {"Authorization": f"Bearer {token}"}
    if target.kind == "square" and creds.get("square_version"):
        headers["Square-Version"] = str(creds["square_version"])
    return headers


def _send(client: HttpClient, request: Request, headers: dict[str, str]) -> HttpResponse:
    method, path, body = request
    return client.request(method, path, json=body, headers=headers)


def _send_stock(
    target: _Target, claimed: _Claimed, *, now: datetime, clients: Mapping[str, HttpClient]
) -> _Outcome:
    builder = STOCK_PUSH_BUILDERS.get(target.kind)
    if builder is None:
        return _Outcome(True, reference=f"skipped: a {target.kind} channel takes no stock push")
    if not target.listings:
        return _Outcome(True, reference="skipped: the SKU is not listed on this channel")
    client, headers = _client(target, clients), _auth_headers(target)
    creds = target.credentials
    marketplaces = creds.get("marketplace_ids") or []
    references = []
    for channel_sku, listing_id in target.listings:
        payload = {
            "channel_sku": channel_sku,
            "channel_listing_id": listing_id,
            "quantity": claimed.payload.get("quantity"),
            "location_id": creds.get("location_id"),
            "seller_id": creds.get("seller_id"),
            "marketplace_id": creds.get("marketplace_id") or (marketplaces[0] if marketplaces else None),
            "product_type": creds.get("product_type"),
            "idempotency_key": str(uuid.uuid4()),
            "occurred_at": now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        }
        if target.kind == "shopify":
            payload["inventory_item_id"] = _shopify_inventory_item(
                client, headers, creds, channel_sku, listing_id
            )
        response = _send(client, builder(payload), headers)
        _check_accepted(target.kind, response)
        references.append(f"{channel_sku}: HTTP {response.status}")
    return _Outcome(True, reference="; ".join(references))


def _shopify_inventory_item(
    client: HttpClient,
    headers: dict[str, str],
    creds: Mapping[str, Any],
    channel_sku: str,
    variant: str | None,
) -> Any:
    known = (creds.get("inventory_item_ids") or {}).get(channel_sku)
    if known:
        return known
    if not variant:
        raise OutboundError(f"listing {channel_sku!r} has no Shopify variant id", permanent=True)
    response = client.get(f"{SHOPIFY_API}/variants/{quote(str(variant), safe='')}.json", headers=headers)
    item = (
        (response.data or {}).get("variant", {}).get("inventory_item_id")
        if isinstance(response.data, dict)
        else None
    )
    if not item:
        raise OutboundError(f"Shopify variant {variant} has no inventory_item_id", permanent=True)
    return item


def _check_accepted(kind: str, response: HttpResponse) -> None:
    """Channels that answer 200 while refusing part of the request: eBay's bulk call, Amazon's INVALID."""
    data = response.data if isinstance(response.data, dict) else {}
    if kind == "ebay":
        refused = [r for r in data.get("responses") or [] if int(r.get("statusCode") or 200) >= 400]
        if refused:
            raise OutboundError(f"eBay refused the quantity update: {refused}"[:2000], permanent=True)
    if kind == "amazon" and data.get("status") == "INVALID":
        raise OutboundError(f"Amazon refused the listing patch: {data.get('issues')}"[:2000], permanent=True)


def _send_shipment(target: _Target, claimed: _Claimed, *, clients: Mapping[str, HttpClient]) -> _Outcome:
    builder = SHIPMENT_BUILDERS.get(target.kind)
    if builder is None:
        return _Outcome(True, reference=f"skipped: a {target.kind} channel takes no shipment confirmation")
    client, headers = _client(target, clients), _auth_headers(target)
    payload = dict(claimed.payload)
    creds = target.credentials
    marketplaces = creds.get("marketplace_ids") or []
    payload.setdefault(
        "marketplace_id", creds.get("marketplace_id") or (marketplaces[0] if marketplaces else None)
    )
    if target.kind == "shopify":
        order_id = quote(str(_need(payload, "order_external_id")), safe="")
        response = client.get(f"{SHOPIFY_API}/orders/{order_id}/fulfillment_orders.json", headers=headers)
        data = response.data if isinstance(response.data, dict) else {}
        payload["fulfillment_orders"] = data.get("fulfillment_orders") or []
    response = _send(client, builder(payload), headers)
    return _Outcome(True, reference=_reference(response))


def _reference(response: HttpResponse) -> str:
    """The channel's id for what was created: Shopify's fulfillment id, eBay's Location, else the status."""
    data = response.data if isinstance(response.data, dict) else {}
    fulfillment = data.get("fulfillment")
    if isinstance(fulfillment, dict) and fulfillment.get("id"):
        return f"fulfillment {fulfillment['id']}"
    location = response.headers.get("location")
    if location:
        return location.rsplit("/", 1)[-1]
    return f"HTTP {response.status}"
