"""The "my data" export: everything we hold about a customer that they may see, as JSON-ready data.

Left out on purpose: staff-internal messages (`Message.internal`) and CRM notes. The notes model has no
customer-visible flag (every note is a staff note written for colleagues), so no note is exported; the
customer's own words are all in their conversations."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session, selectinload

from core.channels.models import Channel
from core.customers.models import Customer, Identity
from core.errors import NotFound
from core.money import to_decimal_string
from core.orders.models import Order
from core.returns.models import Refund, ReturnRequest
from core.support.models import Conversation, Message

FORMAT_VERSION = 1


def _when(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _money(amount: int | None, currency: str) -> str | None:
    return None if amount is None else to_decimal_string(amount, currency)


def customer_ids_of(session: Session, customer_id: int) -> list[int]:
    """The customer and every customer merged into them (directly or through another), oldest first."""
    ids = [customer_id]
    frontier = [customer_id]
    while frontier:
        found = session.scalars(select(Customer.id).where(Customer.merged_into_id.in_(frontier))).all()
        frontier = [i for i in found if i not in ids]
        ids.extend(frontier)
    return sorted(ids)


def customer_export(session: Session, customer_id: int, *, now: datetime) -> dict[str, Any]:
    """The customer's data: profile, channel identities, orders with lines, shipments, returns and refunds,
    and the conversations they can see (customer-visible messages only). A fixed number of queries."""
    customer = session.get(Customer, customer_id)
    if customer is None:
        raise NotFound(f"customer {customer_id} not found")
    ids = customer_ids_of(session, customer_id)
    channels = {c.id: c for c in session.scalars(select(Channel))}
    identities = session.scalars(
        select(Identity).where(Identity.customer_id.in_(ids)).order_by(Identity.id)
    ).all()
    orders = session.scalars(
        select(Order)
        .where(Order.customer_id.in_(ids))
        .options(selectinload(Order.lines), selectinload(Order.shipments))
        .order_by(Order.placed_at, Order.id)
    ).all()
    order_ids = [o.id for o in orders]
    returns = session.scalars(
        select(ReturnRequest)
        .where(ReturnRequest.order_id.in_(order_ids))
        .options(selectinload(ReturnRequest.lines))
        .order_by(ReturnRequest.id)
    ).all()
    refunds = session.scalars(select(Refund).where(Refund.order_id.in_(order_ids)).order_by(Refund.id)).all()
    conversations = session.scalars(
        select(Conversation)
        .where(or_(Conversation.customer_id.in_(ids), Conversation.order_id.in_(order_ids)))
        .order_by(Conversation.created_at, Conversation.id)
    ).all()
    messages = session.scalars(
        select(Message)
        .where(
            Message.conversation_id.in_([c.id for c in conversations]),
            Message.internal.is_(False),
        )
        .options(selectinload(Message.attachments))
        .order_by(Message.id)
    ).all()
    returns_by_order: dict[int, list[ReturnRequest]] = {}
    for rma in returns:
        returns_by_order.setdefault(rma.order_id, []).append(rma)
    refunds_by_order: dict[int, list[Refund]] = {}
    for refund in refunds:
        refunds_by_order.setdefault(refund.order_id, []).append(refund)
    messages_by_conversation: dict[int, list[Message]] = {}
    for message in messages:
        messages_by_conversation.setdefault(message.conversation_id, []).append(message)

    def channel_name(channel_id: int | None) -> str | None:
        return channels[channel_id].name if channel_id in channels else None

    def order_data(o: Order) -> dict[str, Any]:
        lines_by_id = {li.id: li for li in o.lines}
        return {
            "number": o.number,
            "channel": channel_name(o.channel_id),
            "channel_order_id": o.external_id,
            "channel_order_number": o.channel_number,
            "status": o.status,
            "placed_at": _when(o.placed_at),
            "currency": o.currency,
            "subtotal": _money(o.subtotal, o.currency),
            "discount_total": _money(o.discount_total, o.currency),
            "shipping_total": _money(o.shipping_total, o.currency),
            "tax_total": _money(o.tax_total, o.currency),
            "total": _money(o.total, o.currency),
            "refunded_total": _money(o.refunded_total, o.currency),
            "buyer_name": o.buyer_name,
            "email": o.email,
            "phone": o.phone,
            "shipping_address": o.shipping_address,
            "billing_address": o.billing_address,
            "shipping_method": o.shipping_method,
            "note": o.note,
            "lines": [
                {
                    "title": li.title,
                    "channel_sku": li.channel_sku,
                    "quantity": li.quantity,
                    "unit_price": _money(li.unit_price, o.currency),
                    "tax": _money(li.tax, o.currency),
                    "total": _money(li.total, o.currency),
                    "quantity_shipped": li.quantity_shipped,
                    "quantity_returned": li.quantity_returned,
                    "quantity_cancelled": li.quantity_cancelled,
                }
                for li in o.lines
            ],
            "shipments": [
                {
                    "carrier": s.carrier,
                    "tracking_number": s.tracking_number,
                    "tracking_url": s.tracking_url,
                    "status": s.status,
                    "shipped_at": _when(s.shipped_at),
                    "delivered_at": _when(s.delivered_at),
                }
                for s in o.shipments
            ],
            "returns": [
                {
                    "rma": r.rma_number,
                    "status": r.status,
                    "reason": r.reason,
                    "reason_text": r.reason_text,
                    "resolution": r.resolution,
                    "requested_at": _when(r.requested_at),
                    "lines": [
                        {
                            "title": lines_by_id[li.order_line_id].title
                            if li.order_line_id in lines_by_id
                            else None,
                            "quantity": li.quantity,
                            "quantity_received": li.quantity_received,
                        }
                        for li in r.lines
                    ],
                }
                for r in returns_by_order.get(o.id, [])
            ],
            "refunds": [
                {
                    "amount": _money(f.amount, f.currency),
                    "shipping_amount": _money(f.shipping_amount, f.currency),
                    "currency": f.currency,
                    "method": f.method,
                    "created_at": _when(f.created_at),
                }
                for f in refunds_by_order.get(o.id, [])
            ],
        }

    return {
        "format": "crossdock-customer-export",
        "version": FORMAT_VERSION,
        "exported_at": now.isoformat(),
        "customer": {
            "id": customer.id,
            "name": customer.name,
            "email": customer.email,
            "phone": customer.phone,
            "marketing_opt_out": customer.marketing_opt_out,
            "notification_preferences": customer.notification_prefs,
            "deletion_requested_at": _when(customer.deletion_requested_at),
            "created_at": _when(customer.created_at),
        },
        "channel_identities": [
            {
                "channel": channel_name(i.channel_id),
                "channel_customer_id": i.external_id,
                "name": i.name,
                "email": i.email,
                "phone": i.phone,
                "address": i.address,
                "created_at": _when(i.created_at),
            }
            for i in identities
        ],
        "orders": [order_data(o) for o in orders],
        "conversations": [
            {
                "subject": c.subject,
                "status": c.status,
                "source": c.source,
                "order": next((o.number for o in orders if o.id == c.order_id), None),
                "created_at": _when(c.created_at),
                "messages": [
                    {
                        "from": m.author_kind,
                        "body": m.body,
                        "at": _when(m.created_at),
                        "attachments": [
                            {"filename": a.filename, "content_type": a.content_type, "size": a.size}
                            for a in m.attachments
                        ],
                    }
                    for m in messages_by_conversation.get(c.id, [])
                ],
            }
            for c in conversations
        ],
    }
