"""Stock writes: receipts, adjustments, reservations, releases and shipments, all through one ledger writer;
order allocation, backorders, and the available-to-sell pushes armed in the outbox after every movement."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import (
    Connection,
    Integer,
    Select,
    String,
    bindparam,
    case,
    cast,
    exists,
    func,
    insert,
    literal,
    null,
    or_,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from core import sql
from core.catalog.models import Listing, Sku
from core.channels.models import Channel, channel_locations
from core.errors import DomainError, InsufficientStock, NotFound
from core.inventory.allocation import AllocationPlan, LineNeed, LocationStock, ShipTo, plan_allocation
from core.inventory.models import Location, StockLevel, StockMovement
from core.notifications.models import SENDING, OutboxMessage
from core.orders import events
from core.orders.models import Allocation, Order, OrderLine
from core.orders.services import change_order_status, record_status_change
from core.orders.status import OrderStatus

ADJUSTMENT_KINDS = frozenset({"adjustment", "count", "write_off", "return"})
ALLOCATABLE_STATUSES = frozenset({OrderStatus.PENDING, OrderStatus.BACKORDERED})


@dataclass(frozen=True)
class LevelState:
    """A stock level's counters right after a movement."""

    location_id: int
    sku_id: int
    on_hand: int
    reserved: int

    @property
    def available(self) -> int:
        return self.on_hand - self.reserved


_levels = StockLevel.__table__
_movements = StockMovement.__table__
_outbox = OutboxMessage.__table__


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


_LEVEL_UPDATES = {
    (keep_reserved, keep_available): _level_update(keep_reserved=keep_reserved, keep_available=keep_available)
    for keep_reserved in (False, True)
    for keep_available in (False, True)
}
_INSERT_MOVEMENTS = insert(_movements)
_INSERT_MOVEMENT_ROWS = sql.Prepared(_INSERT_MOVEMENTS)
_RESERVE = sql.Prepared(_LEVEL_UPDATES[(False, True)])
_UNRESERVE = sql.Prepared(_LEVEL_UPDATES[(True, False)])
_INSERT_ALLOCATIONS = insert(Allocation.__table__)
_ALLOCATION_ROWS = sql.Prepared(_INSERT_ALLOCATIONS)


def _update_level(
    conn: Connection, location_id: int, sku_id: int, *, on_hand_delta: int, reserved_delta: int, now: datetime
) -> Any:
    """The guarded UPDATE of one level's counters: (id, on_hand, reserved) after it, or None when refused.

    The WHERE clause admits the change only if the new counters keep reserved >= 0 and
    on_hand - reserved >= 0, so the database decides atomically (row lock on PostgreSQL, the single writer
    on SQLite)."""
    keep_reserved, keep_available = reserved_delta < 0, reserved_delta - on_hand_delta > 0
    return conn.execute(
        _LEVEL_UPDATES[(keep_reserved, keep_available)],
        {
            "p_location_id": location_id,
            "p_sku_id": sku_id,
            "p_release": -reserved_delta,
            "p_take": reserved_delta - on_hand_delta,
            "p_on_hand_delta": on_hand_delta,
            "p_reserved_delta": reserved_delta,
            "p_now": now,
        },
    ).first()


def _movement_row(
    location_id: int,
    sku_id: int,
    kind: str,
    *,
    on_hand_delta: int,
    reserved_delta: int,
    order_id: int | None,
    reference: str | None,
    actor: str,
    now: datetime,
) -> dict[str, Any]:
    return {
        "location_id": location_id,
        "sku_id": sku_id,
        "kind": kind,
        "on_hand_delta": on_hand_delta,
        "reserved_delta": reserved_delta,
        "order_id": order_id,
        "reference": reference,
        "actor": actor,
        "created_at": now,
    }


def _expire_cached_levels(session: Session, level_ids: Iterable[int]) -> None:
    """A StockLevel loaded in this session no longer shows the counters: reload it when next read."""
    for level_id in level_ids:
        cached = session.identity_map.get(session.identity_key(StockLevel, level_id))
        if cached is not None:
            session.expire(cached)


