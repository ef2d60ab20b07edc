"""CRM notes: an edit keeps the text it replaces (who wrote it, when, when it was replaced), only the author
or a manager edits, pins change the order notes are listed in; every change audited."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from core.audit.models import AuditEntry
from core.customers.queries import customer_notes
from core.customers.services import add_crm_note, edit_crm_note, set_crm_note_pinned
from core.errors import DomainError, NotFound, PermissionDenied
from core.security.roles import Actor
from tests.factories import NOW, make_customer, make_user


@pytest.fixture
def people(db):
    author, other, manager = make_user(db, "agent"), make_user(db, "agent"), make_user(db, "manager")
    return [Actor(u.email, u.id, u.role) for u in (author, other, manager)]


def test_edit_crm_note_keeps_each_earlier_text_with_its_writer(db, people) -> None:
    author, _, manager = people
    customer = make_customer(db)
    note = add_crm_note(db, customer.id, "Likes blue", actor=author, now=NOW)
    edit_crm_note(db, customer.id, note.id, "Likes green", actor=author, now=NOW + timedelta(hours=1))
    edit_crm_note(db, customer.id, note.id, "Likes red", actor=manager, now=NOW + timedelta(hours=2))
    assert (note.body, note.edited_by, note.edited_at) == (
        "Likes red",
        manager.label,
        NOW + timedelta(hours=2),
    )
    assert [(v.body, v.written_by, v.written_at, v.replaced_at) for v in note.versions] == [
        ("Likes green", author.label, NOW + timedelta(hours=1), NOW + timedelta(hours=2)),
        ("Likes blue", author.label, NOW, NOW + timedelta(hours=1)),
    ]


def test_edit_crm_note_with_the_same_text_changes_nothing(db, people) -> None:
    author = people[0]
    customer = make_customer(db)
    note = add_crm_note(db, customer.id, "Same", actor=author, now=NOW)
    edit_crm_note(db, customer.id, note.id, "  Same ", actor=author, now=NOW)
    assert note.versions == [] and note.edited_at is None
    assert db.scalars(select(AuditEntry.action)).all() == ["crm_note.added"]


def test_edit_crm_note_refuses_another_agent_an_empty_text_and_another_customer(db, people) -> None:
    author, other, _ = people
    customer, stranger = make_customer(db), make_customer(db)
    note = add_crm_note(db, customer.id, "Mine", actor=author, now=NOW)
    with pytest.raises(PermissionDenied):
        edit_crm_note(db, customer.id, note.id, "Theirs now", actor=other, now=NOW)
    with pytest.raises(DomainError, match="empty"):
        edit_crm_note(db, customer.id, note.id, "   ", actor=author, now=NOW)
    with pytest.raises(NotFound):
        edit_crm_note(db, stranger.id, note.id, "Moved", actor=author, now=NOW)
    assert note.body == "Mine" and note.versions == []


def test_pinned_notes_are_listed_first_and_pins_audited_once(db, people) -> None:
    author = people[0]
    customer = make_customer(db)
    old = add_crm_note(db, customer.id, "old", actor=author, now=NOW - timedelta(days=1))
    new = add_crm_note(db, customer.id, "new", actor=author, now=NOW)
    assert [n.body for n in customer_notes(db, customer.id)] == ["new", "old"]
    set_crm_note_pinned(db, customer.id, old.id, True, actor=author, now=NOW)
    set_crm_note_pinned(db, customer.id, old.id, True, actor=author, now=NOW)  # already pinned: no change
    assert [n.body for n in customer_notes(db, customer.id)] == ["old", "new"] and new.pinned is False
    pins = db.scalars(select(AuditEntry).where(AuditEntry.action == "crm_note.pinned")).all()
    assert [(p.before, p.after) for p in pins] == [
        ({"note_id": old.id, "pinned": False}, {"note_id": old.id, "pinned": True})
    ]
