"""Queue writes: round-robin assignment of new tickets among available staff under the cap, phone notes,
bulk assign/solve/close (each ticket audited), and staff availability."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.audit.models import AuditEntry
from core.errors import DomainError, NotFound
from core.security.roles import Actor
from core.security.services import set_availability
from core.support import queue_services, services
from core.support.inbound import receive_email
from core.support.models import Conversation, Message
from tests.factories import NOW, make_customer, make_order, make_user
from tests.support_factories import make_conversation, make_email


def actor_for(user) -> Actor:
    return Actor(label=user.email, user_id=user.id, role=user.role)


def new_ticket(db: Session, *, now=NOW, customer=None):
    customer = customer or make_customer(db)
    return services.open_conversation(
        db, customer_id=customer.id, order=None, subject="Help", body="Hello", source="portal", now=now
    )


def test_open_conversation_stays_unassigned_when_nobody_is_available(db: Session) -> None:
    make_user(db, "agent")
    assert new_ticket(db).assignee_id is None


def test_open_conversation_goes_to_the_available_agent_with_fewest_unsolved_tickets(db: Session) -> None:
    busy = make_user(db, "agent", available=True)
    free = make_user(db, "agent", available=True)
    make_user(db, "agent", available=False)
    make_conversation(db, assignee_id=busy.id)
    make_conversation(db, assignee_id=free.id, status="solved")  # solved work doesn't count
    ticket = new_ticket(db)
    assert ticket.assignee_id == free.id and free.last_assigned_at == NOW
    history = db.scalars(
        select(Message.body).where(Message.conversation_id == ticket.id, Message.author_kind == "system")
    ).all()
    assert history == [f"Assigned to {free.name} (round-robin)"]
    audit = db.scalars(select(AuditEntry).where(AuditEntry.entity_id == str(ticket.id))).one()
    assert (audit.action, audit.actor_label, audit.after["rule"]) == (
        "conversation.assigned",
        "system",
        "round_robin",
    )


def test_round_robin_alternates_between_equally_loaded_agents(db: Session) -> None:
    first = make_user(db, "agent", available=True)
    second = make_user(db, "agent", available=True)
    owners = [new_ticket(db, now=NOW + timedelta(minutes=i)).assignee_id for i in range(4)]
    assert owners == [first.id, second.id, first.id, second.id]


def test_agents_at_the_cap_take_no_more(db: Session, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CROSSDOCK_AGENT_TICKET_CAP", "1")
    agent = make_user(db, "agent", available=True)
    make_conversation(db, assignee_id=agent.id, status="pending")
    assert new_ticket(db).assignee_id is None


def test_inactive_or_customer_accounts_never_get_tickets(db: Session) -> None:
    make_user(db, "agent", available=True, active=False)
    make_user(db, "customer", available=True)
    assert new_ticket(db).assignee_id is None


def test_cancellation_requests_are_assigned_too(db: Session) -> None:
    agent = make_user(db, "agent", available=True)
    customer = make_customer(db)
    order = make_order(db, customer_id=customer.id, status="confirmed")
    ticket = services.request_cancellation(db, order, "", actor=Actor("customer"), now=NOW)
    assert ticket.assignee_id == agent.id


def test_inbound_email_tickets_are_assigned_too(db: Session) -> None:
    agent = make_user(db, "agent", available=True)
    result = receive_email(db, make_email(sender="New Person <new@example.org>"), secret="s" * 32, now=NOW)
    assert result.status == "created"
    assert db.get(Conversation, result.conversation_id).assignee_id == agent.id


def test_manual_assignment_counts_as_the_last_assignment(db: Session) -> None:
    agent = make_user(db, "agent")
    ticket = make_conversation(db)
    services.assign_conversation(db, ticket.id, agent.id, actor=actor_for(agent), now=NOW)
    assert agent.last_assigned_at == NOW


def test_log_phone_call_opens_a_phone_ticket_with_the_note_first_and_takes_it(db: Session) -> None:
    agent = make_user(db, "agent")
    customer = make_customer(db, name="Jane Doe")
    order = make_order(db, customer_id=customer.id)
    ticket = queue_services.log_phone_call(
        db,
        customer.id,
        "Called about the delivery date.",
        order_number=order.number,
        actor=actor_for(agent),
        now=NOW,
    )
    assert (ticket.source, ticket.order_id, ticket.assignee_id, ticket.first_responded_at) == (
        "phone",
        order.id,
        agent.id,
        NOW,
    )
    assert ticket.subject == f"Phone call about order {order.number}"
    first = db.scalars(
        select(Message).where(Message.conversation_id == ticket.id).order_by(Message.id)
    ).first()
    assert (first.body, first.author_kind, first.internal, first.author_user_id) == (
        "Called about the delivery date.",
        "agent",
        True,
        agent.id,
    )
    actions = set(db.scalars(select(AuditEntry.action).where(AuditEntry.entity_id == str(ticket.id))))
    assert actions == {"conversation.phone_logged", "conversation.noted", "conversation.assigned"}


def test_log_phone_call_not_taken_goes_to_round_robin(db: Session) -> None:
    caller = make_user(db, "agent")
    other = make_user(db, "agent", available=True)
    ticket = queue_services.log_phone_call(
        db, make_customer(db).id, "Call back tomorrow.", take=False, actor=actor_for(caller), now=NOW
    )
    assert (ticket.status, ticket.assignee_id) == ("open", other.id)


def test_log_phone_call_solved_on_the_call_stays_with_the_agent(db: Session) -> None:
    caller = make_user(db, "agent")
    make_user(db, "agent", available=True)
    ticket = queue_services.log_phone_call(
        db, make_customer(db).id, "Sorted on the call.", status="solved", actor=actor_for(caller), now=NOW
    )
    assert (ticket.status, ticket.assignee_id, ticket.solved_at) == ("solved", caller.id, NOW)


def test_log_phone_call_refuses_another_customers_order_and_an_empty_note(db: Session) -> None:
    agent = make_user(db, "agent")
    customer = make_customer(db)
    stranger_order = make_order(db, customer_id=make_customer(db).id)
    with pytest.raises(DomainError, match="has no order"):
        queue_services.log_phone_call(
            db, customer.id, "x", order_number=stranger_order.number, actor=actor_for(agent), now=NOW
        )
    with pytest.raises(DomainError, match="write a message first"):
        queue_services.log_phone_call(db, customer.id, "  ", actor=actor_for(agent), now=NOW)
    with pytest.raises(NotFound):
        queue_services.log_phone_call(db, 999_999, "x", actor=actor_for(agent), now=NOW)


def test_bulk_assign_to_me_audits_each_ticket(db: Session) -> None:
    agent = make_user(db, "agent")
    tickets = [make_conversation(db) for _ in range(3)]
    result = queue_services.bulk_update_conversations(
        db, [t.id for t in tickets], "assign_me", actor=actor_for(agent), now=NOW
    )
    assert sorted(result.changed) == sorted(t.id for t in tickets) and result.skipped == []
    assert all(t.assignee_id == agent.id for t in tickets)
    audited = db.scalars(
        select(AuditEntry.entity_id).where(AuditEntry.action == "conversation.assigned")
    ).all()
    assert sorted(audited) == sorted(str(t.id) for t in tickets)


def test_bulk_close_skips_what_cannot_move_and_closes_the_rest(db: Session) -> None:
    agent = make_user(db, "agent")
    open_ticket = make_conversation(db)
    closed = make_conversation(db, status="closed")
    result = queue_services.bulk_update_conversations(
        db, [open_ticket.id, closed.id, 999_999], "solve", actor=actor_for(agent), now=NOW
    )
    assert result.changed == [open_ticket.id] and open_ticket.status == "solved"
    assert [i for i, _ in result.skipped] == [closed.id, 999_999]


def test_bulk_assign_to_a_customer_or_nobody_is_refused(db: Session) -> None:
    agent = make_user(db, "agent")
    customer = make_user(db, "customer")
    ticket = make_conversation(db)
    for assignee in (customer.id, None):
        with pytest.raises(DomainError, match="active staff"):
            queue_services.bulk_update_conversations(
                db, [ticket.id], "assign", assignee_id=assignee, actor=actor_for(agent), now=NOW
            )
    with pytest.raises(DomainError, match="tick at least one"):
        queue_services.bulk_update_conversations(db, [], "close", actor=actor_for(agent), now=NOW)
    assert ticket.assignee_id is None


def test_set_availability_by_the_agent_or_an_admin_only(db: Session) -> None:
    agent = make_user(db, "agent")
    colleague = make_user(db, "agent")
    admin = make_user(db, "admin")
    set_availability(db, agent.id, True, actor=actor_for(agent), now=NOW)
    set_availability(db, colleague.id, True, actor=actor_for(admin), now=NOW)
    assert agent.available and colleague.available
    with pytest.raises(DomainError, match="only an admin"):
        set_availability(db, admin.id, True, actor=actor_for(agent), now=NOW)
    actions = db.scalars(select(AuditEntry.action).where(AuditEntry.entity_type == "user")).all()
    assert actions == ["user.availability_changed", "user.availability_changed"]
