"""Customer writes: exact identity resolution for intake, CRM notes."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import (
    ColumnElement,
    CompoundSelect,
    Executable,
    Integer,
    Select,
    Table,
    bindparam,
    cast,
    insert,
    literal_column,
    null,
    select,
    union_all,
)
from sqlalchemy.orm import Session

from core.audit.services import record_audit
from core.channels.canonical import CanonicalAddress, CanonicalBuyer
from core.customers.models import CrmNote, CrmNoteVersion, Customer, Identity
from core.errors import DomainError, NotFound, PermissionDenied
from core.security.permissions import Permission, actor_grant
from core.security.roles import Actor

MAX_NOTE_LENGTH = 5000


def _note_body(body: str) -> str:
    body = body.strip()
    if not body:
        raise DomainError("the note is empty")
    if len(body) > MAX_NOTE_LENGTH:
        raise DomainError(f"the note is longer than {MAX_NOTE_LENGTH} characters")
    return body


def add_crm_note(session: Session, customer_id: int, body: str, *, actor: Actor, now: datetime) -> CrmNote:
    """Attach a staff note to a customer; recorded in the audit log."""
    if session.get(Customer, customer_id) is None:
        raise NotFound(f"customer {customer_id} not found")
    body = _note_body(body)
    note = CrmNote(
        customer_id=customer_id, author_id=actor.user_id, author_label=actor.label, body=body, created_at=now
    )
    session.add(note)
    session.flush()
    record_audit(
        session,
        actor,
        "crm_note.added",
        "customer",
        customer_id,
        now=now,
        after={"note_id": note.id, "body": body},
    )
    return note


def _may_edit_any_note(session: Session, actor: Actor) -> bool:
    grant = actor_grant(session, actor) if actor.role is not None else None
    return grant is not None and grant.allows(Permission.EDIT_ANY_NOTE)


def _customer_note(session: Session, customer_id: int, note_id: int) -> CrmNote:
    note = session.get(CrmNote, note_id)
    if note is None or note.customer_id != customer_id:
        raise NotFound(f"note {note_id} not found")
    return note


def edit_crm_note(
    session: Session, customer_id: int, note_id: int, body: str, *, actor: Actor, now: datetime
) -> CrmNote:
    """Replace a note's text, keeping the text it had as a version (the author, or a manager, may edit);
    audited with both texts. Saving the same text changes nothing."""
    note = _customer_note(session, customer_id, note_id)
    if note.author_id != actor.user_id and not _may_edit_any_note(session, actor):
        raise PermissionDenied("only the note's author or a manager may edit it")
    body = _note_body(body)
    if body == note.body:
        return note
    before = note.body
    note.versions.insert(
        0,
        CrmNoteVersion(
            body=before,
            written_by=note.edited_by or note.author_label,
            written_at=note.edited_at or note.created_at,
            replaced_at=now,
        ),
    )
    note.body, note.edited_at, note.edited_by = body, now, actor.label
    session.flush()
    record_audit(
        session,
        actor,
        "crm_note.edited",
        "customer",
        customer_id,
        now=now,
        before={"note_id": note.id, "body": before},
        after={"note_id": note.id, "body": body},
    )
    return note


def set_crm_note_pinned(
    session: Session, customer_id: int, note_id: int, pinned: bool, *, actor: Actor, now: datetime
) -> CrmNote:
    """Pin a note to the top of the customer's notes, or unpin it; audited when it changes."""
    note = _customer_note(session, customer_id, note_id)
    if note.pinned == pinned:
        return note
    note.pinned = pinned
    session.flush()
    record_audit(
        session,
        actor,
        "crm_note.pinned" if pinned else "crm_note.unpinned",
        "customer",
        customer_id,
        now=now,
        before={"note_id": note.id, "pinned": not pinned},
        after={"note_id": note.id, "pinned": pinned},
    )
    return note


def normalize_phone(phone: str | None) -> str | None:
    """Digits only (with a leading + kept), or None when too short to identify anyone."""
    if not phone:
        return None
    digits = "".join(ch for ch in phone if ch.isdigit())
    if len(digits) < 7:
        return None
    return ("+" if phone.strip().startswith("+") else "") + digits


_customers = Customer.__table__
_identities = Identity.__table__


def _first_match(rank: int, table: Table, *where: ColumnElement[bool]) -> Select[Any]:
    """(rank, identity id, customer id) of the first row of `table` matching `where`; none when none does."""
    is_identity = table is _identities
    first = (
        select(
            literal_column(str(rank)).label("rank"),
            (table.c.id if is_identity else cast(null(), Integer)).label("identity_id"),
            (table.c.customer_id if is_identity else table.c.id).label("customer_id"),
        )
        .where(*where)
        .limit(1)
        .subquery()
    )
    return select(first)


# Every way a buyer can be known, most exact first: the lowest rank found wins.
_BY_BUYER_ID, _BY_CHANNEL_EMAIL, _BY_CUSTOMER_EMAIL, _BY_ANY_EMAIL, _BY_PHONE = 1, 2, 3, 4, 5


