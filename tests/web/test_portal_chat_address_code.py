"""Portal chat over HTTP: a new delivery address made only after the customer's yes (the order page shows it),
refused once shipped; a guest asking for a code in the chat gets it by real SMTP, types it, and sees the
order (in the chat and on its page); the same code a second time, or on /track-code, is refused."""

from __future__ import annotations

import html as html_module
import re
from collections.abc import Iterator

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.db import utcnow
from core.notifications.smtp import SmtpSettings, dispatch_email_outbox
from core.orders.models import OrderEvent
from tests.factories import PASSWORD, make_order, make_user
from tests.helpers import csrf_token, sign_in
from tests.worker.smtp_server import SmtpServer, running_smtp_server

HX = {"HX-Request": "true"}
ADDRESS = {
    "name": "Jane Doe",
    "line1": "1 Old Road",
    "city": "York",
    "postal_code": "YO1 7HH",
    "country": "GB",
}
CODE_IN_EMAIL = re.compile(r"Your code is:\s+(\d{6})")


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    with running_smtp_server() as server:
        yield server


def say(client: FlaskClient, body: str, *, choice: str = "") -> str:
    token = csrf_token(client, "/support/chat")
    response = client.post(
        "/support/chat", data={"body": body, "choice": choice, "csrf_token": token}, headers=HX
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    return html_module.unescape(response.get_data(as_text=True))


def test_customer_changes_the_address_in_the_chat_and_the_order_page_shows_it(client, db: Session) -> None:
    customer = make_user(db, "customer")
    order = make_order(
        db, customer_id=customer.customer_id, status="confirmed", shipping_address=dict(ADDRESS)
    )
    db.commit()
    assert sign_in(client, customer.email, PASSWORD).status_code == 303
    assert "What's the new address?" in say(client, f"can I change the shipping address of {order.number}?")
    read_back = say(client, "Flat 3, 7 Park Road, Bath BA1 1AA")
    assert (
        f"I'll change the delivery address of order {order.number} to: Jane Doe, 7 Park Road, Flat 3, Bath, "
        "BA1 1AA, GB \u2014 yes or no?" in read_back
    )
    assert 'name="choice" value="yes"' in read_back and 'name="choice" value="no"' in read_back
    db.refresh(order)
    assert order.shipping_address["line1"] == "1 Old Road"
    done = say(client, "Yes, change it", choice="yes")
    assert f"Done: order {order.number} will now be delivered to Jane Doe, 7 Park Road" in done
    db.refresh(order)
    assert (order.shipping_address["line1"], order.shipping_address["postal_code"]) == (
        "7 Park Road",
        "BA1 1AA",
    )
    page = client.get(f"/orders/{order.number}").get_data(as_text=True)
    assert "7 Park Road" in page
    kinds = db.scalars(select(OrderEvent.kind).where(OrderEvent.order_id == order.id)).all()
    assert "address_changed" in kinds


def test_shipped_order_address_is_explained_not_changed(client, db: Session) -> None:
    customer = make_user(db, "customer")
    order = make_order(
        db, customer_id=customer.customer_id, status="delivered", shipping_address=dict(ADDRESS)
    )
    db.commit()
    sign_in(client, customer.email, PASSWORD)
    answer = say(client, f"change delivery address for {order.number}")
    assert f"I can't change the delivery address of order {order.number}: the order is delivered." in answer
    assert 'value="intent:human_agent"' in answer
    db.refresh(order)
    assert order.shipping_address["line1"] == "1 Old Road"


def test_guest_gets_a_code_by_smtp_in_the_chat_and_it_opens_the_order_once(
    client, app, db: Session, session_factory, smtp: SmtpServer
) -> None:
    order = make_order(db, status="confirmed", email="guest@example.org", shipping_address=dict(ADDRESS))
    db.commit()
    asked = say(client, f"where is my order {order.number}")
    assert 'name="choice" value="code:send"' in asked
    sent = say(client, "Email me a code", choice="code:send")
    assert f"I've emailed a 6-digit code to the address order {order.number} was placed with" in sent
    settings = SmtpSettings(port=smtp.port, mail_from="orders@crossdock.test", secret_key="test-secret")
    assert dispatch_email_outbox(session_factory, settings, now=utcnow()).sent == 1
    [email] = [m for m in smtp.messages if str(m["To"]) == "guest@example.org"]
    assert str(email["Subject"]) == f"Your code for order {order.number}"
    code = CODE_IN_EMAIL.search(email.get_body(("plain",)).get_content()).group(1)
    assert client.get(f"/orders/{order.number}").status_code != 200  # not before the code
    opened = say(client, code)
    assert f"Order {order.number}:" in opened
    assert client.get(f"/orders/{order.number}").status_code == 200  # remembered like a /track lookup

    other = app.test_client()  # someone who read the same email later
    say(other, f"where is my order {order.number}")
    say(other, "Email me a code", choice="code:send")
    assert "That code isn't right, has been used already" in say(other, code)
    assert other.get(f"/orders/{order.number}").status_code != 200
    token = csrf_token(other, "/track-code")
    reused = other.post("/track-code", data={"csrf_token": token, "reference": order.number, "code": code})
    assert reused.status_code == 400
