"""Channel pushes through the outbox: request shapes, dispatch, retries and failures, concurrency."""

from __future__ import annotations

import threading
import types
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

import core.models  # noqa: F401  (registers every table)
from core import migrate
from core.catalog.models import Listing
from core.channel_sync.jobs import channel_push_job
from core.channel_sync.pushes import (
    DispatchResult,
    dispatch_channel_outbox,
    queue_shipment_confirmation,
    retry_delay,
)
from core.channels import registry
from core.channels.base import MissingCredentials
from core.channels.http import HttpClient
from core.channels.models import Channel
from core.channels.outbound_base import created_reference
from core.db import begin_write, make_engine, make_session_factory
from core.fulfillment.models import Shipment, ShipmentLine
from core.inventory.allocations import receive_stock
from core.inventory.models import StockLevel
from core.inventory.queries import available_to_sell
from core.inventory.reservations import reserve_stock
from core.notifications.models import OutboxMessage
from core.notifications.services import retry_outbox_message
from core.security.roles import Actor
from tests.conftest import drop_database, fresh_database_url
from tests.factories import make_channel, make_order, make_sku
from tests.httpserver import RecordingServer, Reply
from tests.inventory_factories import link, make_location

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


class Sleeps(list):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def server():
    with RecordingServer() as running:
        yield running


@pytest.mark.parametrize(
    ("attempts", "delay"),
    [
        (1, timedelta(seconds=60)),
        (2, timedelta(seconds=120)),
        (5, timedelta(seconds=960)),
        (9, timedelta(seconds=15360)),
        (10, timedelta(hours=6)),
        (40, timedelta(hours=6)),
    ],
)
def test_retry_delay_doubles_from_a_minute_up_to_six_hours(attempts: int, delay: timedelta) -> None:
    assert retry_delay(attempts) == delay


# --- queueing -----------------------------------------------------------------------------------------------


def shipped_order(db, kind: str = "amazon", **order_fields):
    channel = make_channel(db, kind=kind, credentials={"marketplace_id": "ATVPDKIKX0DER"})
    order = make_order(db, channel_id=channel.id, lines=2, **order_fields)
    for n, line in enumerate(order.lines):
        line.external_id = f"item-{n}"
    shipment = Shipment(
        order_id=order.id, carrier="UPS", tracking_number="1Z1", status="shipped", shipped_at=NOW
    )
    shipment.lines.append(ShipmentLine(order_line_id=order.lines[1].id, quantity=1))
    db.add(shipment)
    db.flush()
    return order, shipment


def test_queue_shipment_confirmation_queues_one_row_per_shipment(db) -> None:
    order, shipment = shipped_order(db)

    first = queue_shipment_confirmation(db, shipment, now=NOW)
    second = queue_shipment_confirmation(db, shipment, now=NOW)

    assert first is second
    assert (first.kind, first.transport, first.dedup_key, first.status) == (
        "shipment_confirmation",
        "channel",
        f"shipconfirm:{shipment.id}",
        "pending",
    )
    assert first.payload["order_external_id"] == order.external_id
    assert first.payload["lines"] == [
        {"line_item_id": "item-1", "channel_sku": order.lines[1].channel_sku, "quantity": 1}
    ]
    assert (first.payload["carrier"], first.payload["tracking_number"]) == ("UPS", "1Z1")
    assert first.payload["shipped_at"] == NOW.isoformat()


def test_queue_shipment_confirmation_skips_orders_the_channel_ships_or_that_take_none(db) -> None:
    _order, by_amazon = shipped_order(db, fulfilled_by_channel=True)
    _order, web = shipped_order(db, kind="webshop")

    assert queue_shipment_confirmation(db, by_amazon, now=NOW) is None
    assert queue_shipment_confirmation(db, web, now=NOW) is None


# --- dispatch -----------------------------------------------------------------------------------------------


def ebay_listing(db, url: str, **channel_fields):
    fields = {"kind": "ebay", "base_url": url, "credentials": {"access_token": "ebay-token"}}
    channel = make_channel(db, **(fields | channel_fields))
    sku = make_sku(db)
    db.add(Listing(channel_id=channel.id, channel_sku=f"EB-{sku.code}", sku_id=sku.id))
    db.flush()
    return channel, sku


