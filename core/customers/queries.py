"""Read models for customer screens."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from sqlalchemy import case, distinct, func, or_, select
from sqlalchemy.orm import Session, joinedload
from sqlalchemy.orm.attributes import set_committed_value

from core.channels.models import Channel
from core.customers.models import (
    CrmNote,
    CrmNoteVersion,
    Customer,
    CustomerMatchSuggestion,
    CustomerMerge,
    Identity,
)
from core.errors import DomainError, NotFound
from core.fulfillment.models import Shipment
from core.notifications.models import OutboxMessage
from core.orders.models import Order, OrderLine
from core.orders.status import OrderStatus
from core.pagination import Page, id_from_text
from core.returns.models import Refund, ReturnRequest
from core.support.models import Conversation

# Orders paid for: every status but these. Lifetime value counts them, net of what was refunded on them.
UNPAID_STATUSES = (OrderStatus.PENDING, OrderStatus.CANCELLED)
TIMELINE_ORDERS = 50  # the customer page shows the latest orders; "show more" adds this many
COMPACT_ORDERS = 10  # the compact profile beside a ticket shows this many, then links to the customer page
COMPACT_EMAILS = 50
MAX_TIMELINE_ORDERS = 1000
RECENT_EMAILS = 200
RECENT_CONVERSATIONS = 20
ADDRESS_PARTS = ("name", "company", "line1", "line2", "city", "region", "postal_code", "country")


@dataclass(frozen=True)
class IdentityView:
    """A channel identity as the channel gave it, with the channel's name (None: made by hand)."""

    identity: Identity
    channel: str | None

    @property
    def address_text(self) -> str:
        """The address as one line, in the usual order of its parts."""
        address = self.identity.address or {}
        parts = (address.get(key) for key in ADDRESS_PARTS)
        return ", ".join(str(part) for part in parts if part)


@dataclass(frozen=True)
class TimelineOrder:
    """One order in the customer's timeline, with its shipments (on the order), returns, refunds and the
    emails sent about it, newest first."""

    order: Order
    returns: list[ReturnRequest]
    refunds: list[Refund]
    emails: list[OutboxMessage]


@dataclass(frozen=True)
class CustomerKpis:
    """Figures over the customer's whole history, not only the orders shown.

    - lifetime value: per currency, the totals of paid orders (any status but pending and cancelled) less
      what was refunded on them;
    - return rate: units received back / units ordered (less cancelled units) over orders not cancelled,
      None without such units; `orders_returned` counts the orders with at least one unit back.
    """

    order_count: int
    lifetime_value: list[tuple[str, int]]  # (currency, minor units), by currency
    units_ordered: int
    units_returned: int
    orders_returned: int

    @property
    def return_rate(self) -> float | None:
        return self.units_returned / self.units_ordered if self.units_ordered else None


@dataclass(frozen=True)
class CustomerProfile:
    """The customer 360, the same on the customer page and beside a ticket."""

    customer: Customer
    identities: list[IdentityView]
    timeline: list[TimelineOrder]
    more_orders: bool  # older orders exist beyond the timeline
    other_emails: list[OutboxMessage]  # emails to the customer about no order shown (replies, older orders)
    notes: list[CrmNote]
    conversations: list[Conversation]
    kpis: CustomerKpis

    @property
    def orders(self) -> list[Order]:
        return [entry.order for entry in self.timeline]

    @property
    def order_count(self) -> int:
        return self.kpis.order_count


def customer_kpis(session: Session, customer_id: int) -> CustomerKpis:
    """Order count, lifetime value per currency and return rate over all the customer's orders (2 queries)."""
    paid = Order.status.not_in([str(s) for s in UNPAID_STATUSES])
    by_currency = session.execute(
        select(
            Order.currency,
            func.count(),
            func.coalesce(func.sum(case((paid, 1), else_=0)), 0),
            func.coalesce(func.sum(case((paid, Order.total - Order.refunded_total), else_=0)), 0),
        )
        .where(Order.customer_id == customer_id)
        .group_by(Order.currency)
        .order_by(Order.currency)
    ).all()
    units = session.execute(
        select(
            func.coalesce(func.sum(OrderLine.quantity - OrderLine.quantity_cancelled), 0),
            func.coalesce(func.sum(OrderLine.quantity_returned), 0),
            func.count(distinct(case((OrderLine.quantity_returned > 0, OrderLine.order_id)))),
        )
        .join(Order, Order.id == OrderLine.order_id)
        .where(Order.customer_id == customer_id, Order.status != OrderStatus.CANCELLED)
    ).one()
    return CustomerKpis(
        order_count=sum(count for _, count, _, _ in by_currency),
        lifetime_value=[
            (currency, int(value)) for currency, _, paid_count, value in by_currency if paid_count
        ],
        units_ordered=int(units[0]),
        units_returned=int(units[1]),
        orders_returned=int(units[2]),
    )