def _apply_movement(
    session: Session,
    location_id: int,
    sku_id: int,
    kind: str,
    *,
    on_hand_delta: int = 0,
    reserved_delta: int = 0,
    order_id: int | None = None,
    reference: str | None = None,
    actor: str,
    now: datetime,
) -> LevelState | None:
    """The only writer of stock: one guarded UPDATE of the level (see _update_level) and, when it matched,
    one ledger row; None means refused (or no such level) and nothing was written."""
    session.flush()  # the Core statements below don't autoflush
    row = _update_level(
        session.connection(),
        location_id,
        sku_id,
        on_hand_delta=on_hand_delta,
        reserved_delta=reserved_delta,
        now=now,
    )
    if row is None:
        return None
    session.connection().execute(
        _INSERT_MOVEMENTS,
        _movement_row(
            location_id,
            sku_id,
            kind,
            on_hand_delta=on_hand_delta,
            reserved_delta=reserved_delta,
            order_id=order_id,
            reference=reference,
            actor=actor,
            now=now,
        ),
    )
    _expire_cached_levels(session, [row.id])
    return LevelState(location_id, sku_id, row.on_hand, row.reserved)


def _upsert(session: Session, table: Any) -> Any:
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        return postgresql_insert(table)
    if dialect == "sqlite":
        return sqlite_insert(table)
    raise NotImplementedError(f"no upsert for {dialect}")


def _ensure_level(session: Session, location_id: int, sku_id: int, now: datetime) -> None:
    """Create the (location, SKU) level at zero unless it exists (safe against a concurrent creator)."""
    if session.get(Location, location_id) is None:
        raise NotFound(f"location {location_id} not found")
    if session.get(Sku, sku_id) is None:
        raise NotFound(f"SKU {sku_id} not found")
    session.execute(
        _upsert(session, StockLevel.__table__)
        .values(location_id=location_id, sku_id=sku_id, on_hand=0, reserved=0, updated_at=now)
        .on_conflict_do_nothing(index_elements=["location_id", "sku_id"])
    )


def _available(session: Session, pairs: Iterable[tuple[int, int]]) -> dict[tuple[int, int], int]:
    pairs = set(pairs)
    rows = session.execute(
        select(StockLevel.location_id, StockLevel.sku_id, StockLevel.on_hand - StockLevel.reserved).where(
            StockLevel.location_id.in_({loc for loc, _ in pairs}),
            StockLevel.sku_id.in_({sku for _, sku in pairs}),
        )
    ).all()
    return {(loc, sku): available for loc, sku, available in rows if (loc, sku) in pairs}


def _shortage(session: Session, short: Sequence[tuple[int, int, int]]) -> list[tuple[str, int, int]]:
    """(SKU code, wanted, available) for each refused (location, SKU, quantity)."""
    codes = dict(session.execute(select(Sku.id, Sku.code).where(Sku.id.in_({s for _, s, _ in short}))).all())
    available = _available(session, [(loc, sku) for loc, sku, _ in short])
    return [(codes.get(sku, str(sku)), qty, available.get((loc, sku), 0)) for loc, sku, qty in short]


def _stock_pushes(
    dialect: str,
    *,
    location_ids: Any = None,
    sku_ids: Any = None,
    only_if: Any = None,
) -> Any:
    """One INSERT ... SELECT arming a 'stock_push' per (channel served by any of `location_ids`, SKU in
    `sku_ids`): the row says which figure to push, not the figure. The dispatcher computes available to sell
    when it sends (core.channels.outbound), so whatever happened before that goes out in one push of the
    latest value, and a stock change costs its writer no aggregate over the SKU's levels, under the level's
    row lock, for every channel.

    A row already pending is left as it is (nothing written: the push it promises will read the latest
    figure). A row the worker finished (sent, failed) is armed again from scratch; one it is sending right now
    is marked pending again, keeping its lease, so the worker sends once more when it finishes (the figure it
    read may predate this change). Rows go in dedup-key order: one lock order for every writer.

    By default `location_ids` and `sku_ids` are expanding parameters of those names; `only_if` is a condition
    the rows need (in a data-modifying CTE: the reservation's UPDATE matched)."""
    channels, skus = Channel.__table__, Sku.__table__
    if location_ids is None:
        location_ids = bindparam("location_ids", expanding=True)
    if sku_ids is None:
        sku_ids = bindparam("sku_ids", expanding=True)
    served = select(channel_locations.c.channel_id).where(channel_locations.c.location_id.in_(location_ids))
    json_object = func.json_build_object if dialect == "postgresql" else func.json_object
    dedup_key = "stock:" + cast(channels.c.id, String) + ":" + cast(skus.c.id, String) + ":pending"
    rows = (
        select(
            literal("stock_push"),
            literal("channel"),
            dedup_key,
            channels.c.code,
            "stock of SKU " + cast(skus.c.id, String),
            json_object("channel_id", channels.c.id, "channel", channels.c.code, "sku_id", skus.c.id),
            literal("pending"),
            literal(0),
            bindparam("now", type_=_outbox.c.next_attempt_at.type),
            bindparam("now", type_=_outbox.c.created_at.type),
        )
        .select_from(channels.join(skus, skus.c.id.in_(sku_ids)))
        .where(channels.c.active, channels.c.id.in_(served), *(() if only_if is None else (only_if,)))
        .order_by(dedup_key)
    )
    stmt = (postgresql_insert if dialect == "postgresql" else sqlite_insert)(_outbox).from_select(
        [
            "kind",
            "transport",
            "dedup_key",
            "recipient",
            "subject",
            "payload",
            "status",
            "attempts",
            "next_attempt_at",
            "created_at",
        ],
        rows,
    )
    sending = _outbox.c.status == SENDING
    return stmt.on_conflict_do_update(
        index_elements=["dedup_key"],
        set_={
            "status": "pending",
            "attempts": case((sending, _outbox.c.attempts), else_=0),
            "next_attempt_at": case(
                (sending, _outbox.c.next_attempt_at), else_=stmt.excluded.next_attempt_at
            ),
            "last_error": case((sending, _outbox.c.last_error), else_=None),
        },
        where=_outbox.c.status != "pending",
    )


