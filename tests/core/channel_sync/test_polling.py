"""Amazon and eBay pollers against a local server that serves our fixture payloads (tests/fixtures/)."""

from __future__ import annotations

import json
import types
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from core.channel_sync.jobs import poll_channels_job
from core.channel_sync.polling import (
    PollError,
    PollResult,
    poll_channel,
    polled_channel_codes,
    reimport_previous_day,
)
from core.channels import registry, webshop
from core.channels.amazon_api import amazon_time
from core.channels.ebay import ebay_time
from core.channels.http import HttpClient
from core.channels.models import Channel
from core.channels.polling_base import Page, text_credential
from core.orders.models import InboundPayload, Order, OrderEvent, OrderLine
from tests.factories import make_channel
from tests.fixtures import channel_text
from tests.httpserver import RecordingServer, Reply

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
FIRST_ORDER, SECOND_ORDER = "113-4827365-1029384", "113-5938271-6647105"
AMAZON_TOKEN = "Atza|sample-token"
EBAY_TOKEN = "v^1.1#sample-token"


class Sleeps(list):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def raw(text: str) -> Reply:
    """A fixture payload served byte for byte as JSON."""
    return Reply(200, text.encode("utf-8"), {"Content-Type": "application/json"})


@pytest.fixture
def server():
    with RecordingServer() as running:
        yield running


@pytest.fixture
def amazon_samples():
    """getOrders (two orders) and the getOrderItems response of the first."""
    return channel_text("amazon", "getOrders.json"), channel_text("amazon", "getOrderItems.json")


@pytest.fixture
def ebay_sample():
    """The first getOrders page: three orders of five, with a next page."""
    return channel_text("ebay", "getOrders.json")


def amazon_channel(db, url: str, **overrides) -> Channel:
    fields = {
        "code": "amazon-us",
        "kind": "amazon",
        "base_url": url,
        "credentials": {"access_token": AMAZON_TOKEN, "marketplace_ids": ["ATVPDKIKX0DER"]},
        "poll_cursor": datetime(1970, 1, 1, tzinfo=UTC),
    }
    channel = make_channel(db, **(fields | overrides))
    db.commit()
    return channel


def ebay_channel(db, url: str, **overrides) -> Channel:
    fields = {
        "code": "ebay-us",
        "kind": "ebay",
        "base_url": url,
        "credentials": {"access_token": EBAY_TOKEN},
        "poll_cursor": datetime(2020, 6, 1, tzinfo=UTC),
    }
    channel = make_channel(db, **(fields | overrides))
    db.commit()
    return channel


def serve_amazon(server, orders_page: str, items: str, *first_replies: Reply) -> None:
    """getOrders (after any first replies), the items of the first order; the second order has none."""
    server.add("GET", "/orders/v0/orders", *first_replies, raw(orders_page))
    server.add("GET", f"/orders/v0/orders/{FIRST_ORDER}/orderItems", raw(items))
    server.add(
        "GET",
        f"/orders/v0/orders/{SECOND_ORDER}/orderItems",
        Reply(404, {"errors": [{"code": "NotFound", "message": "order items not found"}]}),
    )


def client_for(server, sleeps=None, **options) -> HttpClient:
    return HttpClient(server.url, sleep=sleeps if sleeps is not None else Sleeps(), **options)


def stored_cursor(db, channel: Channel) -> datetime | None:
    db.expire_all()
    return db.get(Channel, channel.id).poll_cursor


def count(db, model, *where) -> int:
    db.expire_all()
    return db.scalar(select(func.count()).select_from(model).where(*where))


