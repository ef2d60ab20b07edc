"""Collision notices: the presence heartbeat (one row per agent and ticket, gone after the window, writers
first) and the reply held back when someone else wrote since the agent's page was loaded."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.errors import DomainError
from core.security.roles import Actor
from core.support import services
from core.support.models import Message, TicketPresence
from core.support.presence import (
    PRESENCE_WINDOW,
    ReplyCollision,
    latest_public_message_id,
    record_presence,
    ticket_presence,
)
from tests.factories import NOW, make_customer, make_user
from tests.support_factories import make_conversation


def actor_for(user) -> Actor:
    return Actor(label=user.email, user_id=user.id, role=user.role)


@pytest.fixture
def ticket(db: Session):
    customer = make_customer(db, name="Jane Doe", email="jane@example.org")
    return make_conversation(db, customer_id=customer.id, body="Where is my tent?")


def test_record_presence_keeps_one_row_per_agent_and_ticket(db: Session, ticket) -> None:
    dana = make_user(db, "agent", name="Dana")
    record_presence(db, ticket.id, dana.id, "viewing", now=NOW)
    record_presence(db, ticket.id, dana.id, "replying", now=NOW + timedelta(seconds=5))
    db.expire_all()
    rows = db.scalars(select(TicketPresence).where(TicketPresence.conversation_id == ticket.id)).all()
    assert [(r.user_id, r.state, r.last_seen_at) for r in rows] == [
        (dana.id, "replying", NOW + timedelta(seconds=5))
    ]


def test_ticket_presence_shows_others_not_me_writers_first(db: Session, ticket) -> None:
    me, dana, sam = (make_user(db, "agent", name=n) for n in ("Me", "Dana", "Sam"))
    record_presence(db, ticket.id, me.id, "replying", now=NOW)
    record_presence(db, ticket.id, dana.id, "viewing", now=NOW)
    record_presence(db, ticket.id, sam.id, "replying", now=NOW)
    others = ticket_presence(db, ticket.id, exclude_user_id=me.id, now=NOW)
    assert [(p.name, p.state) for p in others] == [("Sam", "replying"), ("Dana", "viewing")]


def test_ticket_presence_forgets_agents_after_the_window(db: Session, ticket) -> None:
    me, dana = make_user(db, "agent"), make_user(db, "agent", name="Dana")
    record_presence(db, ticket.id, dana.id, "viewing", now=NOW)
    assert [
        p.name for p in ticket_presence(db, ticket.id, exclude_user_id=me.id, now=NOW + PRESENCE_WINDOW)
    ] == ["Dana"]
    later = NOW + PRESENCE_WINDOW + timedelta(seconds=1)
    assert ticket_presence(db, ticket.id, exclude_user_id=me.id, now=later) == []


def test_ticket_presence_ignores_deactivated_staff_and_other_tickets(db: Session, ticket) -> None:
    me, gone = make_user(db, "agent"), make_user(db, "agent", active=False)
    other = make_conversation(db)
    record_presence(db, ticket.id, gone.id, "viewing", now=NOW)
    record_presence(db, other.id, me.id, "viewing", now=NOW)
    assert ticket_presence(db, ticket.id, exclude_user_id=None, now=NOW) == []


def test_record_presence_refuses_unknown_states(db: Session, ticket) -> None:
    with pytest.raises(DomainError):
        record_presence(db, ticket.id, make_user(db, "agent").id, "typing", now=NOW)


def test_reply_is_held_back_when_another_agent_replied_since_the_page_loaded(db: Session, ticket) -> None:
    me, sam = make_user(db, "agent", name="Me"), make_user(db, "agent", name="Sam")
    seen = latest_public_message_id(ticket.messages)
    services.reply_to_conversation(db, ticket.id, "Ships Monday.", actor=actor_for(sam), now=NOW)
    with pytest.raises(ReplyCollision, match="Sam replied while you were writing — review and send again"):
        services.reply_to_conversation(
            db, ticket.id, "It ships soon.", actor=actor_for(me), now=NOW, seen_message_id=seen
        )
    db.expire_all()
    db.refresh(ticket)
    seen_now = latest_public_message_id(ticket.messages)
    services.reply_to_conversation(
        db, ticket.id, "As Sam said.", actor=actor_for(me), now=NOW, seen_message_id=seen_now
    )
    bodies = db.scalars(select(Message.body).where(Message.author_kind == "agent")).all()
    assert bodies == ["Ships Monday.", "As Sam said."]


def test_reply_collision_names_the_customer_and_ignores_notes_and_my_own_messages(
    db: Session, ticket
) -> None:
    me, sam = make_user(db, "agent", name="Me"), make_user(db, "agent", name="Sam")
    seen = latest_public_message_id(ticket.messages)
    services.add_internal_note(db, ticket.id, "Checking the warehouse.", actor=actor_for(sam), now=NOW)
    services.reply_to_conversation(db, ticket.id, "One moment.", actor=actor_for(me), now=NOW)
    services.reply_to_conversation(  # only my own reply and a note since: no collision
        db, ticket.id, "Found it.", actor=actor_for(me), now=NOW, seen_message_id=seen
    )
    seen = db.scalar(select(func.max(Message.id)))
    services.add_customer_message(db, ticket.id, "Any news?", now=NOW)
    with pytest.raises(ReplyCollision, match="The customer wrote while you were writing"):
        services.reply_to_conversation(
            db, ticket.id, "Yes.", actor=actor_for(me), now=NOW, seen_message_id=seen
        )


def test_latest_public_message_id_skips_internal_notes() -> None:
    messages = [Message(id=3, internal=False), Message(id=7, internal=True), Message(id=5, internal=False)]
    assert latest_public_message_id(messages) == 5
    assert latest_public_message_id([]) == 0
