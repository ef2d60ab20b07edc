"""Customer satisfaction (CSAT): a survey emailed when a ticket is solved, the customer's 1-5 score and
comment, and the figures for reports.

Rules:
- A survey is asked (a `satisfaction_ratings` row, and an email through the outbox) when a ticket becomes
  solved, and only when an agent answered it publicly (a ticket solved without a word to the customer,
  spam say, asks nothing) and there is an address to write to (the customer's, else the order's).
- One survey per solve, but not twice within ASK_AGAIN_AFTER: solving, reopening by mistake and solving
  again sends one email, and the first link still works.
- The link (signed, see core.support.tokens) opens the rating page without signing in. The customer may
  rate and change their rating for RATING_WINDOW after the survey was sent, and not once the ticket is
  closed. Each rating or change is a history line on the ticket and an audit entry.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.audit.services import record_audit
from core.errors import DomainError, NotFound
from core.notifications import services as notification_services
from core.pagination import id_from_text
from core.security.roles import Actor
from core.support.models import Conversation, Message, SatisfactionRating
from core.support.status import ConversationStatus

RATING_WINDOW = timedelta(days=7)
ASK_AGAIN_AFTER = timedelta(days=1)
SCORES = (1, 2, 3, 4, 5)
SCORE_LABELS = {1: "Very poor", 2: "Poor", 3: "OK", 4: "Good", 5: "Excellent"}
MAX_COMMENT = 2000


def ask_for_rating(
    session: Session, conversation: Conversation, *, now: datetime
) -> SatisfactionRating | None:
    """Queue the satisfaction survey for a ticket that was just solved, when the rules allow (see the
    module); the new survey, or None."""
    answered = session.scalar(
        select(Message.id)
        .where(
            Message.conversation_id == conversation.id,
            Message.author_kind == "agent",
            Message.internal.is_(False),
        )
        .limit(1)
    )
    if answered is None or not notification_services.conversation_recipient(session, conversation):
        return None
    last_asked = session.scalar(
        select(func.max(SatisfactionRating.asked_at)).where(
            SatisfactionRating.conversation_id == conversation.id
        )
    )
    if last_asked is not None and now - last_asked < ASK_AGAIN_AFTER:
        return None
    rating = SatisfactionRating(
        conversation_id=conversation.id,
        customer_id=conversation.customer_id,
        agent_id=conversation.assignee_id,
        asked_at=now,
    )
    session.add(rating)
    session.flush()
    notification_services.queue_satisfaction_survey(session, conversation, rating.id, now=now)
    session.add(
        Message(
            conversation_id=conversation.id,
            author_kind="system",
            body="Satisfaction survey emailed to the customer",
            internal=True,
            data={"event": "csat_asked", "rating_id": rating.id},
            created_at=now,
        )
    )
    return rating


@dataclass(frozen=True)
class RatingPage:
    """What the customer's rating page shows."""

    rating: SatisfactionRating
    conversation: Conversation
    open: bool  # the customer can still rate or change their rating
    closes_at: datetime


def rating_page(session: Session, rating_id: int, *, now: datetime) -> RatingPage:
    """The survey a rating link points at, and whether it still takes an answer; NotFound when gone."""
    rating = session.get(SatisfactionRating, rating_id)
    if rating is None:
        raise NotFound("survey not found")
    conversation = session.get_one(Conversation, rating.conversation_id)
    closes_at = rating.asked_at + RATING_WINDOW
    is_open = conversation.status != ConversationStatus.CLOSED and now < closes_at
    return RatingPage(rating, conversation, is_open, closes_at)


