"""The stock statements, in Core, and the reservation's hot path run on the driver's cursor (core.sql).

Reserving is what an order's intake and every reservation do by the dozen: its conditional UPDATEs, their
undo, its ledger rows and stock pushes (one statement on PostgreSQL for a single pair), the order's
Allocation rows and the read of the listed SKUs' stock it plans on. Those run here, in as few round trips
as the driver allows; this is the only inventory module that imports core.sql. The functions that write
stock_levels and stock_movements are called by core.inventory.ledger alone, their one writer.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Integer, Select, String, bindparam, exists, insert, literal, null, select, update
from sqlalchemy.orm import Session

from core import sql
from core.catalog.models import Listing, Sku
from core.channels.models import channel_locations
from core.inventory.models import Location, StockLevel, StockMovement
from core.inventory.stock_push import DIALECTS, stock_push_params, stock_pushes
from core.orders.models import Allocation

Batch = sql.Batch  # a caller's batch that the reservation's writes may join (the intake's)

_levels = StockLevel.__table__
_movements = StockMovement.__table__

# The locations serving a channel (the `channel_id` parameter).
SERVING_LOCATIONS = select(channel_locations.c.location_id).where(
    channel_locations.c.channel_id == bindparam("channel_id")
)


def _level_update(*, keep_reserved: bool, keep_available: bool) -> Any:
    """The guarded counter UPDATE of one level (built once per guard combination, executed many times)."""
    stmt = update(_levels).where(
        _levels.c.location_id == bindparam("p_location_id"), _levels.c.sku_id == bindparam("p_sku_id")
    )
    if keep_reserved:  # releasing: at least that many reserved
        stmt = stmt.where(_levels.c.reserved >= bindparam("p_release", type_=Integer))
    if keep_available:  # reserving or taking out: at least that many available
        stmt = stmt.where(_levels.c.on_hand - _levels.c.reserved >= bindparam("p_take", type_=Integer))
    return stmt.values(
        on_hand=_levels.c.on_hand + bindparam("p_on_hand_delta", type_=Integer),
        reserved=_levels.c.reserved + bindparam("p_reserved_delta", type_=Integer),
        updated_at=bindparam("p_now", type_=_levels.c.updated_at.type),
    ).returning(_levels.c.id, _levels.c.on_hand, _levels.c.reserved)


# The guarded UPDATE by (keep_reserved, keep_available): see core.inventory.ledger._update_level.
LEVEL_UPDATES = {
    (keep_reserved, keep_available): _level_update(keep_reserved=keep_reserved, keep_available=keep_available)
    for keep_reserved in (False, True)
    for keep_available in (False, True)
}
INSERT_MOVEMENTS = insert(_movements)

_RESERVE = sql.Prepared(LEVEL_UPDATES[(False, True)])
_UNRESERVE = sql.Prepared(LEVEL_UPDATES[(True, False)])
_MOVEMENT_ROWS = sql.Prepared(INSERT_MOVEMENTS)
_STOCK_PUSHES = {dialect: sql.Prepared(stock_pushes(dialect)) for dialect in DIALECTS}
_ALLOCATION_ROWS = sql.Prepared(insert(Allocation.__table__))


def _reserve_one_postgresql() -> Any:
    """PostgreSQL: a reservation of one (location, SKU) pair as one statement. Its data-modifying CTEs do
    the conditional UPDATE, and only when it matched, the ledger row and the arming of the stock pushes.
    Returns the level's (id, on_hand, reserved) after the UPDATE, or no row when refused (and then nothing
    was written)."""
    location_id = bindparam("p_location_id", type_=Integer)
    sku_id = bindparam("p_sku_id", type_=Integer)
    take = bindparam("p_take", type_=Integer)
    now = bindparam("p_now", type_=_levels.c.updated_at.type)
    level = (
        update(_levels)
        .where(
            _levels.c.location_id == location_id,
            _levels.c.sku_id == sku_id,
            _levels.c.on_hand - _levels.c.reserved >= take,
        )
        .values(reserved=_levels.c.reserved + take, updated_at=now)
        .returning(_levels.c.id, _levels.c.on_hand, _levels.c.reserved)
        .cte("level")
    )
    moved = (
        insert(_movements)
        .from_select(
            [
                "location_id",
                "sku_id",
                "kind",
                "on_hand_delta",
                "reserved_delta",
                "order_id",
                "reference",
                "actor",
                "created_at",
            ],
            select(
                location_id,
                sku_id,
                literal("reservation"),
                literal(0),
                take,
                bindparam("p_order_id", type_=Integer),
                null(),
                bindparam("p_actor", type_=String),
                now,
            ).select_from(level),
        )
        .cte("moved")
    )
    pushed = stock_pushes(
        "postgresql",
        location_ids=[location_id],
        sku_ids=[sku_id],
        only_if=exists(select(level.c.id)),
    ).cte("pushed")
    return select(level.c.id, level.c.on_hand, level.c.reserved).add_cte(moved, pushed)


_RESERVE_ONE_POSTGRESQL = sql.Prepared(_reserve_one_postgresql())


def reserve_levels(
    session: Session, wanted: Sequence[tuple[tuple[int, int], int]], *, now: datetime
) -> list[tuple[int, int, int] | None]:
    """One conditional UPDATE (`reserved = reserved + q WHERE on_hand - reserved >= q`) per
    ((location, SKU), quantity), in the order given and in one batch (one round trip on PostgreSQL): each
    level's (id, on_hand, reserved) after it, or None where it was refused."""
    with sql.batch(session) as first:
        updates = [
            first.add(
                _RESERVE,
                {
                    "p_location_id": location_id,
                    "p_sku_id": sku_id,
                    "p_take": quantity,
                    "p_on_hand_delta": 0,
                    "p_reserved_delta": quantity,
                    "p_now": now,
                },
            )
            for (location_id, sku_id), quantity in wanted
        ]
    return [result.rows[0] if result.rows else None for result in updates]


