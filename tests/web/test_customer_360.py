"""The customer 360 on its console page and beside a ticket: channel identities, one timeline of every
channel's orders with shipments, returns, refunds and emails, KPIs with exact figures, CRM notes edited with
history and pinned (audited, role-checked), and a fixed number of queries whatever the customer's history."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.audit.models import AuditEntry
from core.customers.models import CrmNote, Customer, Identity
from core.customers.queries import customer_kpis
from core.fulfillment.models import Shipment
from core.notifications.models import OutboxMessage
from core.orders.models import Order, OrderLine
from core.returns.models import Refund, ReturnRequest
from tests.factories import NOW, PASSWORD, make_channel, make_customer, make_order, make_user
from tests.helpers import csrf_token, sign_in
from tests.support_factories import make_conversation
from tests.web.test_portal_quality import QueryCounter

HX = {"HX-Request": "true"}


def signed_in(client, db: Session, role: str = "agent"):
    user = make_user(db, role)
    db.commit()
    assert sign_in(client, user.email, PASSWORD, console=role != "customer").status_code == 303
    return user


def post(client, path: str, data: dict, *, htmx: bool = False):
    token = csrf_token(client, "/console/")
    if htmx:
        return client.post(path, data=data, headers=HX | {"X-CSRFToken": token})
    return client.post(path, data=data | {"csrf_token": token})


def _email(db: Session, customer_email: str, kind: str, subject: str, **payload) -> OutboxMessage:
    row = OutboxMessage(
        kind=kind,
        dedup_key=f"{kind}:{subject}:{len(payload)}:{id(payload)}",
        recipient=customer_email,
        subject=subject,
        payload=payload,
        status="sent",
        created_at=NOW,
        sent_at=NOW,
    )
    db.add(row)
    db.flush()
    return row


@pytest.fixture
def mia(db: Session) -> Customer:
    """Mia Chen: identities on three channels; five orders (USD and EUR), one delivered with a shipment, a
    return of one unit of two and a 10.00 refund, one cancelled, one pending; two emails; a conversation."""
    mia = make_customer(db, name="Mia Chen", email="mia@example.org", phone="+15550100")
    shopify = make_channel(db, name="Shopify store", kind="shopify")
    amazon = make_channel(db, name="Amazon US", kind="amazon")
    ebay = make_channel(db, name="eBay DE", kind="ebay")
    db.add_all(
        [
            Identity(
                customer_id=mia.id,
                channel_id=shopify.id,
                name="Mia Chen",
                email="mia@example.org",
                phone="+1 555 0100",
                address={
                    "line1": "12 Orchard Lane",
                    "city": "Springfield",
                    "postal_code": "62701",
                    "country": "US",
                },
                matched_by="new",
            ),
            Identity(
                customer_id=mia.id,
                channel_id=amazon.id,
                name="M. Chen",
                email="q8x2k@marketplace.amazon.com",
                address={"line1": "12 Orchard Ln", "city": "SPRINGFIELD", "country": "US"},
                matched_by="fuzzy",
            ),
            Identity(customer_id=mia.id, channel_id=ebay.id, name="mia_c", phone="+49 30 1234567"),
        ]
    )
    delivered = make_order(
        db,
        customer_id=mia.id,
        channel_id=shopify.id,
        lines=2,
        status="partially_returned",
        total=5000,
        refunded_total=1000,
        email="Mia@Example.org",  # as the channel gave it
        placed_at=NOW - timedelta(days=30),
    )
    db.flush()
    first_line = db.scalars(select(OrderLine).where(OrderLine.order_id == delivered.id)).first()
    first_line.quantity_returned = 1
    db.add(
        Shipment(
            order_id=delivered.id,
            carrier="UPS",
            tracking_number="1Z999AA10123456784",
            tracking_url="https://track.example/1Z999AA10123456784",
            status="delivered",
            shipped_at=NOW - timedelta(days=29),
            delivered_at=NOW - timedelta(days=27),
        )
    )
    rma = ReturnRequest(
        rma_number="RMA-7001",
        order_id=delivered.id,
        customer_id=mia.id,
        status="refunded",
        reason="too_small",
    )
    db.add(rma)
    db.flush()
    db.add(
        Refund(order_id=delivered.id, return_id=rma.id, amount=1000, currency="USD", reason="Return RMA-7001")
    )
    make_order(
        db,
        customer_id=mia.id,
        channel_id=amazon.id,
        status="confirmed",
        total=3000,
        placed_at=NOW - timedelta(days=20),
    )
    make_order(
        db,
        customer_id=mia.id,
        channel_id=ebay.id,
        status="shipped",
        total=2000,
        currency="EUR",
        placed_at=NOW - timedelta(days=10),
    )
    make_order(
        db,
        customer_id=mia.id,
        channel_id=shopify.id,
        status="cancelled",
        total=4000,
        placed_at=NOW - timedelta(days=5),
    )
    make_order(
        db,
        customer_id=mia.id,
        channel_id=shopify.id,
        status="pending",
        total=1500,
        placed_at=NOW - timedelta(days=1),
    )
    _email(db, "mia@example.org", "shipped", "Your order has shipped", order_id=delivered.id)
    _email(db, "Mia@Example.org", "conversation_reply", "Re: sizes", conversation_id=1)
    make_conversation(db, customer_id=mia.id, subject="Do you have it in medium?", status="solved")
    db.commit()
    return mia


def test_customer_kpis_count_every_order_and_net_refunds_per_currency(db, mia) -> None:
    kpis = customer_kpis(db, mia.id)
    # USD: 50.00 - 10.00 refunded + 30.00 (cancelled and pending not paid); EUR: 20.00.
    assert kpis.order_count == 5
    assert kpis.lifetime_value == [("EUR", 2000), ("USD", 7000)]
    # Units of orders not cancelled: 2 + 1 + 1 + 1; one unit back, on one order.
    assert (kpis.units_ordered, kpis.units_returned, kpis.orders_returned) == (5, 1, 1)
    assert kpis.return_rate == pytest.approx(0.2)


def test_customer_page_shows_identities_timeline_and_kpis(client, db, mia) -> None:
    signed_in(client, db)
    html = client.get(f"/console/customers/{mia.id}").get_data(as_text=True)
    assert 'data-kpi="orders">5<' in html
    assert "20.00 EUR" in html and "70.00 USD" in html
    assert 'data-kpi="return-rate">20.0%<' in html and "1 of 5 units back, 1 order" in html
    for text in (
        "Shopify store",
        "Amazon US",
        "eBay DE",
        "M. Chen",
        "q8x2k@marketplace.amazon.com",
        "+49 30 1234567",
        "12 Orchard Lane, Springfield, 62701, US",
        "12 Orchard Ln, SPRINGFIELD, US",
    ):
        assert text in html
    assert html.count('class="c360-order"') == 5
    assert "1Z999AA10123456784" in html and "https://track.example/1Z999AA10123456784" in html
    assert "Return RMA-7001 · refunded" in html and "Refund 10.00 USD" in html
    assert "Email “Your order has shipped” · sent" in html
    assert "“Re: sizes”" in html  # about no order, to the address as an order gave it
    assert "Do you have it in medium?" in html
    # Newest order first: the pending one (a day old) before the delivered one (a month old).
    numbers = re.findall(r'id="c360-order-(\d+)"', html)
    placed = {o.id: o.placed_at for o in db.scalars(select(Order).where(Order.customer_id == mia.id))}
    assert [int(n) for n in numbers] == sorted(placed, key=placed.get, reverse=True)


def test_ticket_shows_the_same_customer_360(client, db, mia) -> None:
    db.add(CrmNote(customer_id=mia.id, body="Prefers email, never phone", pinned=True, created_at=NOW))
    ticket = make_conversation(db, customer_id=mia.id, subject="Where is my parcel?")
    db.commit()
    signed_in(client, db)
    html = client.get(f"/console/tickets/{ticket.id}").get_data(as_text=True)
    assert 'data-kpi="orders">5<' in html and "70.00 USD" in html and "Prefers email, never phone" in html
    assert "Amazon US" in html and "1Z999AA10123456784" in html and "Do you have it in medium?" in html


def test_note_edit_keeps_history_and_is_audited(client, db, mia) -> None:
    agent = signed_in(client, db)
    assert post(client, f"/console/customers/{mia.id}/notes", {"body": "Size M fits"}).status_code == 303
    note = db.scalars(select(CrmNote).where(CrmNote.customer_id == mia.id)).one()
    assert note.author_label == agent.email
    response = post(
        client, f"/console/customers/{mia.id}/notes/{note.id}", {"body": "Size S fits"}, htmx=True
    )
    assert response.status_code == 200 and 'id="notes"' in response.get_data(as_text=True)
    post(client, f"/console/customers/{mia.id}/notes/{note.id}", {"body": "Size S fits, tall"})
    html = client.get(f"/console/customers/{mia.id}").get_data(as_text=True)
    assert "Size S fits, tall" in html and "edited" in html and "History (2 earlier versions)" in html
    history = html[html.index("History (2") :]
    assert history.index("Size S fits<") < history.index("Size M fits<")  # newest earlier version first
    audits = db.scalars(
        select(AuditEntry).where(AuditEntry.action == "crm_note.edited").order_by(AuditEntry.id)
    ).all()
    assert [(a.before["body"], a.after["body"], a.actor_label) for a in audits] == [
        ("Size M fits", "Size S fits", agent.email),
        ("Size S fits", "Size S fits, tall", agent.email),
    ]


def test_agent_cannot_edit_another_agents_note_but_a_manager_can(client, db, mia) -> None:
    author = make_user(db, "agent")
    note = CrmNote(
        customer_id=mia.id, author_id=author.id, author_label=author.email, body="VIP", created_at=NOW
    )
    db.add(note)
    db.commit()
    signed_in(client, db, "agent")
    html = client.get(f"/console/customers/{mia.id}").get_data(as_text=True)
    assert (
        f"/notes/{note.id}/pin" in html
        and f'action="/console/customers/{mia.id}/notes/{note.id}"' not in html
    )
    assert (
        post(client, f"/console/customers/{mia.id}/notes/{note.id}", {"body": "not VIP"}).status_code == 403
    )
    manager = client.application.test_client()
    signed_in(manager, db, "manager")
    assert post(manager, f"/console/customers/{mia.id}/notes/{note.id}", {"body": "VVIP"}).status_code == 303
    db.refresh(note)
    assert note.body == "VVIP" and [v.body for v in note.versions] == ["VIP"]


def test_pinned_note_comes_first_and_pins_are_audited(client, db, mia) -> None:
    older = CrmNote(customer_id=mia.id, body="Older note", created_at=NOW - timedelta(days=3))
    newer = CrmNote(customer_id=mia.id, body="Newer note", created_at=NOW)
    db.add_all([older, newer])
    db.commit()
    signed_in(client, db)
    html = client.get(f"/console/customers/{mia.id}").get_data(as_text=True)
    assert html.index("Newer note") < html.index("Older note")
    response = post(client, f"/console/customers/{mia.id}/notes/{older.id}/pin", {"pinned": "1"}, htmx=True)
    fragment = response.get_data(as_text=True)
    assert fragment.index("Older note") < fragment.index("Newer note") and "Pinned" in fragment
    post(client, f"/console/customers/{mia.id}/notes/{older.id}/pin", {"pinned": "0"})
    html = client.get(f"/console/customers/{mia.id}").get_data(as_text=True)
    assert html.index("Newer note") < html.index("Older note")
    actions = db.scalars(
        select(AuditEntry.action).where(AuditEntry.entity_type == "customer").order_by(AuditEntry.id)
    ).all()
    assert actions == ["crm_note.pinned", "crm_note.unpinned"]


def test_note_of_another_customer_is_not_found(client, db, mia) -> None:
    other = make_customer(db)
    note = CrmNote(customer_id=other.id, body="Theirs", created_at=NOW)
    db.add(note)
    db.commit()
    signed_in(client, db, "manager")
    assert post(client, f"/console/customers/{mia.id}/notes/{note.id}", {"body": "x"}).status_code == 404
    assert (
        post(client, f"/console/customers/{mia.id}/notes/{note.id}/pin", {"pinned": "1"}).status_code == 404
    )


def test_customer_page_needs_staff(client, db, mia) -> None:
    assert client.get(f"/console/customers/{mia.id}").status_code in (302, 303)
    signed_in(client, db, "customer")
    assert client.get(f"/console/customers/{mia.id}").status_code in (302, 303, 403)
    staff = client.application.test_client()
    signed_in(staff, db)
    assert staff.get("/console/customers/999999").status_code == 404


def _history(db: Session, customer: Customer, n: int) -> None:
    """`n` more orders across three channels, each with a shipment, a return, a refund and an email."""
    channels = [make_channel(db, name=f"Channel {k}") for k in range(3)]
    for i in range(n):
        order = make_order(
            db,
            customer_id=customer.id,
            channel_id=channels[i % 3].id,
            status="delivered",
            total=2500,
            refunded_total=500,
            email=customer.email,
            placed_at=NOW - timedelta(hours=i + 1),
        )
        db.add(
            Shipment(
                order_id=order.id, carrier="DHL", tracking_number=f"JD{order.id:08d}", status="delivered"
            )
        )
        rma = ReturnRequest(
            rma_number=f"RMA-X{order.id}", order_id=order.id, customer_id=customer.id, reason="too_small"
        )
        db.add(rma)
        db.flush()
        db.add(Refund(order_id=order.id, return_id=rma.id, amount=500, currency="USD"))
        _email(db, customer.email, "delivered", f"Delivered {order.id}", order_id=order.id)
    db.commit()


def test_customer_360_takes_a_fixed_number_of_queries(client, db, engine) -> None:
    small, large = make_customer(db, email="small@example.org"), make_customer(db, email="large@example.org")
    for customer in (small, large):
        db.add(CrmNote(customer_id=customer.id, body="A note", created_at=NOW))
    _history(db, small, 2)
    _history(db, large, 60)
    small_ticket = make_conversation(db, customer_id=small.id)
    large_ticket = make_conversation(db, customer_id=large.id)
    db.commit()
    signed_in(client, db)
    with QueryCounter(engine) as few:
        assert client.get(f"/console/customers/{small.id}").status_code == 200
    with QueryCounter(engine) as many:
        html = client.get(f"/console/customers/{large.id}").get_data(as_text=True)
    assert many.count == few.count
    with QueryCounter(engine) as few_ticket:
        assert client.get(f"/console/tickets/{small_ticket.id}").status_code == 200
    with QueryCounter(engine) as many_ticket:
        assert client.get(f"/console/tickets/{large_ticket.id}").status_code == 200
    assert many_ticket.count == few_ticket.count
    # The timeline stops at the latest 50 while the figures cover all 60 orders.
    assert html.count('class="c360-order"') == 50 and 'data-kpi="orders">60<' in html
    assert "1200.00 USD" in html and "50 of 60 shown" in html and "orders=100" in html


def test_show_more_adds_older_orders(client, db) -> None:
    customer = make_customer(db, email="many@example.org")
    _history(db, customer, 55)
    signed_in(client, db)
    html = client.get(f"/console/customers/{customer.id}?orders=100").get_data(as_text=True)
    assert html.count('class="c360-order"') == 55 and "Show more orders" not in html


def test_empty_edit_is_refused_and_keeps_the_note(client, db, mia) -> None:
    agent = signed_in(client, db)
    note = CrmNote(customer_id=mia.id, author_id=agent.id, body="Keep me", created_at=NOW)
    db.add(note)
    db.commit()
    response = post(client, f"/console/customers/{mia.id}/notes/{note.id}", {"body": "  "}, htmx=True)
    assert response.status_code == 422 and "the note is empty" in response.get_data(as_text=True)
    db.refresh(note)
    assert note.body == "Keep me" and note.versions == []