_STOCK_PUSHES = {dialect: sql.Prepared(_stock_pushes(dialect)) for dialect in ("postgresql", "sqlite")}


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
    pushed = _stock_pushes(
        "postgresql",
        location_ids=[location_id],
        sku_ids=[sku_id],
        only_if=exists(select(level.c.id)),
    ).cte("pushed")
    return select(level.c.id, level.c.on_hand, level.c.reserved).add_cte(moved, pushed)


_RESERVE_ONE_POSTGRESQL = sql.Prepared(_reserve_one_postgresql())


def _queue_stock_pushes(session: Session, touched: Iterable[tuple[int, int]], *, now: datetime) -> None:
    """Arm one coalesced 'stock_push' per (channel, SKU) for the channels served by the touched locations
    (one statement whatever the number of SKUs and channels; the figure is read when it is sent)."""
    touched = set(touched)
    if not touched:
        return
    session.flush()  # the statement below doesn't autoflush (a buffer just changed)
    with sql.batch(session) as queued:
        _queue_pushes(queued, touched, now=now)


def _queue_pushes(queued: sql.Batch, touched: Collection[tuple[int, int]], *, now: datetime) -> None:
    """Add the statement arming the stock pushes for the touched (location, SKU) pairs to a batch."""
    dialect = queued.dialect.name
    if dialect not in _STOCK_PUSHES:
        raise NotImplementedError(f"no upsert for {dialect}")
    queued.add(
        _STOCK_PUSHES[dialect],
        {
            "location_ids": sorted({loc for loc, _ in touched}),
            "sku_ids": sorted({sku for _, sku in touched}),
            "now": now,
        },
    )


def _add_to_on_hand(
    session: Session,
    location_id: int,
    sku_id: int,
    delta: int,
    kind: str,
    *,
    actor: str,
    now: datetime,
    reference: str | None,
) -> LevelState:
    state = _apply_movement(
        session, location_id, sku_id, kind, on_hand_delta=delta, reference=reference, actor=actor, now=now
    )
    if state is None and delta > 0:
        _ensure_level(session, location_id, sku_id, now)
        state = _apply_movement(
            session, location_id, sku_id, kind, on_hand_delta=delta, reference=reference, actor=actor, now=now
        )
    if state is None:
        raise InsufficientStock(_shortage(session, [(location_id, sku_id, -delta)]))
    _queue_stock_pushes(session, [(location_id, sku_id)], now=now)
    return state


def _level_state(session: Session, location_id: int, sku_id: int) -> LevelState:
    on_hand, reserved = session.execute(
        select(StockLevel.on_hand, StockLevel.reserved).where(
            StockLevel.location_id == location_id, StockLevel.sku_id == sku_id
        )
    ).one()
    return LevelState(location_id, sku_id, on_hand, reserved)


def receive_stock(
    session: Session,
    location_id: int,
    sku_id: int,
    quantity: int,
    *,
    actor: str,
    now: datetime,
    reference: str | None = None,
) -> LevelState:
    """Add received units to on hand (a 'receipt'), then give them to waiting backorders, oldest first."""
    if quantity <= 0:
        raise DomainError("quantity received must be positive")
    _add_to_on_hand(
        session, location_id, sku_id, quantity, "receipt", actor=actor, now=now, reference=reference
    )
    fill_backorders(session, sku_id, actor=actor, now=now)
    return _level_state(session, location_id, sku_id)


