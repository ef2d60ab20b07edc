"""Read models for customer screens."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from core.customers.models import CrmNote, Customer, Identity
from core.errors import NotFound
from core.money import to_decimal_string
from core.orders.models import Order
from core.returns.models import ReturnRequest
from core.support.models import Conversation


@dataclass(frozen=True)
class CustomerProfile:
    customer: Customer
    identities: list[Identity]
    orders: list[Order]
    notes: list[CrmNote]
    order_count: int


def customer_profile(session: Session, customer_id: int, *, recent_orders: int = 50) -> CustomerProfile:
    """A customer with identities, their most recent orders on every channel, and CRM notes (5 queries)."""
    customer = session.scalar(
        select(Customer).where(Customer.id == customer_id).options(selectinload(Customer.identities))
    )
    if customer is None:
        raise NotFound(f"customer {customer_id} not found")
    orders = list(
        session.scalars(
            select(Order)
            .where(Order.customer_id == customer_id)
            .options(selectinload(Order.channel))
            .order_by(Order.placed_at.desc())
            .limit(recent_orders)
        )
    )
    notes = list(
        session.scalars(
            select(CrmNote)
            .where(CrmNote.customer_id == customer_id)
            .order_by(CrmNote.pinned.desc(), CrmNote.created_at.desc())
        )
    )
    count = (
        session.scalar(select(func.count()).select_from(Order).where(Order.customer_id == customer_id)) or 0
    )
    return CustomerProfile(customer, list(customer.identities), orders, notes, count)


def customer_data_export(session: Session, customer_id: int) -> dict[str, Any]:
    """Everything we hold about the customer that they may see, as JSON-ready data (the "download my data"
    file): profile, channel identities, orders with lines and shipments, returns, conversations without
    staff-internal notes."""
    customer = session.get(Customer, customer_id)
    if customer is None:
        raise NotFound(f"customer {customer_id} not found")
    orders = session.scalars(
        select(Order)
        .where(Order.customer_id == customer_id)
        .options(selectinload(Order.lines), selectinload(Order.shipments), selectinload(Order.channel))
        .order_by(Order.placed_at)
    ).all()
    returns = session.scalars(
        select(ReturnRequest)
        .where(ReturnRequest.customer_id == customer_id)
        .options(selectinload(ReturnRequest.lines))
    ).all()
    conversations = session.scalars(
        select(Conversation)
        .where(Conversation.customer_id == customer_id)
        .options(selectinload(Conversation.messages))
        .order_by(Conversation.created_at)
    ).all()

    def when(value: datetime | None) -> str | None:
        return value.isoformat() if value else None

    return {
        "exported_at": datetime.now(UTC).isoformat(),
        "profile": {
            "name": customer.name,
            "email": customer.email,
            "phone": customer.phone,
            "notification_preferences": customer.notification_prefs,
            "created_at": when(customer.created_at),
        },
        "identities": [
            {
                "channel_id": i.channel_id,
                "name": i.name,
                "email": i.email,
                "phone": i.phone,
                "address": i.address,
            }
            for i in customer.identities
        ],
        "orders": [
            {
                "number": o.number,
                "channel": o.channel.name,
                "channel_order_id": o.external_id,
                "status": o.status,
                "placed_at": when(o.placed_at),
                "currency": o.currency,
                "total": to_decimal_string(o.total, o.currency),
                "email": o.email,
                "phone": o.phone,
                "shipping_address": o.shipping_address,
                "billing_address": o.billing_address,
                "lines": [
                    {
                        "title": li.title,
                        "quantity": li.quantity,
                        "total": to_decimal_string(li.total, o.currency),
                    }
                    for li in o.lines
                ],
                "shipments": [
                    {
                        "carrier": s.carrier,
                        "tracking_number": s.tracking_number,
                        "status": s.status,
                        "shipped_at": when(s.shipped_at),
                        "delivered_at": when(s.delivered_at),
                    }
                    for s in o.shipments
                ],
            }
            for o in orders
        ],
        "returns": [
            {
                "rma": r.rma_number,
                "status": r.status,
                "reason": r.reason,
                "reason_text": r.reason_text,
                "resolution": r.resolution,
                "requested_at": when(r.requested_at),
                "lines": [{"order_line_id": li.order_line_id, "quantity": li.quantity} for li in r.lines],
            }
            for r in returns
        ],
        "conversations": [
            {
                "subject": c.subject,
                "status": c.status,
                "created_at": when(c.created_at),
                "messages": [
                    {"from": m.author_kind, "body": m.body, "at": when(m.created_at)}
                    for m in c.messages
                    if not m.internal
                ],
            }
            for c in conversations
        ],
    }
