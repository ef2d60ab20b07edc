"""A ticket's SLA clock in the database: the merchant's calendar and policies read from their tables, due
dates set when a ticket opens and when its priority or channel changes, the clock paused while the ticket
waits on the customer (or is solved) and resumed with the due dates pushed, breaches recorded when first
missed. The time math itself is `core.support.sla` (pure)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from core.orders.models import Order
from core.support.models import (
    BusinessHours,
    Conversation,
    SlaChannelOverride,
    SlaPolicy,
    SupportCalendar,
    SupportHoliday,
)
from core.support.sla import (
    DEFAULT_CALENDAR,
    BusinessCalendar,
    OpenHours,
    Pause,
    Policy,
    Target,
    countdown,
    default_policy,
    due_dates,
)
from core.support.status import ConversationStatus

CALENDAR_ID = 1


def load_calendar(session: Session) -> BusinessCalendar:
    """The merchant's business calendar: time zone, weekly hours and holidays (three small queries). A week
    with no open day (the rows removed by hand: the settings page refuses it) falls back to the shipped
    Monday-Friday 09:00-17:00, so a ticket can always be given its due dates."""
    zone = session.scalar(select(SupportCalendar.timezone).where(SupportCalendar.id == CALENDAR_ID)) or "UTC"
    week: list[OpenHours | None] = [None] * 7
    for row in session.scalars(select(BusinessHours)):
        if 0 <= row.weekday < 7:
            week[row.weekday] = OpenHours(row.opens, row.closes)
    holidays = frozenset(session.scalars(select(SupportHoliday.day)))
    return BusinessCalendar(zone, tuple(week) if any(week) else DEFAULT_CALENDAR.week, holidays)


def _policy(first: int | None, resolution: int | None, round_the_clock: bool) -> Policy:
    return Policy(
        Target(first, round_the_clock) if first else None,
        Target(resolution, round_the_clock) if resolution else None,
    )


def policy_for_priority(session: Session, priority: str) -> Policy:
    """The priority's policy as configured (the shipped default when its row is missing)."""
    row = session.get(SlaPolicy, priority)
    if row is None:
        return default_policy(priority)
    return _policy(row.first_response_minutes, row.resolution_minutes, row.round_the_clock)


def channel_override_for_order(session: Session, order_id: int | None) -> Policy | None:
    """The override of the sales channel an order came from, or None."""
    if order_id is None:
        return None
    row = session.scalar(
        select(SlaChannelOverride)
        .join(Order, Order.channel_id == SlaChannelOverride.channel_id)
        .where(Order.id == order_id)
    )
    if row is None:
        return None
    return _policy(row.first_response_minutes, row.resolution_minutes, row.round_the_clock)


def pauses_of(conversation: Conversation) -> list[Pause]:
    """The ticket's past pauses as (from, to) instants."""
    return [(datetime.fromisoformat(a), datetime.fromisoformat(b)) for a, b in conversation.sla_pauses or []]


def apply_sla(session: Session, conversation: Conversation) -> None:
    """Set the ticket's due dates from its priority's policy and its channel's override, pushed by its
    pauses (at opening, and whenever its priority or channel changes)."""
    first, resolution = due_dates(
        conversation.created_at,
        policy_for_priority(session, conversation.priority),
        load_calendar(session),
        override=channel_override_for_order(session, conversation.order_id),
        pauses=pauses_of(conversation),
    )
    conversation.first_response_due_at = first
    conversation.resolution_due_at = resolution


def record_sla_breaches(conversation: Conversation, *, now: datetime) -> None:
    """Mark each target the running clock has passed as breached (at its due time), once."""
    if conversation.status == ConversationStatus.OPEN and conversation.sla_paused_at is None:
        _record_breaches(conversation, now)


