"""Low-stock alerts: opened when available falls below a reorder point, kept current while it stays low,
resolved when stock rises back above it; the console's list and the managers' daily digest."""

from __future__ import annotations

from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import case, func, or_, select
from sqlalchemy.orm import Session

from core.audit.services import record_audit
from core.catalog.models import Sku
from core.channels.models import Channel, channel_locations
from core.errors import DomainError, NotFound
from core.inventory.models import Location, LowStockAlert, StockLevel
from core.inventory.replenishment import (
    RECENT_DAYS,
    WINDOW_DAYS,
    ChannelSales,
    FastChannel,
    fast_channels,
    suggest_order_quantity,
)
from core.orders.models import Order, OrderLine
from core.orders.status import OrderStatus
from core.security.roles import Actor

ACTIVE_STATUSES = ("open", "ordered")  # an "ordered" alert still stands until stock is back
_CHUNK = 500  # SKUs per round of queries, well inside every database's bound-parameter limit


@dataclass(frozen=True)
class LowStockCheck:
    """What one check changed: alerts opened, alerts still low with refreshed figures, alerts resolved."""

    opened: list[LowStockAlert]
    updated: list[LowStockAlert]
    resolved: list[LowStockAlert]


@dataclass(frozen=True)
class AlertView:
    id: int
    sku_id: int
    sku_code: str
    sku_title: str
    location_id: int | None  # None: the SKU's total across the locations without their own point
    location_code: str | None
    location_name: str | None
    available: int
    reorder_point: int
    suggested_quantity: int
    reason: str
    status: str
    created_at: datetime


@dataclass(frozen=True)
class FastMover:
    sku_id: int
    sku_code: str
    sku_title: str
    available: int
    channels: tuple[FastChannel, ...]


@dataclass(frozen=True)
class LowStockDigest:
    """The managers' daily digest: every standing alert (those opened in the last day marked as new) and the
    SKUs selling unusually fast on a channel."""

    generated_at: datetime
    alerts: list[AlertView]
    new_alert_ids: frozenset[int]
    fast_movers: list[FastMover]

    @property
    def is_empty(self) -> bool:
        return not self.alerts and not self.fast_movers


def _chunks(ids: Sequence[int]) -> Iterator[Sequence[int]]:
    for start in range(0, len(ids), _CHUNK):
        yield ids[start : start + _CHUNK]


def channel_sales(
    session: Session, sku_ids: Collection[int] | None, *, now: datetime
) -> dict[int, list[ChannelSales]]:
    """Units sold per SKU and channel over the last 28 days (and the last 7), from the lines of orders placed
    in the window that were not cancelled, net of cancelled units; all SKUs when `sku_ids` is None."""
    since, recent = now - timedelta(days=WINDOW_DAYS), now - timedelta(days=RECENT_DAYS)
    units = OrderLine.quantity - OrderLine.quantity_cancelled
    query = (
        select(
            OrderLine.sku_id,
            Channel.code,
            func.sum(units),
            func.sum(case((Order.placed_at >= recent, units), else_=0)),
        )
        .join(Order, Order.id == OrderLine.order_id)
        .join(Channel, Channel.id == Order.channel_id)
        .where(
            Order.status != OrderStatus.CANCELLED,
            Order.placed_at >= since,
            Order.placed_at <= now,
            OrderLine.sku_id.is_not(None),
        )
        .group_by(OrderLine.sku_id, Channel.code)
        .order_by(OrderLine.sku_id, Channel.code)
    )
    if sku_ids is not None:
        query = query.where(OrderLine.sku_id.in_(sku_ids))
    result: dict[int, list[ChannelSales]] = {}
    for sku_id, code, units_28d, units_7d in session.execute(query):
        if units_28d:
            result.setdefault(sku_id, []).append(ChannelSales(code, int(units_28d), int(units_7d or 0)))
    return result


def _skus_to_check(session: Session) -> list[int]:
    """Every SKU with a reorder point (its own or a location's) or a standing alert."""
    with_level_point = select(StockLevel.sku_id).where(StockLevel.reorder_point.is_not(None))
    with_alert = select(LowStockAlert.sku_id).where(LowStockAlert.status.in_(ACTIVE_STATUSES))
    return list(
        session.scalars(
            select(Sku.id)
            .where(or_(Sku.reorder_point.is_not(None), Sku.id.in_(with_level_point), Sku.id.in_(with_alert)))
            .order_by(Sku.id)
        )
    )


