"""The managers' analytics dashboard at scale: one generated database per target of 1,000,000 orders over two
years and 200,000 tickets (BENCH_ANALYTICS_ORDERS, BENCH_ANALYTICS_TICKETS to change), and the whole dashboard
(core.analytics.queries.dashboard: trend alerts, issue trends, service times in business hours, returns and
channel KPIs against the previous period) for a 90-day range, all channels. Judged by the p95 seconds of one
dashboard (goal on PostgreSQL: under 1 s); the floor is one GROUP BY over the same 90 days of orders (orders
and revenue per channel) through the same kind of session, timed in the same run.

The rows are written off the clock: COPY on PostgreSQL, executemany on SQLite, with the bulk tables' secondary
indexes dropped during the load and built again after it, then ANALYZE. The dashboard's daily summaries are
then refreshed off the clock too, as the worker's analytics_refresh_job keeps them in production (every closed
day before NOW's; NOW's own day is read live from the operational tables). Orders have one or two lines of 500
SKUs; shipped orders a parcel; one order in twenty a return and a refund; four tickets in five are about an
order; one in ten is a chat (half of them handed off); every tenth solved ticket has a satisfaction rating.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from benchmarks.runner import Scenario, Target
from core.analytics import queries
from core.analytics.refresh import refresh
from core.analytics.rules import Period
from core.db import make_engine

ORDERS = int(os.environ.get("BENCH_ANALYTICS_ORDERS", "1000000"))
TICKETS = int(os.environ.get("BENCH_ANALYTICS_TICKETS", "200000"))
CUSTOMERS = max(1, ORDERS // 4)
SKUS = 500
AGENTS = 10
NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
SPAN = 730 * 86_400  # two years of history
DAYS = 90
CHUNK = 50_000
CHANNELS = ((1, "web", "Web shop", "webshop"), (2, "amazon", "Amazon", "amazon"), (3, "ebay", "eBay", "ebay"))
STATUSES = (
    "delivered",
    "delivered",
    "shipped",
    "confirmed",
    "cancelled",
    "delivered",
    "returned",
    "delivered",
)
CATEGORIES = ("where_is_my_order", "return", "damaged", "product_question", "refund", "cancel_order", None)
REASONS = ("wrong_size", "damaged", "not_as_described", "changed_mind", "late", "other")
HANDOFF_REASONS = ("The customer sounds upset.", "A question the assistant has no answer for.")
BULK_TABLES = (
    "customers",
    "orders",
    "order_lines",
    "shipments",
    "return_requests",
    "return_lines",
    "refunds",
    "conversations",
    "messages",
    "satisfaction_ratings",
)


def _stamp(value: datetime, sqlite: bool) -> Any:
    return value.replace(tzinfo=None).isoformat(sep=" ") if sqlite else value


def _bulk(cur: Any, sqlite: bool, table: str, columns: str, rows: Iterable[tuple[Any, ...]]) -> None:
    if sqlite:
        marks = ", ".join("?" * len(columns.split(",")))
        cur.executemany(f"INSERT INTO {table} ({columns}) VALUES ({marks})", rows)
        return
    with cur.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)


def _chunks(total: int) -> Iterator[range]:
    for start in range(1, total + 1, CHUNK):
        yield range(start, min(start + CHUNK, total + 1))


def _secondary_indexes(cur: Any, sqlite: bool) -> list[tuple[str, str]]:
    names = ", ".join(f"'{t}'" for t in BULK_TABLES)
    if sqlite:
        cur.execute(
            "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL "
            f"AND tbl_name IN ({names})"
        )
    else:
        cur.execute(
            "SELECT i.indexname, i.indexdef FROM pg_indexes i WHERE i.schemaname = current_schema() "
            f"AND i.tablename IN ({names}) "
            "AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname)"
        )
    return list(cur.fetchall())


def placed_of(n: int) -> datetime:
    return NOW - timedelta(seconds=n * SPAN // ORDERS)


def created_of(k: int) -> datetime:
    return NOW - timedelta(seconds=k * SPAN // TICKETS + 60)


def _reference(cur: Any, sqlite: bool, now: Any) -> None:
    _bulk(
        cur, sqlite, "channels",
        "id, code, name, kind, sender_name, credentials, is_marketplace, return_window_days, "
        "returns_handled_by_channel, return_instructions, stock_buffer_units, stock_buffer_percent, "
        "stock_floor, active, created_at",
        [(i, code, name, kind, "", "{}", i > 1, 30, False, "", 0, 0, 0, True, now) for i, code, name, kind in CHANNELS],
    )  # fmt: skip
    _bulk(cur, sqlite, "products", "id, title, description, created_at",
          [(i, f"Product {i}", "", now) for i in range(1, SKUS + 1)])  # fmt: skip
    _bulk(
        cur, sqlite, "skus",
        "id, product_id, code, title, price, currency, cost, weight_grams, returnable, lead_time_days, active, "
        "created_at",
        [(i, i, f"SKU-{i:03d}", f"Product {i}", 2500, "USD", 900 + i, 100, True, 7, True, now)
         for i in range(1, SKUS + 1)],
    )  # fmt: skip
    _bulk(
        cur, sqlite, "locations",
        "id, code, name, kind, fulfillment_method, regions, priority, address, active, created_at",
        [(1, "WH1", "Warehouse", "warehouse", "in_house", "[]", 1, "{}", True, now)],
    )  # fmt: skip
    _bulk(cur, sqlite, "stock_levels", "location_id, sku_id, on_hand, reserved, updated_at",
          [(1, i, 50 + i % 40, 0, now) for i in range(1, SKUS + 1)])  # fmt: skip
    _bulk(
        cur, sqlite, "users",
        "id, email, name, password_hash, role, active, session_version, created_at",
        [(i, f"agent{i}@bench.example", f"Agent {i}", "x", "agent", True, 1, now) for i in range(1, AGENTS + 1)],
    )  # fmt: skip


def _orders(cur: Any, raw: Any, sqlite: bool, now: Any) -> None:
    for ids in _chunks(CUSTOMERS):
        _bulk(cur, sqlite, "customers", "id, name, email, marketing_opt_out, notification_prefs, created_at",
              ((c, f"Customer {c}", f"c{c}@bench.example", False, "{}", now) for c in ids))  # fmt: skip
        raw.commit()
    for ids in _chunks(ORDERS):
        orders, lines, shipments, returns, return_lines, refunds = [], [], [], [], [], []
        for n in ids:
            count, status = 1 + n % 2, STATUSES[n % len(STATUSES)]
            placed = placed_of(n)
            customer = 1 + n * 7919 % CUSTOMERS
            total = 2500 * count + 500
            orders.append(
                (n, 1 + n % 3, f"X{n}", f"CD-{1000000 + n}", status, "", "paid", "[]", customer, f"c{customer}@bench.example",
                 f"Customer {customer}", _stamp(placed, sqlite), 0, "USD", 2500 * count, 0, 500, 0, total,
                 total if status == "returned" else 0, False, _stamp(placed + timedelta(hours=24), sqlite), now, now)
            )  # fmt: skip
            for i in range(count):
                lines.append(
                    (2 * n - 1 + i, n, i + 1, 1 + (n * 31 + i * 17) % SKUS, f"Product {i}", 1, 2500, 0, 0, 2500,
                     0, 0, 0)
                )  # fmt: skip
            if status in ("delivered", "shipped", "returned"):
                shipped = placed + timedelta(hours=2 + n % 48)
                shipments.append(
                    (
                        n,
                        n,
                        "UPS",
                        f"1Z{n:012d}",
                        "delivered",
                        _stamp(shipped, sqlite),
                        _stamp(shipped, sqlite),
                    )
                )
            if status == "returned" or (n % 20 == 0 and status == "delivered"):
                requested = placed + timedelta(days=10)
                returns.append((n, f"RMA-{n}", n, "refunded", REASONS[n % len(REASONS)], "", "refund",
                                _stamp(requested, sqlite)))  # fmt: skip
                return_lines.append((n, n, 2 * n - 1, 1, 1, 0))
                refunds.append((n, n, n, 2500, 0, "USD", "original", "{}", "", "bench",
                                _stamp(requested + timedelta(days=3), sqlite)))  # fmt: skip
        _bulk(
            cur, sqlite, "orders",
            "id, channel_id, external_id, number, status, channel_status, channel_state, hold_warnings, customer_id, "
            "email, buyer_name, placed_at, placed_at_offset_minutes, currency, subtotal, discount_total, "
            "shipping_total, tax_total, total, refunded_total, fulfilled_by_channel, expected_dispatch_by, "
            "created_at, updated_at",
            orders,
        )  # fmt: skip
        _bulk(
            cur, sqlite, "order_lines",
            "id, order_id, line_no, sku_id, title, quantity, unit_price, discount, tax, total, quantity_shipped, "
            "quantity_returned, quantity_cancelled",
            lines,
        )  # fmt: skip
        _bulk(cur, sqlite, "shipments", "id, order_id, carrier, tracking_number, status, shipped_at, created_at",
              shipments)  # fmt: skip
        _bulk(cur, sqlite, "return_requests",
              "id, rma_number, order_id, status, reason, reason_text, resolution, requested_at", returns)  # fmt: skip
        _bulk(cur, sqlite, "return_lines",
              "id, return_id, order_line_id, quantity, quantity_received, quantity_damaged", return_lines)  # fmt: skip
        _bulk(cur, sqlite, "refunds",
              "id, order_id, return_id, amount, shipping_amount, currency, method, line_amounts, reason, actor, "
              "created_at", refunds)  # fmt: skip
        raw.commit()


def _tickets(cur: Any, raw: Any, sqlite: bool) -> None:
    message_id = 0
    for ids in _chunks(TICKETS):
        conversations, messages, ratings = [], [], []
        for k in ids:
            created = created_of(k)
            chat = k % 10 == 0
            old = NOW - created > timedelta(days=2)
            responded = created + timedelta(seconds=1800 * (k % 17 + 1))
            solved = created + timedelta(hours=k % 23 + 2) if old else None
            responded = responded if responded < NOW else None
            conversations.append(
                (k, 1 + k * 13 % CUSTOMERS, 1 + k * 5 % ORDERS if k % 5 else None, "chat" if chat else "portal",
                 "A question", "solved" if solved else "open", "normal", CATEGORIES[k % len(CATEGORIES)],
                 1 + k % AGENTS if k % 4 else None, _stamp(created + timedelta(hours=4), sqlite),
                 _stamp(created + timedelta(hours=24), sqlite), responded and _stamp(responded, sqlite),
                 solved and _stamp(solved, sqlite), "[]",
                 _stamp(created + timedelta(hours=4), sqlite) if k % 9 == 0 else None,
                 _stamp(created, sqlite), _stamp(solved or created, sqlite))
            )  # fmt: skip
            message_id += 1
            messages.append(
                (message_id, k, "customer", "Hello, about my order", False, "{}", _stamp(created, sqlite))
            )
            if chat:
                message_id += 1
                messages.append((message_id, k, "assistant", "Here is what I found", False, "{}",
                                 _stamp(created + timedelta(seconds=20), sqlite)))  # fmt: skip
                if k % 20 == 0:
                    message_id += 1
                    data = json.dumps({"event": "handoff", "reason": HANDOFF_REASONS[k // 20 % 2]})
                    messages.append((message_id, k, "system", "Handed off", True, data,
                                     _stamp(created + timedelta(minutes=2), sqlite)))  # fmt: skip
            if solved is not None and k % 10 == 5:
                ratings.append((k, k, 1 + k % AGENTS, 1 + k % 5, "Thanks" if k % 3 else None,
                                _stamp(solved, sqlite), _stamp(solved + timedelta(hours=3), sqlite)))  # fmt: skip
        _bulk(
            cur, sqlite, "conversations",
            "id, customer_id, order_id, source, subject, status, priority, category, assignee_id, "
            "first_response_due_at, resolution_due_at, first_responded_at, solved_at, sla_pauses, "
            "first_response_breached_at, created_at, updated_at",
            conversations,
        )  # fmt: skip
        _bulk(cur, sqlite, "messages", "id, conversation_id, author_kind, body, internal, data, created_at",
              messages)  # fmt: skip
        _bulk(cur, sqlite, "satisfaction_ratings",
              "id, conversation_id, agent_id, score, comment, asked_at, rated_at", ratings)  # fmt: skip
        raw.commit()


def _generate(engine: Engine) -> None:
    sqlite = engine.dialect.name == "sqlite"
    now = _stamp(NOW, sqlite)
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        indexes = _secondary_indexes(cur, sqlite)
        for name, _ in indexes:
            cur.execute(f'DROP INDEX "{name}"')
        _reference(cur, sqlite, now)
        raw.commit()
        _orders(cur, raw, sqlite, now)
        _tickets(cur, raw, sqlite)
        started = time.perf_counter()
        for _, statement in indexes:
            cur.execute(statement)
        raw.commit()
        print(f"  indexes built again in {time.perf_counter() - started:.0f} s", file=sys.stderr, flush=True)
        if not sqlite:
            for table in (*BULK_TABLES, "channels", "products", "skus", "users", "locations"):
                cur.execute(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))"
                )
        cur.execute("ANALYZE")
        raw.commit()
        if sqlite:
            cur.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        raw.close()


@dataclass
class _Context:
    engine: Engine
    period: Period
    latencies: list[float] = field(default_factory=list)
    alerts: int = 0


def setup(target: Target) -> _Context:
    url = target.fresh_url()
    engine = make_engine(url)
    started = time.perf_counter()
    _generate(engine)
    print(
        f"  {ORDERS:,} orders, {TICKETS:,} tickets in {time.perf_counter() - started:.0f} s",
        file=sys.stderr,
        flush=True,
    )
    started = time.perf_counter()
    with Session(engine) as session:  # what the worker's analytics_refresh_job keeps current in production
        result = refresh(session, now=NOW)
        session.commit()
    print(
        f"  summaries of {result.days} days refreshed in {time.perf_counter() - started:.0f} s",
        file=sys.stderr,
        flush=True,
    )
    last = NOW.date() - timedelta(days=1)
    ctx = _Context(engine, Period(last - timedelta(days=DAYS - 1), last))
    with Session(engine) as session:  # the page must show real figures, not empty sections
        board = queries.dashboard(session, queries.resolve_filters(session, ctx.period, ""), now=NOW)
        kpis = board.sections["channels"].extra["kpis"]
        times = board.sections["service"].extra["times"]
        if len(kpis) != 3 or not kpis[0]["current"]["orders"] or not times["first_response"][0]:
            raise RuntimeError(f"the dashboard came out empty: {kpis[:1]} {times}")
        print(
            f"  {kpis[0]['channel']}: {kpis[0]['current']['orders']:,} orders in the period; "
            f"{times['first_response'][0]:,} first responses",
            file=sys.stderr,
            flush=True,
        )
    return ctx


def dashboard(ctx: _Context) -> float:
    """The whole dashboard once, in a fresh session, as the page asks for it."""
    started = time.perf_counter()
    with Session(ctx.engine) as session:
        board = queries.dashboard(session, queries.resolve_filters(session, ctx.period, ""), now=NOW)
    ctx.latencies.append(time.perf_counter() - started)
    ctx.alerts = len(board.alerts)
    return 1


def floor(ctx: _Context) -> float:
    """One GROUP BY over the same 90 days of orders: orders and revenue per channel."""
    statement = text(
        "SELECT channel_id, count(*), sum(total) FROM orders WHERE placed_at >= :start AND placed_at < :end "
        "GROUP BY channel_id"
    )
    sqlite = ctx.engine.dialect.name == "sqlite"
    with Session(ctx.engine) as session:
        rows = session.execute(
            statement,
            {"start": _stamp(ctx.period.start_at, sqlite), "end": _stamp(ctx.period.end_at, sqlite)},
        ).all()
    if len(rows) != 3:
        raise RuntimeError(f"the floor found {len(rows)} channels")
    return 1


def latencies(ctx: _Context) -> list[float]:
    return ctx.latencies


def teardown(ctx: _Context) -> None:
    ctx.engine.dispose()


SIZE = f"{ORDERS / 1_000_000:g}M orders" if ORDERS >= 1_000_000 else f"{ORDERS // 1000:,}k orders"
TICKET_SIZE = f"{TICKETS // 1000:,}k tickets"

SCENARIOS = [
    Scenario(
        name=f"analytics dashboard, {DAYS} days, {SIZE}, {TICKET_SIZE}",
        setup=setup,
        run=dashboard,
        floor=floor,
        unit="dashboards/s",
        repeats=3,
        latencies=latencies,
        p95_goals_ms={"postgresql": 1000.0},
        teardown=teardown,
        floor_note="one GROUP BY (orders and revenue per channel) over the same 90 days of orders",
    )
]
