"""BigCommerce order webhooks (store/order/created, updated, statusUpdated) carry only the order id: the
webhook is authenticated by the custom header registered with it, stored and answered at once, and
fetch_announced_orders fetches the order with its products and shipping addresses from a real local HTTP
server serving the documented example payloads, then settles the webhook."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from core.channel_sync.jobs import fetch_announced_orders_job
from core.channel_sync.polling import fetch_announced_orders
from core.channels.http import HttpClient
from core.orders.models import InboundPayload, Order
from tests.factories import make_channel
from tests.fixtures import channel_json, channel_text
from tests.httpserver import RecordingServer, Reply

SECRET = "bc-hook-secret"
TOKEN = "bc-api-token"
HEADER = "X-Crossdock-Webhook-Token"
NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def webhook(scope: str, order_id: int, **data) -> bytes:
    """A BigCommerce webhook body as its documentation shows it."""
    body = json.loads(channel_text("bigcommerce", "webhook_order_created.json"))
    body["scope"] = scope
    body["data"] = {"type": "order", "id": order_id, **data}
    return json.dumps(body).encode("utf-8")


def post(client, body: bytes, headers: dict[str, str]):
    return client.post(
        "/api/channels/bc/webhooks/orders", data=body, headers={"Content-Type": "application/json", **headers}
    )


@pytest.fixture
def server():
    with RecordingServer() as running:
        order = channel_json("bigcommerce", "orders.json")[0]  # #3001, sub-resources as links
        running.add(
            "GET", "/v2/orders/3001/products", Reply(200, channel_json("bigcommerce", "products_3001.json"))
        )
        running.add(
            "GET",
            "/v2/orders/3001/shipping_addresses",
            Reply(200, channel_json("bigcommerce", "shipping_addresses_3001.json")),
        )
        running.add("GET", "/v2/orders/3001", Reply(200, order))
        yield running


@pytest.fixture
def channel(db, server):
    made = make_channel(
        db,
        code="bc",
        kind="bigcommerce",
        webhook_secret=SECRET,
        base_url=server.url,
        credentials={"access_token": TOKEN},
    )
    db.commit()
    return made


def fetch(session_factory, server):
    return fetch_announced_orders(
        session_factory, now=NOW, client_for=lambda info: HttpClient(server.url, sleep=lambda s: None)
    )


def payload_of(db, payload_id: int) -> InboundPayload:
    return db.scalar(
        select(InboundPayload)
        .where(InboundPayload.id == payload_id)
        .execution_options(populate_existing=True)
    )


def test_webhook_with_the_registered_header_is_stored_as_an_order_to_fetch(
    client, db, channel, server
) -> None:
    response = post(client, webhook("store/order/created", 3001), {HEADER: SECRET})
    assert response.status_code == 200
    data = response.get_json()
    assert data["status"] == "received"
    assert data["results"][0]["external_id"] == "3001" and data["results"][0]["to_fetch"] is True
    assert server.requests == []  # the webhook is answered without calling the channel
    assert db.scalar(select(func.count()).select_from(Order)) == 0


@pytest.mark.parametrize("headers", [{}, {HEADER: "wrong"}, {HEADER: SECRET + "x"}])
def test_webhook_without_the_registered_header_is_401_and_stores_nothing(
    client, db, channel, headers
) -> None:
    response = post(client, webhook("store/order/created", 3001), headers)
    assert response.status_code == 401
    assert HEADER in response.get_json()["error"]
    assert db.scalar(select(func.count()).select_from(InboundPayload)) == 0


@pytest.mark.parametrize(
    ("scope", "data"),
    [
        ("store/order/created", {}),
        ("store/order/updated", {}),
        ("store/order/statusUpdated", {"status": {"previous_status_id": 0, "new_status_id": 11}}),
    ],
)
def test_announced_order_is_fetched_with_products_and_address(
    client, db, session_factory, channel, server, scope, data
) -> None:
    payload_id = post(client, webhook(scope, 3001, **data), {HEADER: SECRET}).get_json()["payload_id"]
    result = fetch(session_factory, server)
    assert (result.webhooks, result.orders, result.errors) == (1, 1, ())
    paths = [r.path for r in server.requests]
    assert paths == ["/v2/orders/3001", "/v2/orders/3001/products", "/v2/orders/3001/shipping_addresses"]
    assert all(r.headers["x-auth-token"] == TOKEN for r in server.requests)
    order = db.scalar(select(Order).where(Order.external_id == "3001"))
    assert order is not None and len(order.lines) == 2 and order.shipping_address["line1"]
    assert "not fetched" not in (order.hold_reason or "")
    webhook_payload = payload_of(db, payload_id)
    assert (webhook_payload.status, webhook_payload.order_id) == ("processed", order.id)
    fetched = db.scalars(select(InboundPayload.topic).where(InboundPayload.source == "fetch")).all()
    assert sorted(fetched) == ["order", "products", "shipping_addresses"]


def test_second_run_fetches_nothing_and_replayed_webhook_changes_nothing(
    client, db, session_factory, channel, server
) -> None:
    body = webhook("store/order/updated", 3001)
    post(client, body, {HEADER: SECRET})
    fetch(session_factory, server)
    assert fetch(session_factory, server).webhooks == 0
    post(client, body, {HEADER: SECRET})  # the same body again: stored, fetched again, the order unchanged
    fetch(session_factory, server)
    assert db.scalar(select(func.count()).select_from(Order)) == 1


def test_order_the_channel_no_longer_has_rejects_the_webhook_with_the_reason(
    client, db, session_factory, channel, server
) -> None:
    payload_id = post(client, webhook("store/order/created", 4040), {HEADER: SECRET}).get_json()["payload_id"]
    result = fetch(session_factory, server)
    assert result.webhooks == 1 and "order 4040" in result.errors[0]
    stored = payload_of(db, payload_id)
    assert stored.status == "rejected" and "404" in stored.error


def test_fetch_failure_keeps_the_webhook_for_the_next_run(client, db, session_factory, server) -> None:
    make_channel(
        db, code="bc", kind="bigcommerce", webhook_secret=SECRET, base_url=server.url, credentials={}
    )
    db.commit()
    payload_id = post(client, webhook("store/order/created", 3001), {HEADER: SECRET}).get_json()["payload_id"]
    result = fetch(session_factory, server)
    assert "has no credentials['access_token']" in result.errors[0]
    stored = payload_of(db, payload_id)
    assert stored.status == "received" and "fetch failed" in stored.error


def test_worker_job_runs_the_fetch(client, db, channel, server) -> None:
    post(client, webhook("store/order/created", 3001), {HEADER: SECRET})
    result = fetch_announced_orders_job(db, NOW)
    assert result.orders == 1 and result.errors == ()
