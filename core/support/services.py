"""Support writes: conversations and their messages, the staff's actions on a ticket, canned replies.

Every staff action is recorded twice: as an internal system line in the conversation (its history, shown to
staff beside the messages) and in the audit log. Public agent replies are emailed through the outbox.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.audit.services import record_audit
from core.errors import DomainError, NotFound
from core.notifications import services as notification_services
from core.notifications.rendering import message_id_for
from core.orders import events
from core.orders.models import Order
from core.orders.status import CANCELLABLE_STATUSES
from core.security.models import User
from core.security.permissions import Permission, roles_with
from core.security.roles import SYSTEM, Actor, is_staff
from core.support.assignment import Candidate, pick_assignee, ticket_cap_from_env
from core.support.csat import ask_for_rating
from core.support.macros import check_macro_body
from core.support.models import Conversation, ConversationTag, Macro, Message, MessageAttachment
from core.support.presence import check_no_newer_messages
from core.support.sla_services import apply_sla, record_sla_breaches, sla_on_status_change
from core.support.status import (
    REPLY_STATUSES,
    ConversationStatus,
    check_transition,
    status_after_customer_reply,
)


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
        created_at=now,
        updated_at=now,
    )
    apply_sla(session, conversation)
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
    auto_assign_conversation(session, conversation, now=now)
    return conversation


PRIORITIES = ("low", "normal", "high", "urgent")
CATEGORIES = {
    "where_is_my_order": "Where is my order",
    "return": "Return",
    "refund": "Refund",
    "damaged": "Damaged item",
    "cancel": "Cancellation",
    "address_change": "Address change",
    "product_question": "Product question",
    "other": "Other",
}
SOURCES = ("portal", "chat", "email", "channel", "phone")
MAX_BODY = 10_000
MAX_SUBJECT = 200
MAX_TAGS = 10
TAG_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")


@dataclass(frozen=True)
class NewAttachment:
    """A file to keep with a message (already checked against the limits)."""

    filename: str
    content_type: str
    content: bytes


def get_conversation(session: Session, conversation_id: int) -> Conversation:
    """The conversation, or NotFound."""
    conversation = session.get(Conversation, conversation_id)
    if conversation is None:
        raise NotFound("conversation not found")
    return conversation


def _clean_body(body: str) -> str:
    body = (body or "").replace("\r\n", "\n").strip()
    if not body:
        raise DomainError("write a message first")
    if len(body) > MAX_BODY:
        raise DomainError(f"a message can be at most {MAX_BODY:,} characters")
    return body


def _record_history(
    session: Session,
    conversation: Conversation,
    event: str,
    text: str,
    *,
    actor: Actor,
    now: datetime,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> None:
    """A staff action: a history line in the conversation (an internal system message) and an audit entry."""
    session.add(
        Message(
            conversation_id=conversation.id,
            author_kind="system",
            author_user_id=actor.user_id,
            body=text,
            internal=True,
            data={"event": event, "actor": actor.label},
            created_at=now,
        )
    )
    record_audit(
        session,
        actor,
        f"conversation.{event}",
        "conversation",
        conversation.id,
        now=now,
        before=before,
        after=after,
    )
    conversation.updated_at = now


def _add_message(
    session: Session,
    conversation: Conversation,
    author_kind: str,
    body: str,
    *,
    now: datetime,
    author_user_id: int | None = None,
    internal: bool = False,
    email_message_id: str | None = None,
    data: dict[str, Any] | None = None,
    attachments: Sequence[NewAttachment] = (),
) -> Message:
    message = Message(
        conversation_id=conversation.id,
        author_kind=author_kind,
        author_user_id=author_user_id,
        body=body,
        internal=internal,
        email_message_id=email_message_id,
        data=data or {},
        created_at=now,
    )
    message.attachments = [
        MessageAttachment(
            filename=a.filename,
            content_type=a.content_type,
            size=len(a.content),
            content=a.content,
            created_at=now,
        )
        for a in attachments
    ]
    session.add(message)
    conversation.updated_at = now
    session.flush()
    return message


def open_conversation(
    session: Session,
    *,
    customer_id: int | None,
    order: Order | None,
    subject: str,
    body: str,
    source: str,
    now: datetime,
    email_message_id: str | None = None,
    data: dict[str, Any] | None = None,
    attachments: Sequence[NewAttachment] = (),
) -> Conversation:
    """Start a conversation with the customer's first message, about one of their orders or in general."""
    body = _clean_body(body)
    if source not in SOURCES:
        raise DomainError(f"unknown source {source!r}")
    if order is not None and customer_id is not None and order.customer_id not in (None, customer_id):
        raise NotFound("order not found")
    subject = " ".join((subject or "").split())[:MAX_SUBJECT]
    if not subject:
        subject = f"Question about order {order.number}" if order is not None else body.split("\n")[0][:80]
    conversation = Conversation(
        customer_id=customer_id if customer_id is not None else (order.customer_id if order else None),
        order_id=order.id if order is not None else None,
        source=source,
        subject=subject,
        status=ConversationStatus.OPEN,
        priority="normal",
        created_at=now,
        updated_at=now,
    )
    apply_sla(session, conversation)
    session.add(conversation)
    session.flush()
    _add_message(
        session,
        conversation,
        "customer",
        body,
        now=now,
        email_message_id=email_message_id,
        data=data,
        attachments=attachments,
    )
    auto_assign_conversation(session, conversation, now=now)
    return conversation


