"""Stock read models: a SKU's stock per location and per channel, the ledger, and the ledger check."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, bindparam, func, or_, select
from sqlalchemy.orm import Session

from core.catalog.models import Sku
from core.channels.models import Channel, channel_locations
from core.errors import NotFound
from core.inventory.models import Location, StockLevel, StockMovement
from core.orders.models import Order
from core.pagination import Page, contains_pattern


@dataclass(frozen=True)
class LocationLevel:
    location_id: int
    code: str
    name: str
    active: bool
    on_hand: int
    reserved: int

    @property
    def available(self) -> int:
        return self.on_hand - self.reserved


@dataclass(frozen=True)
class AvailableToSell:
    """What one channel may sell of one SKU, with the formula that got there in words."""

    channel_id: int
    channel_code: str
    channel_name: str
    sku_id: int
    quantity: int
    formula: str


@dataclass(frozen=True)
class SkuStock:
    sku_id: int
    code: str
    title: str
    locations: tuple[LocationLevel, ...]
    channels: tuple[AvailableToSell, ...]

    @property
    def on_hand(self) -> int:
        return sum(level.on_hand for level in self.locations)

    @property
    def reserved(self) -> int:
        return sum(level.reserved for level in self.locations)

    @property
    def available(self) -> int:
        return sum(level.available for level in self.locations)


@dataclass(frozen=True)
class LedgerMismatch:
    """A stock level whose counters differ from the sum of its ledger rows."""

    location_id: int
    sku_id: int
    on_hand: int
    ledger_on_hand: int
    reserved: int
    ledger_reserved: int


@dataclass(frozen=True)
class LedgerEntry:
    id: int
    created_at: datetime
    location_id: int
    location_code: str
    kind: str
    on_hand_delta: int
    reserved_delta: int
    order_id: int | None
    order_number: str | None
    reference: str | None
    actor: str


def available_to_sell_formula(
    available_at: Sequence[tuple[str, int]], *, buffer_units: int, buffer_percent: int, floor: int
) -> tuple[int, str]:
    """(quantity, formula): sum of available, minus fixed and percentage buffers, 0 at or below the floor.

    The percentage is of the summed available, rounded down:
    "12 available at WH-EAST + 5 at STORE-DT = 17 − buffer 2 units − 10% (1) = 14".
    """
    total = sum(qty for _code, qty in available_at)
    if not available_at:
        text = "nothing stocked at this channel's locations"
    else:
        first_code, first_qty = available_at[0]
        text = " + ".join(
            [f"{first_qty} available at {first_code}", *(f"{q} at {c}" for c, q in available_at[1:])]
        )
        if len(available_at) > 1:
            text += f" = {total}"
    percent_units = total * buffer_percent // 100 if buffer_percent > 0 else 0
    result = total
    if buffer_units > 0 or buffer_percent > 0:
        pieces = []
        if buffer_units > 0:
            pieces.append(f"{buffer_units} units")
        if buffer_percent > 0:
            pieces.append(f"{buffer_percent}% ({percent_units})")
        result = total - max(buffer_units, 0) - percent_units
        text += " − buffer " + " − ".join(pieces) + f" = {result}"
    if floor > 0 and result <= floor:
        text += f", at or below the floor of {floor} → 0"
        result = 0
    elif result < 0:
        text += " → 0"
        result = 0
    return result, text


def _available_to_sell_query() -> Select[Any]:
    """Every active channel with, per SKU asked for, the available units at each of its active locations
    (one row per channel, SKU and location, in formula order; rows of NULLs for a channel's locations
    stocking none of them, or for a channel with no location). Built once: the SKU ids are an expanding
    parameter."""
    channels = Channel.__table__
    locations = Location.__table__
    levels = StockLevel.__table__
    return (
        select(
            channels.c.id,
            channels.c.code,
            channels.c.name,
            channels.c.stock_buffer_units,
            channels.c.stock_buffer_percent,
            channels.c.stock_floor,
            levels.c.sku_id,
            locations.c.code,
            levels.c.on_hand - levels.c.reserved,
        )
        # Flat outer joins (a nested join would be materialized whole by SQLite): rows without a SKU only
        # name their channel.
        .select_from(
            channels.outerjoin(channel_locations, channel_locations.c.channel_id == channels.c.id)
            .outerjoin(locations, (locations.c.id == channel_locations.c.location_id) & locations.c.active)
            .outerjoin(
                levels,
                (levels.c.location_id == locations.c.id)
                & levels.c.sku_id.in_(bindparam("sku_ids", expanding=True)),
            )
        )
        .where(channels.c.active)
        .order_by(channels.c.id, levels.c.sku_id, locations.c.priority, locations.c.code)
    )


_AVAILABLE_TO_SELL = _available_to_sell_query()


def available_to_sell_by_channel(session: Session, sku_ids: Collection[int]) -> list[AvailableToSell]:
    """Available to sell of the SKUs on every active channel, each with its formula in words.

    One query whatever the number of channels and SKUs. (A stock push sends `available_to_sell`, read when
    it is sent: core.channels.outbound.)
    """
    if not sku_ids:
        return []
    session.flush()  # what an ORM query would autoflush (a buffer just changed), before the Core read
    rows = session.connection().execute(_AVAILABLE_TO_SELL, {"sku_ids": list(sku_ids)}).all()
    channels: dict[int, tuple[str, str, int, int, int]] = {}
    by_key: dict[tuple[int, int], list[tuple[str, int]]] = {}
    for channel_id, code, name, units, percent, floor, sku_id, location_code, available in rows:
        channels.setdefault(channel_id, (code, name, units, percent, floor))
        if sku_id is not None:
            by_key.setdefault((channel_id, sku_id), []).append((location_code, available))
    result = []
    for channel_id, (code, name, units, percent, floor) in channels.items():
        for sku_id in sorted(sku_ids):
            qty, text = available_to_sell_formula(
                by_key.get((channel_id, sku_id), []),
                buffer_units=units,
                buffer_percent=percent,
                floor=floor,
            )
            result.append(AvailableToSell(channel_id, code, name, sku_id, qty, text))
    return result


def available_to_sell(session: Session, channel: Channel, sku_id: int) -> int:
    """Units of the SKU the channel may sell: its locations' available minus its buffer, never negative."""
    return channel_available_to_sell(session, channel, sku_id).quantity


