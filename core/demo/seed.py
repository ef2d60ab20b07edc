"""Demo data: a realistic, coherent data set of about N orders, deterministic from a seed.

Steps: read each table's max id and the natural keys already present (so `--force` seeding into a non-empty
database reuses channels, locations, SKUs, users and stock levels); build the reference data (locations,
channels, catalog, opening stock, staff, customers) and the plan of every order (placed time, status, channel,
buyer); then play the orders in time order, ORDERS_PER_BATCH at a time, each batch one transaction of
executemany INSERTs of plain dicts with precomputed ids (on PostgreSQL, COPY of the same rows, with the
bulk tables' secondary indexes dropped for the load, built again after it, then ANALYZE). Stock moves only
through the ledger (core.demo.stock); levels are written in the last transaction with their final counts,
with what happened around the orders (CRM notes, general questions, inbound payloads, the outbox, the
admins' audit trail).
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

from sqlalchemy import Engine, Table, func, insert, select, text, update
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
_MAPPERS: dict[str, Any] = {mapper.local_table.name: mapper for mapper in m.Base.registry.mappers}
# The tables that grow with the orders: their secondary indexes are built after a bulk load.
BULK_TABLES = (
    "orders",
    "order_lines",
    "order_events",
    "customers",
    "identities",
    "conversations",
    "messages",
    "shipments",
    "shipment_lines",
    "tracking_events",
    "allocations",
    "stock_movements",
    "audit_entries",
    "outbox_messages",
    "inbound_payloads",
)


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
    note: Callable[[str], None] = lambda _text: None,
    bulk: bool | None = None,
) -> SeedStats:
    """Write the demo data set of `orders` orders (the caller has migrated the database), then resolve
    customer identities (`resolving` wraps the customer ids, for a progress bar). `note` hears each step
    (index drop and rebuild, ANALYZE) with its time. `bulk` (default: on PostgreSQL) writes with COPY and
    builds the bulk tables' secondary indexes after the load; the rows are the same either way."""
    started = time.perf_counter()
    bulk = engine.dialect.name == "postgresql" if bulk is None else bulk
    if bulk and engine.dialect.name != "postgresql":
        raise ValueError("bulk loading (COPY) needs PostgreSQL")
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
    _write(engine, ctx.take_batch(), counts, bulk=bulk)

    dropped = _drop_secondary_indexes(engine, note) if bulk else []
    try:
        _play_orders(
            ctx,
            ref,
            people,
            staff,
            existing,
            agents,
            channel_ids,
            ledger,
            specs,
            engine,
            counts,
            bulk=bulk,
            progress=progress,
        )
    finally:
        if dropped:
            _rebuild_indexes(engine, dropped, note)
    if bulk:
        step = time.perf_counter()
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("ANALYZE")
        note(f"ANALYZE in {time.perf_counter() - step:.1f}s")

    _advance_sequences(engine)
    # Identity resolution over the seeded customers, as `crossdock customers resolve` runs it: the live code
    # merges the cross-channel duplicates and queues the doubtful ones for staff (the seed writes no merges).
    step = time.perf_counter()
    with Session(engine) as session, session.begin():
        report = resolve_all_customers(session, actor=Actor(label="demo seed"), now=now, progress=resolving)
    note(f"identity resolution in {time.perf_counter() - step:.1f}s")
    return SeedStats(
        counts={name: counts[name] for name in _TABLES if counts[name]},
        seconds=time.perf_counter() - started,
        resolution=report,
    )


def _play_orders(
    ctx: SeedContext,
    ref: Any,
    people: People,
    staff: list[Any],
    existing: Any,
    agents: list[Any],
    channel_ids: ChannelIds,
    ledger: Ledger,
    specs: list[Any],
    engine: Engine,
    counts: Counter[str],
    *,
    bulk: bool,
    progress: Callable[[int], None] | None,
) -> None:
    """The orders in time order, a transaction per batch, then the last transaction (stock levels and what
    happened around the orders)."""
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
        _write(engine, ctx.take_batch(), counts, bulk=bulk)
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
    _write(engine, ctx.take_batch(), counts, level_updates, bulk=bulk)


