"""Read models for support screens and the help centre."""

from __future__ import annotations

import time
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from core.channels.models import Channel
from core.customers.models import Customer
from core.customers.queries import COMPACT_EMAILS, COMPACT_ORDERS, CustomerProfile, customer_profile
from core.errors import NotFound
from core.fulfillment.models import Shipment
from core.notifications.rendering import carrier_link
from core.orders.models import Order
from core.pagination import COUNT_CAP, Page, capped_count
from core.security.models import User
from core.security.permissions import Permission, roles_with
from core.support.help_search import HelpDoc
from core.support.macros import MacroDoc
from core.support.models import Conversation, HelpArticle, Macro, Message, MessageAttachment
from core.support.status import REPLY_STATUSES, accepts_customer_messages, status_choices


def published_articles(session: Session) -> list[HelpArticle]:
    """Every published help article, by topic then title."""
    return list(
        session.scalars(
            select(HelpArticle)
            .where(HelpArticle.published.is_(True))
            .order_by(HelpArticle.topic, HelpArticle.title)
        )
    )


def article_by_slug(session: Session, slug: str) -> HelpArticle:
    """A published article, or NotFound."""
    article = session.scalar(
        select(HelpArticle).where(HelpArticle.slug == slug, HelpArticle.published.is_(True))
    )
    if article is None:
        raise NotFound("article not found")
    return article


def customer_conversations(session: Session, customer_id: int) -> list[Conversation]:
    """A customer's conversations, most recently active first."""
    return list(
        session.scalars(
            select(Conversation)
            .where(Conversation.customer_id == customer_id)
            .order_by(Conversation.updated_at.desc(), Conversation.id.desc())
            .limit(50)
        )
    )


TICKET_STATUSES = ("open", "pending", "solved", "closed")


def ticket_list(session: Session, *, status: str, page: int = 1, per_page: int = 25) -> Page[Conversation]:
    """Conversations in one status (or "all"), most recently active first, with their customer loaded."""
    where = [] if status == "all" else [Conversation.status == status]
    total = capped_count(session, select(Conversation.id).where(*where))
    items = session.scalars(
        select(Conversation)
        .where(*where)
        .options(selectinload(Conversation.customer))
        .order_by(Conversation.updated_at.desc(), Conversation.id.desc())
        .limit(per_page)
        .offset((page - 1) * per_page)
    ).all()
    return Page(list(items), page, per_page, total, cap=COUNT_CAP)


def ticket_detail(session: Session, conversation_id: int) -> Conversation:
    """A conversation with its messages and history lines (attachment names, not contents), its customer and
    tags, or NotFound."""
    conversation = session.scalar(
        select(Conversation)
        .where(Conversation.id == conversation_id)
        .options(
            selectinload(Conversation.messages)
            .selectinload(Message.attachments)
            .defer(MessageAttachment.content),
            selectinload(Conversation.customer),
            selectinload(Conversation.tags),
        )
    )
    if conversation is None:
        raise NotFound("conversation not found")
    return conversation


def console_summary(session: Session) -> dict[str, int]:
    """Counts for the console's start page: tickets by status and orders needing attention."""
    rows = session.execute(select(Conversation.status, func.count()).group_by(Conversation.status)).all()
    summary = {status: 0 for status in TICKET_STATUSES}
    summary.update({status: count for status, count in rows})
    summary["orders_on_hold"] = (
        session.scalar(select(func.count()).select_from(Order).where(Order.status == "on_hold")) or 0
    )
    return summary


def help_docs(session: Session) -> list[HelpDoc]:
    """Every published article as a search document (one query; the help centre is small)."""
    rows = session.execute(
        select(
            HelpArticle.slug, HelpArticle.title, HelpArticle.summary, HelpArticle.keywords, HelpArticle.topic
        ).where(HelpArticle.published.is_(True))
    ).all()
    return [HelpDoc(*row) for row in rows]