def stock_row(db, channel: Channel, sku_id: int, quantity: int, **overrides) -> OutboxMessage:
    """`quantity` units of the SKU received at a location serving the channel, and the stock push row that
    arms (with `overrides` applied to it)."""
    location = make_location(db)
    link(db, channel, location)
    receive_stock(db, location.id, sku_id, quantity, actor="ops@example.org", now=NOW)
    db.flush()
    row = db.scalar(
        select(OutboxMessage).where(OutboxMessage.dedup_key == f"stock:{channel.id}:{sku_id}:pending")
    )
    for name, value in overrides.items():
        setattr(row, name, value)
    db.commit()
    return row


def reload(db, row: OutboxMessage) -> OutboxMessage:
    db.expire_all()
    return db.get(OutboxMessage, row.id)


def ok_bulk(sku: str) -> Reply:
    return Reply(200, {"responses": [{"statusCode": 200, "sku": sku}]})


def test_dispatch_pushes_the_quantity_the_inventory_queued_and_marks_it_sent(
    db, session_factory, server
) -> None:
    channel, sku = ebay_listing(db, server.url)
    location = make_location(db)
    link(db, channel, location)
    receive_stock(db, location.id, sku.id, 7, actor="ops@example.org", now=NOW)
    db.commit()
    server.add("POST", "/sell/inventory/v1/bulk_update_price_quantity", ok_bulk(f"EB-{sku.code}"))

    result = dispatch_channel_outbox(session_factory, now=NOW)

    assert result == DispatchResult(claimed=1, sent=1)
    [request] = server.requests
    assert request.json == {
        "requests": [{"sku": f"EB-{sku.code}", "shipToLocationAvailability": {"quantity": 7}}]
    }
    assert request.headers["authorization"] == "Bearer ebay-token"
    db.expire_all()
    row = db.scalar(select(OutboxMessage).where(OutboxMessage.recipient == channel.code))
    assert (row.status, row.sent_at, row.attempts, row.last_error) == ("sent", NOW, 0, None)


def queued_confirmation(
    db, channel: Channel, external_id: str, line_item_id: str, carrier: str, tracking: str
):
    """A one-line order of the channel, shipped whole, its confirmation queued and committed: (order, row)."""
    order = make_order(db, channel_id=channel.id, external_id=external_id)
    order.lines[0].external_id = line_item_id
    shipment = Shipment(order_id=order.id, carrier=carrier, tracking_number=tracking, shipped_at=NOW)
    db.add(shipment)
    db.flush()
    row = queue_shipment_confirmation(db, shipment, now=NOW)
    db.commit()
    return order, row


def test_dispatch_confirms_a_shipment_to_amazon(db, session_factory, server) -> None:
    channel = make_channel(
        db,
        kind="amazon",
        base_url=server.url,
        credentials={"access_token": "Atza|t", "marketplace_ids": ["ATVPDKIKX0DER"]},
    )
    _order, row = queued_confirmation(db, channel, "902-1845936-5435065", "05015851154158", "USPS", "9400")
    server.add("POST", "/orders/v0/orders/", Reply(204))

    result = dispatch_channel_outbox(session_factory, now=NOW)

    assert result.sent == 1
    [request] = server.requests
    assert request.path == "/orders/v0/orders/902-1845936-5435065/shipmentConfirmation"
    assert request.headers["x-amz-access-token"] == "Atza|t"
    assert request.json["packageDetail"]["orderItems"] == [{"orderItemId": "05015851154158", "quantity": 1}]
    assert (reload(db, row).status, reload(db, row).message_id) == ("sent", "HTTP 204")


def test_dispatch_confirms_a_shopify_shipment_against_its_fulfillment_orders(
    db, session_factory, server
) -> None:
    channel = make_channel(db, kind="shopify", base_url=server.url, credentials={"access_token": "shpat_x"})
    _order, row = queued_confirmation(db, channel, "450789469", "466157049", "DHL", "JD01")
    server.add(
        "GET",
        "/admin/api/2024-10/orders/450789469/fulfillment_orders.json",
        Reply(
            200,
            {
                "fulfillment_orders": [
                    {
                        "id": 1046000778,
                        "status": "open",
                        "line_items": [
                            {"id": 1025578633, "line_item_id": 466157049, "fulfillable_quantity": 1}
                        ],
                    }
                ]
            },
        ),
    )
    server.add("POST", "/admin/api/2024-10/fulfillments.json", Reply(201, {"fulfillment": {"id": 255858046}}))

    dispatch_channel_outbox(session_factory, now=NOW)

    lookup, create = server.requests
    assert lookup.headers["x-shopify-access-token"] == "shpat_x"
    assert create.json["fulfillment"]["line_items_by_fulfillment_order"] == [
        {
            "fulfillment_order_id": 1046000778,
            "fulfillment_order_line_items": [{"id": 1025578633, "quantity": 1}],
        }
    ]
    assert create.json["fulfillment"]["tracking_info"] == {"number": "JD01", "company": "DHL"}
    assert reload(db, row).message_id == "fulfillment 255858046"