@cache
def _matches(*, buyer_id: bool, email: bool, own_email: bool, phone: bool) -> CompoundSelect:
    """One query for every way the buyer can be known by what they gave (built once per combination, so no
    lookup runs on a missing value)."""
    ways = []
    if buyer_id:
        ways.append(
            _first_match(
                _BY_BUYER_ID,
                _identities,
                _identities.c.channel_id == bindparam("channel_id"),
                _identities.c.external_id == bindparam("external_id"),
            )
        )
    if email:
        ways.append(
            _first_match(
                _BY_CHANNEL_EMAIL,
                _identities,
                _identities.c.channel_id == bindparam("channel_id"),
                _identities.c.email == bindparam("email"),
            )
        )
    if own_email:
        ways.append(
            _first_match(
                _BY_CUSTOMER_EMAIL,
                _customers,
                _customers.c.email == bindparam("email"),
                _customers.c.merged_into_id.is_(None),
            )
        )
    if email:
        ways.append(_first_match(_BY_ANY_EMAIL, _identities, _identities.c.email == bindparam("email")))
    if phone:
        ways.append(_first_match(_BY_PHONE, _identities, _identities.c.phone == bindparam("phone")))
    return union_all(*ways)


_INSERT_CUSTOMER = insert(_customers).returning(_customers.c.id)
_INSERT_IDENTITY = insert(_identities).returning(_identities.c.id)

# Runs one of resolve_customer's statements, every value given: its rows.
Execute = Callable[[Session, Executable, dict[str, Any]], Sequence[Sequence[Any]]]


def _execute(session: Session, statement: Executable, values: dict[str, Any]) -> Sequence[Sequence[Any]]:
    return session.execute(statement, values).all()


def resolve_customer(
    session: Session,
    channel_id: int,
    buyer: CanonicalBuyer,
    address: CanonicalAddress | None,
    *,
    now: datetime,
    execute: Execute = _execute,
) -> tuple[int | None, int | None]:
    """The ids of the unified customer behind a channel buyer and of their identity on this channel:
    matched exactly, else new.

    Preference: this channel's identity with the buyer id, else this channel's identity with the email (the
    buyer is that identity); else a customer with that email, an identity with that email on any channel, an
    identity with that phone (a new identity of that customer); else a new customer. A marketplace relay email
    identifies the buyer on that channel only: never the person's own email. One query to match, one INSERT
    per row made. Returns (None, None) when the buyer gave nothing to know them by (an anonymous till sale).
    The statements are built once and run by `execute` (the intake passes its hot path's runner).
    """
    phone = normalize_phone(buyer.phone)
    if not (buyer.external_id or buyer.email or phone):
        return None, None
    session.flush()  # the Core statements below don't autoflush
    matches = _matches(
        buyer_id=bool(buyer.external_id),
        email=bool(buyer.email),
        own_email=bool(buyer.email) and not buyer.email_is_relay,
        phone=bool(phone),
    )
    found = execute(
        session,
        matches,
        {"channel_id": channel_id, "external_id": buyer.external_id, "email": buyer.email, "phone": phone},
    )
    best = min(found, key=lambda row: row[0], default=None)  # (rank, identity id, customer id)
    if best is not None and best[0] in (_BY_BUYER_ID, _BY_CHANNEL_EMAIL):
        return best[2], best[1]
    if best is not None:
        customer_id = best[2]
        matched_by = "phone" if best[0] == _BY_PHONE else "email"
    else:
        [(customer_id,)] = execute(
            session,
            _INSERT_CUSTOMER,
            {
                "name": buyer.name or "",
                "email": None if buyer.email_is_relay else buyer.email,
                "phone": phone,
                "marketing_opt_out": False,
                "notification_prefs": {},
                "created_at": now,
            },
        )
        matched_by = "new"
    [(identity_id,)] = execute(
        session,
        _INSERT_IDENTITY,
        {
            "customer_id": customer_id,
            "channel_id": channel_id,
            "external_id": buyer.external_id,
            "name": buyer.name or "",
            "email": buyer.email,
            "phone": phone,
            "address": {k: v for k, v in vars(address).items() if v is not None} if address else {},
            "matched_by": matched_by,
            "created_at": now,
        },
    )
    return customer_id, identity_id


def update_profile(session: Session, customer_id: int, *, name: str, phone: str, now: datetime) -> Customer:
    """A customer changes their own name and phone (email changes go through verification)."""
    customer = session.get(Customer, customer_id)
    if customer is None:
        raise NotFound(f"customer {customer_id} not found")
    name = name.strip()
    if not name:
        raise DomainError("enter your name")
    if len(name) > 200:
        raise DomainError("the name is longer than 200 characters")
    phone = phone.strip()
    if phone and normalize_phone(phone) is None:
        raise DomainError("enter a phone number with at least 7 digits, or leave it empty")
    customer.name = name
    customer.phone = normalize_phone(phone) if phone else None
    return customer


def set_email_opt_outs(
    session: Session, customer_id: int, opted_out: Iterable[str], *, optional: Iterable[str], now: datetime
) -> Customer:
    """Choose which optional emails not to receive (transactional ones always go); unknown kinds refused."""
    customer = session.get(Customer, customer_id)
    if customer is None:
        raise NotFound(f"customer {customer_id} not found")
    opted_out, optional = set(opted_out), set(optional)
    unknown = sorted(opted_out - optional)
    if unknown:
        raise DomainError(f"unknown notification kind(s): {', '.join(unknown)}")
    prefs = dict(customer.notification_prefs or {})
    prefs["email_opt_out"] = sorted(opted_out)
    prefs["email_opt_out_at"] = now.isoformat()
    prefs.pop("email", None)
    customer.notification_prefs = prefs
    return customer
