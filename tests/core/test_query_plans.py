"""The hot queries use indexes on the large tables: every SQL statement the screens' read models run is
EXPLAINed on PostgreSQL with sequential scans priced out (`SET enable_seqscan = off`); a Seq Scan left in a
plan means no index can serve it, which on a million orders is a full scan on every page view."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import Engine, event, select
from sqlalchemy.orm import Session

from core import migrate
from core import models as m
from core.customers.queries import customer_profile
from core.db import make_engine
from core.demo.seed import seed_demo
from core.orders import queries as order_queries
from core.pagination import encode_cursor
from core.support import queries as support_queries
from core.support.queue import QueueFilters, ticket_queue
from core.support.search import console_search
from tests.conftest import drop_database, fresh_database_url

pytestmark = pytest.mark.skipif(
    not (os.environ.get("TEST_DATABASE_URL") or "").startswith("postgresql"),
    reason="query plans are PostgreSQL's (set TEST_DATABASE_URL to a PostgreSQL database)",
)

NOW = datetime(2025, 6, 2, 15, 30, tzinfo=UTC)
LARGE_TABLES = frozenset(
    {
        "orders",
        "order_lines",
        "customers",
        "identities",
        "conversations",
        "messages",
        "shipments",
        "outbox_messages",
        "inbound_payloads",
    }
)


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    url, needs_drop = fresh_database_url(tmp_path_factory.mktemp("plans"), "plans")
    engine = make_engine(url)
    migrate.upgrade(engine)
    seed_demo(engine, orders=400, seed=3, now=NOW)
    yield engine
    engine.dispose()
    drop_database(url, needs_drop)


def _statements(engine: Engine, run: Callable[[Session], Any]) -> list[tuple[str, Any]]:
    """The SELECT statements (with their parameters) `run` makes."""
    seen: list[tuple[str, Any]] = []

    def listen(_conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any, _many: bool) -> None:
        if statement.lstrip().upper().startswith(("SELECT", "WITH")):
            seen.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", listen)
    try:
        with Session(engine) as session:
            run(session)
    finally:
        event.remove(engine, "before_cursor_execute", listen)
    assert seen, "the read model ran no query"
    return seen


def _seq_scans(node: dict[str, Any]) -> Iterator[str]:
    if node.get("Node Type") == "Seq Scan" and node.get("Relation Name") in LARGE_TABLES:
        yield node["Relation Name"]
    for child in node.get("Plans", ()):
        yield from _seq_scans(child)


def _full_scans(engine: Engine, statements: list[tuple[str, Any]]) -> list[tuple[str, str]]:
    found = []
    with engine.connect() as conn:
        raw = conn.connection.dbapi_connection
        assert raw is not None
        with raw.cursor() as cursor:
            cursor.execute("SET enable_seqscan = off")
            for statement, parameters in statements:
                cursor.execute("EXPLAIN (FORMAT JSON) " + statement, parameters)
                (plan,) = cursor.fetchone()
                plan = plan if isinstance(plan, list) else json.loads(plan)
                found += [(table, statement) for table in _seq_scans(plan[0]["Plan"])]
            cursor.execute("RESET enable_seqscan")
        conn.rollback()
    return found


def _sample(engine: Engine) -> dict[str, Any]:
    """A customer with orders and a ticket, an order with a shipment, a staff user."""
    with Session(engine) as session:
        order = session.scalars(
            select(m.Order).where(m.Order.customer_id.is_not(None), m.Order.email.is_not(None)).limit(1)
        ).one()
        conversation = session.scalars(select(m.Conversation).order_by(m.Conversation.id).limit(1)).one()
        user = session.scalars(select(m.User).where(m.User.role == "agent").limit(1)).one()
        return {
            "customer_id": order.customer_id,
            "number": order.number,
            "external_id": order.external_id,
            "email": order.email,
            "conversation_id": conversation.id,
            "user_id": user.id,
            "cursor": encode_cursor(order.placed_at, order.id),
        }


HOT_QUERIES: dict[str, Callable[[Session, dict[str, Any]], Any]] = {
    "portal order list": lambda s, x: order_queries.customer_orders(s, x["customer_id"]),
    "portal order list, older page": lambda s, x: order_queries.customer_orders(
        s, x["customer_id"], after=order_queries.customer_orders(s, x["customer_id"], per_page=1).older
    ),
    "portal order list, newer page": lambda s, x: order_queries.customer_orders(
        s, x["customer_id"], before=x["cursor"]
    ),
    "order by number": lambda s, x: order_queries.customer_order(s, x["customer_id"], x["number"]),
    "order by reference": lambda s, x: order_queries.find_order_by_reference(s, x["external_id"]),
    "guest lookup": lambda s, x: order_queries.find_order_for_guest(s, x["number"], x["email"]),
    "console queue": lambda s, x: ticket_queue(s, QueueFilters(), user_id=x["user_id"], now=NOW),
    "console queue, all tickets": lambda s, x: ticket_queue(
        s, QueueFilters(view="all"), user_id=x["user_id"], now=NOW
    ),
    "console queue, older page": lambda s, x: ticket_queue(
        s, QueueFilters(after=x["cursor"]), user_id=x["user_id"], now=NOW
    ),
    "console queue, all tickets, newer page": lambda s, x: ticket_queue(
        s, QueueFilters(view="all", before=x["cursor"]), user_id=x["user_id"], now=NOW
    ),
    "ticket list": lambda s, x: support_queries.ticket_list(s, status="open"),
    "ticket page": lambda s, x: support_queries.ticket_page(s, x["conversation_id"]),
    "customer 360": lambda s, x: customer_profile(s, x["customer_id"]),
    "inbound payloads": lambda s, x: order_queries.inbound_payloads(s),
    "inbound payloads, older page": lambda s, x: order_queries.inbound_payloads(s, after=x["cursor"]),
    "inbound payloads in a status": lambda s, x: order_queries.inbound_payloads(
        s, status="processed", after=x["cursor"]
    ),
    "search by order number": lambda s, x: console_search(s, x["number"]),
    "search by email": lambda s, x: console_search(s, x["email"]),
}


@pytest.mark.parametrize("name", sorted(HOT_QUERIES))
def test_hot_query_plans_scan_no_large_table_in_full(seeded: Engine, name: str) -> None:
    sample = _sample(seeded)
    statements = _statements(seeded, lambda session: HOT_QUERIES[name](session, sample))
    scans = _full_scans(seeded, statements)
    assert not scans, "\n\n".join(f"Seq Scan on {table}:\n{statement}" for table, statement in scans)


def test_the_plan_check_sees_a_full_scan(seeded: Engine) -> None:
    """The check itself: a filter on an unindexed column shows up as a Seq Scan."""
    statements = [("SELECT id FROM orders WHERE total + 1 = 12345", None)]
    assert _full_scans(seeded, statements) == [("orders", statements[0][0])]