def add_customer_message(
    session: Session,
    conversation_id: int,
    body: str,
    *,
    now: datetime,
    email_message_id: str | None = None,
    data: dict[str, Any] | None = None,
    attachments: Sequence[NewAttachment] = (),
) -> Message:
    """The customer writes in their conversation; a pending or solved one comes back to us (open)."""
    conversation = get_conversation(session, conversation_id)
    body = _clean_body(body)
    after = status_after_customer_reply(conversation.status)
    if after is None:
        raise DomainError("this conversation is closed: please start a new one")
    if after != conversation.status:
        session.add(
            Message(
                conversation_id=conversation.id,
                author_kind="system",
                body=f"Reopened by the customer's reply (was {conversation.status})",
                internal=True,
                data={"event": "reopened", "from": conversation.status},
                created_at=now,
            )
        )
        before = conversation.status
        conversation.status = after
        conversation.solved_at = None
        sla_on_status_change(session, conversation, before, now=now)
    return _add_message(
        session,
        conversation,
        "customer",
        body,
        now=now,
        email_message_id=email_message_id,
        data=data,
        attachments=attachments,
    )


def reply_to_conversation(
    session: Session,
    conversation_id: int,
    body: str,
    *,
    actor: Actor,
    now: datetime,
    set_status: str | None = None,
    seen_message_id: int | None = None,
) -> Message:
    """An agent's public reply: shown in the portal and emailed (through the outbox) to the customer.
    `seen_message_id` (the newest public message the agent's page showed): ReplyCollision when someone
    else has written since, so the agent reads it before sending."""
    conversation = get_conversation(session, conversation_id)
    body = _clean_body(body)
    if conversation.status == ConversationStatus.CLOSED:
        raise DomainError("this conversation is closed")
    check_no_newer_messages(session, conversation.id, seen_message_id, user_id=actor.user_id)
    if set_status is not None and set_status not in REPLY_STATUSES:
        raise DomainError(f"a reply can leave the conversation {', '.join(REPLY_STATUSES)}")
    message = _add_message(session, conversation, "agent", body, now=now, author_user_id=actor.user_id)
    message.email_message_id = reply_message_id_local_part(message.id)
    if conversation.first_responded_at is None:
        record_sla_breaches(conversation, now=now)  # a late first reply is a breach at the due time
        conversation.first_responded_at = now
    record_audit(
        session,
        actor,
        "conversation.replied",
        "conversation",
        conversation.id,
        now=now,
        after={"message_id": message.id},
    )
    if set_status is not None and set_status != conversation.status:
        change_conversation_status(session, conversation.id, set_status, actor=actor, now=now)
    notification_services.queue_conversation_reply(session, message, now=now)
    return message


def reply_message_id_local_part(message_id: int) -> str:
    """The left part of the Message-ID our reply email for this message is sent with: it does not depend on
    the sender's domain, so replies that quote it (In-Reply-To, References) find the conversation."""
    return message_id_for(f"message:{message_id}:reply", "").strip("<>").partition("@")[0]


def add_internal_note(
    session: Session, conversation_id: int, body: str, *, actor: Actor, now: datetime
) -> Message:
    """A note for colleagues: never shown to the customer, never emailed."""
    conversation = get_conversation(session, conversation_id)
    body = _clean_body(body)
    message = _add_message(
        session, conversation, "agent", body, now=now, author_user_id=actor.user_id, internal=True
    )
    record_audit(
        session,
        actor,
        "conversation.noted",
        "conversation",
        conversation.id,
        now=now,
        after={"message_id": message.id},
    )
    return message


