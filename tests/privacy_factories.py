"""A customer with personal data in every place it can be, and helpers to look for it in every table."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import Text, cast, func, select
from sqlalchemy.orm import Session

import core.models  # noqa: F401  (every table in the metadata)
from core.audit.services import record_audit
from core.customers.models import CrmNote, Customer, CustomerMatchSuggestion, Identity, IdentityMatchKey
from core.db import Base
from core.fulfillment.models import Shipment, TrackingEvent
from core.notifications.models import OutboxMessage
from core.orders.models import InboundPayload, Order, OrderEvent
from core.returns.models import Refund, ReturnRequest
from core.security.models import RateLimitBucket, User
from core.security.roles import Actor
from core.support.models import Conversation, Message, MessageAttachment, SatisfactionRating
from tests.factories import NOW, make_channel, make_customer, make_order, make_user
from tests.support_factories import make_email

NAME = "Margarethe Oyelaran-Quist"
EMAIL = "m.oyelaran.quist@example.net"
PHONE = "+447700900123"
STREET = "17 Larkspur Crescent"
POSTCODE = "LS6 2QT"
ADDRESS = {
    "name": NAME,
    "line1": STREET,
    "line2": "Flat 3",
    "city": "Leeds",
    "region": "West Yorkshire",
    "postal_code": POSTCODE,
    "country": "GB",
    "phone": PHONE,
}
NEEDLES = (NAME, EMAIL, PHONE, STREET, POSTCODE, "7700900123")


@dataclass
class Person:
    customer: Customer
    user: User
    orders: list[Order]
    other_customer: Customer
    other_order: Order


def make_person(session: Session) -> Person:
    """The customer NAME <EMAIL>, PHONE, with a sign-in, two orders (one with a shipment, return and
    refund), a ticket, emails, raw payloads, a CRM note, audit entries; and another customer beside them."""
    channel = make_channel(session, kind="shopify", code="shopify-privacy")
    customer = make_customer(session, name=NAME, email=EMAIL, phone=PHONE)
    merged = make_customer(session, name="M. Oyelaran", email="old.mail@example.net")
    merged.merged_into_id = customer.id
    user = make_user(session, "customer", customer_id=customer.id, email=EMAIL, name=NAME)
    identity = Identity(
        customer_id=customer.id,
        channel_id=channel.id,
        external_id="7011122233",
        name=NAME,
        email=EMAIL,
        phone=PHONE,
        address=ADDRESS,
    )
    session.add(identity)
    session.flush()
    session.add(IdentityMatchKey(identity_id=identity.id, key="name:oyelaranquist"))
    other = make_customer(session, name="Bartholomew Quince", email="bq@example.com", phone="+15550001111")
    session.add(CustomerMatchSuggestion(customer_id=customer.id, other_customer_id=other.id, score=0.7))
    orders = []
    for n, total in enumerate((2599, 4100)):
        order = make_order(
            session,
            channel_id=channel.id,
            customer_id=customer.id if n == 0 else merged.id,
            identity_id=identity.id,
            email=EMAIL,
            phone=PHONE,
            buyer_name=NAME,
            shipping_address=ADDRESS,
            billing_address=ADDRESS,
            note=f"Please ring {PHONE} before delivery",
            subtotal=total - 300,
            tax_total=300,
            total=total,
            status="delivered",
        )
        orders.append(order)
    first = orders[0]
    session.add(
        OrderEvent(
            order_id=first.id,
            kind="address_changed",
            message=f"Shipping address changed to {STREET}",
            data={"before": {"line1": "1 Old Road"}, "after": ADDRESS},
        )
    )
    shipment = Shipment(
        order_id=first.id, carrier="DPD", tracking_number="15501234567890", status="delivered"
    )
    session.add(shipment)
    session.flush()
    session.add(
        TrackingEvent(
            shipment_id=shipment.id,
            status="delivered",
            description=f"Delivered, signed for by {NAME}",
            location="Leeds",
            occurred_at=NOW,
            dedup_key=f"dpd:{shipment.id}:1",
            raw={"recipient": {"name": NAME, "zip": POSTCODE}},
        )
    )
    rma = ReturnRequest(
        rma_number="RMA-PRIV-1",
        order_id=first.id,
        customer_id=customer.id,
        status="refunded",
        reason="damaged",
        reason_text=f"Arrived broken, call me on {PHONE}",
        photo_path="returns/abc.jpg",
    )
    session.add(rma)
    session.add(Refund(order_id=first.id, amount=1000, currency="USD", reason="damaged in transit"))
    first.refunded_total = 1000
    conversation = Conversation(
        customer_id=customer.id, order_id=first.id, subject=f"Parcel for {NAME}", source="email"
    )
    session.add(conversation)
    session.flush()
    customer_message = Message(
        conversation_id=conversation.id,
        author_kind="customer",
        body=f"Hi, this is {NAME}, my number is {PHONE}. Where is my parcel?",
        data={"email": {"from": EMAIL, "subject": "Where is my parcel"}},
    )
    session.add(customer_message)
    session.flush()
    session.add(
        MessageAttachment(
            message_id=customer_message.id,
            filename="id.png",
            content_type="image/png",
            size=3,
            content=b"png",
        )
    )
    session.add_all(
        [
            Message(
                conversation_id=conversation.id, author_kind="agent", body=f"Hello {NAME}, it is on its way."
            ),
            Message(
                conversation_id=conversation.id,
                author_kind="agent",
                body="Internal: VIP, check the address twice",
                internal=True,
            ),
        ]
    )
    session.add(
        SatisfactionRating(
            conversation_id=conversation.id,
            customer_id=customer.id,
            score=5,
            comment=f"Thanks! {NAME}",
            asked_at=NOW,
            rated_at=NOW,
        )
    )
    # Someone else's ticket that quotes the person's email.
    other_ticket = Conversation(customer_id=other.id, subject="Gift order", source="portal")
    session.add(other_ticket)
    session.flush()
    session.add(
        Message(
            conversation_id=other_ticket.id,
            author_kind="customer",
            body=f"I bought a gift for {EMAIL}; is it shipped?",
        )
    )
    session.add(CrmNote(customer_id=customer.id, body=f"{NAME} prefers phone calls on {PHONE}"))
    session.add(
        OutboxMessage(
            kind="order_shipped",
            dedup_key=f"order_shipped:{first.id}",
            recipient=EMAIL,
            subject=f"{NAME}, your order {first.number} is on its way",
            payload={"order_id": first.id, "name": NAME, "address": ADDRESS},
            status="sent",
        )
    )
    session.add(
        OutboxMessage(
            kind="delivery_delayed",
            dedup_key=f"delivery_delayed:{first.id}",
            recipient=EMAIL,
            subject="Your parcel is late",
            payload={"order_id": first.id},
            status="pending",
        )
    )
    native = {
        "id": 5001,
        "email": EMAIL,
        "phone": PHONE,
        "total_price": "25.99",
        "customer": {"id": 7011122233, "first_name": "Margarethe", "last_name": "Oyelaran-Quist"},
        "shipping_address": {"address1": STREET, "zip": POSTCODE, "country_code": "GB", "name": NAME},
    }
    session.add(
        InboundPayload(
            channel_id=channel.id,
            channel_code=channel.code,
            source="webhook",
            body=json.dumps(native),
            sha256="0" * 64,
            status="processed",
            order_id=first.id,
        )
    )
    session.add(
        InboundPayload(
            channel_code="email",
            source="inbound",
            topic="inbound_email",
            body=make_email(sender=f"{NAME} <{EMAIL}>", body=f"Call me on {PHONE}").decode(),
            sha256="1" * 64,
            status="processed",
        )
    )
    session.add(RateLimitBucket(key=f"guest-lookup:email:{EMAIL}", window_start=NOW, count=1))
    staff = make_user(session, "agent")
    record_audit(  # through the chain, as every entry is written
        session,
        Actor(label=staff.email, user_id=staff.id, role=staff.role),
        "customer.rectified",
        "customer",
        customer.id,
        now=NOW - timedelta(days=1),
        before={"name": "Margarethe Oyelaran", "email": "previous@example.net"},
        after={"name": NAME, "email": EMAIL},
    )
    other_order = make_order(
        session,
        channel_id=channel.id,
        customer_id=other.id,
        email="bq@example.com",
        buyer_name="Bartholomew Quince",
        total=999,
        subtotal=999,
    )
    session.flush()
    return Person(customer, user, orders, other, other_order)


# The audit log is append-only and hash-chained: erasure adds to it and leaves its entries as they were.
KEPT_TABLES = frozenset({"audit_entries"})


def text_columns() -> list[tuple[str, str]]:
    """Every (table, column) whose type holds text or JSON, but the audit log's."""
    found = []
    for table in Base.metadata.sorted_tables:
        if table.name in KEPT_TABLES:
            continue
        for column in table.columns:
            if str(column.type).split("(")[0] in ("VARCHAR", "TEXT", "JSON", "STRING"):
                found.append((table.name, column.name))
    return found


def places_holding(session: Session, needles: tuple[str, ...]) -> list[str]:
    """ "table.column #id: needle" for every row of every table whose text or JSON holds a needle
    (case-insensitive)."""
    session.flush()
    hits = []
    for table_name, column_name in text_columns():
        table = Base.metadata.tables[table_name]
        column = table.c[column_name]
        text = func.lower(cast(column, Text))
        for needle in needles:
            rows = session.execute(
                select(*table.primary_key.columns).where(text.contains(needle.lower(), autoescape=True))
            ).all()
            hits += [f"{table_name}.{column_name} {tuple(r)}: {needle}" for r in rows]
    return hits
