"""Read models for the privacy screens: the requests list and a customer's requests."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.customers.models import Customer
from core.errors import NotFound
from core.orders.models import Order
from core.pagination import Page, clamp_page
from core.privacy.export import customer_ids_of
from core.privacy.models import PrivacyRequest
from core.returns.models import ReturnRequest
from core.support.models import Conversation

PER_PAGE = 25


def privacy_requests(
    session: Session, *, status: str = "open", page: int | str | None = 1
) -> Page[PrivacyRequest]:
    """One page of requests of a status: open ones oldest first (the law's clock runs), others newest
    first."""
    where = PrivacyRequest.status == status
    total = session.scalar(select(func.count()).select_from(PrivacyRequest).where(where)) or 0
    page = clamp_page(page)
    order = PrivacyRequest.requested_at if status == "open" else PrivacyRequest.requested_at.desc()
    rows = session.scalars(
        select(PrivacyRequest)
        .where(where)
        .order_by(order, PrivacyRequest.id)
        .offset((page - 1) * PER_PAGE)
        .limit(PER_PAGE)
    ).all()
    return Page(list(rows), page, PER_PAGE, total)


def customer_privacy_requests(session: Session, customer_id: int) -> list[PrivacyRequest]:
    """The customer's requests, newest first."""
    return list(
        session.scalars(
            select(PrivacyRequest)
            .where(PrivacyRequest.customer_id == customer_id)
            .order_by(PrivacyRequest.requested_at.desc(), PrivacyRequest.id.desc())
        )
    )


# Orders in these statuses are finished: erasing their addresses loses nothing still to do.
FINISHED_ORDER_STATUSES = ("delivered", "cancelled", "returned", "partially_returned")


@dataclass(frozen=True)
class ErasurePreview:
    """What an erasure of the customer would touch, for the confirm step."""

    customer: Customer
    customer_ids: list[int]
    orders: int
    unfinished_orders: list[str]  # numbers of orders still on their way (their address is still needed)
    open_returns: int
    conversations: int
    open_requests: list[PrivacyRequest]


def erasure_preview(session: Session, customer_id: int) -> ErasurePreview:
    """The customer, everyone merged into them, and what of theirs is still in progress."""
    customer = session.get(Customer, customer_id)
    if customer is None:
        raise NotFound(f"customer {customer_id} not found")
    ids = customer_ids_of(session, customer_id)
    orders = session.execute(select(Order.number, Order.status).where(Order.customer_id.in_(ids))).all()
    open_returns = session.scalar(
        select(func.count())
        .select_from(ReturnRequest)
        .where(
            ReturnRequest.customer_id.in_(ids),
            ReturnRequest.status.in_(("requested", "approved", "received")),
        )
    )
    conversations = session.scalar(
        select(func.count()).select_from(Conversation).where(Conversation.customer_id.in_(ids))
    )
    requests = [r for r in customer_privacy_requests(session, customer_id) if r.status == "open"]
    return ErasurePreview(
        customer=customer,
        customer_ids=ids,
        orders=len(orders),
        unfinished_orders=[n for n, status in orders if status not in FINISHED_ORDER_STATUSES],
        open_returns=open_returns or 0,
        conversations=conversations or 0,
        open_requests=requests,
    )
