"""Console search: one box for name, email, phone, order number (ours or a channel's) and tracking number,
typos forgiven; as you type (htmx fragment) or as a page without JS; staff only."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from core.customers.models import Identity
from core.fulfillment.models import Shipment
from tests.factories import PASSWORD, make_channel, make_customer, make_order, make_user
from tests.helpers import sign_in


@pytest.fixture
def people(db: Session) -> dict:
    jane = make_customer(db, name="Jane Doe", email="jane.doe@example.org", phone="+15551234567")
    john = make_customer(db, name="John Smith", email="john.smith@example.net")
    for n in range(5):
        make_customer(db, name=f"Someone Else {n}")
    ebay = make_channel(db, code="ebay-test", name="eBay")
    order = make_order(
        db, customer_id=jane.id, channel_id=ebay.id, channel_number="12-34567-89012", buyer_name="Jane Doe"
    )
    shipment = Shipment(
        order_id=order.id, carrier="UPS", tracking_number="1Z999AA10123456784", status="in_transit"
    )
    db.add(shipment)
    db.add(Identity(customer_id=john.id, name="John Smith", email="jsmith.work@corp.example"))
    db.flush()
    return {"jane": jane, "john": john, "order": order}


def agent_client(client: FlaskClient, db: Session) -> FlaskClient:
    agent = make_user(db, "agent")
    assert sign_in(client, agent.email, PASSWORD, console=True).status_code == 303
    return client


def results(client: FlaskClient, query: str) -> str:
    response = client.get("/console/search", query_string={"q": query}, headers={"HX-Request": "true"})
    assert response.status_code == 200
    return response.get_data(as_text=True)


def first_link(html: str) -> str:
    start = html.index('href="') + len('href="')
    return html[start : html.index('"', start)]


@pytest.mark.parametrize(
    ("query", "target"),
    [
        ("Jane Doe", "jane"),
        ("jnae doe", "jane"),  # letters swapped
        ("Jane Deo", "jane"),
        ("jon smith", "john"),
        ("jane.doe@example.org", "jane"),
        ("jane.doe@exmaple.org", "jane"),  # misspelled domain
        ("jsmith.work@corp.example", "john"),  # an email only a channel gave
        ("+1 555 123 4567", "jane"),
        ("555-123-4567", "jane"),
    ],
)
def test_search_finds_the_customer_by_name_email_or_phone(
    client, db, people, query: str, target: str
) -> None:
    html = results(agent_client(client, db), query)
    assert first_link(html) == f"/console/customers/{people[target].id}"


def test_search_finds_an_order_by_our_number_typos_included(client, db, people) -> None:
    agent_client(client, db)
    order = people["order"]
    number = order.number  # CD-1000123 style
    misspelled = number[:-2] + number[-1] + number[-2]  # last two digits swapped
    for query in (number, number.lower(), misspelled, number[3:]):
        assert first_link(results(client, query)) == f"/console/orders/{order.id}", query


def test_search_finds_an_order_by_the_channels_number_and_by_tracking_number(client, db, people) -> None:
    agent_client(client, db)
    order = people["order"]
    for query in ("12-34567-89012", "12-34567-89021", "1Z999AA10123456784", "1Z999AA10123456748"):
        html = results(client, query)
        assert first_link(html) == f"/console/orders/{order.id}", query
    assert "tracking number" in results(client, "1Z999AA10123456784")


def test_search_says_when_nothing_matches(client, db, people) -> None:
    html = results(agent_client(client, db), "zzqqxx")
    assert "Nothing matches" in html and "/console/customers/" not in html


def test_search_page_works_without_js(client, db, people) -> None:
    response = agent_client(client, db).get("/console/search?q=jnae+doe")
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and "<html" in html and 'name="q" value="jnae doe"' in html
    assert f'href="/console/customers/{people["jane"].id}"' in html and "close match" in html
    assert "HX-Request" in response.headers["Vary"]


def test_header_search_box_searches_as_you_type(client, db) -> None:
    html = agent_client(client, db).get("/console/").get_data(as_text=True)
    assert 'action="/console/search"' in html and 'hx-get="/console/search"' in html
    assert 'hx-trigger="keyup changed delay:250ms, search"' in html


def test_search_needs_staff(client, db, people) -> None:
    anonymous = client.get("/console/search?q=jane")
    assert anonymous.status_code == 302 and "/console/login" in anonymous.headers["Location"]
    customer = make_user(db, "customer")
    sign_in(client, customer.email, PASSWORD)
    assert client.get("/console/search?q=jane").status_code == 403


def test_a_nul_character_is_refused_with_the_reason_before_the_database_sees_it(client, db, people) -> None:
    agent_client(client, db)
    response = client.get("/console/search", query_string={"q": "ab\x00cd"})
    assert response.status_code == 400
    assert "a NUL character is not allowed" in response.get_data(as_text=True)
    assert client.post("/api/support/inbound-email", data={"email": "x\x00"}).status_code in (400, 503)
    assert client.get("/console/search", query_string={"q": "abcd"}).status_code == 200