def test_dispatch_retries_a_server_error_later_with_back_off(db, session_factory, server) -> None:
    channel, sku = ebay_listing(db, server.url)
    row = stock_row(db, channel, sku.id, 5)
    server.add(
        "POST", "/sell/inventory/v1/bulk_update_price_quantity", Reply(500, {"errors": [{"errorId": 25001}]})
    )
    clients = {channel.code: HttpClient(server.url, sleep=Sleeps(), max_attempts=1)}

    first = dispatch_channel_outbox(session_factory, now=NOW, clients=clients)

    assert first == DispatchResult(claimed=1, retrying=1)
    row = reload(db, row)
    assert (row.status, row.attempts, row.next_attempt_at) == ("pending", 1, NOW + timedelta(seconds=60))
    assert row.last_error == (
        'HTTP 500 from POST /sell/inventory/v1/bulk_update_price_quantity: {"errors": [{"errorId": 25001}]}'
    )

    too_early = dispatch_channel_outbox(session_factory, now=NOW + timedelta(seconds=59), clients=clients)
    later = dispatch_channel_outbox(session_factory, now=NOW + timedelta(seconds=60), clients=clients)

    assert (too_early.claimed, later.retrying) == (0, 1)
    row = reload(db, row)
    assert (row.attempts, row.next_attempt_at) == (2, NOW + timedelta(seconds=60 + 120))
    assert len(server.requests) == 2


def test_dispatch_gives_up_after_eight_attempts(db, session_factory, server) -> None:
    channel, sku = ebay_listing(db, server.url)
    row = stock_row(db, channel, sku.id, 5, attempts=7)
    server.add("POST", "/sell/inventory/", Reply(503, "busy"))
    clients = {channel.code: HttpClient(server.url, sleep=Sleeps(), max_attempts=1)}

    result = dispatch_channel_outbox(session_factory, now=NOW, clients=clients)

    assert result.failed == 1
    assert (reload(db, row).status, reload(db, row).attempts) == ("failed", 8)


def test_dispatch_fails_a_client_error_at_once(db, session_factory, server) -> None:
    channel, sku = ebay_listing(db, server.url)
    row = stock_row(db, channel, sku.id, 5)
    server.add("POST", "/sell/inventory/", Reply(400, {"errors": [{"message": "Invalid SKU"}]}))

    result = dispatch_channel_outbox(session_factory, now=NOW)

    assert result == DispatchResult(claimed=1, failed=1)
    row = reload(db, row)
    assert (row.status, row.attempts) == ("failed", 1)
    assert "HTTP 400" in row.last_error and "Invalid SKU" in row.last_error
    assert len(server.requests) == 1


def test_dispatch_treats_a_refusal_inside_a_200_as_a_failure(db, session_factory, server) -> None:
    channel, sku = ebay_listing(db, server.url)
    row = stock_row(db, channel, sku.id, 5)
    refusal = {"responses": [{"statusCode": 400, "sku": "x", "errors": [{"errorId": 25702}]}]}
    server.add("POST", "/sell/inventory/", Reply(200, refusal))

    dispatch_channel_outbox(session_factory, now=NOW)

    row = reload(db, row)
    assert row.status == "failed"
    assert "25702" in row.last_error


def test_dispatch_leaves_rows_not_yet_due_and_other_transports_alone(db, session_factory, server) -> None:
    channel, sku = ebay_listing(db, server.url)
    later = stock_row(db, channel, sku.id, 5, next_attempt_at=NOW + timedelta(minutes=1))
    email = stock_row(
        db,
        channel,
        sku.id,
        5,
        transport="email",
        kind="order_confirmed",
        dedup_key="mail:1",
        recipient="a@b.c",
    )

    result = dispatch_channel_outbox(session_factory, now=NOW)

    assert result == DispatchResult()
    assert server.requests == []
    for row in (later, email):
        fresh = reload(db, row)
        assert (fresh.status, fresh.attempts, fresh.next_attempt_at) == ("pending", 0, row.next_attempt_at)


