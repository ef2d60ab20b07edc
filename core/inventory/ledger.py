"""The one writer of stock: every change to stock_levels goes with its stock_movements row, written here.

A movement (receipt, adjustment, count, write-off, return, reservation, release, shipment) is one guarded
UPDATE of the level's counters and, when it matched, one ledger row, in the caller's transaction: on hand
always equals the sum of its movements and no counter goes negative. The reservation's statements are
prepared in core.inventory.statements and run from here; no other module writes these two tables (the demo
seed excepted: it writes its generated ledger and the levels that sum it in bulk).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from core.catalog.models import Sku
from core.errors import DomainError, InsufficientStock, NotFound
from core.inventory import statements
from core.inventory.models import Location, StockLevel
from core.inventory.stock_push import queue_stock_pushes

ADJUSTMENT_KINDS = frozenset({"adjustment", "count", "write_off", "return"})


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


def _update_level(
    conn: Connection, location_id: int, sku_id: int, *, on_hand_delta: int, reserved_delta: int, now: datetime
) -> Any:
    """The guarded UPDATE of one level's counters: (id, on_hand, reserved) after it, or None when refused.

    The WHERE clause admits the change only if the new counters keep reserved >= 0 and
    on_hand - reserved >= 0, so the database decides atomically (row lock on PostgreSQL, the single writer
    on SQLite)."""
    keep_reserved, keep_available = reserved_delta < 0, reserved_delta - on_hand_delta > 0
    return conn.execute(
        statements.LEVEL_UPDATES[(keep_reserved, keep_available)],
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
    """One movement: one guarded UPDATE of the level (see _update_level) and, when it matched, one ledger
    row; None means refused (or no such level) and nothing was written."""
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
        statements.INSERT_MOVEMENTS,
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


def shortage(session: Session, short: Sequence[tuple[int, int, int]]) -> list[tuple[str, int, int]]:
    """(SKU code, wanted, available) for each refused (location, SKU, quantity)."""
    codes = dict(session.execute(select(Sku.id, Sku.code).where(Sku.id.in_({s for _, s, _ in short}))).all())
    available = _available(session, [(loc, sku) for loc, sku, _ in short])
    return [(codes.get(sku, str(sku)), qty, available.get((loc, sku), 0)) for loc, sku, qty in short]


def level_state(session: Session, location_id: int, sku_id: int) -> LevelState:
    """The level's counters as they are now."""
    on_hand, reserved = session.execute(
        select(StockLevel.on_hand, StockLevel.reserved).where(
            StockLevel.location_id == location_id, StockLevel.sku_id == sku_id
        )
    ).one()
    return LevelState(location_id, sku_id, on_hand, reserved)


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
        raise InsufficientStock(shortage(session, [(location_id, sku_id, -delta)]))
    queue_stock_pushes(session, [(location_id, sku_id)], now=now)
    return state


def record_receipt(
    session: Session,
    location_id: int,
    sku_id: int,
    quantity: int,
    *,
    actor: str,
    now: datetime,
    reference: str | None = None,
) -> LevelState:
    """Add received units to on hand (a 'receipt'), creating the level on the first one.

    Only the movement: receive_stock (core.inventory.allocations) also gives the units to waiting backorders.
    """
    if quantity <= 0:
        raise DomainError("quantity received must be positive")
    return _add_to_on_hand(
        session, location_id, sku_id, quantity, "receipt", actor=actor, now=now, reference=reference
    )


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
    queue_stock_pushes(session, [(location_id, sku_id)], now=now)
    return state


def record_release(
    session: Session,
    location_id: int,
    sku_id: int,
    quantity: int,
    *,
    order_id: int | None,
    actor: str,
    now: datetime,
    reference: str | None = None,
) -> LevelState | None:
    """Give reserved units back to available (a 'release'); None, writing nothing, when fewer are reserved.
    The caller arms the stock pushes (once for all it releases)."""
    return _apply_movement(
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


def reserve_levels(
    session: Session,
    wanted: Sequence[tuple[tuple[int, int], int]],
    *,
    order_id: int | None,
    actor: str,
    now: datetime,
    queued: statements.Batch | None = None,
) -> tuple[list[LevelState], list[tuple[int, int, int]]]:
    """Reserve each ((location, SKU), quantity), in the order given, all or nothing: (the levels after it,
    []) when every one was admitted, else ([], every refused (location, SKU, quantity)) with nothing written.

    Each pair is one conditional UPDATE, all in one batch (one round trip on PostgreSQL). If any is refused,
    the ones admitted before it are given back by the opposite UPDATE in this same transaction, which still
    holds their rows (no savepoint: one costs SQLite a statement journal of every page it touches). When
    all are admitted their ledger rows (one INSERT) and the arming of the stock pushes (one INSERT ...
    SELECT) follow in a second batch, or join `queued` (the caller's batch) when given. On PostgreSQL a
    single pair, the usual case, is one statement, written at once whether or not a batch is given.
    """
    session.flush()  # pending ORM state first, as the statements below won't see it
    if len(wanted) == 1 and session.get_bind().dialect.name == "postgresql":
        [((location_id, sku_id), quantity)] = wanted
        row = statements.reserve_one_postgresql(
            session, location_id, sku_id, quantity, order_id=order_id, actor=actor, now=now
        )
        if row is None:
            return [], [(location_id, sku_id, quantity)]
        _expire_cached_levels(session, [row[0]])
        return [LevelState(location_id, sku_id, row[1], row[2])], []
    states: list[LevelState] = []
    admitted: list[tuple[int, int, int]] = []
    short: list[tuple[int, int, int]] = []
    for ((location_id, sku_id), quantity), row in zip(
        wanted, statements.reserve_levels(session, wanted, now=now), strict=True
    ):
        if row is None:
            short.append((location_id, sku_id, quantity))
            continue
        level_id, on_hand, reserved = row
        states.append(LevelState(location_id, sku_id, on_hand, reserved))
        admitted.append((location_id, sku_id, quantity))
        _expire_cached_levels(session, [level_id])
    if short:
        statements.unreserve_levels(session, admitted, now=now)
        return [], short
    statements.record_reservations(
        session,
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
        [pair for pair, _quantity in wanted],
        now=now,
        queued=queued,
    )
    return states, []