def adjust_stock(
    session: Session,
    location_id: int,
    sku_id: int,
    delta: int,
    *,
    kind: str = "adjustment",
    actor: str,
    now: datetime,
    reference: str | None = None,
) -> LevelState:
    """Change on hand by a signed delta: adjustment or count (either sign), write_off (< 0), return (> 0).

    Units that are reserved cannot be taken away: a decrease beyond available raises InsufficientStock.
    """
    if kind not in ADJUSTMENT_KINDS:
        raise DomainError(
            f"unknown adjustment kind {kind!r}: use one of {', '.join(sorted(ADJUSTMENT_KINDS))}"
        )
    if delta == 0:
        raise DomainError("an adjustment needs a non-zero quantity")
    if kind == "write_off" and delta > 0:
        raise DomainError("a write-off removes units: the quantity must be negative")
    if kind == "return" and delta < 0:
        raise DomainError("a return restock adds units: the quantity must be positive")
    return _add_to_on_hand(
        session, location_id, sku_id, delta, kind, actor=actor, now=now, reference=reference
    )


def reserve_stock(
    session: Session,
    requests: Sequence[tuple[int, int, int]],
    *,
    order_id: int | None,
    actor: str,
    now: datetime,
    queued: sql.Batch | None = None,
) -> list[LevelState]:
    """Reserve every (location_id, sku_id, quantity) or none of them.

    Requests for the same (location, SKU) are summed, then each pair gets ONE conditional UPDATE
    (`reserved = reserved + q WHERE on_hand - reserved >= q`) in ascending (location_id, sku_id) order, so
    concurrent reservers lock rows in the same order and cannot deadlock. The UPDATEs go in one batch (one
    round trip on PostgreSQL). If any pair is refused, the pairs admitted before it are given back by the
    opposite UPDATE in this same transaction, which still holds their rows (no partial reservation, and no
    savepoint: a savepoint costs SQLite a statement journal of every page it touches); InsufficientStock
    lists every short pair as (SKU code, wanted, available). When all are admitted their ledger rows (one
    INSERT) and the arming of the stock pushes (one INSERT ... SELECT) are written in a second batch, or
    added to `queued` (the caller's batch) when given.

    On PostgreSQL a single pair, the usual case, is all one statement (_reserve_one_postgresql), written at
    once whether or not a batch is given.
    """
    wanted: dict[tuple[int, int], int] = {}
    for location_id, sku_id, quantity in requests:
        if quantity <= 0:
            raise DomainError("quantity reserved must be positive")
        wanted[(location_id, sku_id)] = wanted.get((location_id, sku_id), 0) + quantity
    if not wanted:
        return []
    session.flush()  # pending ORM state first, as the statements below won't see it
    if len(wanted) == 1 and session.get_bind().dialect.name == "postgresql":
        return _reserve_one(session, *next(iter(wanted.items())), order_id=order_id, actor=actor, now=now)
    pairs = sorted(wanted.items())
    with sql.batch(session) as first:  # one round trip on PostgreSQL
        updates = [
            first.add(_RESERVE, _reserve_params(location_id, sku_id, quantity, now))
            for (location_id, sku_id), quantity in pairs
        ]
    states: list[LevelState] = []
    admitted: list[tuple[int, int, int]] = []
    short: list[tuple[int, int, int]] = []
    for ((location_id, sku_id), quantity), update_result in zip(pairs, updates, strict=True):
        if update_result.rows:
            level_id, on_hand, reserved = update_result.rows[0]
            states.append(LevelState(location_id, sku_id, on_hand, reserved))
            admitted.append((location_id, sku_id, quantity))
            _expire_cached_levels(session, [level_id])
        else:
            short.append((location_id, sku_id, quantity))
    if short:
        _undo_reservations(session, admitted, now)
        raise InsufficientStock(_shortage(session, short))
    with sql.joining(session, queued) as writes:
        writes.add_many(
            _INSERT_MOVEMENT_ROWS,
            [
                _movement_row(
                    location_id,
                    sku_id,
                    "reservation",
                    on_hand_delta=0,
                    reserved_delta=quantity,
                    order_id=order_id,
                    reference=None,
                    actor=actor,
                    now=now,
                )
                for location_id, sku_id, quantity in admitted
            ],
        )
        _queue_pushes(writes, wanted.keys(), now=now)
    return states


def _reserve_one(
    session: Session, pair: tuple[int, int], quantity: int, *, order_id: int | None, actor: str, now: datetime
) -> list[LevelState]:
    """reserve_stock of one pair on PostgreSQL: one statement (see _reserve_one_postgresql)."""
    location_id, sku_id = pair
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
    if not found:
        raise InsufficientStock(_shortage(session, [(location_id, sku_id, quantity)]))
    [(level_id, on_hand, reserved)] = found
    _expire_cached_levels(session, [level_id])
    return [LevelState(location_id, sku_id, on_hand, reserved)]


