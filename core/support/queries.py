"""Read models for support screens and the help centre."""

from __future__ import annotations

import time

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from core.errors import NotFound
from core.orders.models import Order
from core.pagination import Page
from core.support.help_search import HelpDoc
from core.support.models import Conversation, HelpArticle


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
    total = session.scalar(select(func.count()).select_from(Conversation).where(*where)) or 0
    items = session.scalars(
        select(Conversation)
        .where(*where)
        .options(selectinload(Conversation.customer))
        .order_by(Conversation.updated_at.desc(), Conversation.id.desc())
        .limit(per_page)
        .offset((page - 1) * per_page)
    ).all()
    return Page(list(items), page, per_page, total)


def ticket_detail(session: Session, conversation_id: int) -> Conversation:
    """A conversation with its messages, or NotFound."""
    conversation = session.scalar(
        select(Conversation)
        .where(Conversation.id == conversation_id)
        .options(selectinload(Conversation.messages), selectinload(Conversation.customer))
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
