"""Ingest throughput: web-shop orders through the whole intake path, as the webhook runs it, against the
bare DBAPI writing the same rows.

Each order goes through what `POST /api/channels/<c>/webhooks/orders` does after the signature check, in one
transaction (`intake.receive_payload`): store the raw body, then adapt, resolve the customer, upsert the
order and its lines, reserve stock, append the timeline and queue the outbox rows. The floor writes, per
order and in one transaction, the very rows the intake wrote for it (captured from a scratch run): payload,
customer, identity, order, lines, events, allocations, stock movements, the stock-level updates, outbox rows.
"""

from __future__ import annotations

import json
import sqlite3
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
from sqlalchemy import Engine
from sqlalchemy.engine import make_url

from benchmarks import replay
from benchmarks.bench_seed import _read_rows
from benchmarks.runner import Goal, Scenario, Target
from core.catalog.models import Listing, Product, Sku
from core.channels.models import Channel
from core.db import begin_write, make_engine, make_session_factory
from core.inventory.allocations import receive_stock
from core.inventory.models import Location
from core.orders import intake

ORDERS = 300
SKUS = 40
NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
PER_ORDER_TABLES = (
    "customers",
    "identities",
    "orders",
    "order_lines",
    "order_events",
    "allocations",
    "stock_movements",
)


def _payloads() -> list[str]:
    """ORDERS web-shop order bodies, 1-4 lines each (2.5 on average), from 200 distinct buyers."""
    bodies = []
    for n in range(ORDERS):
        lines = [
            {
                "id": str(i + 1),
                "sku": f"BENCH-{(n * 7 + i * 13) % SKUS:03d}",
                "title": f"Item {i}",
                "quantity": 1 + (n + i) % 2,
                "unit_price": "12.50",
                "discount": "0.00",
                "tax": "1.00",
            }
            for i in range(1 + n % 4)
        ]
        subtotal = sum(12.5 * line["quantity"] for line in lines)
        tax = 1.0 * len(lines)
        buyer = n % 200
        bodies.append(
            json.dumps(
                {
                    "id": f"WS-{100000 + n}",
                    "number": str(100000 + n),
                    "status": "paid",
                    "currency": "USD",
                    "placed_at": (NOW + timedelta(seconds=n)).isoformat(),
                    "customer": {"name": f"Buyer {buyer}", "email": f"buyer{buyer}@example.org"},
                    "shipping_address": {
                        "name": f"Buyer {buyer}",
                        "line1": f"{buyer} Main St",
                        "city": "Springfield",
                        "region": "IL",
                        "postal_code": "62701",
                        "country": "US",
                    },
                    "lines": lines,
                    "shipping": {"method": "standard", "amount": "5.00"},
                    "totals": {
                        "subtotal": f"{subtotal:.2f}",
                        "discount": "0.00",
                        "shipping": "5.00",
                        "tax": f"{tax:.2f}",
                        "total": f"{subtotal + 5 + tax:.2f}",
                    },
                }
            )
        )
    return bodies


def _baseline(engine: Engine) -> None:
    """The channel, a warehouse serving it, SKUs with listings, and plenty of stock (off the clock)."""
    with make_session_factory(engine)() as session:
        location = Location(code="WH", name="Warehouse", kind="warehouse", fulfillment_method="in_house")
        channel = Channel(code="webshop", name="Web shop", kind="webshop", webhook_secret="x")
        channel.locations.append(location)
        session.add_all([location, channel])
        session.flush()
        for n in range(SKUS):
            product = Product(title=f"Product {n}")
            session.add(product)
            session.flush()
            sku = Sku(product_id=product.id, code=f"BENCH-{n:03d}", title=f"Item {n}", price=1250)
            session.add(sku)
            session.flush()
            session.add(Listing(channel_id=channel.id, channel_sku=sku.code, sku_id=sku.id))
            receive_stock(session, location.id, sku.id, 100_000, actor="bench", now=NOW)
        session.commit()


