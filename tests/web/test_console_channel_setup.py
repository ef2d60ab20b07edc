"""Console channel page, beyond its settings: credentials entered and stored encrypted (never shown back,
audited by name), "Test connection" making one real request to the channel's API (a local HTTP server here)
and showing the answer, and the sync log (last webhook, pushes failed with their reasons). The whole set-up on
an empty database through the console: a Shopify channel added, its signed webhook posted, the order shown."""

from __future__ import annotations

import json
import re

import pytest
from sqlalchemy import select, text

from core.audit.models import AuditEntry
from core.channels.models import Channel
from core.channels.signatures import sign
from core.db import utcnow
from core.notifications.models import OutboxMessage
from core.orders.models import Order
from core.security.encryption import KEYS_VARIABLE, generate_key
from tests.factories import PASSWORD, make_user
from tests.fixtures import CHANNELS
from tests.helpers import CSRF_RE, csrf_token, sign_in
from tests.httpserver import RecordingServer, Reply
from tests.inventory_factories import make_location


@pytest.fixture
def admin(client, db):
    user = make_user(db, role="admin")
    assert sign_in(client, user.email, PASSWORD, console=True).status_code == 303
    return user


def _add(client, code: str, kind: str, **extra: str):
    token = csrf_token(client, "/console/admin/channels")
    form = {"csrf_token": token, "code": code, "kind": kind, "name": code.title(), **extra}
    response = client.post("/console/admin/channels", data=form)
    assert response.status_code == 303, response.get_data(as_text=True)
    return response


def _token(client, path: str) -> str:
    return CSRF_RE.search(client.get(path).get_data(as_text=True)).group(1)


@pytest.mark.parametrize("role", ["agent", "manager"])
@pytest.mark.parametrize("action", ["credentials", "test"])
def test_credentials_and_connection_test_are_for_admins_only(client, db, role, action) -> None:
    make_user(db, role=role, email=f"{role}@shop.example")
    sign_in(client, f"{role}@shop.example", PASSWORD, console=True)
    token = csrf_token(client, "/console/")
    assert client.post(f"/console/admin/channels/x/{action}", data={"csrf_token": token}).status_code == 403


def test_credentials_are_stored_encrypted_never_shown_and_audited_by_name(client, db, admin) -> None:
    _add(client, "lamps", "shopify")
    path = "/console/admin/channels/lamps"
    form = {
        "csrf_token": _token(client, path),
        "credential_access_token": "shpat_secret_0123456789",
        "credential_location_id": "655441491",
        "credential_inventory_item_ids": '{"LAMP-1": 808950810}',
    }
    saved = client.post(f"{path}/credentials", data=form)
    assert saved.status_code == 303
    channel = db.scalar(select(Channel).where(Channel.code == "lamps"))
    assert channel.credentials == {
        "access_token": "shpat_secret_0123456789",
        "location_id": "655441491",
        "inventory_item_ids": {"LAMP-1": 808950810},
    }
    raw = db.execute(text("SELECT CAST(credentials AS TEXT) FROM channels WHERE code = 'lamps'")).scalar()
    assert "shpat_secret" not in raw and "655441491" not in raw
    page = client.get(path).get_data(as_text=True)
    assert "shpat_secret_0123456789" not in page and 'value="655441491"' in page
    entry = db.scalar(select(AuditEntry).where(AuditEntry.action == "channel.credentials"))
    assert "shpat_secret" not in json.dumps(entry.after) and "access_token" in entry.after["changed"]

    # A blank secret keeps the stored one; a removal ticks it off; bad JSON is refused and nothing changes.
    kept = client.post(f"{path}/credentials", data={"csrf_token": form["csrf_token"], "clear": "location_id"})
    assert kept.status_code == 303
    db.expire_all()
    assert set(channel.credentials) == {"access_token", "inventory_item_ids"}
    bad = client.post(
        f"{path}/credentials",
        data={"csrf_token": form["csrf_token"], "credential_inventory_item_ids": "{not json"},
    )
    assert bad.status_code == 422 and "not valid JSON" in bad.get_data(as_text=True)


def test_connection_test_calls_the_channels_api_and_shows_its_answer(client, db, admin) -> None:
    with RecordingServer() as server:
        server.add(
            "GET",
            "/admin/api/2024-10/shop.json",
            Reply(200, {"shop": {"name": "Lamps Test Store"}}),
            Reply(401, {"errors": "Invalid API key"}),  # the second test: the token was revoked
        )
        _add(client, "lamps", "shopify", base_url=server.url)
        path = "/console/admin/channels/lamps"
        token = _token(client, path)
        client.post(f"{path}/credentials", data={"csrf_token": token, "credential_access_token": "shpat_abc"})

        fragment = client.post(f"{path}/test", data={"csrf_token": token}, headers={"HX-Request": "true"})
        html = fragment.get_data(as_text=True)
        assert fragment.status_code == 200 and "<html" not in html
        assert "Connected" in html and "Lamps Test Store" in html and "HTTP 200" in html
        sent = server.requests_to("GET", "/admin/api/2024-10/shop.json")
        assert [r.headers["x-shopify-access-token"] for r in sent] == ["shpat_abc"]

        page = client.post(f"{path}/test", data={"csrf_token": token}).get_data(as_text=True)
        assert (
            "Not connected" in page
            and "refused the credentials (HTTP 401)" in page
            and "Invalid API key" in page
        )


