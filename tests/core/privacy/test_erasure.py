"""Erasure takes the person out of every table and keeps the financial records."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.audit.models import AuditEntry
from core.customers.models import Customer, Identity
from core.notifications.models import OutboxMessage
from core.orders.models import InboundPayload, Order, OrderLine
from core.privacy.erasure import delete_return_photos, erase_customer, is_erased
from core.privacy.models import PrivacyRequest
from core.returns.models import Refund
from core.security.roles import Actor
from core.security.services import authenticate
from core.support.models import Message
from tests.factories import NOW, PASSWORD
from tests.privacy_factories import EMAIL, NEEDLES, make_person, places_holding

STAFF = Actor(label="manager@example.com", role="manager")


def _financials(session: Session) -> list[tuple]:
    return list(
        session.execute(
            select(
                Order.id,
                Order.number,
                Order.placed_at,
                Order.currency,
                Order.subtotal,
                Order.tax_total,
                Order.total,
                Order.refunded_total,
                Order.customer_id,
                Order.status,
            ).order_by(Order.id)
        )
    )


def test_erase_customer_leaves_no_personal_data_in_any_table(db: Session) -> None:
    person = make_person(db)
    assert places_holding(db, NEEDLES), "the fixture holds the person's data somewhere to erase"

    erase_customer(db, person.customer.id, actor=STAFF, now=NOW)

    assert places_holding(db, NEEDLES) == []


def test_erase_customer_keeps_orders_lines_amounts_and_country(db: Session) -> None:
    person = make_person(db)
    financials = _financials(db)
    lines = db.execute(select(func.count(), func.sum(OrderLine.total))).one()
    refunds = db.execute(select(func.sum(Refund.amount))).scalar()

    erase_customer(db, person.customer.id, actor=STAFF, now=NOW)

    assert _financials(db) == financials
    assert db.execute(select(func.count(), func.sum(OrderLine.total))).one() == lines
    assert db.execute(select(func.sum(Refund.amount))).scalar() == refunds
    order = db.get(Order, person.orders[0].id)
    assert order.shipping_address == {"country": "GB"}
    assert order.billing_address == {"country": "GB"}
    assert order.buyer_name == "" and order.email is None and order.phone is None


def test_erase_customer_leaves_other_customers_alone(db: Session) -> None:
    person = make_person(db)
    erase_customer(db, person.customer.id, actor=STAFF, now=NOW)
    other = db.get(Customer, person.other_customer.id)
    assert (other.name, other.email) == ("Bartholomew Quince", "bq@example.com")
    assert db.get(Order, person.other_order.id).buyer_name == "Bartholomew Quince"
    gift = db.scalar(select(Message).where(Message.body.like("I bought a gift for%")))
    assert gift.body == "I bought a gift for [erased]; is it shipped?"


def test_erased_customer_cannot_sign_in(db: Session) -> None:
    person = make_person(db)
    assert authenticate(db, EMAIL, PASSWORD) is not None
    version = person.user.session_version
    erase_customer(db, person.customer.id, actor=STAFF, now=NOW)
    assert authenticate(db, EMAIL, PASSWORD) is None
    assert person.user.active is False and person.user.session_version == version + 1


def test_erase_customer_erases_those_merged_into_them(db: Session) -> None:
    person = make_person(db)
    report = erase_customer(db, person.customer.id, actor=STAFF, now=NOW)
    assert len(report.customer_ids) == 2
    merged = db.scalars(select(Customer).where(Customer.id.in_(report.customer_ids))).all()
    assert all(is_erased(c) for c in merged)
    assert db.scalars(
        select(Identity.external_id).where(Identity.customer_id == person.customer.id)
    ).all() == [None]


def test_erase_customer_cancels_queued_mail_and_keeps_internal_notes_out(db: Session) -> None:
    person = make_person(db)
    erase_customer(db, person.customer.id, actor=STAFF, now=NOW)
    statuses = db.scalars(select(OutboxMessage.status).order_by(OutboxMessage.id)).all()
    assert statuses == ["sent", "failed"]
    customer_bodies = db.scalars(select(Message.body).where(Message.author_kind == "customer")).all()
    assert "[erased]" in customer_bodies


def test_erase_customer_twice_changes_nothing_more_and_is_audited_with_counts_only(db: Session) -> None:
    person = make_person(db)
    first = erase_customer(db, person.customer.id, actor=STAFF, now=NOW)
    assert first.changed["orders"] == 2 and first.changed["customers"] == 2
    second = erase_customer(db, person.customer.id, actor=STAFF, now=NOW)
    assert sum(second.changed.values()) == 0
    entries = db.scalars(
        select(AuditEntry).where(AuditEntry.action == "customer.erased").order_by(AuditEntry.id)
    ).all()
    assert [e.actor_label for e in entries] == [STAFF.label, STAFF.label]
    assert entries[0].after["changed"]["orders"] == 2
    assert places_holding(db, NEEDLES) == []


def test_erase_customer_completes_their_open_erasure_request(db: Session) -> None:
    person = make_person(db)
    request = PrivacyRequest(
        kind="erasure", source="portal", customer_id=person.customer.id, requested_at=NOW
    )
    db.add(request)
    db.flush()
    erase_customer(db, person.customer.id, actor=STAFF, now=NOW)
    assert (request.status, request.completed_by) == ("done", STAFF.label)


def test_erase_customer_keeps_the_stored_payload_readable_with_its_amounts(db: Session) -> None:
    person = make_person(db)
    erase_customer(db, person.customer.id, actor=STAFF, now=NOW)
    payload = db.scalar(select(InboundPayload).where(InboundPayload.order_id == person.orders[0].id))
    document = json.loads(payload.body)
    assert document["total_price"] == "25.99" and document["shipping_address"]["country_code"] == "GB"
    assert document["email"] == "[erased]" and document["customer"]["id"] == 7011122233
    inbound_email = db.scalar(select(InboundPayload).where(InboundPayload.channel_code == "email"))
    assert inbound_email.body == "[erased]"


def test_delete_return_photos_removes_only_files_inside_the_uploads_folder(tmp_path: Path) -> None:
    uploads = tmp_path / "uploads"
    (uploads / "returns").mkdir(parents=True)
    (uploads / "returns" / "abc.jpg").write_bytes(b"jpg")
    outside = tmp_path / "keep.txt"
    outside.write_text("x")
    removed = delete_return_photos(["returns/abc.jpg", "../keep.txt", "returns/missing.jpg"], uploads)
    assert removed == 1
    assert not (uploads / "returns" / "abc.jpg").exists() and outside.exists()


def test_erase_customer_lists_the_return_photo_to_delete_after_commit(db: Session) -> None:
    person = make_person(db)
    report = erase_customer(db, person.customer.id, actor=STAFF, now=NOW)
    assert report.photo_paths == ["returns/abc.jpg"]
