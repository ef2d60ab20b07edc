"""Real concurrency on a fresh, committed database (SQLite file or PostgreSQL): many threads and processes
reserve the last units at once. Exactly the stock there is gets reserved: no more, never part of an order."""

from __future__ import annotations

import multiprocessing
import random
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

import core.models  # noqa: F401  (registers every table)
from core import migrate
from core.catalog.models import Product, Sku
from core.channels.models import Channel, channel_locations
from core.db import begin_write, make_engine, make_session_factory, utcnow
from core.errors import InsufficientStock
from core.inventory.allocations import allocate_order, receive_stock
from core.inventory.models import Location, StockLevel, StockMovement
from core.inventory.queries import verify_ledger
from core.inventory.reservations import reserve_stock
from core.orders.models import Allocation, Order, OrderLine
from tests.conftest import drop_database, fresh_database_url
from tests.factories import NOW

ACTOR = "load-test"


@dataclass
class Shop:
    url: str
    engine: Engine
    factory: sessionmaker[Session]


@pytest.fixture
def shop(tmp_path) -> Iterator[Shop]:
    url, needs_drop = fresh_database_url(tmp_path, "conc")
    engine = make_engine(url, pool_size=55, max_overflow=0)
    try:
        migrate.upgrade(engine)
        yield Shop(url, engine, make_session_factory(engine))
    finally:
        engine.dispose()
        drop_database(url, needs_drop)


def seed(
    factory: sessionmaker[Session], *, locations: int, skus: int, units: int
) -> tuple[int, list[int], list[int]]:
    """A channel served by `locations` locations, each holding `units` of each of `skus` SKUs (committed)."""
    with factory() as session:
        channel = Channel(code="web", name="Web shop", kind="webshop")
        session.add(channel)
        locs = [
            Location(
                code=f"WH-{i}",
                name=f"Warehouse {i}",
                kind="warehouse",
                fulfillment_method="in_house",
                priority=i,
            )
            for i in range(locations)
        ]
        product = Product(title="Lamp")
        session.add_all([*locs, product])
        session.flush()
        items = [Sku(product_id=product.id, code=f"LAMP-{i}", title=f"Lamp {i}") for i in range(skus)]
        session.add_all(items)
        session.flush()
        session.execute(
            channel_locations.insert(), [{"channel_id": channel.id, "location_id": loc.id} for loc in locs]
        )
        for loc in locs:
            for sku in items:
                receive_stock(session, loc.id, sku.id, units, actor=ACTOR, now=NOW)
        session.commit()
        return channel.id, [loc.id for loc in locs], [sku.id for sku in items]


def make_orders(
    factory: sessionmaker[Session], channel_id: int, items_per_order: list[list[tuple[int, int]]]
) -> list[int]:
    """Committed pending orders, one per list of (sku_id, quantity)."""
    with factory() as session:
        orders = []
        for n, items in enumerate(items_per_order):
            order = Order(
                channel_id=channel_id, external_id=f"X-{n}", number=f"CD-{n}", placed_at=NOW, currency="USD"
            )
            order.lines = [
                OrderLine(line_no=i, sku_id=sku, title="Lamp", quantity=q, unit_price=100, total=100 * q)
                for i, (sku, q) in enumerate(items, start=1)
            ]
            orders.append(order)
        session.add_all(orders)
        session.commit()
        return [order.id for order in orders]


class AvailabilityWatch:
    """Samples the lowest available of any level, from its own connection, while the load runs."""

    def __init__(self, engine: Engine) -> None:
        self.engine, self.lowest, self.samples = engine, None, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run)

    def _run(self) -> None:
        with self.engine.connect() as conn:
            while not self._stop.is_set():
                value = conn.execute(select(func.min(StockLevel.on_hand - StockLevel.reserved))).scalar()
                conn.rollback()
                self.samples += 1
                self.lowest = value if self.lowest is None else min(self.lowest, value)
                self._stop.wait(0.002)

    def __enter__(self) -> AvailabilityWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def run_threads(n: int, work: Callable[[int], str]) -> list[str]:
    """Run work(i) for i in range(n) on n threads released at the same instant."""
    barrier = threading.Barrier(n)

    def start(i: int) -> str:
        barrier.wait()
        return work(i)

    with ThreadPoolExecutor(max_workers=n) as pool:
        return list(pool.map(start, range(n)))


