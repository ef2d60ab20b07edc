"""Retention: personal data kept no longer than needed.

Two rules, each a number of days (0 turns it off), read from the environment:
- `CROSSDOCK_RETENTION_CONVERSATION_DAYS` (default 730): a conversation closed longer ago than this loses
  its subject, message bodies, attachments and survey comment (the ticket's dates, status, category and
  assignee stay, for support statistics);
- `CROSSDOCK_RETENTION_CUSTOMER_DAYS` (default 1825, five years): a customer with no order, conversation or
  sign-in for longer than this is erased (core.privacy.erasure: the orders and amounts stay).
Each run takes at most a batch of each (`retention_job`, nightly), so a first run over old data spreads over
a few nights instead of holding the database."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, or_, select
from sqlalchemy.orm import Session

from core.audit.services import record_audit
from core.customers.models import Customer
from core.errors import DomainError
from core.orders.models import Order
from core.privacy import pii
from core.privacy.erasure import delete_return_photos, erase_customer
from core.returns.photos import UPLOADS_DIR
from core.security.models import User
from core.security.roles import Actor
from core.support.models import Conversation, Message, MessageAttachment, SatisfactionRating

RETENTION_ACTOR = Actor(label="system:retention")
DEFAULT_CONVERSATION_DAYS = 730
DEFAULT_CUSTOMER_DAYS = 1825
CONVERSATION_BATCH = 500
CUSTOMER_BATCH = 100


@dataclass(frozen=True)
class RetentionSettings:
    conversation_days: int = DEFAULT_CONVERSATION_DAYS
    customer_days: int = DEFAULT_CUSTOMER_DAYS

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> RetentionSettings:
        """The settings from CROSSDOCK_RETENTION_*_DAYS; a value that is not a whole number of days is an
        error that names the variable."""

        def days(name: str, default: int) -> int:
            raw = environ.get(name, "").strip()
            if not raw:
                return default
            if not raw.isdigit():
                raise DomainError(f"{name} must be a whole number of days (0 turns it off), not {raw!r}")
            return int(raw)

        return cls(
            conversation_days=days("CROSSDOCK_RETENTION_CONVERSATION_DAYS", DEFAULT_CONVERSATION_DAYS),
            customer_days=days("CROSSDOCK_RETENTION_CUSTOMER_DAYS", DEFAULT_CUSTOMER_DAYS),
        )


@dataclass
class RetentionPlan:
    settings: RetentionSettings
    conversation_ids: list[int] = field(default_factory=list)
    customer_ids: list[int] = field(default_factory=list)
    photo_paths: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "conversation_days": self.settings.conversation_days,
            "customer_days": self.settings.customer_days,
            "conversations": len(self.conversation_ids),
            "customers": len(self.customer_ids),
        }


def plan_retention(
    session: Session,
    settings: RetentionSettings,
    *,
    now: datetime,
    conversation_batch: int = CONVERSATION_BATCH,
    customer_batch: int = CUSTOMER_BATCH,
) -> RetentionPlan:
    """What a run would do: closed conversations past their days not yet anonymised, and inactive customers
    not yet erased, oldest first, a batch of each."""
    plan = RetentionPlan(settings)
    if settings.conversation_days:
        cutoff = now - timedelta(days=settings.conversation_days)
        plan.conversation_ids = list(
            session.scalars(
                select(Conversation.id)
                .where(
                    Conversation.status == "closed",
                    Conversation.updated_at < cutoff,
                    Conversation.subject != pii.ERASED,
                )
                .order_by(Conversation.updated_at, Conversation.id)
                .limit(conversation_batch)
            )
        )
    if settings.customer_days:
        cutoff = now - timedelta(days=settings.customer_days)
        last_order = (
            select(Order.customer_id.label("customer_id"), func.max(Order.placed_at).label("at"))
            .group_by(Order.customer_id)
            .subquery()
        )
        last_ticket = (
            select(
                Conversation.customer_id.label("customer_id"), func.max(Conversation.updated_at).label("at")
            )
            .group_by(Conversation.customer_id)
            .subquery()
        )
        last_login = (
            select(User.customer_id.label("customer_id"), func.max(User.last_login_at).label("at"))
            .group_by(User.customer_id)
            .subquery()
        )
        stmt = select(Customer.id).where(
            Customer.merged_into_id.is_(None),
            Customer.created_at < cutoff,
            or_(Customer.email.is_not(None), Customer.phone.is_not(None), Customer.name != pii.ERASED_NAME),
        )
        for last in (last_order, last_ticket, last_login):
            stmt = stmt.outerjoin(last, last.c.customer_id == Customer.id).where(
                or_(last.c.at.is_(None), last.c.at < cutoff)
            )
        plan.customer_ids = list(session.scalars(stmt.order_by(Customer.id).limit(customer_batch)))
    return plan


def anonymise_conversations(session: Session, conversation_ids: list[int]) -> int:
    """Take the words out of closed conversations (subject, bodies, attachments, survey comments)."""
    if not conversation_ids:
        return 0
    session.execute(
        delete(MessageAttachment).where(
            MessageAttachment.message_id.in_(
                select(Message.id).where(Message.conversation_id.in_(conversation_ids))
            )
        ),
        execution_options={"synchronize_session": False},
    )
    for message in session.scalars(select(Message).where(Message.conversation_id.in_(conversation_ids))):
        message.body, message.data = pii.ERASED, {}
    for rating in session.scalars(
        select(SatisfactionRating).where(SatisfactionRating.conversation_id.in_(conversation_ids))
    ):
        rating.comment = None
    conversations = list(session.scalars(select(Conversation).where(Conversation.id.in_(conversation_ids))))
    for conversation in conversations:
        conversation.subject = pii.ERASED
    return len(conversations)


def apply_retention(session: Session, plan: RetentionPlan, *, now: datetime) -> dict[str, Any]:
    """Carry out a plan: anonymise its conversations, erase its customers; one audit entry for the run.
    The erased customers' return photos are listed in `plan.photo_paths`, to delete once committed."""
    anonymise_conversations(session, plan.conversation_ids)
    for customer_id in plan.customer_ids:
        report = erase_customer(session, customer_id, actor=RETENTION_ACTOR, now=now, reason="retention")
        plan.photo_paths += report.photo_paths
    outcome = plan.as_dict()
    if plan.conversation_ids or plan.customer_ids:
        record_audit(
            session, RETENTION_ACTOR, "privacy.retention", "system", "retention", now=now, after=outcome
        )
    return outcome


def retention_job(session: Session, now: datetime) -> dict[str, Any]:
    """The nightly retention run with the environment's settings."""
    plan = plan_retention(session, RetentionSettings.from_env(), now=now)
    outcome = apply_retention(session, plan, now=now)
    # The job's unit of work commits after it returns, so the photos go first: should that commit fail, the
    # next night's run erases those customers again and their returns end with no photo either way.
    outcome["photos_deleted"] = delete_return_photos(plan.photo_paths, UPLOADS_DIR)
    return outcome
