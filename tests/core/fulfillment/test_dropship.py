"""Drop-ship against a real database: purchase orders emailed with a signed link, the supplier's confirmation
through it (once, even clicked twice at once), and their audit entries."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from core.errors import DomainError
from core.fulfillment.dropship import (
    DROPSHIP_LINK_MAX_AGE,
    InvalidLink,
    confirm_dropship_shipment,
    make_dropship_token,
    read_dropship_token,
    send_purchase_order,
)
from core.fulfillment.models import Shipment
from core.inventory.models import StockMovement
from core.inventory.queries import verify_ledger
from core.notifications.models import OutboxMessage
from core.security.roles import Actor
from tests.factories import NOW, make_channel, make_sku
from tests.fulfillment_factories import (
    audit_trail,
    committed_database,
    make_confirmed_order,
    run_at_once,
    timeline,
)
from tests.inventory_factories import level, link, make_location, make_stock

SECRET = "test-secret"
BUYER = Actor(label="buyer@example.org", user_id=None, role="manager")
BASE_URL = "https://shop.example/dropship/confirm"


@pytest.fixture(scope="module")
def committed_factory(tmp_path_factory):
    with committed_database(tmp_path_factory) as factory:
        yield factory


@pytest.fixture
def shop(db):
    """A web shop served by two warehouses."""
    channel = make_channel(db, name="Web shop")
    east = make_location(db, name="Warehouse East", code="WH-EAST-F", priority=10)
    west = make_location(db, name="Warehouse West", code="WH-WEST-F", priority=20)
    link(db, channel, east, west)
    return channel, east, west


@pytest.fixture
def dropship(db, shop):
    """An order for a drop-shipped teapot: reserved at the supplier, who has an email address."""
    channel, _east, _west = shop
    supplier = make_location(
        db,
        name="Tea Co",
        code="DS-TEA",
        kind="dropship",
        fulfillment_method="dropship",
        email="po@teaco.example",
    )
    teapot = make_sku(db, code="TEAPOT-1", title="Teapot", dropship_location_id=supplier.id)
    make_stock(db, supplier, teapot.id, 50)
    order = make_confirmed_order(db, channel, [(teapot.id, 2)], phone="+1 555 0100")
    return order, supplier, teapot


def test_send_purchase_order_queues_one_email_with_a_signed_link(db, dropship):
    order, supplier, _teapot = dropship
    message = send_purchase_order(
        db, order.id, supplier.id, secret=SECRET, base_url=BASE_URL, actor=BUYER, now=NOW
    )
    assert (message.kind, message.transport, message.dedup_key, message.recipient, message.status) == (
        "dropship_po",
        "email",
        f"po:{order.id}:{supplier.id}",
        "po@teaco.example",
        "pending",
    )
    payload = message.payload
    assert payload["order_number"] == order.number
    assert payload["lines"] == [{"sku": "TEAPOT-1", "title": "Item 1", "quantity": 2}]
    assert payload["ship_to"] | {} == {
        "name": "Ada Lovelace",
        "company": "",
        "line1": "12 Analytical Row",
        "line2": "",
        "city": "Springfield",
        "region": "IL",
        "postal_code": "62701",
        "country": "US",
        "phone": "+1 555 0100",
    }
    assert payload["confirm_url"].startswith(BASE_URL + "/")
    token = payload["confirm_url"].rsplit("/", 1)[1]
    assert read_dropship_token(SECRET, token, now=NOW) == (order.id, supplier.id)
    assert (
        send_purchase_order(db, order.id, supplier.id, secret=SECRET, base_url=BASE_URL, actor=BUYER, now=NOW)
        is message
    )
    assert (
        db.scalar(select(func.count()).select_from(OutboxMessage).where(OutboxMessage.kind == "dropship_po"))
        == 1
    )
    assert "purchase_order_sent" in [e.kind for e in timeline(db, order)]


def test_send_purchase_order_only_to_dropship_suppliers_with_email(db, shop, dropship):
    order, supplier, _teapot = dropship
    _channel, east, _west = shop
    with pytest.raises(DomainError, match="not a drop-ship supplier"):
        send_purchase_order(db, order.id, east.id, secret=SECRET, base_url=BASE_URL, actor=BUYER, now=NOW)
    supplier.email = None
    with pytest.raises(DomainError, match="no email address"):
        send_purchase_order(db, order.id, supplier.id, secret=SECRET, base_url=BASE_URL, actor=BUYER, now=NOW)


def test_confirm_dropship_shipment_ships_once(db, dropship):
    order, supplier, teapot = dropship
    token = make_dropship_token(SECRET, order.id, supplier.id, now=NOW)
    later = NOW + timedelta(days=2)
    parcel = confirm_dropship_shipment(
        db, token, secret=SECRET, carrier="fedex", tracking_number="7946 9855 8011", now=later
    )
    assert (parcel.status, parcel.carrier, parcel.tracking_number, parcel.location_id) == (
        "in_transit",
        "FedEx",
        "794698558011",
        supplier.id,
    )
    assert order.status == "shipped"
    assert level(db, supplier.id, teapot.id) == (48, 0)
    again = confirm_dropship_shipment(
        db,
        token,
        secret=SECRET,
        carrier="UPS",
        tracking_number="1ZOTHER0000001",
        now=later + timedelta(hours=1),
    )
    assert again is parcel and parcel.carrier == "FedEx"
    assert db.scalar(select(func.count()).select_from(Shipment).where(Shipment.order_id == order.id)) == 1
    assert level(db, supplier.id, teapot.id) == (48, 0)
    assert verify_ledger(db) == []
    [shipped] = [e for e in timeline(db, order) if e.kind == "shipped"]
    assert shipped.actor == "supplier:DS-TEA"


def test_send_purchase_order_records_who_sent_it_once(db, dropship):
    order, supplier, _teapot = dropship

    message = send_purchase_order(
        db, order.id, supplier.id, secret=SECRET, base_url=BASE_URL, actor=BUYER, now=NOW
    )
    send_purchase_order(db, order.id, supplier.id, secret=SECRET, base_url=BASE_URL, actor=BUYER, now=NOW)

    assert audit_trail(db, order) == [
        (
            "buyer@example.org",
            "order.purchase_order_sent",
            None,
            {"location_id": supplier.id, "recipient": "po@teaco.example", "outbox_id": message.id},
        )
    ]
    [sent] = [e for e in timeline(db, order) if e.kind == "purchase_order_sent"]
    assert sent.actor == "buyer@example.org"


def test_confirm_dropship_shipment_is_audited_as_the_supplier(db, dropship):
    order, supplier, _teapot = dropship
    token = make_dropship_token(SECRET, order.id, supplier.id, now=NOW)

    parcel = confirm_dropship_shipment(
        db, token, secret=SECRET, carrier="UPS", tracking_number="1ZSUPPLIER000001", now=NOW
    )
    confirm_dropship_shipment(
        db, token, secret=SECRET, carrier="UPS", tracking_number="1ZSUPPLIER000001", now=NOW
    )

    assert audit_trail(db, order) == [
        (
            "supplier:DS-TEA",
            "order.shipped",
            {"status": "confirmed"},
            {
                "status": "shipped",
                "location_id": supplier.id,
                "source": "dropship_confirmation",
                "shipments": [{"id": parcel.id, "carrier": "UPS", "tracking_number": "1ZSUPPLIER000001"}],
            },
        )
    ]


def test_confirm_dropship_shipment_rejects_tampered_foreign_and_expired_links(db, dropship):
    order, supplier, _teapot = dropship
    token = make_dropship_token(SECRET, order.id, supplier.id, now=NOW)
    forged = make_dropship_token("another-secret", order.id, supplier.id, now=NOW)
    tampered = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    for bad in (tampered, forged, "not-a-token"):
        with pytest.raises(InvalidLink, match="not valid"):
            confirm_dropship_shipment(
                db, bad, secret=SECRET, carrier="UPS", tracking_number="1Z999AA10123456784", now=NOW
            )
    expired_at = NOW + DROPSHIP_LINK_MAX_AGE + timedelta(seconds=1)
    with pytest.raises(InvalidLink, match="expired"):
        confirm_dropship_shipment(
            db, token, secret=SECRET, carrier="UPS", tracking_number="1Z999AA10123456784", now=expired_at
        )
    assert order.status == "confirmed"
    assert read_dropship_token(SECRET, token, now=NOW + DROPSHIP_LINK_MAX_AGE) == (order.id, supplier.id)


def test_confirm_dropship_shipment_clicked_twice_at_once_ships_once(committed_factory):
    with committed_factory() as session:
        channel = make_channel(session)
        supplier = make_location(
            session, kind="dropship", fulfillment_method="dropship", email="po@x.example"
        )
        link(session, channel, supplier)
        kettle = make_sku(session, dropship_location_id=supplier.id)
        make_stock(session, supplier, kettle.id, 5)
        order = make_confirmed_order(session, channel, [(kettle.id, 1)])
        session.commit()
        order_id, supplier_id, kettle_id = order.id, supplier.id, kettle.id
    token = make_dropship_token(SECRET, order_id, supplier_id, now=NOW)

    def confirm(session):
        return confirm_dropship_shipment(
            session, token, secret=SECRET, carrier="UPS", tracking_number="1ZCLICKTWICE0001", now=NOW
        ).id

    shipment_ids = run_at_once(committed_factory, confirm, 4)

    assert len(set(shipment_ids)) == 1
    with committed_factory() as session:
        assert level(session, supplier_id, kettle_id) == (4, 0)
        assert (
            session.scalar(
                select(func.count())
                .select_from(StockMovement)
                .where(StockMovement.order_id == order_id, StockMovement.kind == "shipment")
            )
            == 1
        )
        assert verify_ledger(session) == []
