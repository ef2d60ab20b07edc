"""Support writes: conversations opened for the customer by self-service actions."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.errors import DomainError
from core.orders import events
from core.orders.models import Order
from core.orders.status import CANCELLABLE_STATUSES
from core.security.roles import Actor
from core.support.models import Conversation, Message

FIRST_RESPONSE_SLA = timedelta(hours=4)
RESOLUTION_SLA = timedelta(hours=24)


def request_cancellation(
    session: Session, order: Order, note: str, *, actor: Actor, now: datetime
) -> Conversation:
    """Open (once) a high-priority ticket asking staff to cancel an order that has not shipped."""
    if order.status not in CANCELLABLE_STATUSES:
        raise DomainError(
            "this order has already shipped, so it can't be cancelled: request a return instead"
        )
    existing = session.scalar(
        select(Conversation).where(
            Conversation.order_id == order.id,
            Conversation.category == "cancel",
            Conversation.status.in_(("open", "pending")),
        )
    )
    if existing is not None:
        return existing
    conversation = Conversation(
        customer_id=order.customer_id,
        order_id=order.id,
        source="portal",
        subject=f"Cancel order {order.number}",
        status="open",
        priority="high",
        category="cancel",
        first_response_due_at=now + FIRST_RESPONSE_SLA,
        resolution_due_at=now + RESOLUTION_SLA,
        created_at=now,
        updated_at=now,
    )
    session.add(conversation)
    session.flush()
    body = f"Please cancel order {order.number}." + (f"\n\n{note.strip()}" if note.strip() else "")
    session.add(Message(conversation_id=conversation.id, author_kind="customer", body=body, created_at=now))
    events.record_event(
        session,
        order,
        "cancellation_requested",
        "The customer asked to cancel this order",
        actor=actor.label,
        now=now,
        data={"conversation_id": conversation.id},
    )
    return conversation