HELP_CACHE_SECONDS = 60.0
_help_cache: dict[str, tuple[float, list[HelpDoc]]] = {}


def cached_help_docs(session: Session, *, now: float | None = None) -> list[HelpDoc]:
    """The published articles as search documents, re-read at most once a minute per process: every order
    page links to a few, and articles change rarely (an edit shows within a minute)."""
    now = time.monotonic() if now is None else now
    hit = _help_cache.get("docs")
    if hit is None or now - hit[0] > HELP_CACHE_SECONDS:
        hit = (now, help_docs(session))
        _help_cache["docs"] = hit
    return hit[1]


def articles_for_topics(session: Session, topics: tuple[str, ...], *, limit: int = 3) -> list[HelpDoc]:
    """A few published articles on these topics, in the topics' order (for links on the order page)."""
    if not topics:
        return []
    docs = [doc for doc in cached_help_docs(session) if doc.topic in topics]
    return sorted(docs, key=lambda d: (topics.index(d.topic), d.title))[:limit]


PUBLIC_AUTHORS = ("customer", "assistant", "agent")


@dataclass(frozen=True)
class Thread:
    """A conversation as the customer sees it: only what was said to them, never internal notes."""

    conversation: Conversation
    order_number: str | None
    messages: list[Message]
    accepts_replies: bool


def conversation_for_viewer(
    session: Session,
    conversation_id: int,
    *,
    customer_id: int | None,
    guest_order_ids: Collection[int] = (),
    guest_conversation_ids: Collection[int] = (),
) -> Conversation:
    """The conversation when this viewer may read it: their own, about an order they proved as a guest, or
    opened from the link in our email; NotFound otherwise (whether or not it exists)."""
    conversation = session.get(Conversation, conversation_id)
    if conversation is None:
        raise NotFound("conversation not found")
    allowed = (
        (customer_id is not None and conversation.customer_id == customer_id)
        or (conversation.order_id is not None and conversation.order_id in guest_order_ids)
        or conversation.id in guest_conversation_ids
    )
    if not allowed:
        raise NotFound("conversation not found")
    return conversation


def customer_thread(session: Session, conversation: Conversation) -> Thread:
    """The public messages of a conversation, oldest first, with their attachments (two queries)."""
    messages = session.scalars(
        select(Message)
        .where(
            Message.conversation_id == conversation.id,
            Message.internal.is_(False),
            Message.author_kind.in_(PUBLIC_AUTHORS),
        )
        .options(selectinload(Message.attachments).defer(MessageAttachment.content))
        .order_by(Message.created_at, Message.id)
    ).all()
    number = (
        session.scalar(select(Order.number).where(Order.id == conversation.order_id))
        if conversation.order_id
        else None
    )
    return Thread(conversation, number, list(messages), accepts_customer_messages(conversation.status))


def customer_order_choices(
    session: Session, customer_id: int, *, limit: int = 50
) -> list[tuple[str, datetime]]:
    """(number, placed at) of a customer's latest orders, for "which order is this about?"."""
    rows = session.execute(
        select(Order.number, Order.placed_at)
        .where(Order.customer_id == customer_id)
        .order_by(Order.placed_at.desc(), Order.id.desc())
        .limit(limit)
    ).all()
    return [(number, placed_at) for number, placed_at in rows]


def assignable_staff(session: Session) -> list[User]:
    """Active staff whose role works tickets, by name: who a ticket can be assigned to."""
    return list(
        session.scalars(
            select(User)
            .where(User.active.is_(True), User.role.in_(roles_with(session, Permission.WORK_TICKETS)))
            .order_by(User.name, User.email)
        )
    )


def macro_docs(session: Session) -> list[MacroDoc]:
    """Every active canned reply as a search document (the list is small: dozens)."""
    rows = session.execute(
        select(Macro.id, Macro.name, Macro.body, Macro.category).where(Macro.active.is_(True))
    ).all()
    return [MacroDoc(*row) for row in rows]