def reserve_one(
    factory: sessionmaker[Session], requests: list[tuple[int, int, int]], order_id: int | None
) -> str:
    """One customer, one transaction: 'reserved' or 'short'."""
    with factory() as session:
        try:
            reserve_stock(session, requests, order_id=order_id, actor=ACTOR, now=utcnow())
        except InsufficientStock:
            session.rollback()
            return "short"
        session.commit()
        return "reserved"


def totals(factory: sessionmaker[Session]) -> dict[tuple[int, int], tuple[int, int]]:
    with factory() as session:
        rows = session.execute(
            select(StockLevel.location_id, StockLevel.sku_id, StockLevel.on_hand, StockLevel.reserved)
        ).all()
        assert verify_ledger(session) == []
        return {(loc, sku): (on_hand, reserved) for loc, sku, on_hand, reserved in rows}


def test_reserve_stock_50_threads_for_the_last_10_units_reserve_exactly_10(shop):
    _channel, [loc], [sku] = seed(shop.factory, locations=1, skus=1, units=10)
    with AvailabilityWatch(shop.engine) as watch:
        outcomes = run_threads(50, lambda _i: reserve_one(shop.factory, [(loc, sku, 1)], None))
    assert (outcomes.count("reserved"), outcomes.count("short")) == (10, 40)
    assert totals(shop.factory) == {(loc, sku): (10, 10)}
    assert watch.samples > 0 and watch.lowest >= 0


def reserve_in_process(url: str, loc: int, sku: int, attempts: int, barrier, results) -> None:
    """A separate OS process: its own engine and sessions, `attempts` single-unit reservations."""
    engine = make_engine(url, pool_size=1, max_overflow=0)
    factory = make_session_factory(engine)
    barrier.wait()
    outcomes = [reserve_one(factory, [(loc, sku, 1)], None) for _ in range(attempts)]
    engine.dispose()
    results.put(outcomes)


def test_reserve_stock_4_processes_for_the_last_10_units_reserve_exactly_10(shop):
    _channel, [loc], [sku] = seed(shop.factory, locations=1, skus=1, units=10)
    ctx = multiprocessing.get_context("spawn")
    barrier, results = ctx.Barrier(4), ctx.Queue()
    processes = [
        ctx.Process(target=reserve_in_process, args=(shop.url, loc, sku, 6, barrier, results))
        for _ in range(4)
    ]
    with AvailabilityWatch(shop.engine) as watch:
        for process in processes:
            process.start()
        outcomes = [outcome for _ in processes for outcome in results.get(timeout=60)]
        for process in processes:
            process.join(timeout=30)
    assert [process.exitcode for process in processes] == [0, 0, 0, 0]
    assert (outcomes.count("reserved"), outcomes.count("short")) == (10, 14)
    assert totals(shop.factory) == {(loc, sku): (10, 10)}
    assert watch.lowest >= 0


