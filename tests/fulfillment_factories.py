"""Factories for fulfillment tests: shipping options, and orders whose stock is already reserved."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any, TypeVar

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

import core.models  # noqa: F401  (registers every table)
from core import migrate
from core.audit.models import AuditEntry
from core.channels.models import Channel
from core.db import begin_write, make_engine, make_session_factory
from core.fulfillment.models import ShippingOption
from core.inventory.allocations import allocate_order
from core.orders.models import Allocation, Order, OrderEvent, OrderLine
from core.security.roles import Actor
from tests.conftest import drop_database, fresh_database_url
from tests.factories import NOW
from tests.inventory_factories import make_order_for

T = TypeVar("T")
ACTOR = "packer@example.org"
PACKER = Actor(label=ACTOR, role="agent")


def make_shipping_option(session: Session, channel: Channel | None, **overrides: Any) -> ShippingOption:
    """A channel's shipping option (a shared one when channel is None): standard, 5.00, 3-7 business days."""
    fields = {
        "channel_id": channel.id if channel is not None else None,
        "code": "standard",
        "name": "Standard shipping",
        "price": 500,
        "min_business_days": 3,
        "max_business_days": 7,
        "dispatch_business_days": 1,
    }
    option = ShippingOption(**(fields | overrides))
    session.add(option)
    session.flush()
    return option


def make_confirmed_order(
    session: Session, channel: Channel, items: list[tuple[int, int]], **overrides: Any
) -> Order:
    """An order for (sku_id, quantity) items whose stock the allocation rules reserved (status confirmed)."""
    overrides.setdefault(
        "shipping_address",
        {
            "name": "Ada Lovelace",
            "line1": "12 Analytical Row",
            "city": "Springfield",
            "region": "IL",
            "postal_code": "62701",
            "country": "US",
        },
    )
    order = make_order_for(session, channel, items, **overrides)
    allocate_order(session, order, actor=ACTOR, now=NOW)
    assert order.status == "confirmed", f"order not allocated: {order.status}"
    return order


def allocations(session: Session, order: Order) -> list[tuple[int, int, int, str]]:
    """(order line id, location id, quantity, status) of the order's allocations, in creation order."""
    rows = session.execute(
        select(Allocation.order_line_id, Allocation.location_id, Allocation.quantity, Allocation.status)
        .join(OrderLine, OrderLine.id == Allocation.order_line_id)
        .where(OrderLine.order_id == order.id)
        .order_by(Allocation.id)
    ).all()
    return [tuple(row) for row in rows]


def timeline(session: Session, order: Order) -> list[OrderEvent]:
    return list(
        session.scalars(select(OrderEvent).where(OrderEvent.order_id == order.id).order_by(OrderEvent.id))
    )


def audit_trail(session: Session, order: Order) -> list[tuple[str, str, dict | None, dict | None]]:
    """The order's audit entries as (actor label, action, before, after), oldest first."""
    rows = session.execute(
        select(AuditEntry.actor_label, AuditEntry.action, AuditEntry.before, AuditEntry.after)
        .where(AuditEntry.entity_type == "order", AuditEntry.entity_id == str(order.id))
        .order_by(AuditEntry.id)
    )
    return [tuple(row) for row in rows]


@contextmanager
def committed_database(tmp_path_factory: pytest.TempPathFactory) -> Iterator[sessionmaker[Session]]:
    """Sessions on a fresh, migrated database whose commits are real (for tests with several connections)."""
    url, needs_drop = fresh_database_url(tmp_path_factory.mktemp("fulfillment"), "ful_conc")
    engine = make_engine(url, pool_size=10, max_overflow=0)
    try:
        migrate.upgrade(engine)
        yield make_session_factory(engine)
    finally:
        engine.dispose()
        drop_database(url, needs_drop)


def run_at_once(factory: sessionmaker[Session], work: Callable[[Session], T], times: int) -> list[T]:
    """`work` in `times` threads released together, each in its own write transaction, committed."""
    barrier = threading.Barrier(times)

    def one() -> T:
        with factory() as session:
            barrier.wait()
            begin_write(session)
            result = work(session)
            session.commit()
            return result

    with ThreadPoolExecutor(times) as pool:
        return [future.result() for future in [pool.submit(one) for _ in range(times)]]