def _ingest_all(engine: Engine, bodies: list[str]) -> int:
    factory = make_session_factory(engine)
    with factory() as session:
        for body in bodies:
            begin_write(session)
            channel = intake.get_channel(session, "webshop")
            received = intake.receive_payload(session, channel, body, source="webhook", now=NOW)
            session.commit()
            if [r.status for r in received.results] != ["created"]:
                raise RuntimeError(f"order not created: {received}")
    return len(bodies)


@dataclass
class _Context:
    target: Target
    bodies: list[str]
    url: str = ""
    # per order: list of (sql, rows) statements replayed in one transaction
    orders: list[list[tuple[str, list[tuple[Any, ...]]]]] = field(default_factory=list)
    statements: list[replay.Step] = field(default_factory=list)  # what the intake sent (SQLite)


def setup(target: Target) -> _Context:
    """Run the intake once on a scratch database and capture, per order, every row it wrote."""
    ctx = _Context(target, _payloads())
    engine = make_engine(target.fresh_url())
    try:
        _baseline(engine)
        skip = {name: len(_read_rows(engine, name)[1]) for name in (*PER_ORDER_TABLES, "outbox_messages")}
        if engine.dialect.name == "sqlite":
            engine.dispose()  # the intake's connections are opened recording
            with replay.recording(engine) as sent:
                _ingest_all(engine, ctx.bodies)
            ctx.statements = sent
        else:
            _ingest_all(engine, ctx.bodies)
        tables = {
            name: _read_rows(engine, name)
            for name in (*PER_ORDER_TABLES, "inbound_payloads", "outbox_messages")
        }
        mark = "?" if engine.dialect.name == "sqlite" else "%s"
    finally:
        engine.dispose()

    def index(name: str) -> tuple[list[str], list[tuple[Any, ...]]]:
        columns, rows = tables[name]
        return columns, rows[skip.get(name, 0) :]

    def insert(name: str, columns: list[str]) -> str:
        return f"INSERT INTO {name} ({', '.join(columns)}) VALUES ({', '.join([mark] * len(columns))})"

    by_order: dict[str, dict[Any, list[tuple[Any, ...]]]] = defaultdict(lambda: defaultdict(list))
    o_cols, o_rows = index("orders")
    line_order = {}
    for name, key in (
        ("order_lines", "order_id"),
        ("order_events", "order_id"),
        ("stock_movements", "order_id"),
        ("inbound_payloads", "order_id"),
    ):
        cols, rows = index(name)
        for row in rows:
            by_order[name][row[cols.index(key)]].append(row)
            if name == "order_lines":
                line_order[row[cols.index("id")]] = row[cols.index("order_id")]
    a_cols, a_rows = index("allocations")
    for row in a_rows:
        by_order["allocations"][line_order[row[a_cols.index("order_line_id")]]].append(row)
    c_cols, c_rows = index("customers")
    i_cols, i_rows = index("identities")
    customers = {row[c_cols.index("id")]: row for row in c_rows}
    identities = {row[i_cols.index("id")]: row for row in i_rows}
    ob_cols, ob_rows = index("outbox_messages")
    kind_at, payload_at = ob_cols.index("kind"), ob_cols.index("payload")
    confirmation_by_order = {
        json.loads(_text(row[payload_at]))["order_id"]: row
        for row in ob_rows
        if row[kind_at] == "order_confirmed"
    }
    pushes = [row for row in ob_rows if row[kind_at] == "stock_push"]
    push_columns = [c for c in ob_cols if c != "id"]
    upsert = (
        insert("outbox_messages", push_columns)
        + " ON CONFLICT (dedup_key) DO UPDATE SET payload = excluded.payload, next_attempt_at = "
        "excluded.next_attempt_at"
    )
    m_cols = tables["stock_movements"][0]
    seen_customers: set[Any] = set()
    seen_identities: set[Any] = set()
    p_cols = tables["inbound_payloads"][0]
    for order in o_rows:
        order_id = order[o_cols.index("id")]
        statements: list[tuple[str, list[tuple[Any, ...]]]] = []
        customer_id, identity_id = order[o_cols.index("customer_id")], order[o_cols.index("identity_id")]
        if customer_id not in seen_customers and customer_id in customers:
            statements.append((insert("customers", c_cols), [customers[customer_id]]))
            seen_customers.add(customer_id)
        if identity_id not in seen_identities and identity_id in identities:
            statements.append((insert("identities", i_cols), [identities[identity_id]]))
            seen_identities.add(identity_id)
        statements.append((insert("orders", o_cols), [order]))
        statements.append((insert("inbound_payloads", p_cols), by_order["inbound_payloads"][order_id]))
        for name in ("order_lines", "order_events", "allocations", "stock_movements"):
            cols = tables[name][0]
            statements.append((insert(name, cols), by_order[name][order_id]))
        statements.append(
            (
                f"UPDATE stock_levels SET reserved = reserved + {mark} WHERE location_id = {mark} "
                f"AND sku_id = {mark} AND on_hand - reserved >= {mark}",
                [
                    (
                        m[m_cols.index("reserved_delta")],
                        m[m_cols.index("location_id")],
                        m[m_cols.index("sku_id")],
                        m[m_cols.index("reserved_delta")],
                    )
                    for m in by_order["stock_movements"][order_id]
                ],
            )
        )
        if order_id in confirmation_by_order:
            statements.append((insert("outbox_messages", ob_cols), [confirmation_by_order[order_id]]))
        touched = {m[m_cols.index("sku_id")] for m in by_order["stock_movements"][order_id]}
        mine = [
            tuple(v for c, v in zip(ob_cols, row, strict=True) if c != "id")
            for row in pushes
            if json.loads(_text(row[payload_at])).get("sku_id") in touched
        ]
        statements.append((upsert, mine))
        ctx.orders.append([(sql, rows) for sql, rows in statements if rows])
    return ctx


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value.obj)