def channel_available_to_sell(session: Session, channel: Channel, sku_id: int) -> AvailableToSell:
    """available_to_sell with its formula in words."""
    rows = session.execute(
        select(Location.code, StockLevel.on_hand - StockLevel.reserved)
        .join(channel_locations, channel_locations.c.location_id == Location.id)
        .join(StockLevel, StockLevel.location_id == Location.id)
        .where(channel_locations.c.channel_id == channel.id, Location.active, StockLevel.sku_id == sku_id)
        .order_by(Location.priority, Location.code)
    ).all()
    qty, text = available_to_sell_formula(
        [(code, available) for code, available in rows],
        buffer_units=channel.stock_buffer_units,
        buffer_percent=channel.stock_buffer_percent,
        floor=channel.stock_floor,
    )
    return AvailableToSell(channel.id, channel.code, channel.name, sku_id, qty, text)


def stock_by_sku(session: Session, sku_id: int) -> SkuStock:
    """A SKU's on hand, reserved and available per location, and available to sell per channel."""
    sku = session.execute(select(Sku.id, Sku.code, Sku.title).where(Sku.id == sku_id)).first()
    if sku is None:
        raise NotFound(f"SKU {sku_id} not found")
    levels = session.execute(
        select(
            Location.id,
            Location.code,
            Location.name,
            Location.active,
            StockLevel.on_hand,
            StockLevel.reserved,
        )
        .join(StockLevel, StockLevel.location_id == Location.id)
        .where(StockLevel.sku_id == sku_id)
        .order_by(Location.priority, Location.code)
    ).all()
    return SkuStock(
        sku_id=sku.id,
        code=sku.code,
        title=sku.title,
        locations=tuple(LocationLevel(*row) for row in levels),
        channels=tuple(available_to_sell_by_channel(session, [sku_id])),
    )