def _write(
    engine: Engine,
    batch: dict[str, list[dict[str, Any]]],
    counts: Counter[str],
    level_updates: list[dict[str, Any]] | None = None,
    *,
    bulk: bool = False,
) -> None:
    """One transaction: each table's rows in one executemany (or one COPY), parents before children."""
    with Session(engine) as session, session.begin():
        for name, table in _TABLES.items():
            rows = batch.get(name)
            if rows and name == "audit_entries":
                rows = chain_entries(session, rows)
            if rows:
                if bulk:
                    _copy(session, table, rows)
                else:
                    # render_nulls keeps every row's column set the same, so a table is one executemany.
                    session.execute(
                        insert(_MODELS.get(name, table)).execution_options(render_nulls=True), rows
                    )
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


def _copy(session: Session, table: Table, rows: list[dict[str, Any]]) -> None:
    """The rows into `table` with one COPY, each value bound as the INSERT would bind it (the column type's
    bind processing: aware datetimes, JSON), and the model's Python-side defaults for the keys a row lacks."""
    connection = session.connection()
    dialect = connection.dialect
    mapper = _MAPPERS.get(table.name)
    keys = list(dict.fromkeys(key for row in rows for key in row))
    columns = [mapper.attrs[key].columns[0] if mapper is not None else table.c[key] for key in keys]
    processors = [column.type._cached_bind_processor(dialect) for column in columns]
    filled = [
        (column.name, column.default)
        for column in table.c
        if column.default is not None and column.name not in {c.name for c in columns}
    ]
    names = [column.name for column in columns] + [name for name, _ in filled]
    processors += [c.type._cached_bind_processor(dialect) for c in table.c if c.name in dict(filled)]
    defaults = [_default_value(default) for _, default in filled]
    quoted = ", ".join(dialect.identifier_preparer.quote(name) for name in names)
    statement = f"COPY {dialect.identifier_preparer.format_table(table)} ({quoted}) FROM STDIN"
    cursor = connection.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        with cursor.copy(statement) as copy:
            for row in rows:
                values = [row.get(key) for key in keys] + [d() if callable(d) else d for d in defaults]
                copy.write_row([v if p is None else p(v) for v, p in zip(values, processors, strict=True)])
    finally:
        cursor.close()


def _default_value(default: Any) -> Any:
    """A column default's value, or a function making it (dict, list, utcnow)."""
    if default.is_scalar:
        return default.arg
    return lambda: default.arg(None)


def _drop_secondary_indexes(engine: Engine, note: Callable[[str], None]) -> list[tuple[str, str]]:
    """Drop the bulk tables' indexes that no constraint owns; returns (name, CREATE statement) of each."""
    with engine.begin() as conn:
        indexes = [
            (name, definition)
            for name, definition in conn.execute(
                text(
                    "SELECT i.indexname, i.indexdef FROM pg_indexes i WHERE i.schemaname = current_schema()"
                    " AND i.tablename = ANY(:tables) AND NOT EXISTS"
                    " (SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname) ORDER BY i.indexname"
                ),
                {"tables": list(BULK_TABLES)},
            )
        ]
        for name, _ in indexes:
            conn.exec_driver_sql(f'DROP INDEX "{name}"')
    note(f"dropped {len(indexes)} secondary indexes for the load")
    return indexes


def _rebuild_indexes(engine: Engine, indexes: list[tuple[str, str]], note: Callable[[str], None]) -> None:
    """Build the dropped indexes again, with the memory a big sort needs."""
    started = time.perf_counter()
    with engine.begin() as conn:
        conn.exec_driver_sql("SET LOCAL maintenance_work_mem = '256MB'")
        for _, definition in indexes:
            conn.exec_driver_sql(definition)
    note(f"built {len(indexes)} indexes again in {time.perf_counter() - started:.1f}s")
