"""Stock: reservations under contention, and the allocation rules on a large order.

1. Reservations/s: 8 threads, each with its own connection, reserve 1 unit at a time of one of the same 10
   SKUs through `reserve_stock` (one transaction each: the conditional UPDATE, the ledger row, the arming
   of the channel's stock push). Floor: the same threads running only the bare conditional UPDATE
   (`... SET reserved = reserved + 1 WHERE ... AND on_hand - reserved >= 1`) and COMMIT through the DBAPI.
2. Allocation: `plan_allocation` for a 20-line order across 50 locations (no location has all 20 lines, so
   the split search runs), in plans/s; the median milliseconds per plan is 1000 / rate. Floor: a naive
   first-fit pass over the same data (per line, the first location with enough units).
"""

from __future__ import annotations

import random
import sqlite3
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import psycopg
from sqlalchemy.engine import make_url

from benchmarks import replay
from benchmarks.runner import Goal, Scenario, Target
from core.catalog.models import Product, Sku
from core.channels.models import Channel
from core.db import begin_write, make_engine, make_session_factory
from core.inventory.allocation import LineNeed, LocationStock, ShipTo, plan_allocation
from core.inventory.allocations import receive_stock
from core.inventory.models import Location
from core.inventory.reservations import reserve_stock

THREADS = 8
SKUS = 10
RESERVATIONS_PER_THREAD = 150
NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


@dataclass
class _Stock:
    target: Target
    url: str = ""
    location_id: int = 0
    sku_ids: tuple[int, ...] = ()
    sent: dict[int, list[replay.Step]] = field(default_factory=dict)  # SKU id: one reservation's statements


def _stock_setup(target: Target) -> _Stock:
    """The context; on SQLite also each SKU's reservation statements, recorded on a scratch database."""
    ctx = _Stock(target)
    if target.name == "sqlite":
        _fresh_stock(ctx)
        engine = make_engine(ctx.url)
        try:
            factory = make_session_factory(engine)
            for sku_id in ctx.sku_ids:
                with replay.recording(engine) as sent, factory() as session:
                    begin_write(session)
                    reserve_stock(
                        session, [(ctx.location_id, sku_id, 1)], order_id=None, actor="bench", now=NOW
                    )
                    session.commit()
                engine.dispose()  # the next recording opens its own connection
                [ctx.sent[sku_id]] = replay.transactions(sent)
        finally:
            engine.dispose()
    return ctx


def _fresh_stock(ctx: _Stock) -> None:
    """A new database with one warehouse serving one channel and 10 SKUs with plenty of stock."""
    ctx.url = ctx.target.fresh_url()
    engine = make_engine(ctx.url)
    try:
        with make_session_factory(engine)() as session:
            location = Location(code="WH", name="Warehouse", kind="warehouse", fulfillment_method="in_house")
            channel = Channel(code="web", name="Web", kind="webshop")
            channel.locations.append(location)
            session.add_all([location, channel])
            session.flush()
            ids = []
            for n in range(SKUS):
                product = Product(title=f"P{n}")
                session.add(product)
                session.flush()
                sku = Sku(product_id=product.id, code=f"HOT-{n}", title=f"Hot {n}")
                session.add(sku)
                session.flush()
                receive_stock(session, location.id, sku.id, 1_000_000, actor="bench", now=NOW)
                ids.append(sku.id)
            session.commit()
            ctx.location_id, ctx.sku_ids = location.id, tuple(ids)
    finally:
        engine.dispose()


def _in_threads(work: Any) -> int:
    errors: list[BaseException] = []

    def guarded(n: int) -> None:
        try:
            work(n)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=guarded, args=(n,)) for n in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    return THREADS * RESERVATIONS_PER_THREAD


def _reserve_run(ctx: _Stock) -> float:
    engine = (
        make_engine(ctx.url, pool_size=THREADS) if not ctx.url.startswith("sqlite") else make_engine(ctx.url)
    )
    factory = make_session_factory(engine)

    def work(n: int) -> None:
        rng = random.Random(n)
        with factory() as session:
            for _ in range(RESERVATIONS_PER_THREAD):
                begin_write(session)
                reserve_stock(
                    session,
                    [(ctx.location_id, rng.choice(ctx.sku_ids), 1)],
                    order_id=None,
                    actor="bench",
                    now=NOW,
                )
                session.commit()

    try:
        return _in_threads(work)
    finally:
        engine.dispose()


