"""POST /api/channels/<channel>/webhooks/orders: signatures, bad input, de-duplication, processing."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from core.channels.signatures import sign
from core.orders.intake import MAX_PAYLOAD_BYTES
from core.orders.models import InboundPayload, Order
from tests.factories import make_channel
from tests.fixtures import channel_file

SECRET = "whsec-test"
SHOPIFY_ORDER = channel_file("shopify", "order.json").read_bytes()
WOO_ORDER = channel_file("woocommerce", "order.json").read_bytes()
SQUARE_ORDER = channel_file("square", "order.json").read_bytes()


@pytest.fixture
def shopify(db):
    return make_channel(db, code="shopify", kind="shopify", webhook_secret=SECRET)


def post(client, code: str, body: bytes, headers: dict[str, str]):
    return client.post(
        f"/api/channels/{code}/webhooks/orders",
        data=body,
        headers={"Content-Type": "application/json", **headers},
    )


def test_webhook_signed_shopify_order_is_created(client, db, shopify) -> None:
    response = post(
        client,
        "shopify",
        SHOPIFY_ORDER,
        {"X-Shopify-Hmac-Sha256": sign(SECRET, SHOPIFY_ORDER), "X-Shopify-Webhook-Id": "wh-1"},
    )
    assert response.status_code == 200
    body = response.get_json()
    assert body["results"][0]["external_id"] == str(json.loads(SHOPIFY_ORDER)["order"]["id"])
    assert body["results"][0]["status"] == "needs_attention"  # no listings yet: kept on hold, never dropped
    assert db.scalar(select(func.count()).select_from(Order)) == 1


def test_webhook_same_delivery_id_twice_is_a_duplicate(client, db, shopify) -> None:
    headers = {"X-Shopify-Hmac-Sha256": sign(SECRET, SHOPIFY_ORDER), "X-Shopify-Webhook-Id": "wh-2"}
    post(client, "shopify", SHOPIFY_ORDER, headers)
    again = post(client, "shopify", SHOPIFY_ORDER, headers)
    assert again.status_code == 200 and again.get_json()["status"] == "duplicate"
    assert db.scalar(select(func.count()).select_from(InboundPayload)) == 1
    assert db.scalar(select(func.count()).select_from(Order)) == 1


@pytest.mark.parametrize(
    ("headers", "reason"),
    [({}, "missing X-Shopify-Hmac-Sha256"), ({"X-Shopify-Hmac-Sha256": "bm9wZQ=="}, "bad signature")],
)
def test_webhook_bad_or_missing_signature_is_401_and_stores_nothing(
    client, db, shopify, headers, reason
) -> None:
    response = post(client, "shopify", SHOPIFY_ORDER, headers)
    assert response.status_code == 401 and reason in response.get_json()["error"]
    assert db.scalar(select(func.count()).select_from(InboundPayload)) == 0


def test_webhook_signature_with_another_secret_is_401(client, db, shopify) -> None:
    response = post(client, "shopify", SHOPIFY_ORDER, {"X-Shopify-Hmac-Sha256": sign("other", SHOPIFY_ORDER)})
    assert response.status_code == 401


def test_webhook_bad_json_is_400_naming_the_problem(client, db, shopify) -> None:
    body = b'{"order": {"id": 1,}'
    response = post(client, "shopify", body, {"X-Shopify-Hmac-Sha256": sign(SECRET, body)})
    assert response.status_code == 400
    assert response.get_json()["error"].startswith("invalid JSON: ")
    assert "line 1 column" in response.get_json()["error"]


def test_webhook_body_over_limit_is_413(client, db, shopify) -> None:
    body = b'{"x": "' + b"a" * (MAX_PAYLOAD_BYTES + 10) + b'"}'
    response = post(client, "shopify", body, {"X-Shopify-Hmac-Sha256": sign(SECRET, body)})
    assert response.status_code == 413 and "larger than" in response.get_json()["error"]


def test_webhook_unknown_channel_is_404(client) -> None:
    response = post(client, "nosuch", b"{}", {})
    assert response.status_code == 404 and "unknown channel" in response.get_json()["error"]


def test_webhook_for_polled_channel_is_404(client, db) -> None:
    make_channel(db, code="amazon", kind="amazon", webhook_secret=SECRET)
    response = post(client, "amazon", b"{}", {})
    assert response.status_code == 404 and "polling" in response.get_json()["error"]


def test_webhook_woocommerce_signature_and_ping(client, db) -> None:
    make_channel(db, code="woo", kind="woocommerce", webhook_secret=SECRET)
    ping = b"webhook_id=42"
    assert post(client, "woo", ping, {"X-WC-Webhook-Signature": sign(SECRET, ping)}).get_json() == {
        "status": "ping"
    }
    response = post(
        client,
        "woo",
        WOO_ORDER,
        {"X-WC-Webhook-Signature": sign(SECRET, WOO_ORDER), "X-WC-Webhook-Delivery-ID": "9"},
    )
    assert response.status_code == 200
    assert response.get_json()["results"][0]["external_id"] == str(json.loads(WOO_ORDER)["id"])


def test_webhook_square_signs_url_plus_body(client, db) -> None:
    url = "https://crossdock.example/api/channels/pos/webhooks/orders"
    make_channel(db, code="pos", kind="square", webhook_secret=SECRET, credentials={"notification_url": url})
    assert (
        post(
            client, "pos", SQUARE_ORDER, {"X-Square-Hmacsha256-Signature": sign(SECRET, SQUARE_ORDER)}
        ).status_code
        == 401
    )
    response = post(
        client, "pos", SQUARE_ORDER, {"X-Square-Hmacsha256-Signature": sign(SECRET, SQUARE_ORDER, url)}
    )
    assert response.status_code == 200


def test_webhook_needs_no_csrf_token(client, db, shopify) -> None:
    response = post(client, "shopify", SHOPIFY_ORDER, {"X-Shopify-Hmac-Sha256": sign(SECRET, SHOPIFY_ORDER)})
    assert response.status_code == 200


def test_webhook_processing_error_keeps_the_payload_and_undoes_the_rest(
    client, db, shopify, monkeypatch
) -> None:
    from core.orders import intake

    def explode(*args, **kwargs) -> None:  # after the order and its lines were written
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(intake, "_settle_payload", explode)
    response = post(
        client,
        "shopify",
        SHOPIFY_ORDER,
        {"X-Shopify-Hmac-Sha256": sign(SECRET, SHOPIFY_ORDER), "X-Shopify-Webhook-Id": "wh-boom"},
    )
    assert response.status_code == 500
    assert response.get_json()["error"] == "internal error; payload kept for retry"
    db.expire_all()
    [payload] = db.scalars(select(InboundPayload)).all()
    assert (payload.status, payload.error) == ("rejected", "RuntimeError: disk on fire")
    assert payload.body == SHOPIFY_ORDER.decode() and payload.delivery_id == "wh-boom"
    assert db.scalar(select(func.count()).select_from(Order)) == 0  # the rollback took the order back
