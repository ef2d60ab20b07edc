"""Demo data: a realistic, coherent data set of about N orders, deterministic from a seed.

Steps: read each table's max id and the natural keys already present (so `--force` seeding into a non-empty
database reuses channels, locations, SKUs, users and stock levels); build the reference data (locations,
channels, catalog, opening stock, staff, customers) and the plan of every order (placed time, status, channel,
buyer); then play the orders in time order, ORDERS_PER_BATCH at a time, each batch one transaction of
executemany INSERTs of plain dicts with precomputed ids. Stock moves only through the ledger
(core.demo.stock); levels are written in the last transaction with their final counts, with what happened
around the orders (CRM notes, general questions, inbound payloads, the outbox, the admins' audit trail).
Last, identity resolution runs over the customers (core.customers.backfill), as `crossdock customers resolve`
does: the identities a channel gave under another name or address came in as customers of their own, and the
live matching merges them or queues them for staff.

Only `random.Random(seed)` and `now` feed the values: the same seed and `now` give the same rows. The
builders draw from the one generator in a fixed order, so the order of the calls below is part of the output.
"""

from __future__ import annotations

import random
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, func, insert, select, update
from sqlalchemy.orm import Session

from core import models as m
from core.audit.services import chain_entries
from core.customers.backfill import resolve_all_customers
from core.customers.resolution import ResolutionReport
from core.db import utcnow
from core.demo.after_sales import AfterSales
from core.demo.channel_ids import ChannelIds
from core.demo.context import SeedContext, load_existing
from core.demo.data.people import CASEY_EMAIL
from core.demo.orders import OrderBuilder
from core.demo.payloads import write_inbound_payloads, write_outbox
from core.demo.people import People, agents_of, build_staff, write_admin_audit
from core.demo.plan import plan_orders
from core.demo.reference import build_reference
from core.demo.shipments import Parcels
from core.demo.stock import Ledger
from core.demo.support import Support, write_help_content
from core.security.passwords import hash_password
from core.security.roles import Actor

DEMO_PASSWORD = "crossdock-demo"  # noqa: S105 - the published demo sign-in, printed by `./run demo`
DEMO_ACCOUNTS: list[tuple[str, str]] = [
    (CASEY_EMAIL, "customer"),
    ("agent@example.com", "agent"),
    ("manager@example.com", "manager"),
    ("admin@example.com", "admin"),
]
ORDERS_PER_BATCH = 2000
PROGRESS_STEP = 250  # orders built between two calls of `progress`, so a progress bar moves smoothly

_TABLES = {table.name: table for table in m.Base.metadata.sorted_tables}
_MODELS: dict[str, Any] = {mapper.local_table.name: mapper.class_ for mapper in m.Base.registry.mappers}


@dataclass(frozen=True)
class SeedStats:
    """Rows written per table and the wall time it took."""

    counts: dict[str, int]
    seconds: float
    resolution: ResolutionReport | None = None  # what identity resolution merged and queued at the end

    @property
    def orders_per_second(self) -> float:
        return self.counts.get("orders", 0) / self.seconds if self.seconds > 0 else 0.0


def database_is_empty(engine: Engine) -> bool:
    """True when the database has no users and no orders (a fresh install the demo may seed)."""
    with engine.connect() as conn:
        no_users = conn.scalar(select(m.User.id).limit(1)) is None
        return no_users and conn.scalar(select(m.Order.id).limit(1)) is None


