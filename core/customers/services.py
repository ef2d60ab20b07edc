"""Customer writes: exact identity resolution for intake, CRM notes."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.audit.services import record_audit
from core.channels.canonical import CanonicalAddress, CanonicalBuyer
from core.customers.models import CrmNote, Customer, Identity
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


def normalize_phone(phone: str | None) -> str | None:
    """Digits only (with a leading + kept), or None when too short to identify anyone."""
    if not phone:
        return None
    digits = "".join(ch for ch in phone if ch.isdigit())
    if len(digits) < 7:
        return None
    return ("+" if phone.strip().startswith("+") else "") + digits


def resolve_customer(
    session: Session,
    channel_id: int,
    buyer: CanonicalBuyer,
    address: CanonicalAddress | None,
    *,
    now: datetime,
) -> tuple[Customer | None, Identity | None]:
    """The unified customer behind a channel buyer, matched exactly (buyer id, email, phone), else new.

    A marketplace relay email identifies the buyer on that channel only: never the person's own email.
    Returns (None, None) when the buyer gave nothing to know them by (an anonymous till sale).
    """
    phone = normalize_phone(buyer.phone)
    if not (buyer.external_id or buyer.email or phone):
        return None, None
    identity = _matching_identity(session, channel_id, buyer, phone)
    if identity is not None:
        return identity.customer, identity
    customer, matched_by = _matching_customer(session, buyer, phone)
    if customer is None:
        customer = Customer(
            name=buyer.name or "",
            email=None if buyer.email_is_relay else buyer.email,
            phone=phone,
            created_at=now,
        )
        session.add(customer)
        session.flush()
        matched_by = "new"
    identity = Identity(
        customer_id=customer.id,
        channel_id=channel_id,
        external_id=buyer.external_id,
        name=buyer.name or "",
        email=buyer.email,
        phone=phone,
        address={k: v for k, v in asdict(address).items() if v is not None} if address else {},
        matched_by=matched_by,
        created_at=now,
    )
    session.add(identity)
    session.flush()
    return customer, identity


def _matching_identity(
    session: Session, channel_id: int, buyer: CanonicalBuyer, phone: str | None
) -> Identity | None:
    if buyer.external_id:
        found = session.scalar(
            select(Identity).where(
                Identity.channel_id == channel_id, Identity.external_id == buyer.external_id
            )
        )
        if found is not None:
            return found
    if buyer.email:
        return session.scalar(
            select(Identity).where(Identity.channel_id == channel_id, Identity.email == buyer.email).limit(1)
        )
    return None


def _matching_customer(
    session: Session, buyer: CanonicalBuyer, phone: str | None
) -> tuple[Customer | None, str]:
    if buyer.email and not buyer.email_is_relay:
        customer = session.scalar(
            select(Customer).where(Customer.email == buyer.email, Customer.merged_into_id.is_(None)).limit(1)
        )
        if customer is not None:
            return customer, "email"
    if buyer.email:
        identity = session.scalar(select(Identity).where(Identity.email == buyer.email).limit(1))
        if identity is not None:
            return identity.customer, "email"
    if phone:
        identity = session.scalar(select(Identity).where(Identity.phone == phone).limit(1))
        if identity is not None:
            return identity.customer, "phone"
    return None, "new"


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


def request_account_deletion(session: Session, customer_id: int, *, now: datetime) -> Customer:
    """Record the customer's request to delete their account (carried out by the compliance process)."""
    customer = session.get(Customer, customer_id)
    if customer is None:
        raise NotFound(f"customer {customer_id} not found")
    if customer.deletion_requested_at is None:
        customer.deletion_requested_at = now
    return customer