def test_connection_test_says_what_is_missing_before_calling(client, db, admin) -> None:
    _add(client, "lamps", "shopify")
    path = "/console/admin/channels/lamps"
    token = _token(client, path)
    page = client.post(f"{path}/test", data={"csrf_token": token}).get_data(as_text=True)
    assert "set the channel&#39;s base URL" in page
    _add(client, "web", "webshop")
    page = client.get("/console/admin/channels/web").get_data(as_text=True)
    assert "no API to call" in page and "Test connection" not in page


def test_connection_test_reports_no_answer(client, db, admin) -> None:
    with RecordingServer() as server:
        closed = server.url
    _add(client, "tills", "square", base_url=closed)
    path = "/console/admin/channels/tills"
    token = _token(client, path)
    client.post(f"{path}/credentials", data={"csrf_token": token, "credential_access_token": "sq0atp"})
    page = client.post(f"{path}/test", data={"csrf_token": token}).get_data(as_text=True)
    assert "no answer from" in page


def test_settings_refused_keep_what_was_typed(client, db, admin) -> None:
    make_location(db, code="EAST", name="East")
    _add(client, "web", "webshop")
    path = "/console/admin/channels/web"
    form = {
        "csrf_token": _token(client, path),
        "name": "Renamed shop",
        "sender_name": "Renamed",
        "base_url": "",
        "stock_buffer_units": "7",
        "stock_buffer_percent": "200",
        "stock_floor": "0",
        "return_window_days": "45",
        "return_instructions": "Keep the box.",
        "locations": "EAST",
    }
    bad = client.post(path, data=form)
    page = bad.get_data(as_text=True)
    assert bad.status_code == 422 and "from 0 to 100" in page
    assert 'value="Renamed shop"' in page and 'value="7"' in page and 'value="45"' in page
    assert "Keep the box." in page and re.search(r'value="EAST"\s+checked', page)
    assert db.scalar(select(Channel.name).where(Channel.code == "web")) == "Web"


def test_sync_log_shows_the_last_webhook_and_failed_pushes_with_reasons(client, db, admin) -> None:
    _add(client, "lamps", "shopify")
    channel = db.scalar(select(Channel).where(Channel.code == "lamps"))
    page = client.get("/console/admin/channels/lamps").get_data(as_text=True)
    assert "none received yet" in page and "Nothing received from this channel yet" in page

    body = (CHANNELS / "shopify" / "order.json").read_bytes()
    headers = {
        "X-Shopify-Hmac-Sha256": sign(channel.webhook_secret, body),
        "X-Shopify-Topic": "orders/create",
    }
    assert client.post("/api/channels/lamps/webhooks/orders", data=body, headers=headers).status_code == 200
    now = utcnow()
    db.add(
        OutboxMessage(
            kind="stock_push",
            transport="channel",
            dedup_key="stock:test:failed",
            recipient="lamps",
            status="failed",
            attempts=8,
            last_error="HTTP 422 from POST /admin/api/2024-10/inventory_levels/set.json: location not found",
            next_attempt_at=now,
            created_at=now,
        )
    )
    db.add(
        OutboxMessage(
            kind="stock_push",
            transport="channel",
            dedup_key="stock:test:sent",
            recipient="lamps",
            status="sent",
            next_attempt_at=now,
            created_at=now,
        )
    )
    db.flush()
    page = client.get("/console/admin/channels/lamps").get_data(as_text=True)
    log = page[page.index('id="sync-log"') :]
    assert "none received yet" not in log and "orders/create" in log
    assert "1 sent" in log and "1 failed" in log and "location not found" in log