def seed_demo(
    engine: Engine,
    *,
    orders: int = 20000,
    seed: int = 42,
    progress: Callable[[int], None] | None = None,
    now: datetime | None = None,
    resolving: Callable[[Iterable[int]], Iterable[int]] = lambda ids: ids,
) -> SeedStats:
    """Write the demo data set of `orders` orders (the caller has migrated the database), then resolve
    customer identities (`resolving` wraps the customer ids, for a progress bar)."""
    started = time.perf_counter()
    now = (now or utcnow()).astimezone(UTC).replace(microsecond=0)
    ctx = SeedContext(random.Random(seed), now, orders)
    with engine.connect() as conn:
        existing = load_existing(conn, ctx)
    password_hash = hash_password(DEMO_PASSWORD)
    counts: Counter[str] = Counter()

    # Reference data and the plan of orders: the first transaction.
    ledger = Ledger(ctx)
    ref = build_reference(ctx, existing, ledger)
    staff = build_staff(ctx, existing, password_hash)
    agents = agents_of(staff)
    channel_ids = ChannelIds(ctx, existing)
    people = People(ctx, existing, staff, channel_ids)
    specs = plan_orders(ctx, people.casey, people.people)
    people.write_customers(password_hash)
    write_help_content(ctx, existing)
    _write(engine, ctx.take_batch(), counts)

    support = Support(ctx, agents)
    builder = OrderBuilder(
        ctx,
        ref,
        channel_ids=channel_ids,
        ledger=ledger,
        people=people,
        parcels=Parcels(ctx, ref),
        after_sales=AfterSales(ctx, existing, ref, ledger, agents),
        support=support,
    )
    for start in range(0, len(specs), ORDERS_PER_BATCH):
        batch = specs[start : start + ORDERS_PER_BATCH]
        for built, spec in enumerate(batch, 1):
            builder.build_order(spec)
            if progress is not None and built % PROGRESS_STEP == 0:
                progress(PROGRESS_STEP)
        _write(engine, ctx.take_batch(), counts)
        if progress is not None and len(batch) % PROGRESS_STEP:
            progress(len(batch) % PROGRESS_STEP)

    # Stock levels and what happened around the orders: the last transaction.
    level_updates = ledger.write_levels(ref.locations, ref.skus)
    people.write_crm_notes()
    support.general_questions(people.people, ref.skus)
    support.damaged_wave()
    write_inbound_payloads(ctx, builder.recent, ref)
    write_outbox(ctx, builder.recent, existing, ref, ledger)
    write_admin_audit(ctx, staff, ref.channels, ref.locations)
    _write(engine, ctx.take_batch(), counts, level_updates)

    _advance_sequences(engine)
    # Identity resolution over the seeded customers, as `crossdock customers resolve` runs it: the live code
    # merges the cross-channel duplicates and queues the doubtful ones for staff (the seed writes no merges).
    with Session(engine) as session, session.begin():
        report = resolve_all_customers(session, actor=Actor(label="demo seed"), now=now, progress=resolving)
    return SeedStats(
        counts={name: counts[name] for name in _TABLES if counts[name]},
        seconds=time.perf_counter() - started,
        resolution=report,
    )


def _write(
    engine: Engine,
    batch: dict[str, list[dict[str, Any]]],
    counts: Counter[str],
    level_updates: list[dict[str, Any]] | None = None,
) -> None:
    """One transaction: each table's rows in one executemany, parents before children."""
    with Session(engine) as session, session.begin():
        for name, table in _TABLES.items():
            rows = batch.get(name)
            if rows and name == "audit_entries":
                rows = chain_entries(session, rows)
            if rows:
                # render_nulls keeps every row's column set the same, so a table is one executemany.
                session.execute(insert(_MODELS.get(name, table)).execution_options(render_nulls=True), rows)
                counts[name] += len(rows)
        if level_updates:
            session.execute(update(m.StockLevel), level_updates)


def _advance_sequences(engine: Engine) -> None:
    """On PostgreSQL, move each table's id sequence past the ids the seed wrote itself, so rows inserted
    afterwards (identity resolution's, the application's) get fresh ids."""
    if engine.dialect.name != "postgresql":
        return
    with engine.begin() as conn:
        for name, table in _TABLES.items():
            if "id" in table.c and table.c.id.primary_key and table.c.id.type.python_type is int:
                highest = func.max(table.c.id)
                conn.execute(
                    select(func.setval(func.pg_get_serial_sequence(name, "id"), highest)).having(
                        highest.is_not(None)
                    )
                )