def test_poll_amazon_ingests_orders_with_their_items_and_advances_the_cursor(
    db, session_factory, server, amazon_samples
) -> None:
    channel = amazon_channel(db, server.url)
    serve_amazon(server, *amazon_samples)

    result = poll_channel(session_factory, channel.code, now=NOW, client=client_for(server))

    assert (result.fetched, result.orders) == (2, 2)
    assert len(result.errors) == 1
    assert result.errors[0].startswith(f"getOrderItems {SECOND_ORDER}: HTTP 404")
    first = db.scalar(select(Order).where(Order.external_id == FIRST_ORDER))
    assert sorted((line.channel_sku, line.external_id, line.quantity) for line in first.lines) == [
        ("DRIPPER-CER-WHT", "48213059371842", 2),
        ("FILTER-02-100", "48213059371843", 1),
    ]
    second = db.scalar(select(Order).where(Order.external_id == SECOND_ORDER))
    assert second.lines == []
    assert "order items not fetched" in second.hold_reason
    payloads = db.scalars(
        select(InboundPayload).where(InboundPayload.channel_id == channel.id).order_by(InboundPayload.id)
    ).all()
    assert [(p.source, p.topic) for p in payloads] == [("poll", "getOrders"), ("poll", "getOrderItems")]
    assert payloads[0].body == amazon_samples[0]
    # newest LastUpdateDate in the page (the second order's, 2025-06-02T15:12:03Z) less the two-minute overlap
    assert stored_cursor(db, channel) == datetime(2025, 6, 2, 15, 10, 3, tzinfo=UTC)
    assert result.cursor == stored_cursor(db, channel)


def test_poll_amazon_asks_for_orders_updated_since_the_cursor_with_the_access_token(
    db, session_factory, server, amazon_samples
) -> None:
    channel = amazon_channel(db, server.url)
    serve_amazon(server, *amazon_samples)

    poll_channel(session_factory, channel.code, now=NOW, client=client_for(server))

    orders_request, *items_requests = server.requests
    assert orders_request.path == "/orders/v0/orders"
    assert orders_request.query == {
        "MarketplaceIds": ["ATVPDKIKX0DER"],
        "LastUpdatedAfter": ["1970-01-01T00:00:00Z"],
    }
    assert [r.path for r in items_requests] == [
        f"/orders/v0/orders/{FIRST_ORDER}/orderItems",
        f"/orders/v0/orders/{SECOND_ORDER}/orderItems",
    ]
    assert {r.headers["x-amz-access-token"] for r in server.requests} == {AMAZON_TOKEN}


def test_poll_amazon_first_run_looks_back_two_days(db, session_factory, server, amazon_samples) -> None:
    channel = amazon_channel(db, server.url, poll_cursor=None)
    serve_amazon(server, *amazon_samples)

    result = poll_channel(session_factory, channel.code, now=NOW, client=client_for(server))

    assert server.requests[0].param("LastUpdatedAfter") == amazon_time(NOW - timedelta(days=2))
    # the fixture orders are older than the window: the cursor starts at the window, never before it
    assert result.cursor == NOW - timedelta(days=2)


def test_poll_amazon_waits_out_a_429_then_succeeds(db, session_factory, server, amazon_samples) -> None:
    channel = amazon_channel(db, server.url)
    serve_amazon(
        server, *amazon_samples, Reply(429, {"errors": [{"code": "QuotaExceeded"}]}, {"Retry-After": "2"})
    )
    sleeps = Sleeps()

    result = poll_channel(session_factory, channel.code, now=NOW, client=client_for(server, sleeps))

    assert sleeps == [2.0]
    assert result.orders == 2
    assert count(db, Order, Order.channel_id == channel.id) == 2


def test_poll_amazon_replayed_changes_nothing(db, session_factory, server, amazon_samples) -> None:
    channel = amazon_channel(db, server.url)
    serve_amazon(server, *amazon_samples)
    poll_channel(session_factory, channel.code, now=NOW, client=client_for(server))
    before = (count(db, Order), count(db, OrderLine), count(db, OrderEvent))

    again = poll_channel(
        session_factory, channel.code, now=NOW + timedelta(minutes=5), client=client_for(server)
    )

    assert again.orders == 2
    assert (count(db, Order), count(db, OrderLine), count(db, OrderEvent)) == before
    latest = db.scalars(select(InboundPayload).order_by(InboundPayload.id.desc()).limit(2)).all()
    assert {p.status for p in latest} == {"duplicate"}