def _reserve_floor(ctx: _Stock) -> float:
    url = make_url(ctx.url)
    sqlite = url.get_backend_name() == "sqlite"
    mark = "?" if sqlite else "%s"
    sql = (
        f"UPDATE stock_levels SET reserved = reserved + 1 WHERE location_id = {mark} AND sku_id = {mark} "
        f"AND on_hand - reserved >= 1"
    )

    def work(n: int) -> None:
        rng = random.Random(n)
        if sqlite:
            conn: Any = sqlite3.connect(url.database, timeout=15, isolation_level=None)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
        else:
            conn = psycopg.connect(url.set(drivername="postgresql").render_as_string(hide_password=False))
        try:
            for _ in range(RESERVATIONS_PER_THREAD):
                if sqlite:
                    conn.execute("BEGIN IMMEDIATE")
                    if conn.execute(sql, (ctx.location_id, rng.choice(ctx.sku_ids))).rowcount != 1:
                        raise RuntimeError("floor reservation refused")
                    conn.execute("COMMIT")
                else:
                    with conn.cursor() as cursor:
                        cursor.execute(sql, (ctx.location_id, rng.choice(ctx.sku_ids)))
                    conn.commit()
        finally:
            conn.close()

    return _in_threads(work)


def _reserve_ceiling(ctx: _Stock) -> float | None:
    if not ctx.sent:
        return None

    def work(n: int) -> None:
        rng = random.Random(n)
        conn = replay.connect(ctx.url)
        try:
            for _ in range(RESERVATIONS_PER_THREAD):
                replay.replay(conn, ctx.sent[rng.choice(ctx.sku_ids)])
        finally:
            conn.close()

    return _in_threads(work)


# --- allocation -----------------------------------------------------------------------------------------

PLANS = 300


@dataclass
class _Allocation:
    lines: list[LineNeed]
    locations: list[LocationStock]
    ship_to: ShipTo


def _allocation_setup(_target: Target) -> _Allocation:
    """20 lines; 50 locations each stocking a random 12 of the 20 SKUs, so no single location can ship all."""
    rng = random.Random(7)
    lines = [LineNeed(line_id=n, sku_id=100 + n, quantity=rng.randint(1, 3)) for n in range(20)]
    regions = ("US-NY", "US-CA", "US-TX", "US-IL", "CA")
    locations = []
    for n in range(50):
        stocked = rng.sample(range(20), 12)
        locations.append(
            LocationStock(
                location_id=n + 1,
                name=f"Location {n + 1}",
                kind="warehouse",
                priority=rng.randint(1, 100),
                regions=(rng.choice(regions),),
                available={100 + s: rng.randint(0, 40) for s in stocked},
            )
        )
    return _Allocation(lines, locations, ShipTo(country="US", region="US-CA"))


def _allocation_run(ctx: _Allocation) -> float:
    for _ in range(PLANS):
        plan_allocation(ctx.lines, ctx.locations, ctx.ship_to)
    return PLANS


def _allocation_floor(ctx: _Allocation) -> float:
    for _ in range(PLANS):
        plan = []
        for line in ctx.lines:
            for location in ctx.locations:
                if location.available.get(line.sku_id, 0) >= line.quantity:
                    plan.append((line.line_id, location.location_id))
                    break
    return PLANS


SCENARIOS = [
    Scenario(
        name="reservations, 8 threads on the same 10 SKUs",
        setup=_stock_setup,
        run=_reserve_run,
        floor=_reserve_floor,
        ceiling=_reserve_ceiling,
        unit="reservations/s",
        repeats=3,
        # PostgreSQL (production) against the bare floor; SQLite against the ceiling, its own statements replayed
        # through the bare driver (the floor there is out of reach of any code sending the statements required)
        goals={"postgresql": Goal(0.5), "sqlite": Goal(0.30, of="ceiling")},
        before_each=_fresh_stock,
        floor_note="the bare conditional UPDATE + COMMIT from the same 8 threads",
    ),
    Scenario(
        name="allocation plan, 20 lines across 50 locations",
        setup=_allocation_setup,
        run=_allocation_run,
        floor=_allocation_floor,
        unit="plans/s",
        repeats=5,
        goal=None,  # the goal is absolute: under 5 ms per plan, i.e. above 200 plans/s
        floor_note="naive first-fit over the same lines and locations",
    ),
]
