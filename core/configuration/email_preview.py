"""A preview of a customer email as it would be sent now, with the merchant's texts, rendered from a sample
of the merchant's own data: the newest order (with a shipment, a refund or a return when the kind is about
one). Nothing is queued or sent."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.configuration.email_texts import DEFAULT_SUBJECTS, email_texts, merchant_texts
from core.fulfillment.models import Shipment
from core.notifications.models import OutboxMessage
from core.notifications.rendering import email_context, email_environment
from core.orders.models import Order
from core.returns.models import Refund, ReturnRequest


@dataclass(frozen=True)
class EmailPreview:
    """The email as rendered: subject, plain text and HTML, and which order it was rendered from."""

    subject: str
    text: str
    html: str
    order_number: str


def _sample_payload(session: Session, kind: str, now: datetime) -> dict[str, Any] | None:
    newest = select(Order.id).order_by(Order.placed_at.desc(), Order.id.desc()).limit(1)
    if kind.startswith("order_") and kind != "order_refunded":
        order_id = session.scalar(newest)
        return None if order_id is None else {"order_id": order_id}
    if kind.startswith("shipment_"):
        row = session.execute(
            select(Shipment.order_id, Shipment.id).order_by(Shipment.id.desc()).limit(1)
        ).first()
        if row is None:
            return None
        payload: dict[str, Any] = {"order_id": row[0], "shipment_id": row[1]}
        if kind == "shipment_delivered":
            payload |= {"delivered_at": now.isoformat(), "return_by": (now + timedelta(days=30)).isoformat()}
        if kind == "shipment_delayed":
            payload |= {
                "previous_estimate": now.isoformat(),
                "new_estimate": (now + timedelta(days=3)).date().isoformat(),
            }
        return payload
    if kind == "order_refunded":
        row = session.execute(select(Refund.order_id, Refund.id).order_by(Refund.id.desc()).limit(1)).first()
        return None if row is None else {"order_id": row[0], "refund_id": row[1]}
    if kind.startswith("return_"):
        row = session.execute(
            select(ReturnRequest.order_id, ReturnRequest.id).order_by(ReturnRequest.id.desc()).limit(1)
        ).first()
        if row is None:
            return None
        payload = {"order_id": row[0], "return_id": row[1]}
        if kind == "return_refunded":
            refund = session.scalar(select(Refund.id).where(Refund.return_id == row[1]).limit(1))
            if refund is not None:
                payload["refund_id"] = refund
        return payload
    return None


def preview_email(
    session: Session, kind: str, *, portal_base_url: str, secret: str, now: datetime, tz: tzinfo = UTC
) -> EmailPreview | None:
    """The kind's email rendered from a sample order; None when the data has no sample for it yet."""
    email_texts(session, kind)  # DomainError for a kind with no editable texts
    payload = _sample_payload(session, kind, now)
    if payload is None:
        return None
    order = session.get(Order, payload["order_id"])
    message = OutboxMessage(
        kind=kind,
        transport="email",
        dedup_key=f"preview:{kind}",
        recipient="preview@example.com",
        subject=DEFAULT_SUBJECTS[kind].replace("{order_number}", order.number if order else ""),
        payload=payload,
    )
    context = email_context(session, message, portal_base_url=portal_base_url, secret=secret, tz=tz)
    context |= merchant_texts(session, kind, context)
    env = email_environment()
    return EmailPreview(
        subject=context["custom_subject"] or message.subject,
        text=env.get_template(f"emails/{kind}.txt").render(context),
        html=env.get_template(f"emails/{kind}.html").render(context),
        order_number=order.number if order else "",
    )