def test_dispatch_sends_again_when_the_stock_changed_while_sending(db, session_factory, server) -> None:
    channel, sku = ebay_listing(db, server.url)
    row = stock_row(db, channel, sku.id, 5)
    [location_id] = db.scalars(select(StockLevel.location_id).where(StockLevel.sku_id == sku.id)).all()
    server.add("POST", "/sell/inventory/", ok_bulk(f"EB-{sku.code}"))

    class ReceivesStockMidway(HttpClient):
        calls = 0

        def request(self, *args, **kwargs):
            ReceivesStockMidway.calls += 1
            if ReceivesStockMidway.calls == 1:  # a delivery is booked in while the first figure is on its way
                with session_factory() as other:
                    begin_write(other)
                    receive_stock(other, location_id, sku.id, 3, actor="ops@example.org", now=NOW)
                    assert other.get(OutboxMessage, row.id).status == "pending"  # armed again
                    other.commit()
            return super().request(*args, **kwargs)

    result = dispatch_channel_outbox(
        session_factory, now=NOW, clients={channel.code: ReceivesStockMidway(server.url)}
    )

    assert result == DispatchResult(claimed=2, sent=1, retrying=1)
    quantities = [r.json["requests"][0]["shipToLocationAvailability"]["quantity"] for r in server.requests]
    assert quantities == [5, 8]
    sent = reload(db, row)
    assert (sent.status, sent.payload["quantity"], sent.attempts) == ("sent", 8, 0)


def test_dispatch_pushes_the_figure_at_sending_time_by_the_channels_buffer_rules(
    db, session_factory, server
) -> None:
    channel, sku = ebay_listing(db, server.url, stock_buffer_units=2, stock_buffer_percent=10)
    row = stock_row(db, channel, sku.id, 30)  # armed when 30 units were in
    [served] = db.scalars(select(StockLevel.location_id).where(StockLevel.sku_id == sku.id)).all()
    closed = make_location(db, active=False)
    elsewhere = make_location(db)  # does not serve the channel
    link(db, channel, closed)
    for location in (closed, elsewhere):
        receive_stock(db, location.id, sku.id, 50, actor="ops@example.org", now=NOW)
    reserve_stock(db, [(served, sku.id, 10)], order_id=None, actor="ops@example.org", now=NOW)
    db.commit()
    server.add("POST", "/sell/inventory/", ok_bulk(f"EB-{sku.code}"))

    assert dispatch_channel_outbox(session_factory, now=NOW) == DispatchResult(claimed=1, sent=1)

    # 20 available at the one active serving location, minus 2 units, minus 10% (2): 16
    [request] = server.requests
    assert request.json["requests"][0]["shipToLocationAvailability"]["quantity"] == 16
    assert available_to_sell(db, channel, sku.id) == 16
    assert (reload(db, row).payload["quantity"], reload(db, row).message_id) == (
        16,
        f"16 units: EB-{sku.code}: HTTP 200",
    )


def test_a_dispatcher_that_died_mid_send_leaves_the_row_to_be_taken_after_its_lease(
    db, session_factory, server
) -> None:
    channel, sku = ebay_listing(db, server.url)
    row = stock_row(db, channel, sku.id, 4, status="sending", next_attempt_at=NOW + timedelta(minutes=5))
    server.add("POST", "/sell/inventory/", ok_bulk(f"EB-{sku.code}"))

    assert dispatch_channel_outbox(session_factory, now=NOW) == DispatchResult()  # still leased
    later = NOW + timedelta(minutes=6)
    assert dispatch_channel_outbox(session_factory, now=later) == DispatchResult(claimed=1, sent=1)
    assert reload(db, row).status == "sent"


def test_dispatch_marks_a_push_to_a_channel_without_stock_api_as_skipped(db, session_factory, server) -> None:
    channel = make_channel(db, kind="webshop", base_url=server.url)
    row = stock_row(db, channel, make_sku(db).id, 5)

    result = dispatch_channel_outbox(session_factory, now=NOW)

    assert result == DispatchResult(claimed=1, skipped=1)
    row = reload(db, row)
    assert (row.status, row.last_error, row.message_id, row.sent_at) == (
        "skipped",
        "a webshop channel takes no stock push",
        None,
        None,
    )
    assert server.requests == []