def all_macros(session: Session) -> list[Macro]:
    """Canned replies for the managers' page, by name."""
    return list(session.scalars(select(Macro).order_by(Macro.name)))


def macro_values(session: Session, conversation: Conversation, agent: User | None) -> dict[str, str | None]:
    """What each macro variable stands for in this conversation (None where there is nothing to say)."""
    customer = session.get(Customer, conversation.customer_id) if conversation.customer_id else None
    order = session.get(Order, conversation.order_id) if conversation.order_id else None
    channel = session.get(Channel, order.channel_id) if order is not None else None
    shipment = (
        session.scalars(
            select(Shipment)
            .where(Shipment.order_id == order.id)
            .order_by(Shipment.created_at.desc(), Shipment.id.desc())
            .limit(1)
        ).first()
        if order is not None
        else None
    )
    name = (customer.name if customer else "") or (order.buyer_name if order else "")
    agent_name = agent.name.split() if agent is not None and agent.name else []
    return {
        "customer.first_name": name.split()[0] if name.split() else None,
        "customer.name": name or None,
        "order.number": order.number if order else None,
        "order.channel": channel.name if channel else None,
        "shipment.carrier": shipment.carrier if shipment else None,
        "shipment.tracking_number": shipment.tracking_number if shipment else None,
        "shipment.tracking_url": carrier_link(shipment) if shipment else None,
        "agent.first_name": agent_name[0] if agent_name else None,
    }


def attachment_for_staff(session: Session, attachment_id: int) -> MessageAttachment:
    """An attachment with its content, or NotFound."""
    attachment = session.get(MessageAttachment, attachment_id)
    if attachment is None:
        raise NotFound("attachment not found")
    return attachment


def attachment_for_viewer(
    session: Session, attachment_id: int, conversation: Conversation
) -> MessageAttachment:
    """An attachment of a public message in this conversation, or NotFound."""
    attachment = session.scalar(
        select(MessageAttachment)
        .join(Message, Message.id == MessageAttachment.message_id)
        .where(
            MessageAttachment.id == attachment_id,
            Message.conversation_id == conversation.id,
            Message.internal.is_(False),
        )
    )
    if attachment is None:
        raise NotFound("attachment not found")
    return attachment


@dataclass(frozen=True)
class TicketPage:
    """Everything the ticket page shows beside the conversation."""

    conversation: Conversation
    profile: CustomerProfile | None
    staff: list[User]
    status_choices: list[str]
    reply_statuses: tuple[str, ...]
    tags: str


def ticket_page(session: Session, conversation_id: int) -> TicketPage:
    """A ticket with its messages and history, the customer's cross-channel profile, and the choices its
    side panel offers; NotFound when there is no such ticket."""
    conversation = ticket_detail(session, conversation_id)
    profile = (
        customer_profile(
            session, conversation.customer_id, recent_orders=COMPACT_ORDERS, recent_emails=COMPACT_EMAILS
        )
        if conversation.customer_id
        else None
    )
    return TicketPage(
        conversation,
        profile,
        assignable_staff(session),
        [str(s) for s in status_choices(conversation.status)],
        tuple(str(s) for s in REPLY_STATUSES if s in status_choices(conversation.status)),
        ", ".join(t.tag for t in conversation.tags),
    )


def macro_by_id(session: Session, macro_id: int, *, active_only: bool = True) -> Macro:
    """A canned reply (an active one unless `active_only` is off), or NotFound."""
    macro = session.get(Macro, macro_id)
    if macro is None or (active_only and not macro.active):
        raise NotFound("canned reply not found")
    return macro


def order_conversations(session: Session, order_id: int) -> list[Conversation]:
    """Conversations about one order, most recently active first (for the customer's order page)."""
    return list(
        session.scalars(
            select(Conversation)
            .where(Conversation.order_id == order_id)
            .order_by(Conversation.updated_at.desc(), Conversation.id.desc())
            .limit(20)
        )
    )