def _record_breaches(conversation: Conversation, now: datetime) -> None:
    first_due = conversation.first_response_due_at
    if (
        conversation.first_responded_at is None
        and conversation.first_response_breached_at is None
        and first_due is not None
        and first_due <= now
    ):
        conversation.first_response_breached_at = first_due
    resolution_due = conversation.resolution_due_at
    if conversation.resolution_breached_at is None and resolution_due is not None and resolution_due <= now:
        conversation.resolution_breached_at = resolution_due


def sla_on_status_change(session: Session, conversation: Conversation, before: str, *, now: datetime) -> None:
    """Keep the clock in step with a status change: leaving open stops it (after recording what it had
    already missed); coming back to open restarts it and pushes the due dates by the pause."""
    after = conversation.status
    if before == ConversationStatus.OPEN and after != ConversationStatus.OPEN:
        if conversation.sla_paused_at is None:
            _record_breaches(conversation, now)  # what the clock missed while it ran
            conversation.sla_paused_at = now
    elif before != ConversationStatus.OPEN and after == ConversationStatus.OPEN:
        resume_sla(session, conversation, now=now)


def resume_sla(session: Session, conversation: Conversation, *, now: datetime) -> None:
    """Restart a stopped clock: the pause is kept and the due dates pushed by its business time."""
    paused_at = conversation.sla_paused_at
    if paused_at is None:
        return
    conversation.sla_pauses = [*(conversation.sla_pauses or []), [paused_at.isoformat(), now.isoformat()]]
    conversation.sla_paused_at = None
    apply_sla(session, conversation)


def sla_breach_job(session: Session, now: datetime) -> dict[str, Any]:
    """Record the breaches of open tickets whose running clock passed a due time (two UPDATEs)."""
    running = [
        Conversation.status == ConversationStatus.OPEN,
        Conversation.sla_paused_at.is_(None),
    ]
    first = session.execute(
        update(Conversation)
        .where(
            *running,
            Conversation.first_responded_at.is_(None),
            Conversation.first_response_breached_at.is_(None),
            Conversation.first_response_due_at <= now,
        )
        .values(first_response_breached_at=Conversation.first_response_due_at)
        .execution_options(synchronize_session=False)
    ).rowcount
    resolution = session.execute(
        update(Conversation)
        .where(
            *running,
            Conversation.resolution_breached_at.is_(None),
            Conversation.resolution_due_at <= now,
        )
        .values(resolution_breached_at=Conversation.resolution_due_at)
        .execution_options(synchronize_session=False)
    ).rowcount
    return {"first_response_breaches": first, "resolution_breaches": resolution}


@dataclass(frozen=True)
class SlaTarget:
    """One target of a ticket as its page shows it."""

    name: str
    due_at: datetime | None
    state: str  # ok, soon, overdue (the clock runs), paused, met, breached
    label: str
    breached_at: datetime | None


def ticket_sla(conversation: Conversation, *, now: datetime) -> list[SlaTarget]:
    """Where the ticket stands against each of its targets, as of `now` (a target it has none of is left
    out): met or breached once done, paused while it is not open, else a running countdown."""
    status = conversation.status
    solved_at = None
    if status == ConversationStatus.SOLVED:
        solved_at = conversation.solved_at
    elif status == ConversationStatus.CLOSED:  # closed straight from open: done when its clock stopped
        solved_at = conversation.solved_at or conversation.sla_paused_at
    targets = [
        (
            "First response",
            conversation.first_response_due_at,
            conversation.first_responded_at,
            conversation.first_response_breached_at,
        ),
        ("Resolution", conversation.resolution_due_at, solved_at, conversation.resolution_breached_at),
    ]
    shown = []
    for name, due, done_at, breached_at in targets:
        if due is None:
            continue
        if done_at is not None:
            late = breached_at is not None or done_at > due
            state, label = ("breached", "missed") if late else ("met", "met")
        elif status != ConversationStatus.OPEN:
            state, label = ("breached", "missed") if breached_at is not None else ("paused", "paused")
        else:
            state, label = countdown(due, now)
        shown.append(SlaTarget(name, due, state, label, breached_at))
    return shown