def test_reserve_stock_multi_line_orders_across_two_locations_are_all_or_nothing(shop):
    channel, locs, skus = seed(shop.factory, locations=2, skus=3, units=6)
    rng = random.Random(4)
    baskets = [
        [(rng.choice(locs), sku, rng.randint(1, 2)) for sku in rng.sample(skus, rng.randint(2, 3))]
        for _ in range(40)
    ]
    for basket in baskets:  # every basket spans both locations
        basket[0] = (locs[0], *basket[0][1:])
        basket[1] = (locs[1], *basket[1][1:])
    order_ids = make_orders(
        shop.factory, channel, [[(sku, q) for _loc, sku, q in basket] for basket in baskets]
    )
    with AvailabilityWatch(shop.engine) as watch:
        outcomes = run_threads(40, lambda i: reserve_one(shop.factory, baskets[i], order_ids[i]))
    assert watch.lowest >= 0
    assert 0 < outcomes.count("reserved") < 40  # contention really happened: some won, some lost
    with shop.factory() as session:
        rows = session.execute(
            select(
                StockMovement.order_id,
                StockMovement.location_id,
                StockMovement.sku_id,
                StockMovement.reserved_delta,
            ).where(StockMovement.kind == "reservation")
        ).all()
    reserved_by_order: dict[int, dict[tuple[int, int], int]] = {}
    for order_id, loc, sku, qty in rows:
        reserved_by_order.setdefault(order_id, {})[(loc, sku)] = qty
    expected_levels = {(loc, sku): [6, 0] for loc in locs for sku in skus}
    for basket, order_id, outcome in zip(baskets, order_ids, outcomes, strict=True):
        wanted: dict[tuple[int, int], int] = {}
        for loc, sku, q in basket:
            wanted[(loc, sku)] = wanted.get((loc, sku), 0) + q
        assert reserved_by_order.get(order_id, {}) == (wanted if outcome == "reserved" else {})
        if outcome == "reserved":
            for key, q in wanted.items():
                expected_levels[key][1] += q
    assert totals(shop.factory) == {key: tuple(value) for key, value in expected_levels.items()}


def allocate_one(factory: sessionmaker[Session], order_id: int) -> str:
    with factory() as session:
        begin_write(session)  # SQLite: one writer from the first read, as the web routes do
        order = session.get(Order, order_id)
        allocate_order(session, order, actor=ACTOR, now=utcnow())
        session.commit()
        return order.status


def test_allocate_order_concurrent_orders_get_all_their_lines_or_wait(shop):
    channel, _locs, skus = seed(shop.factory, locations=2, skus=3, units=3)
    rng = random.Random(7)
    order_ids = make_orders(
        shop.factory,
        channel,
        [[(sku, rng.randint(1, 3)) for sku in rng.sample(skus, rng.randint(2, 3))] for _ in range(30)],
    )
    with AvailabilityWatch(shop.engine) as watch:
        statuses = run_threads(30, lambda i: allocate_one(shop.factory, order_ids[i]))
    assert watch.lowest >= 0
    assert set(statuses) == {"confirmed", "backordered"}
    with shop.factory() as session:
        rows = session.execute(
            select(
                OrderLine.order_id,
                OrderLine.id,
                OrderLine.quantity,
                func.coalesce(func.sum(Allocation.quantity), 0),
            )
            .outerjoin(Allocation, Allocation.order_line_id == OrderLine.id)
            .group_by(OrderLine.order_id, OrderLine.id, OrderLine.quantity)
        ).all()
        allocated = session.execute(
            select(Allocation.location_id, OrderLine.sku_id, func.sum(Allocation.quantity))
            .join(OrderLine, OrderLine.id == Allocation.order_line_id)
            .group_by(Allocation.location_id, OrderLine.sku_id)
        ).all()
    by_order: dict[int, list[tuple[int, int]]] = {}
    for order_id, _line, quantity, got in rows:
        by_order.setdefault(order_id, []).append((quantity, got))
    for order_id, status in zip(order_ids, statuses, strict=True):
        lines = by_order[order_id]
        if status == "confirmed":
            assert all(got == quantity for quantity, got in lines)
        else:
            assert all(got == 0 for _quantity, got in lines)
    levels = totals(shop.factory)
    assert {key: reserved for key, (_on_hand, reserved) in levels.items() if reserved} == {
        (loc, sku): qty for loc, sku, qty in allocated
    }
