"""Queue writes built on the single-ticket services: a phone call logged as a ticket, and one action over
many tickets. Each change goes through `core.support.services`, so each is in the ticket's history and
the audit log."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.audit.services import record_audit
from core.customers.models import Customer
from core.errors import DomainError, NotFound
from core.orders.models import Order
from core.security.models import User
from core.security.roles import Actor, is_staff
from core.support.models import Conversation
from core.support.services import (
    MAX_SUBJECT,
    add_internal_note,
    assign_conversation,
    auto_assign_conversation,
    change_conversation_status,
    get_conversation,
)
from core.support.sla_services import apply_sla
from core.support.status import REPLY_STATUSES, ConversationStatus


def log_phone_call(
    session: Session,
    customer_id: int,
    note: str,
    *,
    subject: str = "",
    order_number: str | None = None,
    status: str = ConversationStatus.OPEN,
    take: bool = True,
    actor: Actor,
    now: datetime,
) -> Conversation:
    """A conversation from a phone call: the agent's note of the call is its first message (internal: the
    customer did not write it), the call counts as our first response, and the ticket is the agent's
    (`take`) or goes to round-robin."""
    if not (note or "").strip():
        raise DomainError("write a message first")
    if status not in REPLY_STATUSES:
        raise DomainError(f"a phone note can leave the conversation {', '.join(REPLY_STATUSES)}")
    customer = session.get(Customer, customer_id)
    if customer is None:
        raise NotFound("customer not found")
    order = None
    if order_number and order_number.strip():
        order = session.scalar(
            select(Order).where(Order.number == order_number.strip(), Order.customer_id == customer_id)
        )
        if order is None:
            raise DomainError(f"{customer.name or 'this customer'} has no order {order_number.strip()}")
    subject = " ".join((subject or "").split())[:MAX_SUBJECT] or (
        f"Phone call about order {order.number}"
        if order is not None
        else "Phone call: " + note.strip().split("\n")[0][:60]
    )
    conversation = Conversation(
        customer_id=customer_id,
        order_id=order.id if order is not None else None,
        source="phone",
        subject=subject,
        status=ConversationStatus.OPEN,
        priority="normal",
        first_responded_at=now,
        created_at=now,
        updated_at=now,
    )
    apply_sla(session, conversation)
    session.add(conversation)
    session.flush()
    message = add_internal_note(session, conversation.id, note, actor=actor, now=now)
    message.data = {"phone_call": True}
    record_audit(
        session,
        actor,
        "conversation.phone_logged",
        "conversation",
        conversation.id,
        now=now,
        after={"customer_id": customer_id, "order_id": conversation.order_id, "message_id": message.id},
    )
    if take and actor.user_id is not None:
        assign_conversation(session, conversation.id, actor.user_id, actor=actor, now=now)
    if status != ConversationStatus.OPEN:
        change_conversation_status(session, conversation.id, status, actor=actor, now=now)
    if conversation.assignee_id is None:
        auto_assign_conversation(session, conversation, now=now)
    return conversation


BULK_ACTIONS = ("assign_me", "assign", "unassign", "solve", "close")
MAX_BULK = 100


@dataclass(frozen=True)
class BulkResult:
    """What a bulk action did: the tickets changed, and those skipped with the reason."""

    changed: list[int]
    skipped: list[tuple[int, str]]


def bulk_update_conversations(
    session: Session,
    conversation_ids: Sequence[int],
    action: str,
    *,
    assignee_id: int | None = None,
    actor: Actor,
    now: datetime,
) -> BulkResult:
    """One action over several tickets (assign to me or someone, unassign, solve, close), each through the
    single-ticket service so each is audited and in its history; a ticket the action can't apply to (closed
    already, gone) is skipped with the reason and the others go ahead."""
    if action not in BULK_ACTIONS:
        raise DomainError(f"unknown action {action!r}")
    ids = list(dict.fromkeys(conversation_ids))
    if not ids:
        raise DomainError("tick at least one ticket")
    if len(ids) > MAX_BULK:
        raise DomainError(f"at most {MAX_BULK} tickets at once")
    if action == "assign_me":
        action, assignee_id = "assign", actor.user_id
    if action == "assign":
        assignee = session.get(User, assignee_id) if assignee_id is not None else None
        if assignee is None or not assignee.active or not is_staff(assignee.role):
            raise DomainError("choose an active staff member to assign the tickets to")
    changed: list[int] = []
    skipped: list[tuple[int, str]] = []
    for conversation_id in ids:
        try:
            conversation = get_conversation(session, conversation_id)
            before = (conversation.assignee_id, conversation.status)
            if action in ("assign", "unassign"):
                assign_conversation(
                    session,
                    conversation_id,
                    assignee_id if action == "assign" else None,
                    actor=actor,
                    now=now,
                )
            else:
                target = ConversationStatus.SOLVED if action == "solve" else ConversationStatus.CLOSED
                if conversation.status != target:
                    change_conversation_status(session, conversation_id, target, actor=actor, now=now)
        except NotFound:
            skipped.append((conversation_id, "not found"))
            continue
        except DomainError as exc:
            skipped.append((conversation_id, str(exc)))
            continue
        if (conversation.assignee_id, conversation.status) != before:
            changed.append(conversation_id)
    return BulkResult(changed, skipped)
