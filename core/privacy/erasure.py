"""Erasure ("right to be forgotten"): the person is taken out of every table, the financial records stay.

What is kept, because tax and accounting law require it and so that totals and analytics stay right: every
order row with its number, channel ids, dates, status, lines, amounts, taxes, currency and the addresses'
country; shipments (carrier, tracking number, dates), returns and refunds with their amounts. The customer row
stays too (as "Erased customer"), so the orders keep pointing at one customer and the counts per customer
stay true.

What goes: names, emails, phones, street addresses and postcodes on customers, identities, orders, and sign-in
accounts (which can no longer sign in); the identity search keys; the customer's own words (message bodies,
return reasons, survey comments, order notes) and their attachments; CRM notes about them; emails queued or
sent to them (recipient, subject, rendered data); the raw channel payloads and inbound emails that carry them;
rate-limit keys naming them. A sweep then looks for the person's email, phone and full name in every free-text
column that can hold a copy without a link (a message in someone else's ticket, a payload not linked to an
order).

The audit log is not rewritten: it is append-only and hash-chained (core.audit), a record kept to show who did
what to the data (accountability and security), which the erasure itself is added to. Its entries about the
person keep the values they recorded; access to the log is limited to roles with "view the audit log".

Steps, in the caller's one transaction: gather the customer and everyone merged into them, their orders (and
guest orders under their email), conversations, users; collect the needles (every name, email, phone and
address part found there); rewrite the linked rows; sweep; record one audit entry with counts only (nothing
personal). Running it again finds nothing more to change and records another entry: it is idempotent."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Text, cast, delete, false, func, or_, select
from sqlalchemy.orm import Session

from core.audit.services import record_audit
from core.customers.models import (
    CrmNote,
    CrmNoteVersion,
    Customer,
    CustomerMatchSuggestion,
    CustomerMerge,
    Identity,
    IdentityMatchKey,
)
from core.errors import NotFound
from core.fulfillment.models import Shipment, TrackingEvent
from core.notifications.models import OutboxMessage
from core.orders.models import InboundPayload, Order, OrderEvent
from core.pagination import contains_pattern
from core.privacy import pii
from core.privacy.export import customer_ids_of
from core.privacy.models import PrivacyRequest
from core.returns.models import Refund, ReturnRequest
from core.security.models import RateLimitBucket, User
from core.security.roles import Actor
from core.support.inbound import EMAIL_CHANNEL_CODE
from core.support.models import (
    Conversation,
    Message,
    MessageAttachment,
    SatisfactionRating,
    TicketPresence,
)

ERASED_EMAIL_DOMAIN = "erased.invalid"  # RFC 2606: never delivered
UNUSABLE_PASSWORD = "!erased"  # noqa: S105  (not a hash: no password verifies against it)


@dataclass
class ErasureReport:
    """What an erasure changed, by table (row counts), and the return photos to delete after commit."""

    customer_id: int
    customer_ids: list[int]
    changed: Counter[str] = field(default_factory=Counter)
    photo_paths: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "customer_id": self.customer_id,
            "customer_ids": self.customer_ids,
            "changed": dict(sorted(self.changed.items())),
        }


@dataclass
class _Scope:
    customers: list[Customer]
    order_ids: list[int]
    conversation_ids: list[int]
    emails: list[str]
    all_needles: list[str]  # every personal string: for rows linked to the person
    strong_needles: list[str]  # emails, phones, full names: for the sweep of unlinked rows


def _gather(session: Session, customer_id: int) -> _Scope:
    ids = customer_ids_of(session, customer_id)
    customers = list(session.scalars(select(Customer).where(Customer.id.in_(ids))))
    identities = list(session.scalars(select(Identity).where(Identity.customer_id.in_(ids))))
    users = list(session.scalars(select(User).where(User.customer_id.in_(ids))))
    emails = sorted(
        {
            e.strip().lower()
            for e in [c.email for c in customers] + [i.email for i in identities] + [u.email for u in users]
            if e and not e.endswith("@" + ERASED_EMAIL_DOMAIN)
        }
    )
    order_filter = Order.customer_id.in_(ids)
    if emails:
        order_filter = or_(order_filter, func.lower(Order.email).in_(emails))
    orders = list(session.scalars(select(Order).where(order_filter)))
    order_ids = [o.id for o in orders]
    conversation_ids = list(
        session.scalars(
            select(Conversation.id).where(
                or_(Conversation.customer_id.in_(ids), Conversation.order_id.in_(order_ids))
            )
        )
    )
    phones = [c.phone for c in customers] + [i.phone for i in identities] + [o.phone for o in orders]
    phone_needles = [v for p in phones for v in pii.phone_variants(p)]
    names = (
        [c.name for c in customers if c.name != pii.ERASED_NAME]
        + [i.name for i in identities]
        + [o.buyer_name for o in orders]
        + [u.name for u in users]
    )
    address_parts = [part for i in identities for part in pii.address_needles(i.address)] + [
        part
        for o in orders
        for address in (o.shipping_address, o.billing_address)
        for part in pii.address_needles(address)
    ]
    all_needles = pii.needles([*emails, *phone_needles, *names, *address_parts])
    full_names = [n for n in names if n and " " in n.strip()]
    strong = pii.needles([*emails, *[p for p in phone_needles if len(p) >= 7], *full_names])
    return _Scope(customers, order_ids, conversation_ids, emails, all_needles, strong)


def erase_customer(
    session: Session,
    customer_id: int,
    *,
    actor: Actor,
    now: datetime,
    reason: str = "request",
    request_id: int | None = None,
) -> ErasureReport:
    """Anonymise the customer (and every customer merged into them) everywhere, keeping the financial
    records; audited with counts only. Raises NotFound for an unknown customer."""
    if session.get(Customer, customer_id) is None:
        raise NotFound(f"customer {customer_id} not found")
    session.flush()
    scope = _gather(session, customer_id)
    ids = [c.id for c in scope.customers]
    report = ErasureReport(customer_id=customer_id, customer_ids=ids)
    changed = report.changed
    found = scope.all_needles

    for customer in scope.customers:
        if (customer.name, customer.email, customer.phone) != (pii.ERASED_NAME, None, None):
            changed["customers"] += 1
        customer.name = pii.ERASED_NAME
        customer.email = None
        customer.phone = None
        customer.notification_prefs = {}
        customer.marketing_opt_out = True
        customer.deletion_requested_at = customer.deletion_requested_at or now

    identity_ids = list(session.scalars(select(Identity.id).where(Identity.customer_id.in_(ids))))
    for identity in session.scalars(select(Identity).where(Identity.id.in_(identity_ids))):
        if identity.name or identity.email or identity.phone or identity.external_id:
            changed["identities"] += 1
        identity.name = ""
        identity.email = None
        identity.phone = None
        identity.external_id = None
        identity.address = pii.anonymised_address(identity.address) or {}
    changed["identity_match_keys"] += _count(
        session, delete(IdentityMatchKey).where(IdentityMatchKey.identity_id.in_(identity_ids))
    )
    changed["customer_match_suggestions"] += _count(
        session,
        delete(CustomerMatchSuggestion).where(
            or_(
                CustomerMatchSuggestion.customer_id.in_(ids),
                CustomerMatchSuggestion.other_customer_id.in_(ids),
            )
        ),
    )
    for merge in session.scalars(
        select(CustomerMerge).where(
            or_(CustomerMerge.source_customer_id.in_(ids), CustomerMerge.target_customer_id.in_(ids))
        )
    ):
        _set(changed, "customer_merges", merge, "reason", pii.scrub_text(merge.reason, found))

    note_ids = list(session.scalars(select(CrmNote.id).where(CrmNote.customer_id.in_(ids))))
    session.execute(delete(CrmNoteVersion).where(CrmNoteVersion.note_id.in_(note_ids)))
    changed["crm_notes"] += _count(session, delete(CrmNote).where(CrmNote.id.in_(note_ids)))

    for user in session.scalars(select(User).where(User.customer_id.in_(ids))):
        if user.active or not user.email.endswith("@" + ERASED_EMAIL_DOMAIN):
            changed["users"] += 1
        user.email = f"erased-{user.id}@{ERASED_EMAIL_DOMAIN}"
        user.name = ""
        user.password_hash = UNUSABLE_PASSWORD
        user.active = False
        user.email_verified_at = None
        user.session_version = (user.session_version or 1) + 1

    _erase_orders(session, scope, report)
    _erase_conversations(session, scope, report)
    _erase_mail_and_payloads(session, scope, report)
    _sweep(session, scope.strong_needles, changed)

    for request in session.scalars(
        select(PrivacyRequest).where(
            PrivacyRequest.customer_id.in_(ids),
            PrivacyRequest.kind == "erasure",
            PrivacyRequest.status == "open",
        )
    ):
        request.status, request.completed_at, request.completed_by = "done", now, actor.label
    if request_id is not None:
        request = session.get(PrivacyRequest, request_id)
        if request is not None:
            request.status, request.completed_at, request.completed_by = "done", now, actor.label
            request.outcome = report.as_dict()
    session.flush()
    record_audit(
        session,
        actor,
        "customer.erased",
        "customer",
        customer_id,
        now=now,
        after={"reason": reason, **report.as_dict()},
    )
    return report


def erase_channel_data(
    session: Session, channel_id: int, *, actor: Actor, now: datetime, reason: str
) -> tuple[dict[str, Any], list[str]]:
    """A channel's customers taken out (Shopify's shop/redact): a customer known only through this channel
    is erased whole; one who also buys elsewhere keeps that, losing this channel's identities, the
    personal data on this channel's orders and its raw payloads. Audited on the channel with counts.
    Returns the outcome and the return photos to delete after commit."""
    channel_customers = set(
        session.scalars(select(Identity.customer_id).where(Identity.channel_id == channel_id))
    ) | set(
        session.scalars(
            select(Order.customer_id).where(Order.channel_id == channel_id, Order.customer_id.is_not(None))
        )
    )
    elsewhere = set(
        session.scalars(
            select(Identity.customer_id).where(
                Identity.customer_id.in_(channel_customers), Identity.channel_id != channel_id
            )
        )
    ) | set(
        session.scalars(
            select(Order.customer_id).where(
                Order.customer_id.in_(channel_customers), Order.channel_id != channel_id
            )
        )
    )
    erased, photo_paths = 0, []
    for customer_id in sorted(channel_customers - elsewhere):
        customer = session.get(Customer, customer_id)
        if customer is not None and customer.merged_into_id is None:
            report = erase_customer(session, customer_id, actor=actor, now=now, reason=reason)
            photo_paths += report.photo_paths
            erased += 1
    identities = list(session.scalars(select(Identity).where(Identity.channel_id == channel_id)))
    orders = list(session.scalars(select(Order).where(Order.channel_id == channel_id)))
    found = pii.needles(
        [v for i in identities for v in (i.name, i.email, *pii.phone_variants(i.phone))]
        + [part for i in identities for part in pii.address_needles(i.address)]
        + [v for o in orders for v in (o.buyer_name, o.email, *pii.phone_variants(o.phone))]
        + [p for o in orders for a in (o.shipping_address, o.billing_address) for p in pii.address_needles(a)]
    )
    report = ErasureReport(customer_id=0, customer_ids=[])
    for identity in identities:
        identity.name, identity.email, identity.phone, identity.external_id = "", None, None, None
        identity.address = pii.anonymised_address(identity.address) or {}
    session.execute(
        delete(IdentityMatchKey).where(IdentityMatchKey.identity_id.in_([i.id for i in identities])),
        execution_options={"synchronize_session": False},
    )
    order_ids = [o.id for o in orders]
    conversations = list(session.scalars(select(Conversation.id).where(Conversation.order_id.in_(order_ids))))
    scope = _Scope([], order_ids, conversations, [], found, [])
    _erase_orders(session, scope, report)
    _erase_conversations(session, scope, report)
    for payload in session.scalars(select(InboundPayload).where(InboundPayload.channel_id == channel_id)):
        _set(report.changed, "inbound_payloads", payload, "body", pii.scrub_document(payload.body, found))
        payload.headers = pii.scrub_json(payload.headers, found)
    outcome = {
        "reason": reason,
        "customers_erased": erased,
        "identities": len(identities),
        "orders": len(order_ids),
        "changed": dict(sorted(report.changed.items())),
    }
    record_audit(
        session, actor, "channel.customer_data_erased", "channel", channel_id, now=now, after=outcome
    )
    return outcome, photo_paths + report.photo_paths


def _count(session: Session, statement: Any) -> int:
    return session.execute(statement, execution_options={"synchronize_session": False}).rowcount or 0


def _set(changed: Counter[str], table: str, row: Any, column: str, value: Any) -> None:
    """Set one attribute, counting the row under `table` only when it really changes."""
    if getattr(row, column) != value:
        setattr(row, column, value)
        changed[table] += 1


def _erase_orders(session: Session, scope: _Scope, report: ErasureReport) -> None:
    changed, found, order_ids = report.changed, scope.all_needles, scope.order_ids
    for order in session.scalars(select(Order).where(Order.id.in_(order_ids))):
        before = (order.buyer_name, order.email, order.phone, order.note, order.shipping_address)
        order.buyer_name = ""
        order.email = None
        order.phone = None
        order.note = None
        order.shipping_address = pii.anonymised_address(order.shipping_address)
        order.billing_address = pii.anonymised_address(order.billing_address)
        order.hold_reason = pii.scrub_text(order.hold_reason, found)
        order.hold_warnings = pii.scrub_json(order.hold_warnings, found)
        if before != (order.buyer_name, order.email, order.phone, order.note, order.shipping_address):
            changed["orders"] += 1
    for event in session.scalars(select(OrderEvent).where(OrderEvent.order_id.in_(order_ids))):
        _set(changed, "order_events", event, "message", pii.scrub_text(event.message, found))
        _set(changed, "order_events", event, "data", pii.scrub_json(event.data, found, by_key=True))
        _set(changed, "order_events", event, "actor", pii.scrub_text(event.actor, found))
    for rma in session.scalars(select(ReturnRequest).where(ReturnRequest.order_id.in_(order_ids))):
        if rma.photo_path:
            report.photo_paths.append(rma.photo_path)
        _set(changed, "return_requests", rma, "reason_text", pii.ERASED if rma.reason_text else "")
        _set(changed, "return_requests", rma, "photo_path", None)
        _set(changed, "return_requests", rma, "rejection_reason", pii.scrub_text(rma.rejection_reason, found))
    for refund in session.scalars(select(Refund).where(Refund.order_id.in_(order_ids))):
        _set(changed, "refunds", refund, "reason", pii.scrub_text(refund.reason, found))
    shipment_ids = select(Shipment.id).where(Shipment.order_id.in_(order_ids))
    for event in session.scalars(select(TrackingEvent).where(TrackingEvent.shipment_id.in_(shipment_ids))):
        _set(changed, "tracking_events", event, "description", pii.scrub_text(event.description, found))
        _set(changed, "tracking_events", event, "location", pii.scrub_text(event.location, found))
        _set(changed, "tracking_events", event, "raw", pii.scrub_json(event.raw, found, by_key=True))


def _erase_conversations(session: Session, scope: _Scope, report: ErasureReport) -> None:
    changed, found, conversation_ids = report.changed, scope.all_needles, scope.conversation_ids
    for conversation in session.scalars(select(Conversation).where(Conversation.id.in_(conversation_ids))):
        _set(changed, "conversations", conversation, "subject", pii.scrub_text(conversation.subject, found))
    customer_messages = select(Message.id).where(
        Message.conversation_id.in_(conversation_ids), Message.author_kind == "customer"
    )
    changed["message_attachments"] += _count(
        session, delete(MessageAttachment).where(MessageAttachment.message_id.in_(customer_messages))
    )
    for message in session.scalars(select(Message).where(Message.conversation_id.in_(conversation_ids))):
        body = pii.ERASED if message.author_kind == "customer" else pii.scrub_text(message.body, found)
        _set(changed, "messages", message, "body", body)
        _set(changed, "messages", message, "data", pii.scrub_json(message.data, found, by_key=True))
    for rating in session.scalars(
        select(SatisfactionRating).where(SatisfactionRating.conversation_id.in_(conversation_ids))
    ):
        _set(changed, "satisfaction_ratings", rating, "comment", None)
    changed["ticket_presence"] += _count(
        session, delete(TicketPresence).where(TicketPresence.conversation_id.in_(conversation_ids))
    )


def _erase_mail_and_payloads(session: Session, scope: _Scope, report: ErasureReport) -> None:
    """Emails to the person (queued ones are cancelled), and the raw payloads and inbound emails holding
    them: a channel's JSON keeps its shape and amounts, an inbound email from them is dropped whole."""
    changed, found = report.changed, scope.all_needles
    outbox_filter = [func.lower(OutboxMessage.recipient).in_(scope.emails)] if scope.emails else []
    for message in session.scalars(select(OutboxMessage).where(or_(false(), *outbox_filter))):
        message.recipient = pii.ERASED
        message.subject = pii.scrub_text(message.subject, found) or ""
        message.payload = pii.scrub_json(message.payload, found, by_key=True)
        if message.status == "pending":
            message.status, message.last_error = "failed", "not sent: the recipient's data was erased"
        changed["outbox_messages"] += 1
    email_patterns = [
        func.lower(InboundPayload.body).like(contains_pattern(e), escape="\\") for e in scope.emails
    ]
    payloads = session.scalars(
        select(InboundPayload).where(or_(InboundPayload.order_id.in_(scope.order_ids), *email_patterns))
    )
    for payload in payloads:
        if payload.channel_code == EMAIL_CHANNEL_CODE:
            _set(changed, "inbound_payloads", payload, "body", pii.ERASED)
            payload.headers = {}
            continue
        _set(changed, "inbound_payloads", payload, "body", pii.scrub_document(payload.body, found))
        payload.headers = pii.scrub_json(payload.headers, found)


