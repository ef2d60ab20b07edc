"""BigCommerce Orders v2 -> canonical orders: our own payloads (tests/fixtures/channels/bigcommerce/, written
in the documented shape: the orders list, each order's products and shipping addresses, an order with both
embedded, an order webhook) field by field; the poll against a local server, into the database; and
`crossdock channels add` + `crossdock import` on a fresh database."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import select

from app import create_app
from core.channel_sync.polling import poll_channel
from core.channels import bigcommerce, registry
from core.channels.base import MissingCredentials
from core.channels.canonical import CanonicalCharge, ChannelStatus, expected_total
from core.channels.http import HttpClient
from core.db import make_engine, make_session_factory
from core.errors import PayloadError
from core.orders.models import InboundPayload, Order
from tests.conftest import drop_database, fresh_database_url
from tests.factories import make_channel
from tests.fixtures import CHANNELS, channel_file, channel_json, channel_text
from tests.httpserver import RecordingServer, Reply

TOKEN = "b1q9sample7token"
SUB_RESOURCES = [
    "products_3001.json",
    "products_3002.json",
    "shipping_addresses_3001.json",
    "shipping_addresses_3002.json",
]


def _documents() -> list:
    """The orders list with every sub-resource fetched for it."""
    return [channel_json("bigcommerce", "orders.json")] + [
        channel_json("bigcommerce", name) for name in SUB_RESOURCES
    ]


def _joined(index: int = 0) -> dict:
    """One order of the list as adapt() reads it: products and shipping addresses set under their keys."""
    order = copy.deepcopy(channel_json("bigcommerce", "orders.json")[index])
    order["products"] = channel_json("bigcommerce", f"products_{order['id']}.json")
    order["shipping_addresses"] = channel_json("bigcommerce", f"shipping_addresses_{order['id']}.json")
    return order


def _cents(value: str) -> int:
    return int(Decimal(value) * 100)


# --- envelopes and joins ------------------------------------------------------------------------------------


def test_bigcommerce_list_with_its_sub_resources_gives_each_order_joined():
    results = bigcommerce.extract(_documents())
    assert [(r.order.external_id, r.error) for r in results] == [("3001", None), ("3002", None)]
    assert [r.native for r in results] == [_joined(0), _joined(1)]
    assert bigcommerce.adapt(_joined(0)) == results[0].order  # adapt(native) reproduces the order


def test_bigcommerce_orders_field_by_field():
    for result, index in zip(bigcommerce.extract(_documents()), (0, 1), strict=True):
        order, raw = result.order, _joined(index)
        billing, destination = raw["billing_address"], raw["shipping_addresses"][0]
        assert order.channel_kind == "bigcommerce"
        assert order.external_id == order.number == str(raw["id"])
        assert order.placed_at == datetime.strptime(raw["date_created"], "%a, %d %b %Y %H:%M:%S %z")
        assert order.updated_at == datetime.strptime(raw["date_modified"], "%a, %d %b %Y %H:%M:%S %z")
        assert order.currency == raw["currency_code"] == "USD"
        assert order.raw_status == raw["custom_status"]
        assert order.subtotal == _cents(raw["subtotal_ex_tax"])
        assert order.discount_total == _cents(raw["discount_amount"]) + _cents(raw["coupon_discount"])
        assert order.shipping_total == _cents(raw["shipping_cost_ex_tax"]) + _cents(
            raw["handling_cost_ex_tax"]
        )
        assert order.tax_total == _cents(raw["total_tax"])
        assert order.total == _cents(raw["total_inc_tax"])
        assert order.subtotal - order.discount_total + order.shipping_total + order.tax_total == order.total
        assert order.buyer.email == billing["email"].lower() and order.buyer.email_is_relay is False
        assert order.buyer.name == f"{billing['first_name']} {billing['last_name']}"
        assert order.buyer.phone == billing["phone"]
        assert order.billing_address.line1 == billing["street_1"]
        assert order.billing_address.country == billing["country_iso2"]
        assert order.shipping_address.line1 == destination["street_1"]
        assert order.shipping_address.city == destination["city"]
        assert order.shipping_address.region == destination["state"]
        assert order.shipping_address.postal_code == destination["zip"]
        assert order.shipping_address.phone == destination["phone"]
        assert order.shipping_method == destination["shipping_method"]
        assert order.source == "www"
        assert order.warnings == ()
        for line, product in zip(order.lines, raw["products"], strict=True):
            assert line.external_id == str(product["id"])
            assert line.title == product["name"]
            assert line.quantity == product["quantity"]
            assert line.unit_price == _cents(product["price_ex_tax"])
            assert line.discount == sum(_cents(d["amount"]) for d in product["applied_discounts"])
            assert line.tax == _cents(product["total_tax"])
            assert line.total == line.unit_price * line.quantity - line.discount


def test_bigcommerce_first_order_literal_values():
    order = bigcommerce.extract(_documents())[0].order
    assert (order.status, order.raw_status) == (ChannelStatus.PAID, "Awaiting Fulfillment")
    assert order.placed_at == datetime(2026, 11, 20, 15, 4, 11, tzinfo=UTC)
    assert (order.subtotal, order.discount_total, order.shipping_total, order.tax_total, order.total) == (
        6400,
        640,
        800,
        524,
        7084,
    )
    board, candles = order.lines
    assert (board.channel_sku, board.unit_price, board.discount, board.tax, board.total) == (
        "BOARD-WAL",
        4000,
        400,
        288,
        3600,
    )
    assert (candles.channel_sku, candles.quantity, candles.discount, candles.total) == (
        "CANDLE-BW",
        2,
        240,
        2160,
    )
    assert order.buyer.external_id == "27"
    assert order.buyer.email == "priya.raman@example.com"
    assert order.shipping_address.company == "Raman Design"
    assert order.shipping_address.line2 == "Suite 400"
    assert order.billing_address.line1 == "77 Orchard Lane" and order.billing_address.region == "Oregon"
    assert order.shipping_method == "UPS® Ground"
    assert order.note == "Please leave with the concierge."


def test_bigcommerce_guest_order_with_coupon_and_handling():
    order = bigcommerce.extract(_documents())[1].order
    assert (order.status, order.raw_status) == (ChannelStatus.SHIPPED, "Shipped")
    assert order.buyer.external_id is None  # customer_id 0: a guest
    assert order.buyer.name == "Tomás Ferreira"
    assert (order.discount_total, order.shipping_total, order.total) == (
        500,
        750,
        3250,
    )  # 6.00 + 1.50 handling
    [napkins] = order.lines
    assert napkins.channel_sku == "product:126:140"  # no SKU: product and variant ids
    assert (napkins.discount, napkins.total) == (500, 2500)


def test_bigcommerce_order_with_embedded_lists_digital_in_euros():
    document = channel_json("bigcommerce", "order.json")
    [result] = bigcommerce.extract([json.dumps(document)])
    order = result.order
    assert result.native == document
    assert order.external_id == "3003" and order.currency == "EUR"
    assert order.placed_at == datetime(2026, 11, 22, 11, 15, tzinfo=timezone(timedelta(hours=1)))
    assert (order.status, order.raw_status) == (ChannelStatus.SHIPPED, "Completed")
    assert order.shipping_address is None and order.warnings == ()  # digital: nothing to ship
    assert order.billing_address.country == "NL" and order.buyer.external_id == "31"
    assert (order.subtotal, order.tax_total, order.total) == (1500, 285, 1785)


def test_bigcommerce_list_without_sub_resources_holds_each_order_saying_what_is_missing():
    results = bigcommerce.extract([channel_text("bigcommerce", "orders.json")])
    for result in results:
        assert result.order.lines == () and result.order.shipping_address is None
        assert result.order.warnings == (
            bigcommerce.PRODUCTS_NOT_FETCHED,
            bigcommerce.ADDRESSES_NOT_FETCHED,
        )


def test_bigcommerce_sub_resource_without_its_order_holds_no_order():
    [result] = bigcommerce.extract([channel_json("bigcommerce", "products_3001.json")])
    assert result.order is None
    assert result.error == (
        "no order found in document: products of order 3001, which join that order given in the same call"
    )
    [result] = bigcommerce.extract([channel_json("bigcommerce", "shipping_addresses_3002.json")])
    assert "shipping_addresses of order 3002" in result.error


def test_bigcommerce_sub_resources_join_only_their_own_order():
    documents = [
        channel_json("bigcommerce", "orders.json"),
        channel_json("bigcommerce", "products_3002.json"),
    ]
    first, second = (r.order for r in bigcommerce.extract(documents))
    assert first.lines == () and len(second.lines) == 1


@pytest.mark.parametrize(
    ("document", "reason"),
    [
        ([], "an empty list holds no order"),
        (
            {
                "status": 404,
                "title": "The requested resource was not found.",
                "type": "https://developer.bigcommerce.com/api-docs/getting-started/api-status-codes",
            },
            "BigCommerce error response: 404",
        ),
        ({"unrelated": True}, "expected a BigCommerce v2 order"),
    ],
)
def test_bigcommerce_document_without_orders_says_so(document, reason):
    [result] = bigcommerce.extract([document])
    assert result.order is None
    assert result.error.startswith(f"no order found in document: {reason}")


# --- webhooks -----------------------------------------------------------------------------------------------


def test_bigcommerce_order_webhook_names_the_order_to_fetch():
    body = channel_json("bigcommerce", "webhook_order_created.json")
    [result] = bigcommerce.extract([body])
    assert result.order is None and result.native == body
    assert result.error == "webhook 'store/order/created' carries only the id of order 3001: to be fetched"
    assert result.fetch == "3001"
    updated = body | {"scope": "store/order/updated"}
    assert (
        "'store/order/updated' carries only the id of order 3001" in bigcommerce.extract([updated])[0].error
    )


def test_bigcommerce_webhook_of_another_resource_names_no_order():
    body = {
        "scope": "store/product/updated",
        "store_id": "1001234567",
        "data": {"type": "product", "id": 112},
        "hash": "0c3d",
        "created_at": 1795705451,
        "producer": "stores/x7k2q9",
    }
    [result] = bigcommerce.extract([body])
    assert result.error == "no order found in document: webhook 'store/product/updated' names no order"


def test_bigcommerce_hooks_it_is_polled_takes_webhooks_to_fetch_and_no_pushes():
    assert registry.hook("bigcommerce", "poll_pages") is bigcommerce.poll_pages
    assert registry.hook("bigcommerce", "fetch_orders") is bigcommerce.fetch_orders
    scheme = registry.hook("bigcommerce", "WEBHOOK")
    assert scheme.secret_header and scheme.signature_header == "X-Crossdock-Webhook-Token"
    for name in ("auth_headers", "send_stock", "send_shipment"):
        assert registry.hook("bigcommerce", name) is None


# --- statuses, totals, addresses ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status_id", "expected"),
    [
        (0, ChannelStatus.PENDING),
        (1, ChannelStatus.PENDING),
        (7, ChannelStatus.PENDING),
        (9, ChannelStatus.PAID),
        (11, ChannelStatus.PAID),
        (3, ChannelStatus.PAID),
        (14, ChannelStatus.PAID),
        (2, ChannelStatus.SHIPPED),
        (10, ChannelStatus.SHIPPED),
        (5, ChannelStatus.CANCELLED),
        (6, ChannelStatus.CANCELLED),
        (4, ChannelStatus.REFUNDED),
    ],
)
def test_bigcommerce_status_follows_status_id(status_id, expected):
    assert bigcommerce.adapt(_joined() | {"status_id": status_id}).status is expected


@pytest.mark.parametrize(
    ("status_id", "warning"),
    [
        (12, "BigCommerce asks for manual verification of the order"),
        (13, "the buyer disputes the payment"),
        (99, "unknown order status '99: Awaiting Fulfillment'"),
    ],
)
def test_bigcommerce_statuses_that_need_a_person_hold_the_order(status_id, warning):
    assert bigcommerce.adapt(_joined() | {"status_id": status_id}).warnings == (warning,)


def test_bigcommerce_refunded_amount_is_the_refunded_total():
    order = bigcommerce.adapt(_joined() | {"status_id": 14, "refunded_amount": "12.0000"})
    assert order.refunded_total == 1200 and order.status is ChannelStatus.PAID


def test_bigcommerce_gift_wrapping_is_a_charge_and_the_totals_add_up():
    order = bigcommerce.adapt(
        _joined()
        | {
            "wrapping_cost_ex_tax": "4.0000",
            "wrapping_cost_inc_tax": "4.0000",
            "wrapping_cost_tax": "0.0000",
            "total_inc_tax": "74.8400",
        }
    )
    assert order.total == 7484
    assert order.charges == (CanonicalCharge("gift_wrap", "Gift wrapping", 400),)
    assert expected_total(order) == 7484 and order.warnings == ()


def test_bigcommerce_total_that_still_differs_holds_the_order():
    order = bigcommerce.adapt(_joined() | {"total_inc_tax": "74.8400"})
    assert order.warnings == (
        "totals do not add up: subtotal - discounts + shipping + tax + charges = 7084, order total 7484",
    )


def test_bigcommerce_paid_order_without_shipping_address_is_held_but_pickup_is_not():
    assert bigcommerce.adapt(_joined() | {"shipping_addresses": []}).warnings == ("missing shipping address",)
    assert bigcommerce.adapt(_joined() | {"shipping_addresses": [], "status_id": 8}).warnings == ()


def test_bigcommerce_several_shipping_addresses_keep_the_first_and_hold():
    order = _joined()
    second = dict(order["shipping_addresses"][0], id=43, street_1="5 Other Road")
    order["shipping_addresses"].append(second)
    canonical = bigcommerce.adapt(order)
    assert canonical.shipping_address.line1 == "1200 NW Marshall St"
    assert canonical.warnings == ("the order ships to 2 addresses; only the first is kept",)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"id": None}, "id: missing"),
        ({"date_created": "yesterday"}, "date_created: not a time: 'yesterday'"),
        ({"currency_code": "", "default_currency_code": None}, "currency: missing"),
        ({"products": []}, "products: an order needs at least one line"),
        ({"total_inc_tax": "lots"}, "total_inc_tax: not a money amount"),
    ],
)
def test_bigcommerce_unreadable_order_says_why(change, message):
    with pytest.raises(PayloadError, match=f"^{message}"):
        bigcommerce.adapt(_joined() | change)


# --- polling ------------------------------------------------------------------------------------------------


@pytest.fixture
def server():
    with RecordingServer() as running:
        yield running


def _raw(name: str) -> Reply:
    return Reply(200, channel_text("bigcommerce", name).encode("utf-8"), {"Content-Type": "application/json"})


def _serve(server, products_3002: Reply | None = None) -> None:
    server.add("GET", "/v2/orders", _raw("orders.json"))
    for order_id in ("3001", "3002"):
        products = (
            products_3002 if order_id == "3002" and products_3002 else _raw(f"products_{order_id}.json")
        )
        server.add("GET", f"/v2/orders/{order_id}/products", products)
        server.add(
            "GET", f"/v2/orders/{order_id}/shipping_addresses", _raw(f"shipping_addresses_{order_id}.json")
        )


def test_bigcommerce_poll_fetches_each_order_with_its_products_and_addresses(server):
    _serve(server)
    since = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)

    [page] = bigcommerce.poll_pages(HttpClient(server.url), {"access_token": TOKEN}, since, None)

    assert page.orders == 2 and page.errors == []
    assert [topic for topic, _ in page.bodies] == [
        "orders",
        "products",
        "shipping_addresses",
        "products",
        "shipping_addresses",
    ]
    assert max(page.updated) == datetime(2026, 11, 23, 17, 12, 30, tzinfo=UTC)
    orders_request = server.requests[0]
    assert orders_request.query == {
        "min_date_modified": ["Fri, 20 Nov 2026 12:00:00 +0000"],
        "sort": ["date_modified:asc"],
        "limit": ["50"],
        "page": ["1"],
    }
    assert server.requests[1].path == "/v2/orders/3001/products"
    assert server.requests[1].query == {"limit": ["250"], "page": ["1"]}
    assert {r.headers["x-auth-token"] for r in server.requests} == {TOKEN}
    orders = [r.order for r in bigcommerce.extract([response.text for _, response in page.bodies])]
    assert [(o.external_id, len(o.lines), o.warnings) for o in orders] == [("3001", 2, ()), ("3002", 1, ())]


def test_bigcommerce_poll_empty_window_and_empty_sub_resources(server):
    server.add("GET", "/v2/orders", Reply(204))
    [page] = bigcommerce.poll_pages(
        HttpClient(server.url), {"access_token": TOKEN}, datetime(2026, 1, 1, tzinfo=UTC), None
    )
    assert (page.orders, len(page.bodies)) == (0, 1)

    digital = RecordingServer()
    with digital:
        digital.add("GET", "/v2/orders", Reply(200, [channel_json("bigcommerce", "order.json")]))
        digital.add(
            "GET",
            "/v2/orders/3003/products",
            Reply(200, channel_json("bigcommerce", "order.json")["products"]),
        )
        digital.add("GET", "/v2/orders/3003/shipping_addresses", Reply(204))
        until = datetime(2026, 11, 23, tzinfo=UTC)
        [page] = bigcommerce.poll_pages(
            HttpClient(digital.url), {"access_token": TOKEN}, until - timedelta(days=1), until
        )
        assert [topic for topic, _ in page.bodies] == ["orders", "products"]  # the empty answer is not kept
        assert digital.requests[0].param("max_date_modified") == "Mon, 23 Nov 2026 00:00:00 +0000"


def test_bigcommerce_poll_sub_resource_refused_marks_the_order_incomplete(server):
    _serve(server, products_3002=Reply(403, {"status": 403, "title": "Forbidden"}))
    [page] = bigcommerce.poll_pages(
        HttpClient(server.url), {"access_token": TOKEN}, datetime(2026, 1, 1, tzinfo=UTC), None
    )
    assert len(page.errors) == 1 and page.errors[0].startswith("order 3002: HTTP 403")
    assert page.incomplete == [datetime(2026, 11, 23, 17, 12, 30, tzinfo=UTC)]


def test_bigcommerce_poll_without_token_sends_nothing(server):
    with pytest.raises(MissingCredentials, match="access_token"):
        next(bigcommerce.poll_pages(HttpClient(server.url), {}, datetime(2026, 1, 1, tzinfo=UTC), None))
    assert server.requests == []


def test_bigcommerce_poll_ingests_joined_orders_into_the_database(db, session_factory, server):
    _serve(server)
    channel = make_channel(
        db,
        code="bc-store",
        kind="bigcommerce",
        base_url=server.url,
        credentials={"access_token": TOKEN},
        poll_cursor=datetime(2026, 11, 1, tzinfo=UTC),
    )
    db.commit()

    result = poll_channel(
        session_factory, "bc-store", now=datetime(2026, 11, 24, tzinfo=UTC), client=HttpClient(server.url)
    )

    assert (result.fetched, result.orders, result.errors) == (5, 2, ())
    db.expire_all()
    orders = {o.external_id: o for o in db.scalars(select(Order).where(Order.channel_id == channel.id))}
    assert sorted(orders) == ["3001", "3002"]
    assert sorted(line.channel_sku for line in orders["3001"].lines) == ["BOARD-WAL", "CANDLE-BW"]
    assert "order products not fetched" not in (orders["3001"].hold_reason or "")
    topics = db.scalars(
        select(InboundPayload.topic)
        .where(InboundPayload.channel_id == channel.id)
        .order_by(InboundPayload.id)
    ).all()
    assert topics == ["orders", "products", "shipping_addresses", "products", "shipping_addresses"]
    assert db.get(type(channel), channel.id).poll_cursor > datetime(2026, 11, 23, tzinfo=UTC)


# --- a new merchant: channels add, then import --------------------------------------------------------------


@pytest.fixture
def cli_db(tmp_path: Path):
    url, needs_drop = fresh_database_url(tmp_path, "bigcommerce")
    yield url
    drop_database(url, needs_drop)


def _invoke(url: str, *args: str):
    app = create_app({"DATABASE_URL": url, "SECRET_KEY": "cli-test"})
    result = app.test_cli_runner().invoke(args=list(args), catch_exceptions=False)
    app.extensions["crossdock.session_factory"].kw["bind"].dispose()
    return result


def test_bigcommerce_channel_added_from_the_cli_imports_orders_and_records_a_webhook(cli_db):
    assert _invoke(cli_db, "db", "upgrade").exit_code == 0
    added = _invoke(cli_db, "channels", "add", "bc-store", "--kind", "bigcommerce", "--name", "Candle Co")
    assert added.exit_code == 0, added.output
    files = [str(CHANNELS / "bigcommerce" / name) for name in ["orders.json", *SUB_RESOURCES, "order.json"]]

    result = _invoke(cli_db, "import", "bc-store", *files, "--create-listings")

    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.output.splitlines()]
    assert {line["external_id"] for line in lines} == {"3001", "3002", "3003"}
    assert {line["error"] for line in lines} == {None}
    replay = _invoke(cli_db, "import", "bc-store", *files)
    assert {json.loads(line)["status"] for line in replay.output.splitlines()} == {"duplicate"}

    hook = _invoke(
        cli_db, "import", "bc-store", str(channel_file("bigcommerce", "webhook_order_created.json"))
    )
    assert hook.exit_code == 0  # nothing lost: the order it names is to be fetched
    [line] = [json.loads(text) for text in hook.output.splitlines()]
    assert line["status"] == "needs_attention" and "carries only the id of order 3001" in line["error"]

    engine = make_engine(cli_db)
    with make_session_factory(engine)() as session:
        orders = {o.external_id: o for o in session.scalars(select(Order))}
        assert sorted(orders) == ["3001", "3002", "3003"]
        assert orders["3001"].hold_reason is None and len(orders["3001"].lines) == 2
        assert orders["3003"].currency == "EUR"
        stored = session.scalars(select(InboundPayload).order_by(InboundPayload.id.desc())).first()
        assert stored.status == "received" and "to be fetched" in stored.error
    engine.dispose()
