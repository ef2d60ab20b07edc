"""Support conversations (tickets), their messages, macros, and help-centre articles."""

from __future__ import annotations

from datetime import date, datetime, time
from typing import TYPE_CHECKING, Any

from sqlalchemy import ForeignKey, Index, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.db import Base, utcnow

if TYPE_CHECKING:
    from core.customers.models import Customer


class Conversation(Base):
    """A ticket: one customer's question, optionally about one order, worked until solved."""

    __tablename__ = "conversations"
    __table_args__ = (
        Index("ix_conversations_status_updated", "status", "updated_at"),
        Index("ix_conversations_assignee_status", "assignee_id", "status"),
        Index("ix_conversations_updated", "updated_at", "id"),  # every ticket, most recently active first
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"), index=True)
    order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id"), index=True)
    source: Mapped[str] = mapped_column(String(16), default="portal")  # portal, chat, email, channel, phone
    subject: Mapped[str] = mapped_column(String(200), default="")
    status: Mapped[str] = mapped_column(String(16), default="open")  # open, pending, solved, closed
    priority: Mapped[str] = mapped_column(String(8), default="normal")  # low, normal, high, urgent
    category: Mapped[str | None] = mapped_column(String(40))
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    first_response_due_at: Mapped[datetime | None]
    resolution_due_at: Mapped[datetime | None]
    first_responded_at: Mapped[datetime | None]
    solved_at: Mapped[datetime | None]
    # The SLA clock runs only while the ticket is open: when it stopped (pending or solved), and each
    # past stop as [from, to] ISO instants (they push the due dates; see core.support.sla).
    sla_paused_at: Mapped[datetime | None]
    sla_pauses: Mapped[list[Any]] = mapped_column(default=list)
    # When a target was first missed (its due time then); kept when a later pause pushes the due date.
    first_response_breached_at: Mapped[datetime | None]
    resolution_breached_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    messages: Mapped[list[Message]] = relationship(order_by="Message.id", cascade="all, delete-orphan")
    customer: Mapped[Customer | None] = relationship()
    tags: Mapped[list[ConversationTag]] = relationship(
        order_by="ConversationTag.tag", cascade="all, delete-orphan"
    )


class ConversationTag(Base):
    """A label on a ticket, for the queue's filters and reports."""

    __tablename__ = "conversation_tags"

    conversation_id: Mapped[int] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE"), primary_key=True
    )
    tag: Mapped[str] = mapped_column(String(40), primary_key=True, index=True)


class Message(Base):
    """One message in a conversation; internal notes are never shown to the customer."""

    __tablename__ = "messages"

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[int] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE"), index=True
    )
    author_kind: Mapped[str] = mapped_column(String(16))  # customer, assistant, agent, system
    author_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    body: Mapped[str] = mapped_column(Text)
    internal: Mapped[bool] = mapped_column(default=False)
    intent: Mapped[str | None] = mapped_column(String(64))
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # The RFC 5322 Message-ID of an email this message came in as, or the left part of the one we sent it as.
    email_message_id: Mapped[str | None] = mapped_column(String(300), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    attachments: Mapped[list[MessageAttachment]] = relationship(
        order_by="MessageAttachment.id", cascade="all, delete-orphan"
    )


class MessageAttachment(Base):
    """A file that came with a message (kept in the database, within the size and type limits)."""

    __tablename__ = "message_attachments"

    id: Mapped[int] = mapped_column(primary_key=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("messages.id", ondelete="CASCADE"), index=True)
    filename: Mapped[str] = mapped_column(String(200))
    content_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int]
    content: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Macro(Base):
    """A canned reply agents insert and adapt."""

    __tablename__ = "macros"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    body: Mapped[str] = mapped_column(Text)
    category: Mapped[str | None] = mapped_column(String(40))
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class HelpArticle(Base):
    """A help-centre article customers read and the assistant links to."""

    __tablename__ = "help_articles"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(120), unique=True)
    title: Mapped[str] = mapped_column(String(200))
    summary: Mapped[str] = mapped_column(String(300), default="")
    body: Mapped[str] = mapped_column(Text)
    topic: Mapped[str] = mapped_column(String(40), default="general")
    keywords: Mapped[str] = mapped_column(String(300), default="")
    published: Mapped[bool] = mapped_column(default=True)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class SupportCalendar(Base):
    """The merchant's support calendar (one row): the time zone its business hours and holidays are in."""

    __tablename__ = "support_calendars"

    id: Mapped[int] = mapped_column(primary_key=True)
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")


class BusinessHours(Base):
    """The opening hours of one weekday (0 = Monday), local time; a weekday without a row is closed."""

    __tablename__ = "business_hours"

    weekday: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    opens: Mapped[time]
    closes: Mapped[time]


class SupportHoliday(Base):
    """A date the business is closed, whatever the weekday."""

    __tablename__ = "support_holidays"

    day: Mapped[date] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), default="")


class SlaPolicy(Base):
    """The targets of one priority, in minutes of business time (or plain time when round the clock)."""

    __tablename__ = "sla_policies"

    priority: Mapped[str] = mapped_column(String(8), primary_key=True)
    first_response_minutes: Mapped[int | None]
    resolution_minutes: Mapped[int | None]
    round_the_clock: Mapped[bool] = mapped_column(default=False)


class SlaChannelOverride(Base):
    """A sales channel's own limit on tickets about its orders (e.g. Amazon: 24 hours, weekends included):
    such a ticket is due at the earlier of its priority's target and this one."""

    __tablename__ = "sla_channel_overrides"

    channel_id: Mapped[int] = mapped_column(
        ForeignKey("channels.id", ondelete="CASCADE"), primary_key=True, autoincrement=False
    )
    first_response_minutes: Mapped[int | None]
    resolution_minutes: Mapped[int | None]
    round_the_clock: Mapped[bool] = mapped_column(default=True)


class TicketPresence(Base):
    """A staff member who has a ticket open (viewing, or writing in its reply box), as of their last
    heartbeat; a row older than the presence window means they have gone."""

    __tablename__ = "ticket_presence"

    conversation_id: Mapped[int] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    state: Mapped[str] = mapped_column(String(16))  # viewing, replying
    last_seen_at: Mapped[datetime]


class SatisfactionRating(Base):
    """One satisfaction survey, asked when a ticket was solved: the customer's score (1-5) and comment
    once they answer (both empty until then)."""

    __tablename__ = "satisfaction_ratings"
    __table_args__ = (Index("ix_satisfaction_ratings_rated_at", "rated_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[int] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE"), index=True
    )
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"), index=True)
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))  # the assignee when it was solved
    score: Mapped[int | None]
    comment: Mapped[str | None] = mapped_column(Text)
    asked_at: Mapped[datetime]
    rated_at: Mapped[datetime | None]
