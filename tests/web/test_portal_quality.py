"""Portal quality bars: no N+1 queries on the order list, every page under 100 KB of HTML+CSS+JS, and no
portal URL shows another customer's order, return or data (404)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import event

from tests.factories import PASSWORD, make_channel, make_order, make_sku, make_user
from tests.helpers import csrf_token, sign_in
from tests.returns_factories import make_delivered_order, make_shop

STATIC = Path(__file__).resolve().parents[2] / "static"
PAGE_BUDGET = 100 * 1024


class QueryCounter:
    def __init__(self, engine) -> None:
        self.engine, self.count = engine, 0

    def __enter__(self) -> QueryCounter:
        event.listen(self.engine, "before_cursor_execute", self._count)
        return self

    def __exit__(self, *exc) -> None:
        event.remove(self.engine, "before_cursor_execute", self._count)

    def _count(self, *args) -> None:
        self.count += 1


def test_order_list_queries_do_not_grow_with_orders(client, db, engine) -> None:
    user = make_user(db, "customer")
    channels = [make_channel(db) for _ in range(3)]
    make_order(db, customer_id=user.customer_id, channel_id=channels[0].id, lines=2)
    db.commit()
    sign_in(client, user.email, PASSWORD)
    with QueryCounter(engine) as few:
        assert client.get("/orders").status_code == 200
    for n in range(15):
        make_order(db, customer_id=user.customer_id, channel_id=channels[n % 3].id, lines=3)
    db.commit()
    with QueryCounter(engine) as many:
        assert client.get("/orders").status_code == 200
    assert many.count == few.count


def _asset_bytes(html: str) -> int:
    total = 0
    for ref in re.findall(r'(?:href|src)="(/static/[^"]+)"', html):
        total += (STATIC / ref.removeprefix("/static/")).stat().st_size
    return total


def test_every_main_portal_page_is_under_100_kb(client, db) -> None:
    user = make_user(db, "customer")
    channel, location = make_shop(db)
    order = make_delivered_order(db, channel, location, [(make_sku(db), 2)], customer_id=user.customer_id)
    db.commit()
    sign_in(client, user.email, PASSWORD)
    for path in (
        "/",
        "/orders",
        f"/orders/{order.number}",
        f"/orders/{order.number}/return",
        "/help",
        "/account",
        "/returns",
        "/support",
        "/track",
    ):
        html = client.get(path).get_data(as_text=True)
        assert len(html.encode()) + _asset_bytes(html) < PAGE_BUDGET, path


def portal_paths_with_ids(app: Flask) -> list[str]:
    return sorted(
        rule.rule
        for rule in app.url_map.iter_rules()
        if rule.endpoint.startswith("portal.") and rule.arguments & {"number", "rma"}
    )


def test_every_portal_url_answers_404_for_another_customers_order_and_return(app, client, db) -> None:
    owner = make_user(db, "customer")
    channel, location = make_shop(db)
    order = make_delivered_order(db, channel, location, [(make_sku(db), 2)], customer_id=owner.customer_id)
    db.commit()
    sign_in(client, owner.email, PASSWORD)
    token = csrf_token(client, f"/orders/{order.number}/return")
    response = client.post(
        f"/orders/{order.number}/return",
        data={
            "csrf_token": token,
            f"qty_{order.lines[0].id}": "1",
            "reason": "wrong_size",
            "resolution": "refund",
        },
    )
    rma = response.headers["Location"].rsplit("/", 1)[1]
    client.post("/logout", data={"csrf_token": token})
    intruder = make_user(db, "customer")
    db.commit()
    sign_in(client, intruder.email, PASSWORD)
    paths = portal_paths_with_ids(app)
    assert len(paths) >= 6
    token = csrf_token(client, "/orders")
    for rule in paths:
        path = rule.replace("<number>", order.number).replace("<rma>", rma)
        methods = next(r.methods for r in app.url_map.iter_rules() if r.rule == rule)
        if "GET" in methods:
            assert client.get(path).status_code == 404, path
        if "POST" in methods:
            assert client.post(path, data={"csrf_token": token}).status_code == 404, path
    data = client.get("/account/data.json").get_json()
    assert order.number not in str(data)


@pytest.mark.parametrize("path", ["/orders", "/returns", "/account", "/support", "/account/data.json"])
def test_customer_pages_need_sign_in(client, path) -> None:
    response = client.get(path)
    assert response.status_code == 302 and "/login" in response.headers["Location"]