def _reserve_params(location_id: int, sku_id: int, quantity: int, now: datetime) -> dict[str, Any]:
    return {
        "p_location_id": location_id,
        "p_sku_id": sku_id,
        "p_take": quantity,
        "p_on_hand_delta": 0,
        "p_reserved_delta": quantity,
        "p_now": now,
    }


def _undo_reservations(session: Session, admitted: Sequence[tuple[int, int, int]], now: datetime) -> None:
    """Give back what a refused multi-pair reservation had taken before the refusal, in this transaction
    (which still holds those rows: no one else has seen the intermediate counts)."""
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


def release_reservation(
    session: Session,
    location_id: int,
    sku_id: int,
    quantity: int,
    *,
    order_id: int | None,
    actor: str,
    now: datetime,
    reference: str | None = None,
) -> LevelState:
    """Give reserved units back to available (a 'release')."""
    if quantity <= 0:
        raise DomainError("quantity released must be positive")
    state = _apply_movement(
        session,
        location_id,
        sku_id,
        "release",
        reserved_delta=-quantity,
        order_id=order_id,
        reference=reference,
        actor=actor,
        now=now,
    )
    if state is None:
        raise DomainError(
            f"cannot release {quantity} units of SKU {sku_id} at location {location_id}: fewer are reserved"
        )
    _queue_stock_pushes(session, [(location_id, sku_id)], now=now)
    return state


def ship_reserved(
    session: Session,
    location_id: int,
    sku_id: int,
    quantity: int,
    *,
    order_id: int | None,
    actor: str,
    now: datetime,
    reference: str | None = None,
) -> LevelState:
    """Units leave the building: on hand and reserved both drop by `quantity` (a 'shipment')."""
    if quantity <= 0:
        raise DomainError("quantity shipped must be positive")
    state = _apply_movement(
        session,
        location_id,
        sku_id,
        "shipment",
        on_hand_delta=-quantity,
        reserved_delta=-quantity,
        order_id=order_id,
        reference=reference,
        actor=actor,
        now=now,
    )
    if state is None:
        raise DomainError(
            f"cannot ship {quantity} units of SKU {sku_id} from location {location_id}: fewer are reserved"
        )
    _queue_stock_pushes(session, [(location_id, sku_id)], now=now)
    return state


def _lock_order(session: Session, order: Order) -> None:
    """Lock the order row (PostgreSQL; SQLite has one writer); reload it if someone changed it meanwhile."""
    current = session.execute(select(Order.status).where(Order.id == order.id).with_for_update()).scalar_one()
    if current != order.status:
        session.refresh(order)


def _allocated_per_line(session: Session, order: Order) -> dict[int, int]:
    return dict(
        session.execute(
            select(Allocation.order_line_id, func.sum(Allocation.quantity))
            .join(OrderLine, OrderLine.id == Allocation.order_line_id)
            .where(OrderLine.order_id == order.id, Allocation.status.in_(("reserved", "shipped")))
            .group_by(Allocation.order_line_id)
        ).all()
    )


_serving_locations = select(channel_locations.c.location_id).where(
    channel_locations.c.channel_id == bindparam("channel_id")
)
_CANDIDATES_QUERY = (
    select(
        Location.id,
        Location.name,
        Location.kind,
        Location.priority,
        Location.regions,
        StockLevel.sku_id,
        StockLevel.on_hand - StockLevel.reserved,
    )
    .outerjoin(
        StockLevel,
        (StockLevel.location_id == Location.id) & StockLevel.sku_id.in_(bindparam("sku_ids", expanding=True)),
    )
    .where(Location.active)
    .order_by(Location.id)
)
_CANDIDATES = {
    "pickup": _CANDIDATES_QUERY.where(Location.id == bindparam("pickup_location_id")),
    "default": _CANDIDATES_QUERY.where(
        or_(
            Location.id.in_(_serving_locations),
            Location.id.in_(bindparam("dropship_ids", expanding=True)),
        )
    ),
}


def _location_stock(rows: Iterable[Sequence[Any]]) -> list[LocationStock]:
    """LocationStock per location, in the rows' order, from (location id, name, kind, priority, regions,
    SKU id, available) rows; a row without a SKU id only names the location."""
    found: dict[int, tuple[Any, dict[int, int]]] = {}
    for location_id, name, kind, priority, regions, sku_id, available in rows:
        _info, stock = found.setdefault(location_id, ((name, kind, priority, tuple(regions or ())), {}))
        if sku_id is not None:
            stock[sku_id] = available
    return [
        LocationStock(location_id, name, kind, priority, regions, stock)
        for location_id, ((name, kind, priority, regions), stock) in found.items()
    ]


