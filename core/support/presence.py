"""Collision notices on a ticket: which other staff members have it open (viewing, or writing in its reply
box), and whether someone else answered while an agent was writing.

Each open ticket page sends a heartbeat every few seconds; the heartbeat is one upsert of the
(conversation, staff member) row, and a row whose last heartbeat is older than PRESENCE_WINDOW means that
person has gone (closed the tab, lost the connection). Rows are kept, one per pair, and overwritten.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from core.errors import DomainError
from core.security.models import User
from core.support.models import Message, TicketPresence

PRESENCE_WINDOW = timedelta(seconds=30)
HEARTBEAT_SECONDS = 5
PRESENCE_STATES = ("viewing", "replying")


@dataclass(frozen=True)
class Presence:
    """Someone else with the ticket open."""

    user_id: int
    name: str
    state: str  # viewing, replying
    last_seen_at: datetime


class ReplyCollision(DomainError):
    """Someone else wrote in the conversation after the agent's page was loaded: the reply was not sent."""

    def __init__(self, authors: list[str]) -> None:
        who = " and ".join(dict.fromkeys(authors))
        verb = "wrote" if authors == ["The customer"] else "replied"
        super().__init__(f"{who} {verb} while you were writing — review and send again")
        self.authors = authors


def record_presence(
    session: Session, conversation_id: int, user_id: int, state: str, *, now: datetime
) -> None:
    """The heartbeat: one INSERT .. ON CONFLICT DO UPDATE of this person's row for the ticket."""
    if state not in PRESENCE_STATES:
        raise DomainError(f"state must be one of {', '.join(PRESENCE_STATES)}")
    dialect = session.get_bind().dialect.name
    insert = {"postgresql": postgresql_insert, "sqlite": sqlite_insert}.get(dialect)
    if insert is None:
        raise NotImplementedError(f"no upsert for {dialect}")
    statement = insert(TicketPresence).values(
        conversation_id=conversation_id, user_id=user_id, state=state, last_seen_at=now
    )
    statement = statement.on_conflict_do_update(
        index_elements=["conversation_id", "user_id"],
        set_={"state": statement.excluded.state, "last_seen_at": statement.excluded.last_seen_at},
    )
    session.execute(statement)


def ticket_presence(
    session: Session, conversation_id: int, *, exclude_user_id: int | None, now: datetime
) -> list[Presence]:
    """The other active staff members seen on the ticket within the presence window, writers first."""
    rows = session.execute(
        select(
            TicketPresence.user_id, User.name, User.email, TicketPresence.state, TicketPresence.last_seen_at
        )
        .join(User, User.id == TicketPresence.user_id)
        .where(
            TicketPresence.conversation_id == conversation_id,
            TicketPresence.last_seen_at >= now - PRESENCE_WINDOW,
            TicketPresence.user_id != (exclude_user_id or 0),
            User.active.is_(True),
        )
        .order_by(TicketPresence.state, User.name, User.id)  # "replying" sorts before "viewing"
    ).all()
    return [Presence(uid, name or email, state, seen) for uid, name, email, state, seen in rows]


def latest_public_message_id(messages: list[Message]) -> int:
    """The id of the newest message the customer can see (0 when none): what the reply form says it saw."""
    return max((m.id for m in messages if not m.internal), default=0)


def check_no_newer_messages(
    session: Session, conversation_id: int, seen_message_id: int | None, *, user_id: int | None
) -> None:
    """ReplyCollision when public messages by someone else (another agent, the customer) arrived after
    `seen_message_id`; None (an old form, the API) skips the check."""
    if seen_message_id is None:
        return
    rows = session.execute(
        select(Message.author_kind, User.name, User.email)
        .outerjoin(User, User.id == Message.author_user_id)
        .where(
            Message.conversation_id == conversation_id,
            Message.id > seen_message_id,
            Message.internal.is_(False),
            Message.author_kind.in_(("agent", "customer")),
            (Message.author_user_id != user_id) | Message.author_user_id.is_(None),
        )
        .order_by(Message.id)
    ).all()
    if rows:
        raise ReplyCollision(
            [
                (name or email or "Someone") if kind == "agent" else "The customer"
                for kind, name, email in rows
            ]
        )