def test_dispatch_skips_a_push_for_a_sku_the_channel_does_not_list(db, session_factory, server) -> None:
    channel = make_channel(db, kind="ebay", base_url=server.url, credentials={"access_token": "t"})
    row = stock_row(db, channel, make_sku(db).id, 5)

    assert dispatch_channel_outbox(session_factory, now=NOW) == DispatchResult(claimed=1, skipped=1)
    assert reload(db, row).last_error == f"the SKU is not listed on channel {channel.code!r}"
    assert server.requests == []


@pytest.mark.parametrize(
    ("channel_fields", "reason"),
    [
        ({"base_url": None}, "has no base URL"),
        ({"base_url": ""}, "has no base URL"),
        ({"credentials": {}}, "has no credentials['access_token']"),
        ({"active": False}, "is not active"),
    ],
    ids=["no-base-url", "blank-base-url", "no-token", "inactive"],
)
def test_dispatch_skips_a_push_that_cannot_go_anywhere_and_never_retries_it(
    db, session_factory, server, channel_fields, reason
) -> None:
    channel, sku = ebay_listing(db, server.url)
    row = stock_row(db, channel, sku.id, 5)
    for name, value in channel_fields.items():
        setattr(channel, name, value)
    db.commit()

    assert dispatch_channel_outbox(session_factory, now=NOW) == DispatchResult(claimed=1, skipped=1)
    row = reload(db, row)
    assert (row.status, row.attempts) == ("skipped", 0)
    assert row.last_error == f"channel {channel.code!r} {reason}"
    assert dispatch_channel_outbox(session_factory, now=NOW + timedelta(days=2)) == DispatchResult()
    assert server.requests == []


def test_a_skipped_stock_push_is_sent_after_a_stock_change_once_the_channel_is_configured(
    db, session_factory, server
) -> None:
    channel, sku = ebay_listing(db, server.url, base_url=None)
    location = make_location(db)
    link(db, channel, location)
    receive_stock(db, location.id, sku.id, 5, actor="ops@example.org", now=NOW)
    db.commit()
    assert dispatch_channel_outbox(session_factory, now=NOW).skipped == 1

    # Still no base URL: the next stock change arms it again, and it is skipped again without a request.
    receive_stock(db, location.id, sku.id, 1, actor="ops@example.org", now=NOW)
    db.commit()
    assert dispatch_channel_outbox(session_factory, now=NOW).skipped == 1
    assert server.requests == []

    channel.base_url = server.url
    db.commit()
    assert dispatch_channel_outbox(session_factory, now=NOW) == DispatchResult()  # armed by a stock change
    receive_stock(db, location.id, sku.id, 2, actor="ops@example.org", now=NOW)
    db.commit()
    server.add("POST", "/sell/inventory/v1/bulk_update_price_quantity", ok_bulk(f"EB-{sku.code}"))

    assert dispatch_channel_outbox(session_factory, now=NOW) == DispatchResult(claimed=1, sent=1)
    [request] = server.requests
    assert request.json["requests"][0]["shipToLocationAvailability"] == {"quantity": 8}
    row = db.scalar(select(OutboxMessage).where(OutboxMessage.recipient == channel.code))
    db.refresh(row)
    assert (row.status, row.last_error) == ("sent", None)


def test_a_skipped_shipment_confirmation_waits_for_a_retry_once_the_channel_is_set_up(
    db, session_factory, server
) -> None:
    channel = make_channel(db, kind="amazon", base_url=server.url, credentials={})
    _order, row = queued_confirmation(db, channel, "902-1845936-5435065", "05015851154158", "USPS", "9400")

    assert dispatch_channel_outbox(session_factory, now=NOW) == DispatchResult(claimed=1, skipped=1)
    assert reload(db, row).last_error == f"channel {channel.code!r} has no credentials['access_token']"

    channel.credentials = {"access_token": "Atza|t", "marketplace_ids": ["ATVPDKIKX0DER"]}
    db.commit()
    assert dispatch_channel_outbox(session_factory, now=NOW) == DispatchResult()  # not armed again by itself
    retry_outbox_message(db, row.id, actor=Actor(label="ops"), now=NOW)
    db.commit()
    server.add("POST", "/orders/v0/orders/", Reply(204))

    assert dispatch_channel_outbox(session_factory, now=NOW) == DispatchResult(claimed=1, sent=1)
    assert server.requests[0].headers["x-amz-access-token"] == "Atza|t"
    assert reload(db, row).status == "sent"


