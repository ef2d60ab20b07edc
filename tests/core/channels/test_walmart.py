"""Walmart Marketplace Orders API v3 -> canonical orders: our own getAllOrders and getOrder payloads
(tests/fixtures/channels/walmart/, written in the documented shape) field by field, the poll and push
requests against a local server, and `crossdock channels add` + `crossdock import` on a fresh database."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import select

from app import create_app
from core.channels import registry, walmart
from core.channels.base import MissingCredentials
from core.channels.canonical import CanonicalCharge, ChannelStatus, expected_total
from core.channels.http import HttpClient
from core.channels.outbound_base import OutboundError
from core.db import make_engine, make_session_factory
from core.errors import PayloadError
from tests.conftest import drop_database, fresh_database_url
from tests.fixtures import channel_file, channel_json
from tests.httpserver import RecordingServer, Reply

TOKEN = "eyJraWQiOiI1MWY3-sample-token"


def _listing() -> dict:
    return channel_json("walmart", "getAllOrders.json")


def _order(index: int = 0) -> dict:
    return copy.deepcopy(_listing()["list"]["elements"]["order"][index])


def _cents(value: float | str) -> int:
    return int(Decimal(str(value)) * 100)


def _ms(value: int) -> datetime:
    return datetime.fromtimestamp(value / 1000, UTC)


def _adapt(native: dict):
    return walmart.adapt(native)


# --- envelopes ----------------------------------------------------------------------------------------------


def test_walmart_orders_list_gives_every_order_in_order():
    listing = _listing()
    results = walmart.extract([listing])
    assert [r.error for r in results] == [None, None]
    assert [r.order.external_id for r in results] == [
        o["purchaseOrderId"] for o in listing["list"]["elements"]["order"]
    ]
    assert [r.native for r in results] == listing["list"]["elements"]["order"]


def test_walmart_orders_list_field_by_field():
    """Each canonical order agrees with its own purchase order, charge by charge."""
    listing = _listing()
    for result, raw in zip(
        walmart.extract([json.dumps(listing)]), listing["list"]["elements"]["order"], strict=True
    ):
        order = result.order
        info = raw["shippingInfo"]
        address = info["postalAddress"]
        charges = [c for line in raw["orderLines"]["orderLine"] for c in line["charges"]["charge"]]
        assert order.channel_kind == "walmart"
        assert order.external_id == raw["purchaseOrderId"]
        assert order.number == raw["customerOrderId"]
        assert order.placed_at == _ms(raw["orderDate"])
        assert order.updated_at == max(_ms(line["statusDate"]) for line in raw["orderLines"]["orderLine"])
        assert order.currency == "USD"
        assert order.subtotal == sum(
            _cents(c["chargeAmount"]["amount"]) for c in charges if c["chargeType"] == "PRODUCT"
        )
        assert order.shipping_total == sum(
            _cents(c["chargeAmount"]["amount"]) for c in charges if c["chargeType"] == "SHIPPING"
        )
        assert order.tax_total == sum(_cents(c["tax"]["taxAmount"]["amount"]) for c in charges if c["tax"])
        assert order.total == order.subtotal - order.discount_total + order.shipping_total + order.tax_total
        assert order.shipping_method == info["methodCode"]
        assert order.shipping_address.name == address["name"] == order.buyer.name
        assert order.shipping_address.line1 == address["address1"]
        assert order.shipping_address.line2 == address["address2"]
        assert (order.shipping_address.city, order.shipping_address.region) == (
            address["city"],
            address["state"],
        )
        assert order.shipping_address.postal_code == address["postalCode"]
        assert order.shipping_address.country == "US"  # Walmart gives ISO alpha-3 "USA"
        assert order.shipping_address.phone == info["phone"] == order.buyer.phone
        assert order.buyer.email == raw["customerEmailId"].lower()
        assert order.buyer.email_is_relay is True
        assert order.billing_address is None
        assert order.fulfilled_by_channel is False
        assert order.warnings == ()
        for line, native_line in zip(order.lines, raw["orderLines"]["orderLine"], strict=True):
            assert line.external_id == native_line["lineNumber"]
            assert line.channel_sku == native_line["item"]["sku"]
            assert line.title == native_line["item"]["productName"]
            assert line.quantity == int(native_line["orderLineQuantity"]["amount"])


def test_walmart_first_order_literal_values():
    order = walmart.extract([_listing()])[0].order
    assert order.external_id == "4792701510379" and order.number == "5422150038245"
    assert order.placed_at == datetime(2026, 11, 20, 15, 30, tzinfo=UTC)
    assert order.updated_at == datetime(2026, 11, 20, 16, 2, 40, tzinfo=UTC)
    assert (order.status, order.raw_status) == (ChannelStatus.PAID, "Created/Acknowledged")
    # 25.98 + 12.50 merchandise, 4.99 shipping, tax 2.60 + 0.50 (on shipping) + 1.25
    assert (order.subtotal, order.discount_total, order.shipping_total, order.tax_total, order.total) == (
        3848,
        0,
        499,
        435,
        4782,
    )
    mug, towel = order.lines
    assert (mug.quantity, mug.unit_price, mug.discount, mug.tax, mug.total) == (2, 1299, 0, 260, 2598)
    assert (towel.quantity, towel.unit_price, towel.tax, towel.total) == (1, 1250, 125, 1250)
    assert order.buyer.email == "7a19c0de88f34b1ca2c5d3e0f41b2a6d@relay.walmart.com"
    assert order.buyer.external_id is None
    assert order.note == "Walmart estimates: ship by 2026-11-23 06:00 UTC, deliver by 2026-11-27 06:00 UTC"
    assert order.shipments == () and order.refunded_total == 0


def test_walmart_shipped_order_carries_its_tracking_and_partial_refund():
    order = walmart.extract([_listing()])[1].order
    assert (order.status, order.raw_status) == (ChannelStatus.SHIPPED, "Shipped")
    [shipment] = order.shipments
    assert (shipment.carrier, shipment.tracking_number) == ("UPS", "1Z999AA10123456784")
    assert shipment.shipped_at == datetime(2026, 11, 19, 14, 20, tzinfo=UTC)
    assert order.refunded_total == 1080  # 10.00 and its 0.80 tax, given negative
    assert order.total == 4212  # the refund does not change what was charged
    assert order.shipping_address.line2 is None


def test_walmart_single_order_envelope_is_an_order_fulfilled_by_walmart():
    document = channel_json("walmart", "getOrder.json")
    [result] = walmart.extract([document])
    order = result.order
    assert result.native == document["order"]
    assert order.external_id == "4792701510391" and order.number == "5422150038260"
    assert (order.status, order.raw_status) == (ChannelStatus.SHIPPED, "Delivered")
    assert order.fulfilled_by_channel is True
    assert order.shipments[0].carrier == "Walmart Fulfillment"  # otherCarrier
    assert (order.subtotal, order.tax_total, order.total) == (2997, 247, 3244)
    assert order.lines[0].unit_price == 999


def test_walmart_bare_order_and_bare_list_are_read():
    order = _order()
    assert [r.order.external_id for r in walmart.extract([order])] == ["4792701510379"]
    assert [r.order.external_id for r in walmart.extract([[order, _order(1)]])] == [
        "4792701510379",
        "4792701510380",
    ]


@pytest.mark.parametrize(
    "document",
    [
        {"list": {"meta": {"totalCount": 0, "limit": 100}, "elements": {"order": []}}},
        {"list": {"meta": {"totalCount": 0}, "elements": {}}},
        {"list": {"meta": {"totalCount": 0}, "elements": []}},
        {"list": {"elements": {"order": {"purchaseOrderId": "1"}}}},
        {"errors": {"error": [{"code": "UNAUTHORIZED.GMP_GATEWAY_API", "severity": "ERROR"}]}},
        [],
        "not json",
    ],
)
def test_walmart_document_without_orders_says_so(document):
    [result] = walmart.extract([document])
    assert result.order is None
    assert result.error.startswith("no order found in document")


# --- statuses -----------------------------------------------------------------------------------------------


def _with_statuses(*words: str) -> dict:
    order = _order()
    first_line = order["orderLines"]["orderLine"][0]
    order["orderLines"]["orderLine"] = []
    for n, word in enumerate(words, start=1):
        line = copy.deepcopy(first_line)
        line["lineNumber"] = str(n)
        line["orderLineStatuses"]["orderLineStatus"] = [
            {"status": "Created", "statusQuantity": {"unitOfMeasurement": "EACH", "amount": "2"}},
            {"status": word, "statusQuantity": {"unitOfMeasurement": "EACH", "amount": "2"}},
        ]
        order["orderLines"]["orderLine"].append(line)
    return order


@pytest.mark.parametrize(
    ("words", "expected"),
    [
        (("Created",), ChannelStatus.PAID),
        (("Acknowledged", "Shipped"), ChannelStatus.PAID),
        (("Shipped", "Delivered"), ChannelStatus.SHIPPED),
        (("Shipped", "Cancelled"), ChannelStatus.SHIPPED),
        (("Cancelled", "Cancelled"), ChannelStatus.CANCELLED),
    ],
)
def test_walmart_status_follows_the_last_status_of_every_line(words, expected):
    order = _adapt(_with_statuses(*words))
    assert order.status is expected
    assert order.raw_status == "/".join(dict.fromkeys(words))


def test_walmart_unknown_line_status_waits_as_pending_with_a_warning():
    order = _adapt(_with_statuses("Acknowledged", "Rerouted"))
    assert order.status is ChannelStatus.PENDING
    assert "unknown order status 'Rerouted'" in order.warnings


def test_walmart_fully_refunded_order_is_refunded():
    order = _order(1)
    refund = order["orderLines"]["orderLine"][0]["refund"]["refundCharges"]["refundCharge"][0]["charge"]
    refund["chargeAmount"]["amount"] = -39.0
    refund["tax"]["taxAmount"]["amount"] = -3.12
    canonical = _adapt(order)
    assert canonical.refunded_total == canonical.total == 4212
    assert canonical.status is ChannelStatus.REFUNDED


# --- charges and totals -------------------------------------------------------------------------------------


def test_walmart_discount_charge_lowers_the_line_and_totals_still_add_up():
    order = _order()
    order["orderLines"]["orderLine"][1]["charges"]["charge"].append(
        {
            "chargeType": "DISCOUNT",
            "chargeName": "Rollback",
            "chargeAmount": {"currency": "USD", "amount": -2.5},
            "tax": {"taxName": "Tax1", "taxAmount": {"currency": "USD", "amount": -0.25}},
        }
    )
    canonical = _adapt(order)
    towel = canonical.lines[1]
    assert (towel.unit_price, towel.discount, towel.tax, towel.total) == (1250, 250, 100, 1000)
    assert (canonical.discount_total, canonical.tax_total, canonical.total) == (250, 410, 4507)
    assert (
        canonical.subtotal - canonical.discount_total + canonical.shipping_total + canonical.tax_total == 4507
    )
    assert canonical.warnings == ()


def test_walmart_charge_of_another_type_is_an_order_charge_naming_it():
    order = _order()
    order["orderLines"]["orderLine"][0]["charges"]["charge"].append(
        {"chargeType": "FEE", "chargeName": "Gift wrap", "chargeAmount": {"currency": "USD", "amount": 3.0}}
    )
    canonical = _adapt(order)
    assert canonical.total == 5082  # what the buyer was charged, the fee included
    assert canonical.charges == (CanonicalCharge("gift_wrap", "Gift wrap (line 1)", 300),)
    assert expected_total(canonical) == 5082 and canonical.warnings == ()


def test_walmart_order_total_when_given_is_the_total_and_a_difference_holds():
    order = _order()
    order["orderTotal"] = {"currency": "USD", "amount": "47.82"}
    assert _adapt(order).total == 4782 and _adapt(order).warnings == ()
    order["orderTotal"]["amount"] = "50.00"
    assert _adapt(order).warnings == (
        "totals do not add up: subtotal - discounts + shipping + tax + charges = 4782, order total 5000",
    )


def test_walmart_string_amounts_and_iso_times_are_read():
    order = _order()
    order["orderDate"] = "2026-11-20T15:30:00.000Z"
    order["orderLines"]["orderLine"][0]["charges"]["charge"][0]["chargeAmount"]["amount"] = "25.98"
    order["orderLines"]["orderLine"][0]["statusDate"] = "1795707064000"
    canonical = _adapt(order)
    assert canonical.placed_at == datetime(2026, 11, 20, 15, 30, tzinfo=UTC)
    assert canonical.subtotal == 3848


# --- addresses and buyer ------------------------------------------------------------------------------------


def test_walmart_paid_order_without_address_is_held_but_wfs_and_cancelled_are_not():
    order = _order()
    del order["shippingInfo"]["postalAddress"]
    assert _adapt(order).warnings == ("missing shipping address",)
    order["shipNode"] = {"type": "WFSFulfilled"}
    assert _adapt(order).warnings == ()
    cancelled = _with_statuses("Cancelled")
    del cancelled["shippingInfo"]["postalAddress"]
    assert _adapt(cancelled).warnings == ()


def test_walmart_non_relay_email_is_not_flagged():
    order = _order()
    order["customerEmailId"] = "Dana.Whitlock@Example.com"
    buyer = _adapt(order).buyer
    assert (buyer.email, buyer.email_is_relay) == ("dana.whitlock@example.com", False)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda o: o.pop("purchaseOrderId"), "purchaseOrderId: missing"),
        (lambda o: o.update(orderDate="soon"), "orderDate: not a time: 'soon'"),
    ],
)
def test_walmart_unreadable_order_says_why(change, message):
    order = _order()
    change(order)
    with pytest.raises(PayloadError, match=f"^{message}"):
        _adapt(order)


# --- polling ------------------------------------------------------------------------------------------------


@pytest.fixture
def server():
    with RecordingServer() as running:
        yield running


def test_walmart_poll_follows_next_cursor_with_the_walmart_headers(server):
    first = _listing()
    second = {"list": {"meta": {"totalCount": 3, "limit": 2}, "elements": {"order": [_order()]}}}
    second["list"]["elements"]["order"][0]["purchaseOrderId"] = "4792701510399"
    server.add("GET", "/v3/orders", Reply(200, first))
    server.add("GET", "/v3/orders", Reply(200, second), query={"hasMoreElements": "true"})
    since = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)

    pages = list(walmart.poll_pages(HttpClient(server.url), {"access_token": TOKEN}, since, None))

    assert [page.orders for page in pages] == [2, 1]
    assert [topic for page in pages for topic, _ in page.bodies] == ["getAllOrders", "getAllOrders"]
    assert max(pages[0].updated) == datetime(2026, 11, 21, 10, 5, tzinfo=UTC)
    first_request, next_request = server.requests
    assert first_request.path == next_request.path == "/v3/orders"
    assert first_request.query == {
        "lastModifiedStartDate": ["2026-11-20T12:00:00Z"],
        "createdStartDate": ["2026-05-24T12:00:00Z"],
        "limit": ["100"],
    }
    assert next_request.param("soIndex") == "3" and next_request.param("hasMoreElements") == "true"
    for request in server.requests:
        assert request.headers["wm_sec.access_token"] == TOKEN
        assert request.headers["wm_svc.name"] == "Walmart Marketplace"
        assert request.headers["accept"] == "application/json"
    correlation = [r.headers["wm_qos.correlation_id"] for r in server.requests]
    assert len(set(correlation)) == 2 and all(len(c) == 36 for c in correlation)


def test_walmart_poll_ingests_the_orders_into_the_database(db, session_factory, server):
    from core.channel_sync.polling import poll_channel
    from core.channels.models import Channel
    from core.orders.models import InboundPayload, Order
    from tests.factories import make_channel

    # the first page only: no nextCursor
    server.add("GET", "/v3/orders", Reply(200, {"list": _listing()["list"] | {"meta": {"totalCount": 2}}}))
    channel = make_channel(
        db,
        code="walmart-us",
        kind="walmart",
        base_url=server.url,
        credentials={"access_token": TOKEN},
        poll_cursor=datetime(2026, 11, 1, tzinfo=UTC),
    )
    db.commit()

    result = poll_channel(
        session_factory, "walmart-us", now=datetime(2026, 11, 24, tzinfo=UTC), client=HttpClient(server.url)
    )

    assert (result.fetched, result.orders, result.errors) == (1, 2, ())
    db.expire_all()
    orders = db.scalars(select(Order).where(Order.channel_id == channel.id).order_by(Order.external_id)).all()
    assert [(o.external_id, o.channel_number) for o in orders] == [
        ("4792701510379", "5422150038245"),
        ("4792701510380", "5422150038246"),
    ]
    payload = db.scalar(select(InboundPayload).where(InboundPayload.channel_id == channel.id))
    assert (payload.source, payload.topic) == ("poll", "getAllOrders")
    assert db.get(Channel, channel.id).poll_cursor > datetime(2026, 11, 21, tzinfo=UTC)


def test_walmart_poll_window_end_and_empty_page(server):
    server.add(
        "GET", "/v3/orders", Reply(200, {"list": {"meta": {"totalCount": 0}, "elements": {"order": []}}})
    )
    since, until = datetime(2026, 11, 20, tzinfo=UTC), datetime(2026, 11, 21, tzinfo=UTC)
    [page] = walmart.poll_pages(HttpClient(server.url), {"access_token": TOKEN}, since, until)
    assert page.orders == 0
    assert server.requests[0].param("lastModifiedEndDate") == "2026-11-21T00:00:00Z"


def test_walmart_poll_without_token_sends_nothing(server):
    with pytest.raises(MissingCredentials, match="access_token"):
        next(walmart.poll_pages(HttpClient(server.url), {}, datetime(2026, 11, 20, tzinfo=UTC), None))
    assert server.requests == []


# --- pushes -------------------------------------------------------------------------------------------------


def test_walmart_hooks_are_registered():
    for name in ("poll_pages", "auth_headers", "send_stock", "send_shipment"):
        assert registry.hook("walmart", name) is getattr(walmart, name)
    assert registry.hook("walmart", "WEBHOOK") is None  # Walmart does not push orders: it is polled


def test_walmart_auth_headers_need_the_access_token():
    headers = walmart.auth_headers({"access_token": TOKEN, "channel_type": "0f3e4dd4-0514-4346"})
    assert headers["WM_SEC.ACCESS_TOKEN"] == TOKEN
    assert headers["WM_SVC.NAME"] == "Walmart Marketplace"
    assert headers["WM_CONSUMER.CHANNEL.TYPE"] == "0f3e4dd4-0514-4346"
    with pytest.raises(MissingCredentials):
        walmart.auth_headers({})


def test_walmart_stock_push_sets_the_sku_quantity():
    push = {"channel_sku": "MUG TEAL/12", "channel_listing_id": None, "quantity": -3, "occurred_at": "x"}
    assert walmart.stock_push_request(push) == (
        "PUT",
        "/v3/inventory?sku=MUG%20TEAL%2F12",
        {"sku": "MUG TEAL/12", "quantity": {"unit": "EACH", "amount": 0}},
    )
    _, path, _ = walmart.stock_push_request({**push, "quantity": 7, "ship_node": "731529"})
    assert path.endswith("&shipNode=731529")


def _shipment(**overrides) -> dict:
    return {
        "order_external_id": "4792701510379",
        "carrier": "fedex",
        "tracking_number": "794612345678",
        "tracking_url": "https://www.fedex.com/fedextrack/?trknbr=794612345678",
        "shipping_method": None,
        "shipped_at": "2026-11-21T16:00:00+00:00",
        "shipment_id": 12,
        "lines": [
            {"line_item_id": "1", "channel_sku": "MUG-TEAL-12", "quantity": 2},
            {"line_item_id": "2", "channel_sku": "TOWEL-LINEN", "quantity": 1},
        ],
    } | overrides


def test_walmart_shipment_marks_each_line_shipped_with_its_tracking():
    method, path, body = walmart.shipment_request(_shipment())
    assert (method, path) == ("POST", "/v3/orders/4792701510379/shipping")
    lines = body["orderShipment"]["orderLines"]["orderLine"]
    assert [line["lineNumber"] for line in lines] == ["1", "2"]
    [status] = lines[0]["orderLineStatuses"]["orderLineStatus"]
    assert status["status"] == "Shipped"
    assert status["statusQuantity"] == {"unitOfMeasurement": "EACH", "amount": "2"}
    assert status["trackingInfo"] == {
        "shipDateTime": int(datetime(2026, 11, 21, 16, tzinfo=UTC).timestamp() * 1000),
        "carrierName": {"carrier": "FedEx"},
        "methodCode": "Standard",
        "trackingNumber": "794612345678",
        "trackingURL": "https://www.fedex.com/fedextrack/?trknbr=794612345678",
    }


def test_walmart_shipment_names_an_unlisted_carrier_and_needs_lines_and_tracking():
    _, _, body = walmart.shipment_request(_shipment(carrier="OnTrac", shipping_method="Value"))
    info = body["orderShipment"]["orderLines"]["orderLine"][0]["orderLineStatuses"]["orderLineStatus"][0]
    assert info["trackingInfo"]["carrierName"] == {"otherCarrier": "OnTrac"}
    assert info["trackingInfo"]["methodCode"] == "Value"
    with pytest.raises(OutboundError) as caught:
        walmart.shipment_request(_shipment(lines=[]))
    assert caught.value.permanent
    with pytest.raises(OutboundError) as caught:
        walmart.shipment_request(_shipment(tracking_number=""))
    assert caught.value.permanent


def test_walmart_send_shipment_and_stock_against_the_api(server):
    server.add("POST", "/v3/orders/4792701510379/shipping", Reply(200, {"order": _order()}))
    server.add(
        "PUT", "/v3/inventory", Reply(200, {"sku": "MUG-TEAL-12", "quantity": {"unit": "EACH", "amount": 5}})
    )
    client = HttpClient(server.url)
    credentials = {"access_token": TOKEN, "ship_node": "731529"}
    headers = walmart.auth_headers(credentials)

    reference = walmart.send_shipment(client, headers, credentials, _shipment())
    response = walmart.send_stock(
        client,
        headers,
        credentials,
        {"channel_sku": "MUG-TEAL-12", "channel_listing_id": None, "quantity": 5},
    )

    assert reference == "purchase order 4792701510379 shipped (794612345678)"
    assert response.status == 200
    shipping, stock = server.requests
    assert shipping.json["orderShipment"]["orderLines"]["orderLine"][1]["lineNumber"] == "2"
    assert stock.query == {"sku": ["MUG-TEAL-12"], "shipNode": ["731529"]}
    assert stock.json == {"sku": "MUG-TEAL-12", "quantity": {"unit": "EACH", "amount": 5}}
    assert {r.headers["wm_sec.access_token"] for r in server.requests} == {TOKEN}


# --- a new merchant: channels add, then import --------------------------------------------------------------


@pytest.fixture
def cli_db(tmp_path: Path):
    url, needs_drop = fresh_database_url(tmp_path, "walmart")
    yield url
    drop_database(url, needs_drop)


def _invoke(url: str, *args: str):
    app = create_app({"DATABASE_URL": url, "SECRET_KEY": "cli-test"})
    result = app.test_cli_runner().invoke(args=list(args), catch_exceptions=False)
    app.extensions["crossdock.session_factory"].kw["bind"].dispose()
    return result


def test_walmart_channel_added_from_the_cli_imports_both_envelopes(cli_db):
    import core.models  # noqa: F401
    from core.orders.models import Order

    assert _invoke(cli_db, "db", "upgrade").exit_code == 0
    added = _invoke(cli_db, "channels", "add", "walmart-us", "--kind", "walmart", "--name", "Walmart US")
    assert added.exit_code == 0, added.output
    files = [str(channel_file("walmart", "getAllOrders.json")), str(channel_file("walmart", "getOrder.json"))]

    result = _invoke(cli_db, "import", "walmart-us", *files, "--create-listings")

    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.output.splitlines()]
    assert [(line["external_id"], line["error"]) for line in lines] == [
        ("4792701510379", None),
        ("4792701510380", None),
        ("4792701510391", None),
    ]
    engine = make_engine(cli_db)
    with make_session_factory(engine)() as session:
        orders = {o.external_id: o for o in session.scalars(select(Order))}
        first = orders["4792701510379"]
        assert first.hold_reason is None
        assert first.channel_status == "Created/Acknowledged"
        assert sorted(line.channel_sku for line in first.lines) == ["MUG-TEAL-12", "TOWEL-LINEN"]
        assert orders["4792701510391"].channel_status == "Delivered"
    engine.dispose()
    replay = _invoke(cli_db, "import", "walmart-us", *files)
    assert {json.loads(line)["status"] for line in replay.output.splitlines()} == {"duplicate"}
