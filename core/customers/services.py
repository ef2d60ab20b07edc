"""Customer writes: CRM notes (and, later, identity resolution and merges)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from core.audit.services import record_audit
from core.customers.models import CrmNote, Customer
from core.errors import DomainError, NotFound
from core.security.roles import Actor

MAX_NOTE_LENGTH = 5000


def add_crm_note(session: Session, customer_id: int, body: str, *, actor: Actor, now: datetime) -> CrmNote:
    """Attach a staff note to a customer; recorded in the audit log."""
    if session.get(Customer, customer_id) is None:
        raise NotFound(f"customer {customer_id} not found")
    body = body.strip()
    if not body:
        raise DomainError("the note is empty")
    if len(body) > MAX_NOTE_LENGTH:
        raise DomainError(f"the note is longer than {MAX_NOTE_LENGTH} characters")
    note = CrmNote(customer_id=customer_id, author_id=actor.user_id, body=body, created_at=now)
    session.add(note)
    session.flush()
    record_audit(session, actor, "crm_note.added", "customer", customer_id, now=now, after={"note_id": note.id, "body": body})
    return note
