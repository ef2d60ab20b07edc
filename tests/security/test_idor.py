"""Nobody reaches another customer's things: each of customer A's URLs, asked for by customer B (signed
in), answers 404 — not 403, which would confirm the order, return or conversation exists — and a POST
by B on A's things changes nothing."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from core.orders.models import Order
from core.returns.models import ReturnRequest
from core.support.models import Message
from tests.factories import PASSWORD
from tests.helpers import csrf_token, sign_in
from tests.security.world import make_owner, make_shop_for_people


@pytest.fixture
def two_customers(client, db):
    shop = make_shop_for_people(db)
    alice, bob = make_owner(db, shop), make_owner(db, shop)
    db.commit()
    return alice, bob


def test_idor_every_url_of_a_works_for_a(client, two_customers) -> None:
    alice, _bob = two_customers
    sign_in(client, alice.user.email, PASSWORD)
    for url in alice.get_urls():
        assert client.get(url).status_code == 200, url


def test_idor_each_of_as_urls_asked_by_b_is_404(client, two_customers) -> None:
    alice, bob = two_customers
    sign_in(client, bob.user.email, PASSWORD)
    answers = {url: client.get(url).status_code for url in alice.get_urls()}
    assert answers == dict.fromkeys(alice.get_urls(), 404)
    # and B's own things stay B's: the list pages don't show A's
    for page in ("/orders", "/returns", "/support"):
        html = client.get(page).get_data(as_text=True)
        assert alice.order.number not in html and alice.rma.rma_number not in html, page


def test_idor_b_posting_on_as_things_is_404_and_changes_nothing(client, db, two_customers) -> None:
    alice, bob = two_customers
    sign_in(client, bob.user.email, PASSWORD)
    token = csrf_token(client, "/account")

    def counts():
        return (
            db.scalar(select(func.count()).select_from(ReturnRequest)),
            db.scalar(select(func.count()).select_from(Message)),
            db.scalar(select(Order.status).where(Order.id == alice.order.id)),
        )

    before = counts()
    for url, form in alice.post_urls():
        response = client.post(url, data={"csrf_token": token, **form})
        assert response.status_code == 404, url
    db.expire_all()
    assert counts() == before


def test_idor_signed_out_visitor_gets_no_customer_data(client, two_customers) -> None:
    alice, _bob = two_customers
    for url in alice.get_urls():
        response = client.get(url)
        body = response.get_data(as_text=True)
        assert response.status_code in (302, 303, 401, 404), url
        assert "My parcel has not come" not in body and "1 Main St" not in body, url