def test_dispatch_resolves_the_shopify_inventory_item_from_the_variant(db, session_factory, server) -> None:
    channel = make_channel(
        db,
        kind="shopify",
        base_url=server.url,
        credentials={"access_token": "shpat_x", "location_id": "655441491"},
    )
    sku = make_sku(db)
    db.add(Listing(channel_id=channel.id, channel_sku="TEE-M", sku_id=sku.id, channel_listing_id="39072856"))
    stock_row(db, channel, sku.id, 6)
    server.add(
        "GET",
        "/admin/api/2024-10/variants/39072856.json",
        Reply(200, {"variant": {"inventory_item_id": 808950810}}),
    )
    server.add("POST", "/admin/api/2024-10/inventory_levels/set.json", Reply(200, {"inventory_level": {}}))

    dispatch_channel_outbox(session_factory, now=NOW)

    assert server.requests[-1].json == {
        "location_id": 655441491,
        "inventory_item_id": 808950810,
        "available": 6,
    }


def test_channel_push_job_dispatches_due_rows(db, server) -> None:
    channel, sku = ebay_listing(db, server.url)
    row = stock_row(db, channel, sku.id, 2)
    server.add("POST", "/sell/inventory/", ok_bulk(f"EB-{sku.code}"))

    assert channel_push_job(db, NOW).sent == 1
    assert reload(db, row).status == "sent"


def test_two_dispatchers_never_send_a_row_twice(tmp_path, server) -> None:
    url, needs_drop = fresh_database_url(tmp_path, "ob")
    engine = make_engine(url) if url.startswith("sqlite") else make_engine(url, pool_size=6)
    try:
        migrate.upgrade(engine)
        factory = make_session_factory(engine)
        with factory() as session:
            channel, _sku = ebay_listing(session, server.url)
            for _ in range(24):
                sku = make_sku(session)
                session.add(Listing(channel_id=channel.id, channel_sku=f"EB-{sku.code}", sku_id=sku.id))
                session.flush()
                stock_row(session, channel, sku.id, 1)
            session.commit()
        server.add("POST", "/sell/inventory/", ok_bulk("any"))
        barrier = threading.Barrier(2)
        results: list[DispatchResult] = []
        errors: list[BaseException] = []

        def run() -> None:
            try:
                barrier.wait()
                results.append(dispatch_channel_outbox(factory, now=NOW, batch=100))
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=run) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

        assert errors == []
        skus = [r.json["requests"][0]["sku"] for r in server.requests]
        assert len(skus) == len(set(skus)) == 24
        assert sum(r.sent for r in results) == 24
        with factory() as session:
            statuses = session.scalars(select(OutboxMessage.status)).all()
        assert statuses == ["sent"] * 24
    finally:
        engine.dispose()
        drop_database(url, needs_drop)


# --- a channel added as a module and a registry entry only --------------------------------------------------


def fake_channel(*, with_push_hooks: bool = True) -> types.ModuleType:
    """A channel adapter module as a new channel would add one: read hooks, and optionally push hooks."""
    module = types.ModuleType("fakeshop")
    module.KIND = "fakeshop"
    module.extract = lambda documents: []
    module.adapt = lambda native: None
    if not with_push_hooks:
        return module

    def auth_headers(credentials):
        if not credentials.get("api_key"):
            raise MissingCredentials("credentials['api_key']")
        return {"X-Api-Key": credentials["api_key"]}

    def send_stock(client, headers, credentials, push):
        body = {"store": credentials["store"], "on_hand": push["quantity"], "at": push["occurred_at"]}
        return client.request("PUT", f"/stock/{push['channel_sku']}", json=body, headers=headers)

    def send_shipment(client, headers, credentials, shipment):
        body = {"tracking": shipment["tracking_number"], "lines": shipment["lines"]}
        path = f"/orders/{shipment['order_external_id']}/shipments"
        return created_reference(client.request("POST", path, json=body, headers=headers))

    module.auth_headers, module.send_stock, module.send_shipment = auth_headers, send_stock, send_shipment
    return module


def fake_listing(db, url: str, credentials: dict):
    channel = make_channel(db, kind="fakeshop", base_url=url, credentials=credentials)
    sku = make_sku(db)
    db.add(Listing(channel_id=channel.id, channel_sku=f"FS-{sku.code}", sku_id=sku.id))
    db.flush()
    return channel, sku