def customer_record(session: Session, customer_id: int) -> Customer:
    """The customer row alone (for pages that show no history); NotFound when there is none."""
    customer = session.get(Customer, customer_id)
    if customer is None:
        raise NotFound(f"customer {customer_id} not found")
    return customer


def customer_notes(session: Session, customer_id: int) -> list[CrmNote]:
    """The customer's CRM notes, pinned first then newest first, each with its earlier versions."""
    notes = list(
        session.scalars(
            select(CrmNote)
            .where(CrmNote.customer_id == customer_id)
            .order_by(CrmNote.pinned.desc(), CrmNote.created_at.desc(), CrmNote.id.desc())
        )
    )
    edited = [note.id for note in notes if note.edited_at is not None]
    versions: dict[int, list[CrmNoteVersion]] = defaultdict(list)
    if edited:  # most notes are never edited: their history is read only when there is one
        for version in session.scalars(
            select(CrmNoteVersion)
            .where(CrmNoteVersion.note_id.in_(edited))
            .order_by(CrmNoteVersion.id.desc())
        ):
            versions[version.note_id].append(version)
    for note in notes:
        set_committed_value(note, "versions", versions[note.id])
    return notes


def customer_profile(
    session: Session,
    customer_id: int,
    *,
    recent_orders: int = TIMELINE_ORDERS,
    recent_emails: int = RECENT_EMAILS,
) -> CustomerProfile:
    """The customer 360: channel identities, the latest `recent_orders` orders of every channel with their
    shipments, returns, refunds and emails, CRM notes (pinned first, with their history), past
    conversations and the KPIs of the whole history; NotFound when there is no such customer.

    Always the same 11 queries whatever the customer's history (10 when the customer row is already in the
    session), one more for the notes' versions when a note was edited."""
    customer = session.get(Customer, customer_id)  # often loaded already, with the ticket
    if customer is None:
        raise NotFound(f"customer {customer_id} not found")
    limit = max(1, min(recent_orders, MAX_TIMELINE_ORDERS))
    identities = [
        IdentityView(identity, channel)
        for identity, channel in session.execute(
            select(Identity, Channel.name)
            .outerjoin(Channel, Channel.id == Identity.channel_id)
            .where(Identity.customer_id == customer_id)
            .order_by(Identity.id)
        )
    ]
    orders = list(
        session.scalars(
            select(Order)
            .where(Order.customer_id == customer_id)
            .options(joinedload(Order.channel))
            .order_by(Order.placed_at.desc(), Order.id.desc())
            .limit(limit + 1)
        )
    )
    more, orders = len(orders) > limit, orders[:limit]
    ids = [o.id for o in orders]
    shown = set(ids)
    shipments: dict[int, list[Shipment]] = defaultdict(list)
    for shipment in session.scalars(select(Shipment).where(Shipment.order_id.in_(ids)).order_by(Shipment.id)):
        shipments[shipment.order_id].append(shipment)
    for order in orders:
        set_committed_value(order, "shipments", shipments[order.id])
    returns: dict[int, list[ReturnRequest]] = defaultdict(list)
    for rma in session.scalars(
        select(ReturnRequest).where(ReturnRequest.order_id.in_(ids)).order_by(ReturnRequest.id.desc())
    ):
        returns[rma.order_id].append(rma)
    refunds: dict[int, list[Refund]] = defaultdict(list)
    for refund in session.scalars(select(Refund).where(Refund.order_id.in_(ids)).order_by(Refund.id.desc())):
        refunds[refund.order_id].append(refund)
    addresses = {e for e in [customer.email, *(v.identity.email for v in identities)] if e}
    addresses |= {o.email for o in orders if o.email}
    addresses |= {a.lower() for a in addresses}
    emails: dict[int | None, list[OutboxMessage]] = defaultdict(list)
    for email in session.scalars(
        select(OutboxMessage)
        .where(OutboxMessage.transport == "email", OutboxMessage.recipient.in_(sorted(addresses)))
        .order_by(OutboxMessage.created_at.desc(), OutboxMessage.id.desc())
        .limit(max(1, min(recent_emails, RECENT_EMAILS)))
    ):
        order_id = (email.payload or {}).get("order_id")
        emails[order_id if order_id in shown else None].append(email)
    notes = customer_notes(session, customer_id)
    conversations = list(
        session.scalars(
            select(Conversation)
            .where(Conversation.customer_id == customer_id)
            .order_by(Conversation.updated_at.desc(), Conversation.id.desc())
            .limit(RECENT_CONVERSATIONS)
        )
    )
    timeline = [TimelineOrder(o, returns[o.id], refunds[o.id], emails[o.id]) for o in orders]
    return CustomerProfile(
        customer,
        identities,
        timeline,
        more,
        emails[None],
        notes,
        conversations,
        customer_kpis(session, customer_id),
    )


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
        number = id_from_text(text)
        customer = session.get(Customer, number) if number is not None else None
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
