"""The allocation service: orders' stock reserved by the pure rules of core.inventory.allocation, orders
confirmed or backordered, backorders filled as stock is received, reservations released on cancellation."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import bindparam, func, or_, select
from sqlalchemy.orm import Session

from core.audit.services import record_audit
from core.catalog.models import Sku
from core.errors import DomainError, InsufficientStock
from core.inventory import ledger, statements
from core.inventory.allocation import AllocationPlan, LineNeed, LocationStock, ShipTo, plan_allocation
from core.inventory.ledger import LevelState
from core.inventory.models import Location, StockLevel
from core.inventory.reservations import reserve_stock
from core.inventory.statements import SERVING_LOCATIONS, Batch
from core.inventory.stock_push import queue_stock_pushes
from core.orders import events
from core.orders.models import Allocation, Order, OrderLine
from core.orders.services import change_order_status, record_status_change
from core.orders.status import OrderStatus
from core.security.roles import Actor

ALLOCATABLE_STATUSES = frozenset({OrderStatus.PENDING, OrderStatus.BACKORDERED})


def receive_stock(
    session: Session,
    location_id: int,
    sku_id: int,
    quantity: int,
    *,
    actor: str | Actor,
    now: datetime,
    reference: str | None = None,
) -> LevelState:
    """Add received units to on hand (a 'receipt'), then give them to waiting backorders, oldest first.
    A staff member's receipt (an Actor, as the CLI passes) is audited with on hand before and after; one
    named by a plain label (seeding, channel syncs) is in the stock ledger only."""
    label = actor.label if isinstance(actor, Actor) else actor
    level = (StockLevel.location_id == location_id, StockLevel.sku_id == sku_id)
    before = session.execute(select(StockLevel.on_hand, StockLevel.reserved).where(*level)).first()
    ledger.record_receipt(session, location_id, sku_id, quantity, actor=label, now=now, reference=reference)
    fill_backorders(session, sku_id, actor=label, now=now)
    state = ledger.level_state(session, location_id, sku_id)
    if isinstance(actor, Actor):
        record_audit(
            session,
            actor,
            "stock.receive",
            "sku",
            sku_id,
            now=now,
            before={"location_id": location_id, "on_hand": before[0] if before else 0},
            after={
                "location_id": location_id,
                "on_hand": state.on_hand,
                "received": quantity,
                "reference": reference,
            },
        )
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
            Location.id.in_(SERVING_LOCATIONS),
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
    rows = statements.listed_stock(session, channel_id, channel_skus)
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
    queued: Batch | None = None,
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
        statements.insert_allocations(
            session,
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
            queued=queued,
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
    queued: Batch | None = None,
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
        state = ledger.record_release(
            session,
            location_id,
            sku_id,
            quantity,
            order_id=order.id,
            actor=actor,
            now=now,
            reference=why[:200],
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
    queue_stock_pushes(session, totals, now=now)
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