def fresh_database(ctx: _Context) -> None:
    ctx.url = ctx.target.fresh_url()
    engine = make_engine(ctx.url)
    try:
        _baseline(engine)
    finally:
        engine.dispose()


def run(ctx: _Context) -> float:
    engine = make_engine(ctx.url)
    try:
        return _ingest_all(engine, ctx.bodies)
    finally:
        engine.dispose()


def floor(ctx: _Context) -> float:
    url = make_url(ctx.url)
    if url.get_backend_name() == "sqlite":
        conn: Any = sqlite3.connect(url.database, isolation_level=None)
        for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "foreign_keys=ON"):
            conn.execute(f"PRAGMA {pragma}")
        begin = "BEGIN IMMEDIATE"
    else:
        conn = psycopg.connect(url.set(drivername="postgresql").render_as_string(hide_password=False))
        begin = None
    try:
        for statements in ctx.orders:
            cursor = conn.cursor()
            if begin:
                cursor.execute(begin)
            for sql, rows in statements:
                cursor.executemany(sql, rows)
            if begin:
                cursor.execute("COMMIT")
            else:
                conn.commit()
    finally:
        conn.close()
    return len(ctx.orders)


def ceiling(ctx: _Context) -> float | None:
    """The intake's own statements (SQLite), recorded in setup, replayed through the bare driver."""
    if not ctx.statements:
        return None
    conn = replay.connect(ctx.url)
    try:
        replay.replay(conn, ctx.statements)
    finally:
        conn.close()
    return len(ctx.bodies)


SCENARIOS = [
    Scenario(
        name="ingest throughput (webhook path, one order per transaction)",
        setup=setup,
        run=run,
        floor=floor,
        ceiling=ceiling,
        unit="orders/s",
        repeats=3,
        # PostgreSQL (production) against the bare floor; SQLite against the ceiling, its own statements replayed
        # through the bare driver (the floor there is out of reach of any code sending the statements required)
        goals={"postgresql": Goal(0.35), "sqlite": Goal(0.30, of="ceiling")},
        before_each=fresh_database,
        floor_note="the same rows per order (payload, customer, order, lines, events, allocations, "
        "movements, stock levels, outbox) through bare DBAPI, one transaction per order",
    ),
]
