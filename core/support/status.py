"""The ticket status machine: statuses, the table of allowed transitions, and what a customer's reply does."""

from __future__ import annotations

from enum import StrEnum

from core.errors import InvalidTransition


class ConversationStatus(StrEnum):
    OPEN = "open"  # waiting on us
    PENDING = "pending"  # waiting on the customer (the SLA clock pauses)
    SOLVED = "solved"  # answered; the customer's next message reopens it
    CLOSED = "closed"  # archived: a customer's next message starts a new conversation


S = ConversationStatus

ALLOWED_TRANSITIONS: dict[ConversationStatus, frozenset[ConversationStatus]] = {
    S.OPEN: frozenset({S.PENDING, S.SOLVED, S.CLOSED}),
    S.PENDING: frozenset({S.OPEN, S.SOLVED, S.CLOSED}),
    S.SOLVED: frozenset({S.OPEN, S.PENDING, S.CLOSED}),
    S.CLOSED: frozenset(),
}

# What a customer's message does to the status: anything not closed comes back to us.
ON_CUSTOMER_REPLY: dict[ConversationStatus, ConversationStatus] = {
    S.OPEN: S.OPEN,
    S.PENDING: S.OPEN,
    S.SOLVED: S.OPEN,
}

# What an agent may set while replying publicly (closing is a separate, deliberate step).
REPLY_STATUSES = (S.OPEN, S.PENDING, S.SOLVED)


def check_transition(current: str, target: str) -> ConversationStatus:
    """The target status, or InvalidTransition when the table does not allow it."""
    try:
        cur, tgt = ConversationStatus(current), ConversationStatus(target)
    except ValueError as exc:
        raise InvalidTransition("conversation", current, target) from exc
    if tgt not in ALLOWED_TRANSITIONS[cur]:
        raise InvalidTransition("conversation", cur, tgt)
    return tgt


def status_after_customer_reply(current: str) -> ConversationStatus | None:
    """The status a customer's message leaves the conversation in; None when it can't take one (closed)."""
    return ON_CUSTOMER_REPLY.get(ConversationStatus(current))


def accepts_customer_messages(current: str) -> bool:
    """True unless the conversation is closed."""
    return status_after_customer_reply(current) is not None


def status_choices(current: str) -> list[ConversationStatus]:
    """The current status and those the table allows from it, in the table's order (for the status menu)."""
    cur = ConversationStatus(current)
    return [s for s in ConversationStatus if s == cur or s in ALLOWED_TRANSITIONS[cur]]