def test_set_up_on_an_empty_database_through_the_console(client, db, admin) -> None:
    """The README's "Set up without the demo", console half: no channel, no location, no order at first."""
    assert db.scalar(select(Channel.id)) is None and db.scalar(select(Order.id)) is None
    make_location(db, code="EAST", name="East warehouse")  # `crossdock locations add` or the Locations page
    page = client.get("/console/admin/channels").get_data(as_text=True)
    assert "No channels yet" in page
    _add(client, "shopify", "shopify", locations="EAST")

    page = client.get("/console/admin/channels/shopify").get_data(as_text=True)
    url = re.search(r"<dt>Address</dt><dd><code>([^<]+)</code>", page).group(1)
    secret = re.search(r"<dt>Secret</dt><dd><code>([^<]+)</code>", page).group(1)
    assert url.endswith("/api/channels/shopify/webhooks/orders")
    body = (CHANNELS / "shopify" / "order.json").read_bytes()
    posted = client.post(
        url.split("127.0.0.1:5000", 1)[-1],
        data=body,
        headers={"Content-Type": "application/json", "X-Shopify-Hmac-Sha256": sign(secret, body)},
    )
    assert posted.status_code == 200, posted.get_json()
    order_id = db.scalar(select(Order.id).where(Order.external_id == str(json.loads(body)["order"]["id"])))
    order_page = client.get(f"/console/orders/{order_id}")
    assert order_page.status_code == 200 and "shopify" in order_page.get_data(as_text=True).lower()
    forged = client.post(
        "/api/channels/shopify/webhooks/orders",
        data=body,
        headers={"X-Shopify-Hmac-Sha256": sign("wrong", body)},
    )
    assert forged.status_code == 401


def test_the_webhook_secret_is_replaced_by_the_channels_own_or_a_new_one(client, db, admin) -> None:
    _add(client, "lamps", "shopify")
    path = "/console/admin/channels/lamps"
    token = _token(client, path)
    short = client.post(f"{path}/webhook-secret", data={"csrf_token": token, "webhook_secret": "too-short"})
    assert short.status_code == 422
    assert "at least 16 characters" in short.get_data(as_text=True) and 'value="too-short"' in short.get_data(
        as_text=True
    )

    own = "shopify-app-secret-0123456789abcdef"
    pasted = client.post(f"{path}/webhook-secret", data={"csrf_token": token, "webhook_secret": own})
    assert pasted.status_code == 303
    channel = db.scalar(select(Channel).where(Channel.code == "lamps"))
    assert channel.webhook_secret == own and own in client.get(path).get_data(as_text=True)
    stored = db.execute(text("SELECT webhook_secret FROM channels WHERE code = 'lamps'")).scalar()
    assert own not in stored

    client.post(f"{path}/webhook-secret", data={"csrf_token": token, "action": "generate"})
    db.expire_all()
    assert channel.webhook_secret != own and len(channel.webhook_secret) >= 32
    audited = db.scalars(select(AuditEntry.after).where(AuditEntry.action == "channel.change")).all()
    assert len(audited) == 2 and own not in json.dumps(audited)


def test_a_refused_new_channel_keeps_the_locations_ticked(client, db, admin) -> None:
    make_location(db, code="EAST", name="East")
    token = csrf_token(client, "/console/admin/channels")
    form = {"csrf_token": token, "code": "Bad Code", "kind": "shopify", "name": "Lamps", "locations": "EAST"}
    page = client.post("/console/admin/channels", data=form).get_data(as_text=True)
    assert re.search(r'value="EAST"\s+checked', page)


def test_without_the_encryption_key_staff_are_told_what_to_set_and_webhooks_get_a_503(
    client, db, admin, monkeypatch, tmp_path
) -> None:
    _add(client, "lamps", "shopify")
    token = _token(client, "/console/admin/channels")
    db.expire_all()
    monkeypatch.setenv(KEYS_VARIABLE, generate_key())  # not the key the secret was stored with
    page = client.get("/console/admin/channels/lamps")
    assert page.status_code == 503 and "can&#39;t be decrypted with the keys in" in page.get_data(
        as_text=True
    )
    body = (CHANNELS / "shopify" / "order.json").read_bytes()
    posted = client.post(
        "/api/channels/lamps/webhooks/orders", data=body, headers={"X-Shopify-Hmac-Sha256": "x"}
    )
    assert posted.status_code == 503 and "retry later" in posted.get_json()["error"]

    monkeypatch.delenv(KEYS_VARIABLE)
    monkeypatch.setattr("core.db.INSTANCE_DIR", tmp_path)
    added = client.post(
        "/console/admin/channels", data={"csrf_token": token, "code": "web", "kind": "webshop", "name": "Web"}
    )
    # The list of channels beside the refused form can't be read either: the same sentence, as a 503.
    assert added.status_code == 503 and "CROSSDOCK_ENCRYPTION_KEYS is not set" in added.get_data(as_text=True)


def test_without_any_key_a_first_channel_is_refused_with_what_to_set(
    client, db, admin, monkeypatch, tmp_path
) -> None:
    token = _token(client, "/console/admin/channels")
    monkeypatch.delenv(KEYS_VARIABLE)
    monkeypatch.setattr("core.db.INSTANCE_DIR", tmp_path)
    form = {"csrf_token": token, "code": "lamps", "kind": "shopify", "name": "Lamps"}
    added = client.post("/console/admin/channels", data=form)
    page = added.get_data(as_text=True)
    assert (
        added.status_code == 422
        and "CROSSDOCK_ENCRYPTION_KEYS is not set" in page
        and 'value="Lamps"' in page
    )
    assert db.scalar(select(Channel.id)) is None