def _candidates(
    session: Session,
    channel_id: int,
    pickup_location_id: int | None,
    sku_ids: set[int],
    dropship_ids: set[int],
) -> list[LocationStock]:
    """The active locations that may ship the order, with their available units of its SKUs (one query)."""
    if pickup_location_id is not None:
        query = _CANDIDATES["pickup"]
        params: dict[str, Any] = {"pickup_location_id": pickup_location_id, "sku_ids": list(sku_ids)}
    else:
        query = _CANDIDATES["default"]
        params = {"channel_id": channel_id, "dropship_ids": list(dropship_ids), "sku_ids": list(sku_ids)}
    return _location_stock(session.connection().execute(query, params))


class ListedSku(NamedTuple):
    """Our SKU behind a channel's SKU (through its active listing)."""

    sku_id: int
    code: str
    dropship_location_id: int | None


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
        .where(locations.c.id.in_(_serving_locations) | locations.c.id.in_(suppliers))
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


def listed_skus_with_stock(
    session: Session, channel_id: int, channel_skus: Collection[str]
) -> tuple[dict[str, ListedSku], list[LocationStock]]:
    """Our SKUs behind the channel's SKUs (active listings) and, in the same query, the locations that may
    ship them for an order of this channel, as allocate_order picks its candidates (active, serving the
    channel or a drop-ship supplier of one of these SKUs), with their available units of them. Locations
    holding none of the SKUs are left out: they change no plan."""
    if not channel_skus:
        return {}, []
    session.flush()  # the Core query below doesn't autoflush (a listing just added)
    rows = sql.run(session, _LISTED_STOCK, {"channel_id": channel_id, "channel_skus": sorted(channel_skus)})
    listed: dict[str, ListedSku] = {}
    stock_rows = []
    for channel_sku, sku_id, code, dropship_location_id, *location in rows:
        listed[channel_sku] = ListedSku(sku_id, code, dropship_location_id)
        if location[0] is not None:
            stock_rows.append(location)
    return listed, _location_stock(stock_rows)


def _backorder_reason(short: Sequence[tuple[str, int, int]]) -> str:
    detail = ", ".join(f"{code} (wanted {want}, {have} available)" for code, want, have in short)
    return f"waiting for stock: {detail}"


def _backorder(
    session: Session, order: Order, short: Sequence[tuple[str, int, int]], *, actor: str, now: datetime
) -> None:
    if order.status == OrderStatus.BACKORDERED:
        return  # still waiting: no new timeline entry for every receipt that was not enough
    change_order_status(
        session, order, OrderStatus.BACKORDERED, actor=actor, now=now, why=_backorder_reason(short)
    )


@dataclass(frozen=True)
class _Reservation:
    """What allocating an order's needs came to: the plan, reserved; or why nothing was (short SKUs)."""

    strategy: str
    plan: AllocationPlan
    short: Sequence[tuple[str, int, int]] = ()

    def entry(self) -> tuple[str, dict[str, Any]]:
        """The 'allocated' timeline entry: the reasons, and every part in data."""
        reasons = list(dict.fromkeys(part.reason for part in self.plan.parts))
        data = {
            "strategy": self.strategy,
            "allocations": [
                {
                    "line_id": p.line_id,
                    "location_id": p.location_id,
                    "quantity": p.quantity,
                    "reason": p.reason,
                }
                for p in self.plan.parts
            ],
        }
        return "; ".join(reasons), data


def _reserve_needs(
    session: Session,
    order_id: int,
    strategy: str,
    locations: Sequence[LocationStock],
    shipping_address: Mapping[str, Any] | None,
    needs: Sequence[LineNeed],
    sku_codes: Mapping[int, str],
    *,
    actor: str,
    now: datetime,
    queued: sql.Batch | None = None,
) -> _Reservation:
    """Plan the needs over the candidate locations with the pure rules, reserve the plan all-or-nothing
    (reserve_stock) and write its Allocation rows (one INSERT); or report the shortfall, reserving nothing."""
    plan = plan_allocation(needs, locations, ShipTo.from_address(shipping_address), strategy)
    if not plan.complete:
        short_lines = {s.line_id for s in plan.shortfalls}
        short_skus = sorted({need.sku_id for need in needs if need.line_id in short_lines})
        short = [
            (
                sku_codes[sku],
                sum(n.quantity for n in needs if n.sku_id == sku),
                sum(loc.available.get(sku, 0) for loc in locations),
            )
            for sku in short_skus
        ]
        return _Reservation(strategy, plan, short)
    sku_of_line = {need.line_id: need.sku_id for need in needs}
    try:
        reserve_stock(
            session,
            [(part.location_id, sku_of_line[part.line_id], part.quantity) for part in plan.parts],
            order_id=order_id,
            actor=actor,
            now=now,
            queued=queued,
        )
    except InsufficientStock as exc:  # someone took the units between our read and our reservation
        return _Reservation(strategy, plan, exc.lines)
    if plan.parts:
        with sql.joining(session, queued) as writes:
            writes.add_many(
                _ALLOCATION_ROWS,
                [
                    {
                        "order_line_id": part.line_id,
                        "location_id": part.location_id,
                        "quantity": part.quantity,
                        "status": "reserved",
                        "reason": part.reason[:300],
                        "created_at": now,
                    }
                    for part in plan.parts
                ],
            )
    return _Reservation(strategy, plan)