def check_low_stock(session: Session, sku_ids: Collection[int] | None, *, now: datetime) -> LowStockCheck:
    """Open, refresh or resolve the low-stock alerts of the SKUs (every SKU with a point when None).

    Scopes: a stock level with its own reorder point is checked on its own (location alert); the SKU's reorder
    point is checked against the total available at the active locations without an override (alert with no
    location). Drop-ship SKUs (the supplier's stock) and inactive SKUs have no scope. Per scope there is at
    most one standing (open or ordered) alert: a new one when available < point, its figures refreshed while
    available <= point, resolved when available > point or when the scope no longer has a point.
    The SKU rows are locked first, in id order (FOR NO KEY UPDATE: rows that reference the SKU, such as
    order lines and ledger entries, can still be inserted meanwhile), so two concurrent checks of a SKU
    cannot both open an alert.
    A fixed number of queries per 500 SKUs.
    """
    ids = sorted(set(sku_ids)) if sku_ids is not None else _skus_to_check(session)
    result = LowStockCheck([], [], [])
    for chunk in _chunks(ids):
        _check_chunk(session, chunk, now=now, result=result)
    session.flush()
    return result


def _check_chunk(session: Session, ids: Sequence[int], *, now: datetime, result: LowStockCheck) -> None:
    skus = {
        sku.id: sku
        for sku in session.scalars(
            select(Sku).where(Sku.id.in_(ids)).order_by(Sku.id).with_for_update(key_share=True)
        )
    }
    levels = session.execute(
        select(
            StockLevel.sku_id,
            StockLevel.location_id,
            StockLevel.on_hand - StockLevel.reserved,
            StockLevel.reorder_point,
        )
        .join(Location, Location.id == StockLevel.location_id)
        .where(StockLevel.sku_id.in_(ids), Location.active, Location.kind != "dropship")
    ).all()
    standing = {
        (alert.sku_id, alert.location_id): alert
        for alert in session.scalars(
            select(LowStockAlert)
            .where(LowStockAlert.sku_id.in_(ids), LowStockAlert.status.in_(ACTIVE_STATUSES))
            .order_by(LowStockAlert.id)
        )
    }
    sales = channel_sales(session, ids, now=now)
    location_ids = {loc for _sku, loc, _avail, point in levels if point is not None}
    served: dict[int, set[str]] = {}
    if location_ids:
        for loc, code in session.execute(
            select(channel_locations.c.location_id, Channel.code)
            .join(Channel, Channel.id == channel_locations.c.channel_id)
            .where(channel_locations.c.location_id.in_(location_ids))
        ):
            served.setdefault(loc, set()).add(code)

    scopes: dict[tuple[int, int | None], tuple[int, int]] = {}  # (sku, location) -> (available, point)
    totals: dict[int, int] = {}
    for sku_id, location_id, available, point in levels:
        sku = skus.get(sku_id)
        if sku is None or not sku.active or sku.dropship_location_id is not None:
            continue
        if point is not None:
            scopes[(sku_id, location_id)] = (available, point)
        else:
            totals[sku_id] = totals.get(sku_id, 0) + available
    for sku in skus.values():
        if sku.active and sku.dropship_location_id is None and sku.reorder_point is not None:
            scopes[(sku.id, None)] = (totals.get(sku.id, 0), sku.reorder_point)

    for (sku_id, location_id), (available, point) in sorted(
        scopes.items(), key=lambda kv: (kv[0][0], kv[0][1] or 0)
    ):
        alert = standing.pop((sku_id, location_id), None)
        if alert is not None and available > point:
            _resolve(alert, now)
            result.resolved.append(alert)
            continue
        if alert is None and available >= point:
            continue
        sku = skus[sku_id]
        sku_sales = sales.get(sku_id, [])
        if location_id is not None:
            sku_sales = [s for s in sku_sales if s.channel in served.get(location_id, set())]
        suggestion = suggest_order_quantity(
            available=available,
            reorder_point=point,
            reorder_quantity=sku.reorder_quantity,
            lead_time_days=sku.lead_time_days,
            sales=sku_sales,
        )
        if alert is None:
            alert = LowStockAlert(
                sku_id=sku_id,
                location_id=location_id,
                available=available,
                reorder_point=point,
                suggested_quantity=suggestion.quantity,
                reason=suggestion.reason,
                status="open",
                created_at=now,
            )
            session.add(alert)
            result.opened.append(alert)
        elif (alert.available, alert.reorder_point, alert.suggested_quantity, alert.reason) != (
            available,
            point,
            suggestion.quantity,
            suggestion.reason,
        ):
            alert.available, alert.reorder_point = available, point
            alert.suggested_quantity, alert.reason = suggestion.quantity, suggestion.reason
            result.updated.append(alert)
    for alert in standing.values():  # the point was removed, the location closed or the SKU retired
        _resolve(alert, now)
        result.resolved.append(alert)