def _sweep_columns() -> list[tuple[Any, Any, bool]]:
    """(model, column, is_json) pairs the sweep reads."""
    return [
        (Message, Message.body, False),
        (Message, Message.data, True),
        (Conversation, Conversation.subject, False),
        (OrderEvent, OrderEvent.message, False),
        (OrderEvent, OrderEvent.data, True),
        (CrmNote, CrmNote.body, False),
        (CrmNoteVersion, CrmNoteVersion.body, False),
        (OutboxMessage, OutboxMessage.recipient, False),
        (OutboxMessage, OutboxMessage.subject, False),
        (OutboxMessage, OutboxMessage.payload, True),
        (InboundPayload, InboundPayload.body, False),
        (TrackingEvent, TrackingEvent.description, False),
        (TrackingEvent, TrackingEvent.raw, True),
        (ReturnRequest, ReturnRequest.reason_text, False),
        (CustomerMerge, CustomerMerge.reason, False),
        (Order, Order.note, False),
    ]


def _sweep(session: Session, found: list[str], changed: Counter[str]) -> None:
    """Replace the person's email, phone and full name wherever they were copied without a link."""
    if not found:
        return
    session.flush()
    patterns = [contains_pattern(n.lower()) for n in found]
    for model, column, is_json in _sweep_columns():
        text = func.lower(cast(column, Text)) if is_json else func.lower(column)
        rows = session.scalars(select(model).where(or_(*[text.like(p, escape="\\") for p in patterns])))
        for row in rows:
            value = getattr(row, column.key)
            if is_json:
                new = pii.scrub_json(value, found)
            elif model is InboundPayload:
                new = pii.scrub_document(value, found)
            else:
                new = pii.scrub_text(value, found)
            _set(changed, model.__tablename__, row, column.key, new)
    changed["rate_limit_buckets"] += _count(
        session,
        delete(RateLimitBucket).where(
            or_(*[func.lower(RateLimitBucket.key).like(p, escape="\\") for p in patterns])
        ),
    )


def delete_return_photos(paths: list[str], uploads_dir: Path) -> int:
    """After the erasure is committed: remove its return photos from the uploads folder; returns how many."""
    removed = 0
    root = uploads_dir.resolve()
    for relative in paths:
        target = (root / relative).resolve()
        if target.is_relative_to(root) and target.is_file():
            target.unlink()
            removed += 1
    return removed


def erased_outcome_text(report: ErasureReport) -> str:
    """One line for the CLI and flash messages: rows changed per table."""
    parts = [f"{table} {count}" for table, count in sorted(report.changed.items()) if count]
    return ", ".join(parts) or "nothing left to change"


def is_erased(customer: Customer) -> bool:
    """Whether the customer was erased (their record holds nothing personal)."""
    return customer.name == pii.ERASED_NAME and customer.email is None and customer.phone is None
