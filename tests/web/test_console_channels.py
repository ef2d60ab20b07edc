"""Console admin: channels set up without the seed — add one, read its webhook address and secret, change
its settings; admins only, CSRF on every form, each change audited; the new channel takes a signed webhook."""

from __future__ import annotations

import json
import re

import pytest
from sqlalchemy import select

from core.audit.models import AuditEntry
from core.channels.models import Channel
from core.channels.signatures import sign
from core.orders.models import Order
from tests.factories import PASSWORD, make_user
from tests.fixtures import CHANNELS
from tests.helpers import csrf_token, sign_in
from tests.inventory_factories import make_location


@pytest.fixture
def admin(client, db):
    user = make_user(db, role="admin")
    assert sign_in(client, user.email, PASSWORD, console=True).status_code == 303
    return user


@pytest.mark.parametrize("role", ["agent", "manager"])
@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/console/admin/channels"),
        ("post", "/console/admin/channels"),
        ("get", "/console/admin/channels/x"),
    ],
)
def test_channel_admin_pages_are_for_admins_only(client, db, role, method, path) -> None:
    user = make_user(db, role=role)
    sign_in(client, user.email, PASSWORD, console=True)
    assert getattr(client, method)(path).status_code in (400, 403)  # a POST without its token stops at CSRF
    if method == "get":
        assert client.get(path).status_code == 403


def test_channel_admin_needs_a_sign_in(client) -> None:
    response = client.get("/console/admin/channels")
    assert response.status_code == 302 and "/console/login" in response.headers["Location"]


def test_empty_channel_list_says_how_to_start(client, admin) -> None:
    page = client.get("/console/admin/channels").get_data(as_text=True)
    assert "No channels yet" in page and 'name="code"' in page


def test_add_channel_shows_its_webhook_and_secret_then_takes_a_signed_order(client, db, admin) -> None:
    make_location(db, code="EAST", name="East warehouse")
    token = csrf_token(client, "/console/admin/channels")
    form = {
        "csrf_token": token,
        "code": "lamps",
        "kind": "shopify",
        "name": "Lamps & Co",
        "locations": "EAST",
    }
    added = client.post("/console/admin/channels", data=form)
    assert added.status_code == 303 and added.headers["Location"].endswith("/console/admin/channels/lamps")
    page = client.get("/console/admin/channels/lamps").get_data(as_text=True)
    assert "/api/channels/lamps/webhooks/orders" in page
    channel = db.scalar(select(Channel).where(Channel.code == "lamps"))
    assert channel.webhook_secret and channel.webhook_secret in page
    assert [loc.code for loc in channel.locations] == ["EAST"]
    assert (
        db.scalar(
            select(AuditEntry.action).where(
                AuditEntry.entity_type == "channel", AuditEntry.entity_id == str(channel.id)
            )
        )
        == "channel.add"
    )

    body = (CHANNELS / "shopify" / "order.json").read_bytes()
    posted = client.post(
        "/api/channels/lamps/webhooks/orders",
        data=body,
        headers={
            "Content-Type": "application/json",
            "X-Shopify-Hmac-Sha256": sign(channel.webhook_secret, body),
        },
    )
    assert posted.status_code == 200, posted.get_json()
    external_id = str(json.loads(body)["order"]["id"])
    assert db.scalar(select(Order.channel_id).where(Order.external_id == external_id)) == channel.id


def test_add_channel_with_a_bad_code_says_why_and_keeps_the_form(client, admin) -> None:
    token = csrf_token(client, "/console/admin/channels")
    form = {"csrf_token": token, "code": "Bad Code!", "kind": "webshop", "name": "Web"}
    response = client.post("/console/admin/channels", data=form)
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "lowercase letters" in page and 'value="Web"' in page


def test_change_channel_settings_saves_and_audits(client, db, admin) -> None:
    token = csrf_token(client, "/console/admin/channels")
    client.post(
        "/console/admin/channels", data={"csrf_token": token, "code": "web", "kind": "webshop", "name": "Web"}
    )
    page = client.get("/console/admin/channels/web").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    settings = {
        "csrf_token": token,
        "name": "Web shop",
        "sender_name": "Web shop",
        "base_url": "https://shop.example.com",
        "stock_buffer_units": "3",
        "stock_buffer_percent": "10",
        "stock_floor": "1",
        "return_window_days": "60",
        "return_instructions": "Print the slip.",
    }  # "active" unticked: paused
    saved = client.post("/console/admin/channels/web", data=settings)
    assert saved.status_code == 303
    channel = db.scalar(select(Channel).where(Channel.code == "web"))
    assert (channel.stock_buffer_units, channel.return_window_days, channel.active) == (3, 60, False)
    entry = db.scalar(select(AuditEntry).where(AuditEntry.action == "channel.change"))
    assert entry.before["active"] is True and entry.after["active"] is False

    bad = client.post("/console/admin/channels/web", data=settings | {"stock_floor": "-1"})
    assert bad.status_code == 422 and "whole number" in bad.get_data(as_text=True)
    assert client.get("/console/admin/channels/nope").status_code == 404
    assert client.post("/console/admin/channels/nope", data=settings).status_code == 404
