"""Read models for the privacy screens: the requests list and a customer's requests."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.pagination import clamp_page
from core.privacy.models import PrivacyRequest

PER_PAGE = 25


def privacy_requests(
    session: Session, *, status: str = "open", page: int | str | None = 1
) -> tuple[list[PrivacyRequest], int, int]:
    """One page of requests of a status (open first by age; others newest first), the page, the count."""
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
    return list(rows), page, total


def customer_privacy_requests(session: Session, customer_id: int) -> list[PrivacyRequest]:
    """The customer's requests, newest first."""
    return list(
        session.scalars(
            select(PrivacyRequest)
            .where(PrivacyRequest.customer_id == customer_id)
            .order_by(PrivacyRequest.requested_at.desc(), PrivacyRequest.id.desc())
        )
    )
