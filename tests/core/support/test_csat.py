"""Satisfaction surveys: asked once per solve when an agent answered and there is an address, rated 1-5
with a comment while open (a history line and an audit entry each time), and the CSAT figures."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.audit.models import AuditEntry
from core.errors import DomainError, NotFound
from core.notifications.models import OutboxMessage
from core.security.roles import Actor
from core.support import csat, services
from core.support.models import Message, SatisfactionRating
from tests.factories import NOW, make_customer, make_order, make_user
from tests.support_factories import make_conversation

GUEST = Actor(label="guest", role="customer")


@pytest.fixture
def agent(db: Session):
    return make_user(db, "agent", name="Sam Agent")


def actor_for(user) -> Actor:
    return Actor(label=user.email, user_id=user.id, role=user.role)


def answered_ticket(db: Session, agent, **overrides):
    customer = make_customer(db, name="Jane Doe", email="jane@example.org")
    ticket = make_conversation(db, customer_id=customer.id, assignee_id=agent.id, **overrides)
    services.reply_to_conversation(db, ticket.id, "Ships Monday.", actor=actor_for(agent), now=NOW)
    return ticket


def surveys(db: Session, ticket_id: int) -> list[SatisfactionRating]:
    return list(db.scalars(select(SatisfactionRating).where(SatisfactionRating.conversation_id == ticket_id)))


def survey_emails(db: Session) -> list[OutboxMessage]:
    return list(db.scalars(select(OutboxMessage).where(OutboxMessage.kind == "csat_request")))


def test_solving_an_answered_ticket_asks_once_by_email(db: Session, agent) -> None:
    ticket = answered_ticket(db, agent, subject="Where is my tent?")
    services.change_conversation_status(db, ticket.id, "solved", actor=actor_for(agent), now=NOW)
    [survey] = surveys(db, ticket.id)
    assert (survey.customer_id, survey.agent_id, survey.asked_at, survey.score) == (
        ticket.customer_id,
        agent.id,
        NOW,
        None,
    )
    [email] = survey_emails(db)
    assert (email.recipient, email.subject) == ("jane@example.org", "How did we do? Where is my tent?")
    assert email.payload == {"conversation_id": ticket.id, "rating_id": survey.id}
    history = db.scalars(select(Message.body).where(Message.author_kind == "system")).all()
    assert history[-1] == "Satisfaction survey emailed to the customer"


def test_reply_that_solves_the_ticket_asks_too(db: Session, agent) -> None:
    customer = make_customer(db, email="jane@example.org")
    ticket = make_conversation(db, customer_id=customer.id)
    services.reply_to_conversation(
        db, ticket.id, "Refunded.", actor=actor_for(agent), now=NOW, set_status="solved"
    )
    assert len(surveys(db, ticket.id)) == 1 and len(survey_emails(db)) == 1


def test_no_survey_for_a_ticket_solved_without_a_public_reply(db: Session, agent) -> None:
    customer = make_customer(db, email="spammer@example.org")
    ticket = make_conversation(db, customer_id=customer.id, body="Buy cheap watches")
    services.add_internal_note(db, ticket.id, "Spam.", actor=actor_for(agent), now=NOW)
    services.change_conversation_status(db, ticket.id, "solved", actor=actor_for(agent), now=NOW)
    assert surveys(db, ticket.id) == [] and survey_emails(db) == []


def test_no_survey_without_an_address(db: Session, agent) -> None:
    customer = make_customer(db, email=None)
    ticket = make_conversation(db, customer_id=customer.id)
    services.reply_to_conversation(
        db, ticket.id, "Done.", actor=actor_for(agent), now=NOW, set_status="solved"
    )
    assert surveys(db, ticket.id) == [] and survey_emails(db) == []


def test_a_guest_is_asked_at_the_orders_address(db: Session, agent) -> None:
    order = make_order(db, customer_id=None, email="guest@example.org")
    ticket = make_conversation(db, order_id=order.id)
    services.reply_to_conversation(
        db, ticket.id, "Done.", actor=actor_for(agent), now=NOW, set_status="solved"
    )
    assert [e.recipient for e in survey_emails(db)] == ["guest@example.org"]


def test_solved_again_within_a_day_asks_nothing_more_but_after_it_asks_again(db: Session, agent) -> None:
    ticket = answered_ticket(db, agent)
    act = actor_for(agent)
    services.change_conversation_status(db, ticket.id, "solved", actor=act, now=NOW)
    services.change_conversation_status(db, ticket.id, "open", actor=act, now=NOW + timedelta(hours=1))
    services.change_conversation_status(db, ticket.id, "solved", actor=act, now=NOW + timedelta(hours=2))
    assert len(surveys(db, ticket.id)) == 1
    services.add_customer_message(db, ticket.id, "It broke again.", now=NOW + timedelta(days=3))
    services.change_conversation_status(db, ticket.id, "solved", actor=act, now=NOW + timedelta(days=3))
    assert len(surveys(db, ticket.id)) == 2 and len(survey_emails(db)) == 2


def solved_survey(db: Session, agent) -> SatisfactionRating:
    ticket = answered_ticket(db, agent)
    services.change_conversation_status(db, ticket.id, "solved", actor=actor_for(agent), now=NOW)
    return surveys(db, ticket.id)[0]


def test_rating_is_stored_with_a_history_line_and_an_audit_entry(db: Session, agent) -> None:
    survey = solved_survey(db, agent)
    later = NOW + timedelta(hours=3)
    csat.rate_conversation(db, survey.id, "4", "  Quick and kind.\r\n ", actor=GUEST, now=later)
    assert (survey.score, survey.comment, survey.rated_at) == (4, "Quick and kind.", later)
    line = db.scalars(select(Message).where(Message.data["event"].as_string() == "rated")).one()
    assert (line.body, line.internal) == ("The customer rated 4/5 (Good): Quick and kind.", True)
    entry = db.scalars(select(AuditEntry).where(AuditEntry.action == "conversation.rated")).one()
    assert (entry.actor_label, entry.entity_id, entry.before) == ("guest", str(survey.conversation_id), None)
    assert entry.after == {"rating_id": survey.id, "score": 4, "comment": "Quick and kind."}


def test_rating_can_be_changed_while_open_and_the_change_is_audited(db: Session, agent) -> None:
    survey = solved_survey(db, agent)
    csat.rate_conversation(db, survey.id, 2, "Slow.", actor=GUEST, now=NOW)
    csat.rate_conversation(db, survey.id, 5, "", actor=GUEST, now=NOW + timedelta(days=6))
    assert (survey.score, survey.comment) == (5, None)
    entries = db.scalars(
        select(AuditEntry).where(AuditEntry.action == "conversation.rated").order_by(AuditEntry.id)
    ).all()
    assert entries[-1].before == {"score": 2, "comment": "Slow."}
    history = db.scalars(select(Message.body).where(Message.data["event"].as_string() == "rated")).all()
    assert history[-1] == "The customer changed their rating to 5/5 (Excellent)"


@pytest.mark.parametrize("score", [None, "", "0", "6", "five", "3.5", 3.5, True])
def test_rating_refuses_anything_but_one_to_five(db: Session, agent, score) -> None:
    survey = solved_survey(db, agent)
    with pytest.raises(DomainError, match="from 1 to 5"):
        csat.rate_conversation(db, survey.id, score, "", actor=GUEST, now=NOW)


def test_rating_refuses_a_long_comment(db: Session, agent) -> None:
    survey = solved_survey(db, agent)
    with pytest.raises(DomainError, match="at most"):
        csat.rate_conversation(db, survey.id, 3, "x" * (csat.MAX_COMMENT + 1), actor=GUEST, now=NOW)


def test_survey_closes_after_the_window_or_when_the_ticket_is_closed(db: Session, agent) -> None:
    survey = solved_survey(db, agent)
    assert csat.rating_page(db, survey.id, now=NOW + csat.RATING_WINDOW - timedelta(seconds=1)).open
    with pytest.raises(DomainError, match="closed"):
        csat.rate_conversation(db, survey.id, 5, "", actor=GUEST, now=NOW + csat.RATING_WINDOW)
    services.change_conversation_status(
        db, survey.conversation_id, "closed", actor=actor_for(agent), now=NOW + timedelta(hours=1)
    )
    assert not csat.rating_page(db, survey.id, now=NOW + timedelta(hours=2)).open
    with pytest.raises(NotFound):
        csat.rating_page(db, survey.id + 1000, now=NOW)


def test_satisfaction_summary_and_latest_scores(db: Session, agent) -> None:
    other_agent = make_user(db, "agent")
    scores = [5, 4, 2, None]
    ticket_ids = []
    for i, score in enumerate(scores):
        survey = solved_survey(db, agent if i < 3 else other_agent)
        ticket_ids.append(survey.conversation_id)
        if score is not None:
            csat.rate_conversation(db, survey.id, score, "", actor=GUEST, now=NOW + timedelta(hours=1))
    day = {"since": NOW - timedelta(days=1), "until": NOW + timedelta(days=1)}
    summary = csat.satisfaction_summary(db, **day)
    assert summary == {
        "asked": 4,
        "answers": 3,
        "response_rate": 75.0,
        "average": 3.67,
        "distribution": {1: 0, 2: 1, 3: 0, 4: 1, 5: 1},
        "csat": 66.7,
    }
    assert csat.satisfaction_summary(db, **day, agent_id=other_agent.id)["answers"] == 0
    empty = csat.satisfaction_summary(db, since=NOW + timedelta(days=5), until=NOW + timedelta(days=6))
    assert (empty["asked"], empty["average"], empty["csat"]) == (0, None, None)
    assert csat.latest_scores(db, ticket_ids) == dict(zip(ticket_ids[:3], [5, 4, 2], strict=True))
    assert csat.latest_scores(db, []) == {}
