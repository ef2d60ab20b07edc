"""Read models for customer screens."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from core.customers.models import CrmNote, Customer, Identity
from core.errors import NotFound
from core.orders.models import Order


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
