"""CSRF: every state-changing route in the url_map refuses a POST without a token (400) and changes
nothing, for a signed-in customer and a signed-in admin alike. The exemptions are listed here, each with
what proves the request instead."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from core.db import Base
from tests.factories import PASSWORD, make_user
from tests.helpers import sign_in
from tests.security.world import make_owner, make_shop_for_people

# Machines and mail clients, not browsers: each request carries its own proof.
CSRF_EXEMPT = {
    "webhooks.order_webhook": "HMAC signature of the body with the channel's webhook secret",
    "webhooks.tracking_webhook": "HMAC signature with TRACKING_WEBHOOK_SECRET",
    "webhooks.privacy_webhook": "HMAC signature of the body with the channel's secret (privacy topics)",
    "webhooks.inbound_email": "the shared inbound-email secret (header or HTTP Basic password)",
    "portal.unsubscribe": "one-click unsubscribe (RFC 8058): the signed token in the URL",
}
STATE_CHANGING = {"POST", "PUT", "PATCH", "DELETE"}
CSRF_MESSAGE = "expired or was not sent from our site"


def _url(rule, ids: dict[str, object]) -> str:
    path = rule.rule
    for name in rule.arguments:
        path = re.sub(rf"<(?:[a-z]+:)?{name}>", str(ids.get(name, 1)), path)
    return path


def _row_counts(db) -> dict[str, int]:
    return {t.name: db.scalar(select(func.count()).select_from(t)) for t in Base.metadata.sorted_tables}


@pytest.fixture
def people(app, db):
    shop = make_shop_for_people(db)
    owner = make_owner(db, shop)
    admin = make_user(db, "admin")
    db.commit()
    customer_client, admin_client = app.test_client(), app.test_client()
    sign_in(customer_client, owner.user.email, PASSWORD)
    sign_in(admin_client, admin.email, PASSWORD, console=True)
    ids = {
        "number": owner.order.number,
        "order_id": owner.order.id,
        "conversation_id": owner.conversation.id,
        "customer_id": owner.user.customer_id,
        "return_id": owner.rma.id,
        "rma": owner.rma.rma_number,
        "user_id": admin.id,
        "attachment_id": owner.attachment_id,
    }
    return customer_client, admin_client, ids


def state_changing_rules(app):
    return [r for r in app.url_map.iter_rules() if r.methods & STATE_CHANGING]


def test_csrf_every_post_without_a_token_is_refused_and_changes_nothing(app, db, people) -> None:
    customer_client, admin_client, ids = people
    before = _row_counts(db)
    not_refused: dict[tuple[str, str], int] = {}
    walked = 0
    for rule in state_changing_rules(app):
        url = _url(rule, ids)
        for who, client in (("customer", customer_client), ("admin", admin_client)):
            response = client.post(url, data={"reason": "x", "body": "x", "email": "a@example.org"})
            walked += 1
            refused = response.status_code == 400 and CSRF_MESSAGE in response.get_data(as_text=True)
            if not refused:
                not_refused[(who, rule.endpoint)] = response.status_code
    assert {endpoint for _who, endpoint in not_refused} == set(CSRF_EXEMPT)
    assert walked >= 2 * 60  # the walk really covered the app's forms
    db.expire_all()
    assert _row_counts(db) == before


def test_csrf_exempt_routes_refuse_an_unproven_request_and_change_nothing(client, db, people) -> None:
    before = _row_counts(db)
    assert client.post("/api/channels/shop1/webhooks/orders", data=b"{}").status_code in (401, 404)
    assert client.post("/api/tracking/webhooks/generic", data=b"{}").status_code in (401, 503)
    assert client.post("/api/support/inbound-email", data=b"From: a@b.c\r\n\r\nhi").status_code in (401, 503)
    assert client.post("/unsubscribe/not-a-token").status_code in (400, 404)
    db.expire_all()
    assert _row_counts(db) == before