def change_conversation_status(
    session: Session, conversation_id: int, status: str, *, actor: Actor, now: datetime
) -> Conversation:
    """Move a ticket along the status table (open, pending, solved, closed)."""
    conversation = get_conversation(session, conversation_id)
    before = conversation.status
    target = check_transition(before, status)
    conversation.status = target
    if target == ConversationStatus.SOLVED:
        conversation.solved_at = now
    elif target == ConversationStatus.OPEN:
        conversation.solved_at = None
    sla_on_status_change(session, conversation, before, now=now)
    _record_history(
        session,
        conversation,
        "status_changed",
        f"Status {before} → {target}",
        actor=actor,
        now=now,
        before={"status": before},
        after={"status": str(target)},
    )
    if target == ConversationStatus.SOLVED:
        ask_for_rating(session, conversation, now=now)
    return conversation


def change_conversation_priority(
    session: Session, conversation_id: int, priority: str, *, actor: Actor, now: datetime
) -> Conversation:
    """Set a ticket's priority (low, normal, high, urgent)."""
    conversation = get_conversation(session, conversation_id)
    if priority not in PRIORITIES:
        raise DomainError(f"priority must be one of {', '.join(PRIORITIES)}")
    before = conversation.priority
    if priority != before:
        record_sla_breaches(conversation, now=now)  # what the old target already missed stays missed
        conversation.priority = priority
        apply_sla(session, conversation)
        _record_history(
            session,
            conversation,
            "priority_changed",
            f"Priority {before} → {priority}",
            actor=actor,
            now=now,
            before={"priority": before},
            after={"priority": priority},
        )
    return conversation


def change_conversation_category(
    session: Session, conversation_id: int, category: str | None, *, actor: Actor, now: datetime
) -> Conversation:
    """Set (or clear) a ticket's category."""
    conversation = get_conversation(session, conversation_id)
    category = category or None
    if category is not None and category not in CATEGORIES:
        raise DomainError(f"unknown category {category!r}")
    before = conversation.category
    if category != before:
        conversation.category = category
        label = CATEGORIES.get(category, "none") if category else "none"
        _record_history(
            session,
            conversation,
            "category_changed",
            f"Category set to {label}",
            actor=actor,
            now=now,
            before={"category": before},
            after={"category": category},
        )
    return conversation


def parse_tags(text: str) -> list[str]:
    """Tags from a comma- or space-separated field: lower case, deduplicated, sorted; DomainError when one
    is not a plain word (letters, digits, - and _, up to 40) or there are too many."""
    tags = sorted({t.strip().lower() for t in re.split(r"[,\s]+", text or "") if t.strip()})
    bad = [t for t in tags if not TAG_RE.match(t)]
    if bad:
        raise DomainError(f"a tag is one word of letters, digits, - or _ (not {bad[0]!r})")
    if len(tags) > MAX_TAGS:
        raise DomainError(f"at most {MAX_TAGS} tags")
    return tags


def set_conversation_tags(
    session: Session, conversation_id: int, tags: Sequence[str], *, actor: Actor, now: datetime
) -> Conversation:
    """Replace a ticket's tags with `tags` (already parsed)."""
    conversation = get_conversation(session, conversation_id)
    before = sorted(t.tag for t in conversation.tags)
    after = sorted(set(tags))
    if after != before:
        kept = {t.tag: t for t in conversation.tags}
        conversation.tags = [kept.get(tag) or ConversationTag(tag=tag) for tag in after]
        _record_history(
            session,
            conversation,
            "tags_changed",
            "Tags: " + (", ".join(after) or "none"),
            actor=actor,
            now=now,
            before={"tags": before},
            after={"tags": after},
        )
    return conversation


def assign_conversation(
    session: Session, conversation_id: int, assignee_id: int | None, *, actor: Actor, now: datetime
) -> Conversation:
    """Give a ticket to an active staff member (None: back to the unassigned queue)."""
    conversation = get_conversation(session, conversation_id)
    assignee = session.get(User, assignee_id) if assignee_id is not None else None
    if assignee_id is not None and (assignee is None or not assignee.active or not is_staff(assignee.role)):
        raise DomainError("tickets can only be assigned to active staff")
    before = conversation.assignee_id
    if assignee_id != before:
        conversation.assignee_id = assignee_id
        if assignee is not None:
            assignee.last_assigned_at = now
        text = f"Assigned to {assignee.name or assignee.email}" if assignee is not None else "Unassigned"
        _record_history(
            session,
            conversation,
            "assigned",
            text,
            actor=actor,
            now=now,
            before={"assignee_id": before},
            after={"assignee_id": assignee_id},
        )
    return conversation


UNSOLVED = (ConversationStatus.OPEN, ConversationStatus.PENDING)


