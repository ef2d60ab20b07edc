"""Read models for customer screens."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session, selectinload

from core.channels.models import Channel
from core.customers.models import CrmNote, Customer, CustomerMatchSuggestion, CustomerMerge, Identity
from core.errors import DomainError, NotFound
from core.money import to_decimal_string
from core.orders.models import Order
from core.pagination import Page
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


@dataclass(frozen=True)
class SuggestionSide:
    """One customer of a suggested pair: identities with their channel's name, order count, latest orders."""

    customer: Customer
    identities: list[tuple[Identity, str | None]]
    order_count: int
    latest_orders: list[Any]  # rows: id, customer_id, number, status, placed_at, total, currency, channel


@dataclass(frozen=True)
class SuggestionView:
    suggestion: CustomerMatchSuggestion
    left: SuggestionSide
    right: SuggestionSide


def open_suggestion_count(session: Session) -> int:
    """How many customer match suggestions wait for a decision."""
    return (
        session.scalar(
            select(func.count())
            .select_from(CustomerMatchSuggestion)
            .where(CustomerMatchSuggestion.status == "open")
        )
        or 0
    )


def suggestion_queue(
    session: Session, *, page: int = 1, per_page: int = 20, latest: int = 3
) -> Page[SuggestionView]:
    """Open match suggestions, best score first, each with both customers side by side (6 queries a page)."""
    total = open_suggestion_count(session)
    suggestions = list(
        session.scalars(
            select(CustomerMatchSuggestion)
            .where(CustomerMatchSuggestion.status == "open")
            .order_by(CustomerMatchSuggestion.score.desc(), CustomerMatchSuggestion.id)
            .limit(per_page)
            .offset((page - 1) * per_page)
        )
    )
    ids = {s.customer_id for s in suggestions} | {s.other_customer_id for s in suggestions}
    customers = (
        {c.id: c for c in session.scalars(select(Customer).where(Customer.id.in_(ids)))} if ids else {}
    )
    identities: dict[int, list[tuple[Identity, str | None]]] = {i: [] for i in ids}
    counts: dict[int, int] = {}
    orders: dict[int, list[Any]] = {i: [] for i in ids}
    if ids:
        for identity, channel in session.execute(
            select(Identity, Channel.name)
            .outerjoin(Channel, Channel.id == Identity.channel_id)
            .where(Identity.customer_id.in_(ids))
            .order_by(Identity.id)
        ):
            identities[identity.customer_id].append((identity, channel))
        counts = {
            customer_id: count
            for customer_id, count in session.execute(
                select(Order.customer_id, func.count())
                .where(Order.customer_id.in_(ids))
                .group_by(Order.customer_id)
            )
        }
        rank = (
            func.row_number()
            .over(partition_by=Order.customer_id, order_by=(Order.placed_at.desc(), Order.id.desc()))
            .label("rank")
        )
        ranked = (
            select(
                Order.id,
                Order.customer_id,
                Order.number,
                Order.status,
                Order.placed_at,
                Order.total,
                Order.currency,
                Channel.name.label("channel"),
                rank,
            )
            .join(Channel, Channel.id == Order.channel_id)
            .where(Order.customer_id.in_(ids))
            .subquery()
        )
        for row in session.execute(
            select(ranked).where(ranked.c.rank <= latest).order_by(ranked.c.customer_id, ranked.c.rank)
        ):
            orders[row.customer_id].append(row)

    def side(customer_id: int) -> SuggestionSide:
        return SuggestionSide(
            customers[customer_id], identities[customer_id], counts.get(customer_id, 0), orders[customer_id]
        )

    items = [SuggestionView(s, side(s.customer_id), side(s.other_customer_id)) for s in suggestions]
    return Page(items, page, per_page, total)


def customer_merges(session: Session, customer_id: int) -> list[CustomerMerge]:
    """Every merge into or out of the customer, newest first."""
    return list(
        session.scalars(
            select(CustomerMerge)
            .where(
                or_(
                    CustomerMerge.source_customer_id == customer_id,
                    CustomerMerge.target_customer_id == customer_id,
                )
            )
            .order_by(CustomerMerge.created_at.desc(), CustomerMerge.id.desc())
        )
    )


def find_customer(session: Session, reference: str) -> Customer:
    """The customer a staff entry names: a customer number (12 or #12) or an email (own or an identity's)."""
    text = reference.strip().lstrip("#").strip()
    if text.isdigit():
        customer = session.get(Customer, int(text))
        if customer is None:
            raise NotFound(f"no customer {text}")
        return customer
    email = text.lower()
    if "@" not in email:
        raise DomainError("enter a customer number or an email address")
    ids = set(session.scalars(select(Customer.id).where(func.lower(Customer.email) == email)))
    if not ids:
        ids = set(session.scalars(select(Identity.customer_id).where(func.lower(Identity.email) == email)))
    if not ids:
        raise NotFound(f"no customer with the email {email}")
    if len(ids) > 1:
        raise DomainError(f"several customers have the email {email}: enter the customer number")
    return session.get_one(Customer, ids.pop())