def unreserve_levels(session: Session, admitted: Sequence[tuple[int, int, int]], *, now: datetime) -> None:
    """The opposite UPDATE of each admitted (location, SKU, quantity), in one batch."""
    with sql.batch(session) as queued:
        for location_id, sku_id, quantity in admitted:
            queued.add(
                _UNRESERVE,
                {
                    "p_location_id": location_id,
                    "p_sku_id": sku_id,
                    "p_release": quantity,
                    "p_on_hand_delta": 0,
                    "p_reserved_delta": -quantity,
                    "p_now": now,
                },
            )


def record_reservations(
    session: Session,
    movements: Sequence[Mapping[str, Any]],
    touched: Collection[tuple[int, int]],
    *,
    now: datetime,
    queued: Batch | None,
) -> None:
    """The reservations' ledger rows (one INSERT) and the arming of their stock pushes (one INSERT ...
    SELECT): added to `queued` when given, else run now in one batch."""
    with sql.joining(session, queued) as writes:
        writes.add_many(_MOVEMENT_ROWS, movements)
        dialect = writes.dialect.name
        if dialect not in _STOCK_PUSHES:
            raise NotImplementedError(f"no upsert for {dialect}")
        writes.add(_STOCK_PUSHES[dialect], stock_push_params(touched, now=now))


def reserve_one_postgresql(
    session: Session,
    location_id: int,
    sku_id: int,
    quantity: int,
    *,
    order_id: int | None,
    actor: str,
    now: datetime,
) -> tuple[int, int, int] | None:
    """A whole reservation of one pair on PostgreSQL in one statement (see _reserve_one_postgresql): the
    level's (id, on_hand, reserved) after it, or None when refused (nothing written)."""
    found = sql.run(
        session,
        _RESERVE_ONE_POSTGRESQL,
        {
            "p_location_id": location_id,
            "p_sku_id": sku_id,
            "p_take": quantity,
            "p_order_id": order_id,
            "p_actor": actor,
            "p_now": now,
            "now": now,
        },
    )
    return found[0] if found else None


def insert_allocations(session: Session, rows: Sequence[Mapping[str, Any]], *, queued: Batch | None) -> None:
    """An order's Allocation rows in one INSERT: added to `queued` when given, else run now."""
    with sql.joining(session, queued) as writes:
        writes.add_many(_ALLOCATION_ROWS, rows)


def _listed_stock_query() -> Select[Any]:
    listings, skus = Listing.__table__, Sku.__table__
    locations, levels = Location.__table__, StockLevel.__table__
    listed_listings, listed_skus = listings.alias("listed"), skus.alias("listed_sku")

    def listed(table: Any) -> Any:
        return (
            (table.c.channel_id == bindparam("channel_id"))
            & table.c.channel_sku.in_(bindparam("channel_skus", expanding=True))
            & table.c.active.is_(True)
        )

    suppliers = (
        select(listed_skus.c.dropship_location_id)
        .select_from(listed_listings.join(listed_skus, listed_skus.c.id == listed_listings.c.sku_id))
        .where(listed(listed_listings))
    )
    candidates = (
        select(locations.c.id)
        .where(locations.c.active)
        .where(locations.c.id.in_(SERVING_LOCATIONS) | locations.c.id.in_(suppliers))
    )
    return (
        select(
            listings.c.channel_sku,
            listings.c.sku_id,
            skus.c.code,
            skus.c.dropship_location_id,
            locations.c.id,
            locations.c.name,
            locations.c.kind,
            locations.c.priority,
            locations.c.regions,
            levels.c.sku_id,
            levels.c.on_hand - levels.c.reserved,
        )
        .select_from(
            # Flat outer joins from each listed SKU to its levels (by the SKU's index) at the candidate
            # locations: not every level at those locations (a warehouse holds thousands of SKUs).
            listings.join(skus, skus.c.id == listings.c.sku_id)
            .outerjoin(levels, (levels.c.sku_id == listings.c.sku_id) & levels.c.location_id.in_(candidates))
            .outerjoin(locations, locations.c.id == levels.c.location_id)
        )
        .where(listed(listings))
        .order_by(locations.c.id)
    )


_LISTED_STOCK = sql.Prepared(_listed_stock_query())


def listed_stock(session: Session, channel_id: int, channel_skus: Collection[str]) -> list[tuple[Any, ...]]:
    """Per active listing of the channel's SKUs: (channel SKU, SKU id, code, drop-ship location id) and one
    candidate location holding it (id, name, kind, priority, regions, SKU id, available), or Nones."""
    return sql.run(session, _LISTED_STOCK, {"channel_id": channel_id, "channel_skus": sorted(channel_skus)})