def auto_assign_conversation(
    session: Session, conversation: Conversation, *, now: datetime, cap: int | None = None
) -> int | None:
    """Give an unassigned, unsolved ticket to the available agent with the fewest unsolved tickets under
    the cap (`pick_assignee`); nobody available or all at their cap leaves it unassigned.

    The available agents' rows are locked (FOR UPDATE, in id order) before their tickets are counted, so
    two tickets arriving at once on PostgreSQL cannot both see the same free slot; SQLite has one writer."""
    if conversation.assignee_id is not None or conversation.status not in UNSOLVED:
        return conversation.assignee_id
    cap = ticket_cap_from_env() if cap is None else cap
    available = session.execute(
        select(User.id, User.last_assigned_at)
        .where(
            User.available.is_(True),
            User.active.is_(True),
            User.role.in_(roles_with(session, Permission.WORK_TICKETS)),
        )
        .order_by(User.id)
        .with_for_update()
    ).all()
    if not available:
        return None
    counts = dict(
        session.execute(
            select(Conversation.assignee_id, func.count())
            .where(
                Conversation.assignee_id.in_([user_id for user_id, _ in available]),
                Conversation.status.in_(UNSOLVED),
            )
            .group_by(Conversation.assignee_id)
        ).all()
    )
    chosen = pick_assignee(
        Candidate(user_id, counts.get(user_id, 0), last_assigned_at, cap)
        for user_id, last_assigned_at in available
    )
    if chosen is None:
        return None
    assignee = session.get_one(User, chosen)
    conversation.assignee_id = chosen
    assignee.last_assigned_at = now
    _record_history(
        session,
        conversation,
        "assigned",
        f"Assigned to {assignee.name or assignee.email} (round-robin)",
        actor=SYSTEM,
        now=now,
        before={"assignee_id": None},
        after={"assignee_id": chosen, "rule": "round_robin"},
    )
    return chosen


def update_conversation_properties(
    session: Session,
    conversation_id: int,
    *,
    status: str,
    priority: str,
    category: str | None,
    tags: str,
    assignee_id: int | None,
    actor: Actor,
    now: datetime,
) -> Conversation:
    """The ticket's side panel saved at once: each changed field is one history line and one audit entry."""
    conversation = get_conversation(session, conversation_id)
    parsed_tags = parse_tags(tags)
    if status != conversation.status:
        change_conversation_status(session, conversation_id, status, actor=actor, now=now)
    change_conversation_priority(session, conversation_id, priority, actor=actor, now=now)
    change_conversation_category(session, conversation_id, category, actor=actor, now=now)
    set_conversation_tags(session, conversation_id, parsed_tags, actor=actor, now=now)
    assign_conversation(session, conversation_id, assignee_id, actor=actor, now=now)
    return conversation


def create_macro(
    session: Session, name: str, body: str, category: str | None, *, actor: Actor, now: datetime
) -> Macro:
    """A new canned reply (its variables checked)."""
    macro = Macro(created_at=now, active=True)
    _fill_macro(session, macro, name, body, category)
    session.add(macro)
    session.flush()
    record_audit(session, actor, "macro.created", "macro", macro.id, now=now, after={"name": macro.name})
    return macro


def update_macro(
    session: Session,
    macro_id: int,
    name: str,
    body: str,
    category: str | None,
    *,
    actor: Actor,
    now: datetime,
) -> Macro:
    """Change a canned reply's name, text or category."""
    macro = session.get(Macro, macro_id)
    if macro is None:
        raise NotFound("canned reply not found")
    before = {"name": macro.name, "body": macro.body, "category": macro.category}
    _fill_macro(session, macro, name, body, category)
    session.flush()
    record_audit(
        session,
        actor,
        "macro.updated",
        "macro",
        macro.id,
        now=now,
        before=before,
        after={"name": macro.name, "body": macro.body, "category": macro.category},
    )
    return macro


def delete_macro(session: Session, macro_id: int, *, actor: Actor, now: datetime) -> None:
    """Remove a canned reply (what was sent with it stays in the conversations)."""
    macro = session.get(Macro, macro_id)
    if macro is None:
        raise NotFound("canned reply not found")
    record_audit(
        session,
        actor,
        "macro.deleted",
        "macro",
        macro.id,
        now=now,
        before={"name": macro.name, "body": macro.body},
    )
    session.delete(macro)
    session.flush()


def _fill_macro(session: Session, macro: Macro, name: str, body: str, category: str | None) -> None:
    name = " ".join((name or "").split())[:100]
    if not name:
        raise DomainError("give the canned reply a name")
    clash = session.scalar(
        select(Macro.id).where(func.lower(Macro.name) == name.lower(), Macro.id != macro.id)
    )
    if clash is not None:
        raise DomainError(f"a canned reply named {name!r} already exists")
    if category and category not in CATEGORIES:
        raise DomainError(f"unknown category {category!r}")
    macro.name, macro.body, macro.category = name, check_macro_body(body), category or None
