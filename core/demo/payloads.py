"""The demo's traffic with the outside world: the last orders' payloads as the channels delivered them (and
a few that needed attention or were rejected), and the outbox of confirmation emails and stock pushes."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from core.demo.context import Existing, SeedContext
from core.demo.data.reference import CHANNELS
from core.demo.records import Channel
from core.demo.reference import Reference
from core.demo.stock import Ledger
from core.inventory.queries import available_to_sell_formula
from core.money import to_decimal_string


def write_inbound_payloads(ctx: SeedContext, recent: Iterable[dict[str, Any]], ref: Reference) -> None:
    """The last orders' payloads as received, and a few that needed attention or were rejected.

    `recent` holds the latest orders built, oldest first (see OrderBuilder.recent)."""
    for n, order in enumerate(list(recent)[-10:]):
        _payload(
            ctx,
            order["channel"],
            _native_body(order),
            "processed",
            order_id=order["order_id"],
            received=order["placed"],
            n=n,
        )
    shopify, woo, web = ref.channels["shopify"], ref.channels["woocommerce"], ref.channels["webshop"]
    bad_sku = f"{ref.skus[0].code}-XXL"
    held = {
        "id": 5_699_000_000_000 + ctx.rng.randrange(10**6),
        "name": "#9901",
        "currency": "USD",
        "line_items": [{"sku": bad_sku, "quantity": 1, "price": "89.00"}],
    }
    _payload(
        ctx,
        shopify,
        json.dumps(held),
        "needs_attention",
        received=ctx.ago(0.4),
        n=90,
        error=f"unmapped channel SKU: {bad_sku}; add a listing and reprocess.",
    )
    empty = json.dumps({"id": 99_001, "status": "processing", "line_items": []})
    _payload(ctx, woo, empty, "needs_attention", error="order has no lines", received=ctx.ago(2.1), n=91)
    _payload(
        ctx,
        web,
        '{"id": "100001", "total": "12.00"',
        "rejected",
        received=ctx.ago(5.3),
        n=92,
        error="body is not valid JSON: Expecting ',' delimiter: line 1 column 34 (char 33)",
    )
    _payload(
        ctx,
        shopify,
        json.dumps({"id": 1, "test": True}),
        "rejected",
        received=ctx.ago(11.7),
        n=93,
        error="signature mismatch: X-Shopify-Hmac-Sha256 does not match the body",
    )


def _payload(
    ctx: SeedContext,
    ch: Channel,
    body: str,
    status: str,
    *,
    received: datetime,
    n: int,
    error: str | None = None,
    order_id: int | None = None,
) -> None:
    delivery = f"{ctx.rng.getrandbits(128):032x}"
    polled = ch.kind in ("amazon", "ebay", "square")
    headers = {"Content-Type": "application/json"}
    if ch.kind == "shopify":
        headers |= {"X-Shopify-Topic": "orders/create", "X-Shopify-Webhook-Id": delivery}
    elif ch.kind == "woocommerce":
        headers |= {"X-WC-Webhook-Topic": "order.created", "X-WC-Webhook-Delivery-ID": str(n + 7000)}
    elif ch.kind == "webshop":
        headers |= {"X-Crossdock-Delivery": delivery}
    ctx.add(
        "inbound_payloads",
        {
            "id": ctx.next_id("inbound_payloads"),
            "channel_id": ch.id,
            "channel_code": ch.code,
            "source": "poll" if polled else "webhook",
            "delivery_id": None if polled else delivery,
            "topic": "orders" if polled else "orders/create",
            "filename": None,
            "body": body,
            "headers": {} if polled else headers,
            "sha256": hashlib.sha256(body.encode()).hexdigest(),
            "status": status,
            "error": error,
            "order_id": order_id,
            "received_at": received,
            "processed_at": None if status == "needs_attention" else received + timedelta(seconds=2),
        },
    )


def write_outbox(
    ctx: SeedContext, recent: Iterable[dict[str, Any]], existing: Existing, ref: Reference, ledger: Ledger
) -> None:
    """Confirmation emails of the latest orders (sent, the last few pending, one failed) and the last
    stock pushes to the marketplaces, keyed as the notification and inventory services key them."""
    emailed = [order for order in recent if order["email"]]
    for n, order in enumerate(emailed):
        key = f"order:{order['order_id']}:confirmed"
        if key in existing.outbox_keys:
            continue
        status = "pending" if n >= len(emailed) - 3 else "failed" if n == len(emailed) - 6 else "sent"
        created, sent = min(order["placed"] + timedelta(seconds=40), ctx.now), status == "sent"
        ctx.add(
            "outbox_messages",
            {
                "id": ctx.next_id("outbox_messages"),
                "kind": "order_confirmed",
                "transport": "email",
                "dedup_key": key,
                "recipient": order["email"],
                "subject": f"Your order {order['number']} is confirmed",
                "status": status,
                "payload": {"order_id": order["order_id"]},
                "next_attempt_at": created,
                "attempts": {"pending": 0, "failed": 5, "sent": 1}[status],
                "last_error": "SMTP 451 4.7.1 greylisted, try again later" if status == "failed" else None,
                "message_id": f"<{ctx.rng.getrandbits(64):016x}@crossdock.example>" if sent else None,
                "created_at": created,
                "sent_at": min(created + timedelta(seconds=5), ctx.now) if sent else None,
            },
        )
    sku = ref.skus[0]
    for code in ("amazon", "ebay"):
        ch = ref.channels[code]
        key = f"stock:{ch.id}:{sku.id}:pending"
        if key in existing.outbox_keys:
            continue
        stocked = [
            (loc.code, ledger.stock[(loc.id, sku.id)])
            for loc in ch.ship_from
            if (loc.id, sku.id) in ledger.stock
        ]
        buffer = CHANNELS[code][6]
        quantity, _formula = available_to_sell_formula(
            [(loc_code, level.on_hand - level.reserved) for loc_code, level in stocked],
            buffer_units=buffer[0],
            buffer_percent=buffer[1],
            floor=buffer[2],
        )
        created = max(level.touched for _, level in stocked) if stocked else ctx.ago(1)
        ctx.add(
            "outbox_messages",
            {
                "id": ctx.next_id("outbox_messages"),
                "kind": "stock_push",
                "transport": "channel",
                "dedup_key": key,
                "recipient": code,
                "subject": f"stock of SKU {sku.id}",
                "status": "sent",
                "payload": {
                    "channel_id": ch.id,
                    "channel": code,
                    "sku_id": sku.id,
                    "quantity": quantity,
                },
                "attempts": 1,
                "next_attempt_at": created,
                "last_error": None,
                "message_id": None,
                "created_at": created,
                "sent_at": min(created + timedelta(seconds=20), ctx.now),
            },
        )


def _native_body(order: dict[str, Any]) -> str:
    """A compact payload in the channel's own shape, as its webhook or poll delivered it."""
    kind, cur = order["channel"].kind, order["currency"]
    total, when = to_decimal_string(order["total"], cur), order["placed"].isoformat()
    if kind == "amazon":
        body: dict[str, Any] = {
            "AmazonOrderId": order["external_id"],
            "PurchaseDate": when,
            "OrderStatus": order["channel_status"],
            "FulfillmentChannel": "MFN",
            "OrderTotal": {"CurrencyCode": cur, "Amount": total},
        }
    elif kind == "ebay":
        body = {
            "orderId": order["external_id"],
            "creationDate": when,
            "orderFulfillmentStatus": order["channel_status"],
            "pricingSummary": {"total": {"value": total, "currency": cur}},
        }
    elif kind == "square":
        body = {
            "id": order["external_id"],
            "state": order["channel_status"],
            "created_at": when,
            "total_money": {"amount": order["total"], "currency": cur},
        }
    else:
        items = [
            {"sku": sku, "quantity": qty, "price": to_decimal_string(price, cur)}
            for sku, qty, price in order["lines"]
        ]
        body = {
            "id": order["external_id"],
            "created_at": when,
            "email": order["email"],
            "currency": cur,
            "total_price" if kind == "shopify" else "total": total,
            "line_items": items,
        }
    return json.dumps(body, sort_keys=True)