def verify_ledger(session: Session) -> list[LedgerMismatch]:
    """Every stock level whose on_hand or reserved differs from the sum of its movements (empty: sound)."""
    sums = (
        select(
            StockMovement.location_id,
            StockMovement.sku_id,
            func.sum(StockMovement.on_hand_delta).label("on_hand"),
            func.sum(StockMovement.reserved_delta).label("reserved"),
        )
        .group_by(StockMovement.location_id, StockMovement.sku_id)
        .subquery()
    )
    ledger_on_hand = func.coalesce(sums.c.on_hand, 0)
    ledger_reserved = func.coalesce(sums.c.reserved, 0)
    level_rows = session.execute(
        select(
            StockLevel.location_id,
            StockLevel.sku_id,
            StockLevel.on_hand,
            ledger_on_hand,
            StockLevel.reserved,
            ledger_reserved,
        )
        .outerjoin(
            sums, (sums.c.location_id == StockLevel.location_id) & (sums.c.sku_id == StockLevel.sku_id)
        )
        .where((StockLevel.on_hand != ledger_on_hand) | (StockLevel.reserved != ledger_reserved))
    ).all()
    orphan_rows = session.execute(
        select(sums.c.location_id, sums.c.sku_id, sums.c.on_hand, sums.c.reserved)
        .outerjoin(
            StockLevel, (sums.c.location_id == StockLevel.location_id) & (sums.c.sku_id == StockLevel.sku_id)
        )
        .where(StockLevel.id.is_(None), (sums.c.on_hand != 0) | (sums.c.reserved != 0))
    ).all()
    mismatches = [
        LedgerMismatch(loc, sku, on_hand, int(l_on), reserved, int(l_res))
        for loc, sku, on_hand, l_on, reserved, l_res in level_rows
    ]
    mismatches += [
        LedgerMismatch(loc, sku, 0, int(l_on), 0, int(l_res)) for loc, sku, l_on, l_res in orphan_rows
    ]
    return sorted(mismatches, key=lambda m: (m.location_id, m.sku_id))


def ledger_for_sku(
    session: Session, sku_id: int, limit: int = 50, *, location_id: int | None = None
) -> list[LedgerEntry]:
    """The SKU's latest stock movements, newest first, with location code and order number."""
    query = (
        select(
            StockMovement.id,
            StockMovement.created_at,
            StockMovement.location_id,
            Location.code,
            StockMovement.kind,
            StockMovement.on_hand_delta,
            StockMovement.reserved_delta,
            StockMovement.order_id,
            Order.number,
            StockMovement.reference,
            StockMovement.actor,
        )
        .join(Location, Location.id == StockMovement.location_id)
        .outerjoin(Order, Order.id == StockMovement.order_id)
        .where(StockMovement.sku_id == sku_id)
    )
    if location_id is not None:
        query = query.where(StockMovement.location_id == location_id)
    rows = session.execute(query.order_by(StockMovement.id.desc()).limit(limit)).all()
    return [LedgerEntry(*row) for row in rows]


@dataclass(frozen=True)
class SkuStockRow:
    sku_id: int
    code: str
    title: str
    on_hand: int
    reserved: int

    @property
    def available(self) -> int:
        return self.on_hand - self.reserved


def sku_stock_list(
    session: Session, *, search: str = "", page: int = 1, per_page: int = 50
) -> Page[SkuStockRow]:
    """SKUs with their stock summed over locations, by code, filtered by code or title (one query + count)."""
    where = []
    term = search.strip().lower()
    if term:
        like = contains_pattern(term)
        where.append(
            or_(func.lower(Sku.code).like(like, escape="\\"), func.lower(Sku.title).like(like, escape="\\"))
        )
    total = session.scalar(select(func.count()).select_from(Sku).where(*where)) or 0
    rows = session.execute(
        select(
            Sku.id,
            Sku.code,
            Sku.title,
            func.coalesce(func.sum(StockLevel.on_hand), 0),
            func.coalesce(func.sum(StockLevel.reserved), 0),
        )
        .outerjoin(StockLevel, StockLevel.sku_id == Sku.id)
        .where(*where)
        .group_by(Sku.id, Sku.code, Sku.title)
        .order_by(Sku.code)
        .limit(per_page)
        .offset((page - 1) * per_page)
    ).all()
    return Page([SkuStockRow(*row) for row in rows], page, per_page, total)


def sku_by_code(session: Session, code: str) -> Sku:
    """A SKU by our code, or NotFound."""
    sku = session.scalar(select(Sku).where(Sku.code == code))
    if sku is None:
        raise NotFound(f"unknown SKU {code!r}")
    return sku