def test_a_registered_adapter_with_push_hooks_takes_stock_pushes(
    db, session_factory, server, monkeypatch
) -> None:
    monkeypatch.setitem(registry.ADAPTERS, "fakeshop", fake_channel())
    channel, sku = fake_listing(db, server.url, {"api_key": "k-1", "store": "north"})
    row = stock_row(db, channel, sku.id, 4)
    server.add("PUT", "/stock/", Reply(200, {"ok": True}))

    result = dispatch_channel_outbox(session_factory, now=NOW)

    assert result == DispatchResult(claimed=1, sent=1)
    [request] = server.requests
    assert (request.method, request.path) == ("PUT", f"/stock/FS-{sku.code}")
    assert request.json == {"store": "north", "on_hand": 4, "at": "2026-11-20T12:00:00Z"}
    assert request.headers["x-api-key"] == "k-1"
    assert (reload(db, row).status, reload(db, row).message_id) == (
        "sent",
        f"4 units: FS-{sku.code}: HTTP 200",
    )


def test_a_registered_adapter_with_push_hooks_takes_shipment_confirmations(
    db, session_factory, server, monkeypatch
) -> None:
    monkeypatch.setitem(registry.ADAPTERS, "fakeshop", fake_channel())
    channel = make_channel(db, kind="fakeshop", base_url=server.url, credentials={"api_key": "k-1"})
    order, row = queued_confirmation(db, channel, "FS-1001", "L1", "UPS", "1Z9")
    server.add("POST", "/orders/", Reply(201, None, {"Location": f"{server.url}/shipments/sh-77"}))

    result = dispatch_channel_outbox(session_factory, now=NOW)

    assert result == DispatchResult(claimed=1, sent=1)
    [request] = server.requests
    assert request.path == "/orders/FS-1001/shipments"
    assert request.json == {
        "tracking": "1Z9",
        "lines": [{"line_item_id": "L1", "channel_sku": order.lines[0].channel_sku, "quantity": 1}],
    }
    assert (reload(db, row).status, reload(db, row).message_id) == ("sent", "sh-77")


def test_a_registered_adapter_missing_its_credentials_is_skipped_with_the_reason(
    db, session_factory, server, monkeypatch
) -> None:
    monkeypatch.setitem(registry.ADAPTERS, "fakeshop", fake_channel())
    channel, sku = fake_listing(db, server.url, {"store": "north"})
    row = stock_row(db, channel, sku.id, 4)

    result = dispatch_channel_outbox(session_factory, now=NOW)

    assert result == DispatchResult(claimed=1, skipped=1)
    row = reload(db, row)
    assert (row.status, row.attempts) == ("skipped", 0)
    assert row.last_error == f"channel {channel.code!r} has no credentials['api_key']"
    assert server.requests == []


def test_a_registered_adapter_whose_send_hook_misses_a_credential_is_skipped(
    db, session_factory, server, monkeypatch
) -> None:
    module = fake_channel()

    def send_stock(client, headers, credentials, push):
        raise MissingCredentials("credentials['store']")

    module.send_stock = send_stock
    monkeypatch.setitem(registry.ADAPTERS, "fakeshop", module)
    channel, sku = fake_listing(db, server.url, {"api_key": "k-1"})
    row = stock_row(db, channel, sku.id, 4)

    assert dispatch_channel_outbox(session_factory, now=NOW) == DispatchResult(claimed=1, skipped=1)
    assert reload(db, row).last_error == f"channel {channel.code!r} has no credentials['store']"


def test_a_registered_adapter_without_push_hooks_takes_no_push(
    db, session_factory, server, monkeypatch
) -> None:
    monkeypatch.setitem(registry.ADAPTERS, "fakeshop", fake_channel(with_push_hooks=False))
    channel, sku = fake_listing(db, server.url, {"api_key": "k-1"})
    row = stock_row(db, channel, sku.id, 4)
    order = make_order(db, channel_id=channel.id)
    shipment = Shipment(order_id=order.id, carrier="UPS", tracking_number="1Z9", shipped_at=NOW)
    db.add(shipment)
    db.flush()

    assert queue_shipment_confirmation(db, shipment, now=NOW) is None
    assert dispatch_channel_outbox(session_factory, now=NOW).skipped == 1
    assert reload(db, row).last_error == "a fakeshop channel takes no stock push"
    assert server.requests == []