def rate_conversation(
    session: Session, rating_id: int, score: int | str | None, comment: str, *, actor: Actor, now: datetime
) -> SatisfactionRating:
    """The customer's answer to a survey (or a change to it): a score 1-5 and an optional comment."""
    page = rating_page(session, rating_id, now=now)
    if not page.open:
        raise DomainError("this survey has closed: thank you all the same")
    text = str(score).strip() if score is not None and not isinstance(score, bool) else ""
    value = id_from_text(text) or 0
    if value not in SCORES:
        raise DomainError("choose a rating from 1 to 5")
    comment = (comment or "").replace("\r\n", "\n").strip()
    if len(comment) > MAX_COMMENT:
        raise DomainError(f"a comment can be at most {MAX_COMMENT:,} characters")
    rating = page.rating
    before = {"score": rating.score, "comment": rating.comment} if rating.rated_at else None
    rating.score, rating.comment, rating.rated_at = value, comment or None, now
    changed = "changed their rating to" if before else "rated"
    text = f"The customer {changed} {value}/5 ({SCORE_LABELS[value]})" + (f": {comment}" if comment else "")
    session.add(
        Message(
            conversation_id=rating.conversation_id,
            author_kind="system",
            body=text[:2200],
            internal=True,
            data={"event": "rated", "actor": actor.label, "rating_id": rating.id, "score": value},
            created_at=now,
        )
    )
    record_audit(
        session,
        actor,
        "conversation.rated",
        "conversation",
        rating.conversation_id,
        now=now,
        before=before,
        after={"rating_id": rating.id, "score": value, "comment": rating.comment},
    )
    session.flush()
    return rating


def ticket_ratings(session: Session, conversation_id: int) -> list[SatisfactionRating]:
    """A ticket's surveys, newest first (answered or not), for the console's ticket page."""
    return list(
        session.scalars(
            select(SatisfactionRating)
            .where(SatisfactionRating.conversation_id == conversation_id)
            .order_by(SatisfactionRating.asked_at.desc(), SatisfactionRating.id.desc())
        )
    )


def latest_scores(session: Session, conversation_ids: list[int]) -> dict[int, int]:
    """The newest answered score of each of these tickets (one query), for the queue's rows."""
    if not conversation_ids:
        return {}
    newest = (
        select(SatisfactionRating.conversation_id, func.max(SatisfactionRating.id).label("rating_id"))
        .where(
            SatisfactionRating.conversation_id.in_(conversation_ids),
            SatisfactionRating.score.is_not(None),
        )
        .group_by(SatisfactionRating.conversation_id)
        .subquery()
    )
    rows = session.execute(
        select(SatisfactionRating.conversation_id, SatisfactionRating.score).join(
            newest, SatisfactionRating.id == newest.c.rating_id
        )
    ).all()
    return {conversation_id: score for conversation_id, score in rows}


def satisfaction_summary(
    session: Session, *, since: datetime, until: datetime, agent_id: int | None = None
) -> dict[str, Any]:
    """CSAT over the ratings given in [since, until), optionally for one agent's tickets: surveys asked,
    answers, response rate, average score, the count of each score, and CSAT (the share of 4s and 5s,
    in percent; None without answers)."""
    asked_filter = [SatisfactionRating.asked_at >= since, SatisfactionRating.asked_at < until]
    rated_filter = [SatisfactionRating.rated_at >= since, SatisfactionRating.rated_at < until]
    if agent_id is not None:
        asked_filter.append(SatisfactionRating.agent_id == agent_id)
        rated_filter.append(SatisfactionRating.agent_id == agent_id)
    asked = session.scalar(select(func.count()).select_from(SatisfactionRating).where(*asked_filter)) or 0
    counts = dict(
        session.execute(
            select(SatisfactionRating.score, func.count())
            .where(*rated_filter, SatisfactionRating.score.is_not(None))
            .group_by(SatisfactionRating.score)
        ).all()
    )
    answers = sum(counts.values())
    return {
        "asked": asked,
        "answers": answers,
        "response_rate": round(100 * answers / asked, 1) if asked else None,
        "average": round(sum(s * n for s, n in counts.items()) / answers, 2) if answers else None,
        "distribution": {score: counts.get(score, 0) for score in SCORES},
        "csat": round(100 * (counts.get(4, 0) + counts.get(5, 0)) / answers, 1) if answers else None,
    }