def allocate_order(session: Session, order: Order, *, actor: str, now: datetime) -> Order:
    """Reserve stock for the order by the allocation rules: confirmed when it all fits, else backordered.

    Steps: lock the order row; orders fulfilled by the channel are only noted on the timeline; load the SKUs
    and, in one query, the candidate locations with their available units (the store for pick-up orders, else
    the channel's active locations plus the SKUs' drop-ship suppliers); plan with the pure rules; reserve the
    plan all-or-nothing (reserve_stock); on success add Allocation rows with their reasons, an 'allocated'
    timeline entry and move to confirmed; on any shortfall move to backordered naming the short SKUs.
    """
    _lock_order(session, order)
    if order.fulfilled_by_channel:
        events.record_event(
            session,
            order,
            "not_allocated",
            "fulfilled by the channel: not allocated from our stock",
            actor=actor,
            now=now,
        )
        return order
    unmapped = [line.line_no for line in order.lines if line.sku_id is None]
    if unmapped:
        raise DomainError(
            f"order {order.number} has lines without a SKU of ours ({unmapped}): map them first"
        )
    allocated = _allocated_per_line(session, order)
    lines = [
        line
        for line in order.lines
        if line.quantity - line.quantity_cancelled - allocated.get(line.id, 0) > 0
    ]
    if order.status == OrderStatus.CONFIRMED and not lines:
        return order
    if order.status not in ALLOCATABLE_STATUSES:
        raise DomainError(
            f"order {order.number} is {order.status}: only pending or backordered orders are allocated"
        )
    sku_ids = {line.sku_id for line in lines if line.sku_id is not None}
    skus = {
        row.id: row
        for row in session.execute(
            select(Sku.id, Sku.code, Sku.dropship_location_id).where(Sku.id.in_(sku_ids))
        ).all()
    }
    needs = [
        LineNeed(
            line.id,
            line.sku_id,
            line.quantity - line.quantity_cancelled - allocated.get(line.id, 0),
            skus[line.sku_id].dropship_location_id,
        )
        for line in lines
        if line.sku_id is not None
    ]
    dropship_ids = {need.dropship_location_id for need in needs if need.dropship_location_id is not None}
    locations = _candidates(session, order.channel_id, order.pickup_location_id, sku_ids, dropship_ids)
    reservation = _reserve_needs(
        session,
        order.id,
        "pickup" if order.pickup_location_id is not None else "default",
        locations,
        order.shipping_address,
        needs,
        {sku_id: row.code for sku_id, row in skus.items()},
        actor=actor,
        now=now,
    )
    if reservation.short:
        _backorder(session, order, reservation.short, actor=actor, now=now)
        return order
    message, data = reservation.entry()
    events.record_event(session, order, "allocated", message, actor=actor, now=now, data=data)
    if order.status != OrderStatus.CONFIRMED:
        change_order_status(session, order, OrderStatus.CONFIRMED, actor=actor, now=now, why="stock reserved")
    return order


def allocate_new_order(
    session: Session,
    order_id: int,
    shipping_address: Mapping[str, Any] | None,
    needs: Sequence[LineNeed],
    listed: Mapping[str, ListedSku],
    locations: Sequence[LocationStock],
    *,
    timeline: events.Timeline,
    now: datetime,
    queued: sql.Batch | None = None,
) -> str:
    """allocate_order for a pending order of the channel created in this transaction, held as plain data
    (intake), with the SKUs and candidate locations read with its listings (listed_skus_with_stock).

    The row is new and no one else can see it, nothing is allocated yet and its lines, SKUs and candidate
    stock are in hand: so no row lock and no re-reads. The same rules and the same all-or-nothing reservation
    as allocate_order (a plan made on stock that has changed since is refused by the conditional UPDATEs);
    the timeline entries go to `timeline` and the new status (confirmed or backordered) is returned for the
    caller to write. Its writes after the reservation's UPDATEs go to `queued` when given.
    """
    reservation = _reserve_needs(
        session,
        order_id,
        "default",
        locations,
        shipping_address,
        needs,
        {sku.sku_id: sku.code for sku in listed.values()},
        actor=timeline.actor,
        now=now,
        queued=queued,
    )
    if reservation.short:
        return record_status_change(
            timeline,
            OrderStatus.PENDING.value,
            OrderStatus.BACKORDERED,
            why=_backorder_reason(reservation.short),
        )
    message, data = reservation.entry()
    timeline.add("allocated", message, data=data)
    return record_status_change(
        timeline, OrderStatus.PENDING.value, OrderStatus.CONFIRMED, why="stock reserved"
    )