def test_poll_amazon_server_error_leaves_the_cursor_where_it_was(db, session_factory, server) -> None:
    channel = amazon_channel(db, server.url)
    server.add("GET", "/orders/v0/orders", Reply(500, {"errors": [{"code": "InternalFailure"}]}))

    result = poll_channel(session_factory, channel.code, now=NOW, client=client_for(server, max_attempts=2))

    assert (result.fetched, result.orders) == (0, 0)
    assert result.errors == (
        'HTTP 500 from GET /orders/v0/orders: {"errors": [{"code": "InternalFailure"}]}',
    )
    assert stored_cursor(db, channel) == datetime(1970, 1, 1, tzinfo=UTC)
    assert count(db, InboundPayload, InboundPayload.channel_id == channel.id) == 0


def test_poll_amazon_items_server_error_stops_before_storing_the_page(
    db, session_factory, server, amazon_samples
) -> None:
    channel = amazon_channel(db, server.url)
    server.add("GET", "/orders/v0/orders", raw(amazon_samples[0]))
    server.add("GET", "/orders/v0/orders/", Reply(503, "Service Unavailable"))

    result = poll_channel(session_factory, channel.code, now=NOW, client=client_for(server, max_attempts=1))

    assert result.errors == (
        f"HTTP 503 from GET /orders/v0/orders/{FIRST_ORDER}/orderItems: Service Unavailable",
    )
    assert count(db, InboundPayload, InboundPayload.channel_id == channel.id) == 0
    assert stored_cursor(db, channel) == datetime(1970, 1, 1, tzinfo=UTC)


def test_poll_amazon_follows_next_token(db, session_factory, server, amazon_samples) -> None:
    channel = amazon_channel(db, server.url)
    first_page = json.loads(amazon_samples[0])
    first_page["payload"]["NextToken"] = "page-2"
    server.add("GET", "/orders/v0/orders", Reply(200, first_page))
    server.add(
        "GET", "/orders/v0/orders", Reply(200, {"payload": {"Orders": []}}), query={"NextToken": "page-2"}
    )
    server.add("GET", "/orders/v0/orders/", raw(amazon_samples[1]))

    result = poll_channel(session_factory, channel.code, now=NOW, client=client_for(server))

    pages = server.requests_to("GET", "/orders/v0/orders")
    page_two = [r for r in pages if r.param("NextToken")]
    assert [r.query for r in page_two] == [{"MarketplaceIds": ["ATVPDKIKX0DER"], "NextToken": ["page-2"]}]
    assert result.errors == ()


def test_poll_amazon_cursor_stops_short_of_an_order_whose_items_failed(
    db, session_factory, server, amazon_samples
) -> None:
    channel = amazon_channel(db, server.url)
    page = json.loads(amazon_samples[0])
    page["payload"]["Orders"][0]["LastUpdateDate"] = "2025-06-03T09:00:00Z"  # the complete order is newer
    serve_amazon(server, json.dumps(page), amazon_samples[1])

    result = poll_channel(session_factory, channel.code, now=NOW, client=client_for(server))

    # the second order (items: 404) was last updated 2025-06-02T15:12:03Z: the next poll fetches it again
    assert result.cursor == datetime(2025, 6, 2, 15, 10, 3, tzinfo=UTC)


def test_poll_amazon_without_an_access_token_sends_nothing(db, session_factory, server) -> None:
    channel = amazon_channel(db, server.url, credentials={"marketplace_ids": ["ATVPDKIKX0DER"]})

    result = poll_channel(session_factory, channel.code, now=NOW, client=client_for(server))

    assert result == PollResult(
        0, 0, ("channel 'amazon-us' has no credentials['access_token']",), result.cursor
    )
    assert server.requests == []


