"""SQL injection strings typed into every search box answer a page (no 500), change nothing and show
nothing they shouldn't: no other customer's order, no password hash, no SQL error text."""

from __future__ import annotations

from urllib.parse import quote

import pytest
from sqlalchemy import select

from core.security.models import User
from tests.factories import PASSWORD, make_user
from tests.helpers import sign_in
from tests.security.channels import row_counts
from tests.security.world import make_owner, make_shop_for_people

INJECTIONS = [
    "' OR '1'='1",
    "' OR 1=1 --",
    "%' OR '%'='",
    "%",
    "_",
    "\\",
    "'; DROP TABLE orders; --",
    "1 UNION SELECT password_hash, email FROM users --",
    '" OR ""="',
    "') OR ('a'='a",
    "1; SELECT pg_sleep(5) --",
    "ʼ OR 1=1 --",
    "x" * 5000,
]
SQL_ERROR_WORDS = ("syntax error", "sqlalchemy", "psycopg", "sqlite3", "OperationalError", "Traceback")


@pytest.fixture
def searchers(app, db):
    shop = make_shop_for_people(db)
    alice, bob = make_owner(db, shop), make_owner(db, shop)
    admin = make_user(db, "admin")
    db.commit()
    customer, staff = app.test_client(), app.test_client()
    sign_in(customer, bob.user.email, PASSWORD)
    sign_in(staff, admin.email, PASSWORD, console=True)
    return alice, bob, customer, staff


def test_sql_injection_in_every_search_box(db, searchers) -> None:
    alice, bob, customer, staff = searchers
    hashes = list(db.scalars(select(User.password_hash)))
    before = row_counts(db, without=("login_attempts", "rate_limits"))
    boxes = [
        (customer, "/orders?q={}"),
        (customer, "/help?q={}"),
        (staff, "/console/search?q={}"),
        (staff, "/console/tickets?view=all&q={}"),
        (staff, "/console/stock?q={}"),
        (staff, f"/console/tickets/{alice.conversation.id}/macros?q={{}}"),
    ]
    for client, pattern in boxes:
        for text in INJECTIONS:
            url = pattern.format(quote(text))
            response = client.get(url)
            assert response.status_code in (200, 400, 422), (url[:80], response.status_code)
            body = response.get_data(as_text=True)
            assert not any(word in body for word in SQL_ERROR_WORDS), url[:80]
            assert not any(h in body for h in hashes), url[:80]
            if client is customer:
                assert alice.order.number not in body, url[:80]
    db.expire_all()
    assert row_counts(db, without=("login_attempts", "rate_limits")) == before
    # the customer's own search still works
    assert bob.order.number in customer.get(f"/orders?q={bob.order.number}").get_data(as_text=True)
