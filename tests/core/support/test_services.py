"""Support services: customers write and reopen, agents reply (emailed through the outbox) and note, the
ticket panel's changes land in the history and the audit log, canned replies are managed."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.audit.models import AuditEntry
from core.errors import DomainError, InvalidTransition, NotFound
from core.notifications.models import OutboxMessage
from core.security.roles import Actor
from core.support import services
from core.support.models import Macro, Message
from tests.factories import NOW, make_customer, make_order, make_user
from tests.support_factories import make_conversation


@pytest.fixture
def agent(db: Session) -> Actor:
    user = make_user(db, "agent", name="Sam Agent")
    return Actor(label=user.email, user_id=user.id, role="agent")


def history(db: Session, conversation_id: int) -> list[str]:
    return list(
        db.scalars(
            select(Message.body)
            .where(Message.conversation_id == conversation_id, Message.author_kind == "system")
            .order_by(Message.id)
        )
    )


def audit_actions(db: Session, conversation_id: int) -> list[str]:
    return list(
        db.scalars(
            select(AuditEntry.action)
            .where(AuditEntry.entity_type == "conversation", AuditEntry.entity_id == str(conversation_id))
            .order_by(AuditEntry.id)
        )
    )


def test_open_conversation_about_an_order_starts_open_with_the_customers_message(db: Session) -> None:
    customer = make_customer(db)
    order = make_order(db, customer_id=customer.id)
    conversation = services.open_conversation(
        db,
        customer_id=customer.id,
        order=order,
        subject="",
        body="  Is it gift wrapped? ",
        source="portal",
        now=NOW,
    )
    assert (conversation.status, conversation.order_id, conversation.customer_id) == (
        "open",
        order.id,
        customer.id,
    )
    assert conversation.subject == f"Question about order {order.number}"
    assert [(m.author_kind, m.body) for m in conversation.messages] == [("customer", "Is it gift wrapped?")]
    assert conversation.first_response_due_at > NOW


def test_open_conversation_refuses_someone_elses_order_and_an_empty_message(db: Session) -> None:
    me, other = make_customer(db), make_customer(db)
    theirs = make_order(db, customer_id=other.id)
    with pytest.raises(NotFound):
        services.open_conversation(
            db, customer_id=me.id, order=theirs, subject="", body="hi", source="portal", now=NOW
        )
    with pytest.raises(DomainError, match="write a message"):
        services.open_conversation(
            db, customer_id=me.id, order=None, subject="", body="  ", source="portal", now=NOW
        )


@pytest.mark.parametrize("status", ["pending", "solved"])
def test_add_customer_message_reopens_a_waiting_or_solved_ticket(db: Session, status: str) -> None:
    conversation = make_conversation(db, customer_id=make_customer(db).id, status=status, solved_at=NOW)
    services.add_customer_message(db, conversation.id, "Still nothing, sorry", now=NOW)
    assert conversation.status == "open" and conversation.solved_at is None
    assert history(db, conversation.id) == [f"Reopened by the customer's reply (was {status})"]


def test_add_customer_message_to_a_closed_ticket_is_refused(db: Session) -> None:
    conversation = make_conversation(db, status="closed")
    with pytest.raises(DomainError, match="closed"):
        services.add_customer_message(db, conversation.id, "Hello again", now=NOW)


def test_reply_to_conversation_queues_the_email_and_records_first_response(db: Session, agent: Actor) -> None:
    customer = make_customer(db, email="jane@example.org")
    conversation = make_conversation(db, customer_id=customer.id)
    message = services.reply_to_conversation(db, conversation.id, "On its way!", actor=agent, now=NOW)
    assert (message.author_kind, message.internal, message.author_user_id) == ("agent", False, agent.user_id)
    assert conversation.first_responded_at == NOW
    outbox = db.scalars(select(OutboxMessage).where(OutboxMessage.kind == "conversation_reply")).one()
    assert outbox.recipient == "jane@example.org"
    assert outbox.payload["conversation_id"] == conversation.id
    assert outbox.status == "pending"  # sent later by the worker, never inside this transaction
    assert message.email_message_id == services.reply_message_id_local_part(message.id)
    assert audit_actions(db, conversation.id) == ["conversation.replied"]


def test_reply_to_conversation_can_leave_it_pending(db: Session, agent: Actor) -> None:
    conversation = make_conversation(db, customer_id=make_customer(db).id)
    services.reply_to_conversation(
        db, conversation.id, "Can you send a photo?", actor=agent, now=NOW, set_status="pending"
    )
    assert conversation.status == "pending"
    assert history(db, conversation.id) == ["Status open → pending"]
    assert audit_actions(db, conversation.id) == ["conversation.replied", "conversation.status_changed"]


def test_reply_to_a_closed_conversation_is_refused(db: Session, agent: Actor) -> None:
    conversation = make_conversation(db, status="closed")
    with pytest.raises(DomainError, match="closed"):
        services.reply_to_conversation(db, conversation.id, "Hello", actor=agent, now=NOW)


def test_add_internal_note_is_never_emailed(db: Session, agent: Actor) -> None:
    conversation = make_conversation(db, customer_id=make_customer(db).id)
    note = services.add_internal_note(db, conversation.id, "Customer is a VIP", actor=agent, now=NOW)
    assert note.internal and note.author_kind == "agent"
    assert db.scalar(select(OutboxMessage.id)) is None
    assert conversation.first_responded_at is None
    assert audit_actions(db, conversation.id) == ["conversation.noted"]


def test_change_conversation_status_solves_and_records_history_and_audit(db: Session, agent: Actor) -> None:
    conversation = make_conversation(db)
    services.change_conversation_status(db, conversation.id, "solved", actor=agent, now=NOW)
    assert (conversation.status, conversation.solved_at) == ("solved", NOW)
    entry = db.scalars(select(AuditEntry).where(AuditEntry.action == "conversation.status_changed")).one()
    assert (entry.actor_id, entry.before, entry.after) == (
        agent.user_id,
        {"status": "open"},
        {"status": "solved"},
    )
    assert history(db, conversation.id) == ["Status open → solved"]


def test_change_conversation_status_outside_the_table_is_refused(db: Session, agent: Actor) -> None:
    conversation = make_conversation(db, status="closed")
    with pytest.raises(InvalidTransition):
        services.change_conversation_status(db, conversation.id, "open", actor=agent, now=NOW)


def test_assign_conversation_to_staff_and_back_to_unassigned(db: Session, agent: Actor) -> None:
    conversation = make_conversation(db)
    colleague = make_user(db, "manager", name="Max Manager")
    services.assign_conversation(db, conversation.id, colleague.id, actor=agent, now=NOW)
    services.assign_conversation(db, conversation.id, None, actor=agent, now=NOW)
    assert conversation.assignee_id is None
    assert history(db, conversation.id) == ["Assigned to Max Manager", "Unassigned"]
    assert audit_actions(db, conversation.id) == ["conversation.assigned", "conversation.assigned"]


def test_assign_conversation_to_a_customer_account_is_refused(db: Session, agent: Actor) -> None:
    conversation = make_conversation(db)
    customer_user = make_user(db, "customer")
    with pytest.raises(DomainError, match="active staff"):
        services.assign_conversation(db, conversation.id, customer_user.id, actor=agent, now=NOW)


def test_update_conversation_properties_records_only_what_changed(db: Session, agent: Actor) -> None:
    conversation = make_conversation(db)
    services.update_conversation_properties(
        db,
        conversation.id,
        status="open",
        priority="urgent",
        category="damaged",
        tags="Broken, vip  broken",
        assignee_id=agent.user_id,
        actor=agent,
        now=NOW,
    )
    assert (conversation.priority, conversation.category) == ("urgent", "damaged")
    assert [t.tag for t in conversation.tags] == ["broken", "vip"]
    assert history(db, conversation.id) == [
        "Priority normal → urgent",
        "Category set to Damaged item",
        "Tags: broken, vip",
        "Assigned to Sam Agent",
    ]


@pytest.mark.parametrize("tags", ["<script>", "a" * 41, ",".join(f"t{n}" for n in range(11))])
def test_parse_tags_refuses_odd_tags(tags: str) -> None:
    with pytest.raises(DomainError):
        services.parse_tags(tags)


def test_macros_are_created_updated_and_deleted_with_audit(db: Session, agent: Actor) -> None:
    macro = services.create_macro(
        db, "Gift wrap", "Hi {{ customer.first_name }}!", "other", actor=agent, now=NOW
    )
    services.update_macro(
        db, macro.id, "Gift wrapping", "Hello {{ customer.first_name }}", None, actor=agent, now=NOW
    )
    assert (macro.name, macro.category) == ("Gift wrapping", None)
    with pytest.raises(DomainError, match="already exists"):
        services.create_macro(db, "gift WRAPPING", "x", None, actor=agent, now=NOW)
    with pytest.raises(DomainError, match="unknown variable"):
        services.create_macro(db, "Bad", "{{ order.secret }}", None, actor=agent, now=NOW)
    services.delete_macro(db, macro.id, actor=agent, now=NOW)
    assert db.get(Macro, macro.id) is None
    actions = db.scalars(select(AuditEntry.action).where(AuditEntry.entity_type == "macro")).all()
    assert actions == ["macro.created", "macro.updated", "macro.deleted"]


def test_reply_to_a_guests_conversation_is_emailed_to_the_orders_address(db: Session, agent: Actor) -> None:
    order = make_order(db, customer_id=None, email="guest@example.org")
    conversation = make_conversation(db, customer_id=None, order_id=order.id)
    services.reply_to_conversation(db, conversation.id, "Hello guest", actor=agent, now=NOW)
    assert db.scalars(select(OutboxMessage.recipient)).one() == "guest@example.org"