def test_poll_ebay_ingests_the_orders_page_and_advances_the_cursor(
    db, session_factory, server, ebay_sample
) -> None:
    channel = ebay_channel(db, server.url)
    server.add("GET", "/sell/fulfillment/v1/order", raw(ebay_sample))
    server.add(
        "GET", "/sell/fulfillment/v1/order", Reply(200, {"orders": [], "total": 3}), query={"offset": "3"}
    )

    result = poll_channel(session_factory, channel.code, now=NOW, client=client_for(server))

    assert (result.fetched, result.orders, result.errors) == (2, 3, ())
    first, second = server.requests
    assert first.query == {
        "filter": ["lastmodifieddate:[2020-06-01T00:00:00.000Z..]"],
        "limit": ["50"],
        "offset": ["0"],
    }
    assert second.param("offset") == "3"
    assert first.headers["authorization"] == f"Bearer {EBAY_TOKEN}"
    ids = set(db.scalars(select(Order.external_id).where(Order.channel_id == channel.id)))
    assert ids == {order["orderId"] for order in json.loads(ebay_sample)["orders"]}
    [payload] = db.scalars(
        select(InboundPayload).where(InboundPayload.channel_id == channel.id).order_by(InboundPayload.id)
    ).all()
    assert (payload.source, payload.body) == ("poll", ebay_sample)
    # newest lastModifiedDate (2025-09-09T08:01:47.000Z) less the overlap
    assert stored_cursor(db, channel) == datetime(2025, 9, 9, 7, 59, 47, tzinfo=UTC)


def test_poll_ebay_replayed_creates_nothing_new(db, session_factory, server, ebay_sample) -> None:
    channel = ebay_channel(db, server.url)
    server.add("GET", "/sell/fulfillment/v1/order", raw(ebay_sample))
    server.add("GET", "/sell/fulfillment/v1/order", Reply(200, {"orders": []}), query={"offset": "3"})
    poll_channel(session_factory, channel.code, now=NOW, client=client_for(server))
    orders, events = count(db, Order), count(db, OrderEvent)

    poll_channel(session_factory, channel.code, now=NOW + timedelta(minutes=5), client=client_for(server))

    assert (count(db, Order), count(db, OrderEvent)) == (orders, events)


def test_reimport_previous_day_fetches_the_last_day_without_moving_the_cursor(
    db, session_factory, server, ebay_sample, amazon_samples
) -> None:
    ebay = ebay_channel(db, server.url)
    amazon = amazon_channel(db, server.url)
    server.add("GET", "/sell/fulfillment/v1/order", raw(ebay_sample))
    server.add("GET", "/sell/fulfillment/v1/order", Reply(200, {"orders": []}), query={"offset": "3"})
    serve_amazon(server, *amazon_samples)

    ebay_result = reimport_previous_day(session_factory, ebay.code, now=NOW, client=client_for(server))
    amazon_result = reimport_previous_day(session_factory, amazon.code, now=NOW, client=client_for(server))

    start = NOW - timedelta(days=1, minutes=2)
    assert server.requests[0].param("filter") == f"lastmodifieddate:[{ebay_time(start)}..{ebay_time(NOW)}]"
    amazon_request = server.requests_to("GET", "/orders/v0/orders")[-3]
    assert amazon_request.param("LastUpdatedAfter") == amazon_time(start)
    assert amazon_request.param("LastUpdatedBefore") == amazon_time(NOW - timedelta(minutes=2))
    assert (ebay_result.orders, amazon_result.orders) == (3, 2)
    assert stored_cursor(db, ebay) == datetime(2020, 6, 1, tzinfo=UTC)
    assert stored_cursor(db, amazon) == datetime(1970, 1, 1, tzinfo=UTC)


def test_polled_channel_codes_are_active_amazon_and_ebay_channels_with_a_base_url(db) -> None:
    make_channel(db, code="amz", kind="amazon", base_url="https://sellingpartnerapi-na.amazon.com")
    make_channel(db, code="eb", kind="ebay", base_url="https://api.ebay.com")
    make_channel(db, code="amz-off", kind="amazon", base_url="https://x.example", active=False)
    make_channel(db, code="eb-nourl", kind="ebay")
    make_channel(db, code="shop", kind="shopify", base_url="https://shop.example")

    assert polled_channel_codes(db) == ["amz", "eb"]