def _resolve(alert: LowStockAlert, now: datetime) -> None:
    alert.status = "resolved"
    alert.resolved_at = now


def mark_alert_ordered(session: Session, alert_id: int, *, actor: Actor, now: datetime) -> LowStockAlert:
    """A manager placed the purchase order: the alert stays standing (no duplicate) until stock is back."""
    alert = session.get(LowStockAlert, alert_id)
    if alert is None:
        raise NotFound(f"low-stock alert {alert_id} not found")
    if alert.status != "open":
        raise DomainError(f"this alert is {alert.status}: only an open alert can be marked ordered")
    alert.status = "ordered"
    record_audit(
        session,
        actor,
        "stock.alert_ordered",
        "low_stock_alert",
        alert.id,
        now=now,
        before={"status": "open"},
        after={"status": "ordered", "suggested_quantity": alert.suggested_quantity},
    )
    return alert


def _alert_views(session: Session, *where) -> list[AlertView]:
    rows = session.execute(
        select(
            LowStockAlert.id,
            LowStockAlert.sku_id,
            Sku.code,
            Sku.title,
            LowStockAlert.location_id,
            Location.code,
            Location.name,
            LowStockAlert.available,
            LowStockAlert.reorder_point,
            LowStockAlert.suggested_quantity,
            LowStockAlert.reason,
            LowStockAlert.status,
            LowStockAlert.created_at,
        )
        .join(Sku, Sku.id == LowStockAlert.sku_id)
        .outerjoin(Location, Location.id == LowStockAlert.location_id)
        .where(*where)
        .order_by(LowStockAlert.created_at.desc(), LowStockAlert.id.desc())
    ).all()
    return [AlertView(*row) for row in rows]


def open_alerts(session: Session) -> list[AlertView]:
    """Standing alerts (open, or ordered and waiting for stock), newest first, in one query."""
    return _alert_views(session, LowStockAlert.status.in_(ACTIVE_STATUSES))


def fast_movers(session: Session, *, now: datetime) -> list[FastMover]:
    """SKUs selling unusually fast on a channel (see replenishment.fast_channels), fastest first."""
    flagged = {
        sku_id: tuple(found)
        for sku_id, sales in channel_sales(session, None, now=now).items()
        if (found := fast_channels(sales))
    }
    if not flagged:
        return []
    skus = {
        row.id: row
        for row in session.execute(select(Sku.id, Sku.code, Sku.title).where(Sku.id.in_(flagged))).all()
    }
    available = dict(
        session.execute(
            select(StockLevel.sku_id, func.sum(StockLevel.on_hand - StockLevel.reserved))
            .join(Location, Location.id == StockLevel.location_id)
            .where(StockLevel.sku_id.in_(flagged), Location.active)
            .group_by(StockLevel.sku_id)
        ).all()
    )
    movers = [
        FastMover(sku_id, skus[sku_id].code, skus[sku_id].title, int(available.get(sku_id) or 0), channels)
        for sku_id, channels in flagged.items()
    ]
    return sorted(movers, key=lambda m: (-m.channels[0].ratio, m.sku_code))


def low_stock_digest(session: Session, *, now: datetime) -> LowStockDigest:
    """The read model of the managers' daily digest, as of `now`."""
    alerts = open_alerts(session)
    since = now - timedelta(days=1)
    return LowStockDigest(
        generated_at=now,
        alerts=alerts,
        new_alert_ids=frozenset(a.id for a in alerts if a.created_at >= since),
        fast_movers=fast_movers(session, now=now),
    )
