"""Privacy requests and rectification: writes, each audited when staff act.

A customer's erasure request from the portal is recorded for staff, not carried out at once: an order still
open, a return or refund in progress, a chargeback or a legal hold needs the data a little longer, and a
person checks that first (the law gives a month). Staff see the request on the customer page and
privacy requests list, and erase from there with a confirm step."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.audit.services import record_audit
from core.customers.models import Customer, Identity
from core.customers.services import normalize_phone
from core.errors import DomainError, NotFound
from core.privacy.export import customer_export
from core.privacy.models import PrivacyRequest
from core.security.models import User
from core.security.roles import Actor

KINDS = ("export", "erasure")
SOURCES = ("portal", "shopify", "staff", "retention")
ADDRESS_FIELDS = ("name", "line1", "line2", "city", "region", "postal_code", "country")


def _customer(session: Session, customer_id: int) -> Customer:
    customer = session.get(Customer, customer_id)
    if customer is None:
        raise NotFound(f"customer {customer_id} not found")
    return customer


def record_privacy_request(
    session: Session,
    kind: str,
    *,
    source: str,
    now: datetime,
    customer_id: int | None = None,
    channel_id: int | None = None,
    payload_id: int | None = None,
    reference: dict[str, Any] | None = None,
) -> PrivacyRequest:
    """Record a request for staff; an open request of the same kind for the same customer is returned
    instead of a second one."""
    if kind not in KINDS or source not in SOURCES:
        raise DomainError(f"unknown privacy request {kind!r} from {source!r}")
    if customer_id is not None:
        open_one = session.scalar(
            select(PrivacyRequest).where(
                PrivacyRequest.customer_id == customer_id,
                PrivacyRequest.kind == kind,
                PrivacyRequest.status == "open",
            )
        )
        if open_one is not None:
            return open_one
    request = PrivacyRequest(
        kind=kind,
        source=source,
        status="open",
        customer_id=customer_id,
        channel_id=channel_id,
        payload_id=payload_id,
        reference=reference or {},
        outcome={},
        requested_at=now,
    )
    session.add(request)
    session.flush()
    return request


def request_erasure_by_customer(session: Session, customer_id: int, *, now: datetime) -> PrivacyRequest:
    """The signed-in customer asks for their data to be erased: recorded for staff (see the module's
    docstring for why it is not immediate)."""
    customer = _customer(session, customer_id)
    if customer.deletion_requested_at is None:
        customer.deletion_requested_at = now
    return record_privacy_request(session, "erasure", source="portal", now=now, customer_id=customer_id)


def dismiss_privacy_request(
    session: Session, request_id: int, reason: str, *, actor: Actor, now: datetime
) -> PrivacyRequest:
    """Close a request without acting on it (e.g. a legal hold), with the reason; audited."""
    request = session.get(PrivacyRequest, request_id)
    if request is None:
        raise NotFound(f"privacy request {request_id} not found")
    if request.status != "open":
        raise DomainError(f"privacy request {request_id} is already {request.status}")
    reason = reason.strip()
    if not reason:
        raise DomainError("say why the request is dismissed")
    request.status, request.completed_at, request.completed_by = "dismissed", now, actor.label
    request.outcome = {"reason": reason[:500]}
    record_audit(
        session,
        actor,
        "privacy_request.dismissed",
        "privacy_request",
        request.id,
        now=now,
        before={"status": "open"},
        after={"status": "dismissed", "reason": reason[:500]},
    )
    return request


def export_customer_for_staff(
    session: Session, customer_id: int, *, actor: Actor, now: datetime
) -> dict[str, Any]:
    """The customer's export, produced by staff (to answer a request sent another way); audited, and any
    open export request of theirs is marked done."""
    data = customer_export(session, customer_id, now=now)
    for request in session.scalars(
        select(PrivacyRequest).where(
            PrivacyRequest.customer_id == customer_id,
            PrivacyRequest.kind == "export",
            PrivacyRequest.status == "open",
        )
    ):
        request.status, request.completed_at, request.completed_by = "done", now, actor.label
    record_audit(
        session,
        actor,
        "customer.exported",
        "customer",
        customer_id,
        now=now,
        after={"orders": len(data["orders"]), "conversations": len(data["conversations"])},
    )
    return data


def rectify_customer(
    session: Session,
    customer_id: int,
    *,
    name: str,
    email: str,
    phone: str,
    actor: Actor,
    now: datetime,
) -> Customer:
    """Staff correct a customer's name, email or phone; audited with the values before and after. The
    customer's sign-in email follows a corrected email (refused when another account has it)."""
    customer = _customer(session, customer_id)
    name, email, phone = name.strip(), email.strip().lower(), phone.strip()
    if not name:
        raise DomainError("enter the customer's name")
    if len(name) > 200:
        raise DomainError("the name is longer than 200 characters")
    if email and ("@" not in email or len(email) > 254 or " " in email):
        raise DomainError(f"{email!r} is not an email address")
    new_phone = normalize_phone(phone) if phone else None
    if phone and new_phone is None:
        raise DomainError("enter a phone number with at least 7 digits, or leave it empty")
    before = {"name": customer.name, "email": customer.email, "phone": customer.phone}
    after = {"name": name, "email": email or None, "phone": new_phone}
    if before == after:
        return customer
    user = session.scalar(select(User).where(User.customer_id == customer_id))
    if user is not None and email and email != user.email:
        if session.scalar(select(User.id).where(User.email == email, User.id != user.id)) is not None:
            raise DomainError(f"another account already signs in as {email}")
        user.email = email
    customer.name, customer.email, customer.phone = name, email or None, new_phone
    changed = [k for k in after if before[k] != after[k]]
    record_audit(
        session,
        actor,
        "customer.rectified",
        "customer",
        customer_id,
        now=now,
        before={k: before[k] for k in changed},
        after={k: after[k] for k in changed},
    )
    return customer


def rectify_identity_address(
    session: Session,
    customer_id: int,
    identity_id: int,
    address: dict[str, str],
    *,
    actor: Actor,
    now: datetime,
) -> Identity:
    """Staff correct the address a channel gave for the customer; audited with before and after."""
    identity = session.get(Identity, identity_id)
    if identity is None or identity.customer_id != customer_id:
        raise NotFound(f"identity {identity_id} of customer {customer_id} not found")
    cleaned = {k: (address.get(k) or "").strip()[:200] for k in ADDRESS_FIELDS}
    cleaned["country"] = cleaned["country"].upper()
    if cleaned["country"] and (len(cleaned["country"]) != 2 or not cleaned["country"].isalpha()):
        raise DomainError("the country is a two-letter code (GB, US, DE...)")
    if not cleaned["line1"] or not cleaned["country"]:
        raise DomainError("an address needs at least its first line and country")
    before = {k: (identity.address or {}).get(k) or "" for k in ADDRESS_FIELDS}
    if before == cleaned:
        return identity
    identity.address = {**(identity.address or {}), **cleaned}
    record_audit(
        session,
        actor,
        "customer.address_rectified",
        "customer",
        customer_id,
        now=now,
        before={"identity_id": identity_id, "address": before},
        after={"identity_id": identity_id, "address": cleaned},
    )
    return identity