def release_order(
    session: Session, order: Order, *, actor: str, now: datetime, why: str = "order cancelled"
) -> Order:
    """Release every reservation the order holds (cancellation); its allocations become 'released'."""
    _lock_order(session, order)
    rows = session.execute(
        select(Allocation, OrderLine.sku_id)
        .join(OrderLine, OrderLine.id == Allocation.order_line_id)
        .where(OrderLine.order_id == order.id, Allocation.status == "reserved")
    ).all()
    if not rows:
        return order
    totals: dict[tuple[int, int], int] = {}
    for allocation, sku_id in rows:
        totals[(allocation.location_id, sku_id)] = (
            totals.get((allocation.location_id, sku_id), 0) + allocation.quantity
        )
    for (location_id, sku_id), quantity in sorted(totals.items()):
        state = _apply_movement(
            session,
            location_id,
            sku_id,
            "release",
            reserved_delta=-quantity,
            order_id=order.id,
            reference=why[:200],
            actor=actor,
            now=now,
        )
        if state is None:
            raise DomainError(f"order {order.number}: fewer units reserved than its allocations say")
    for allocation, _sku_id in rows:
        allocation.status = "released"
    units = sum(totals.values())
    events.record_event(
        session,
        order,
        "released",
        f"{why}: {units} reserved units released",
        actor=actor,
        now=now,
        data={
            "released": [
                {"location_id": loc, "sku_id": sku, "quantity": qty}
                for (loc, sku), qty in sorted(totals.items())
            ]
        },
    )
    _queue_stock_pushes(session, totals, now=now)
    return order


def fill_backorders(session: Session, sku_id: int, *, actor: str, now: datetime) -> list[Order]:
    """Allocate backordered orders containing the SKU, oldest placed first; returns those now confirmed.

    An order that still cannot be filled is skipped, not blocking younger ones that can. Orders another
    transaction is allocating right now are skipped (SKIP LOCKED on PostgreSQL). Stops when the SKU has
    nothing available anywhere.
    """
    waiting = session.scalars(
        select(Order)
        .where(
            Order.status == OrderStatus.BACKORDERED,
            Order.id.in_(select(OrderLine.order_id).where(OrderLine.sku_id == sku_id)),
        )
        .order_by(Order.placed_at, Order.id)
        .with_for_update(skip_locked=True)
    ).all()
    filled = []
    for order in waiting:
        left = session.scalar(
            select(func.coalesce(func.sum(StockLevel.on_hand - StockLevel.reserved), 0))
            .join(Location, Location.id == StockLevel.location_id)
            .where(StockLevel.sku_id == sku_id, Location.active)
        )
        if not left:
            break
        allocate_order(session, order, actor=actor, now=now)
        if order.status == OrderStatus.CONFIRMED:
            filled.append(order)
    return filled


LOCATION_KINDS = {"warehouse": "in_house", "store": "in_house", "3pl": "3pl", "dropship": "dropship"}


def add_location(
    session: Session,
    code: str,
    *,
    name: str,
    kind: str,
    regions: Sequence[str] = (),
    priority: int = 100,
    email: str | None = None,
    now: datetime,
) -> Location:
    """A new stock location; its fulfilment method follows its kind (3PL and drop-ship are their own)."""
    code = code.strip().upper()
    if not code or len(code) > 32:
        raise DomainError("the location code must be 1 to 32 characters")
    if kind not in LOCATION_KINDS:
        raise DomainError(f"unknown location kind {kind!r}: use one of {', '.join(LOCATION_KINDS)}")
    if session.scalar(select(Location.id).where(Location.code == code)) is not None:
        raise DomainError(f"a location with code {code} already exists")
    location = Location(
        code=code,
        name=name.strip() or code,
        kind=kind,
        fulfillment_method=LOCATION_KINDS[kind],
        regions=[r.strip().upper() for r in regions if r.strip()],
        priority=priority,
        email=email,
        created_at=now,
    )
    session.add(location)
    session.flush()
    return location