def test_poll_channels_job_reports_each_channel(db, session_factory, server) -> None:
    amazon_channel(db, server.url, credentials={})
    db.commit()

    summary = poll_channels_job(db, NOW)

    assert summary == {"amazon-us": "0 fetched, 0 orders, 1 errors"}


# --- a channel added as a module and a registry entry only --------------------------------------------------

WEBSHOP_STYLE_ORDER = {
    "id": "FS-5001",
    "placed_at": "2026-11-20T10:15:00+00:00",
    "updated_at": "2026-11-20T11:00:00+00:00",
    "status": "paid",
    "currency": "EUR",
    "customer": {"name": "Ann Lee", "email": "ann@example.com"},
    "lines": [{"id": "1", "sku": "MUG-RED", "title": "Red mug", "quantity": 1, "unit_price": "12.50"}],
    "totals": {"subtotal": "12.50", "discount": "0.00", "shipping": "0.00", "tax": "0.00", "total": "12.50"},
}


def polled_fake_channel(calls: list) -> types.ModuleType:
    """A polled channel as a new one would add it: its module reads its orders and has a poll_pages hook."""
    module = types.ModuleType("fakepoll")
    module.KIND = "fakepoll"
    module.extract, module.adapt = webshop.extract, webshop.adapt  # its order format happens to be ours

    def poll_pages(client, credentials, since, until):
        calls.append((since, until))
        headers = {"X-Token": text_credential(credentials, "token")}
        response = client.get("/orders", {"since": since.isoformat()}, headers=headers)
        orders = response.data["orders"]
        yield Page(
            bodies=[("orders", response)],
            orders=len(orders),
            updated=[datetime.fromisoformat(order["updated_at"]) for order in orders],
        )

    module.poll_pages = poll_pages
    return module


def test_a_registered_adapter_with_a_poll_hook_is_polled(db, session_factory, server, monkeypatch) -> None:
    calls: list = []
    monkeypatch.setitem(registry.ADAPTERS, "fakepoll", polled_fake_channel(calls))
    channel = make_channel(
        db,
        code="fake-1",
        kind="fakepoll",
        base_url=server.url,
        credentials={"token": "t-1"},
        poll_cursor=None,
    )
    db.commit()
    server.add("GET", "/orders", Reply(200, {"orders": [WEBSHOP_STYLE_ORDER]}))

    assert "fake-1" in polled_channel_codes(db)
    summary = poll_channels_job(db, NOW)

    assert summary == {"fake-1": "1 fetched, 1 orders, 0 errors"}
    assert calls == [(NOW - timedelta(days=2), None)]
    [request] = server.requests
    assert (request.param("since"), request.headers["x-token"]) == (
        (NOW - timedelta(days=2)).isoformat(),
        "t-1",
    )
    assert db.scalar(select(Order.external_id).where(Order.channel_id == channel.id)) == "FS-5001"
    assert stored_cursor(db, channel) == datetime(2026, 11, 20, 10, 58, tzinfo=UTC)

    reimport = reimport_previous_day(session_factory, channel.code, now=NOW, client=client_for(server))

    assert calls[-1] == (NOW - timedelta(days=1, minutes=2), NOW)
    assert reimport.orders == 1


def test_a_registered_adapter_with_a_poll_hook_reports_missing_credentials(
    db, session_factory, server, monkeypatch
) -> None:
    monkeypatch.setitem(registry.ADAPTERS, "fakepoll", polled_fake_channel([]))
    channel = make_channel(db, code="fake-2", kind="fakepoll", base_url=server.url, credentials={})
    db.commit()

    result = poll_channel(session_factory, channel.code, now=NOW, client=client_for(server))

    assert result.errors == ("channel 'fake-2' has no credentials['token']",)
    assert server.requests == []


def test_a_channel_without_a_poll_hook_is_not_polled(db, session_factory) -> None:
    channel = make_channel(db, kind="shopify", base_url="https://shop.example")
    db.commit()

    with pytest.raises(PollError, match="is a shopify channel, not amazon or bigcommerce or ebay or walmart"):
        poll_channel(session_factory, channel.code, now=NOW)
