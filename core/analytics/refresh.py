"""The refresh of the dashboard's daily summaries (core.analytics.rollup): every closed UTC day before `now`'s
is summed, from the operational tables, with the same joins and filters the live queries use.

A refresh sums the days since the last watermark, the days marked stale since, `--since` onwards when asked,
and the first-order days of the customers who ordered since the last watermark (their lifetime revenue, summed
up to the watermark, moved with it). It runs in the caller's transaction: readers see the old summaries or the
new ones, never a mix. Run by the worker's analytics job and by `crossdock analytics refresh`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import and_, case, delete, exists, func, insert, or_, select
from sqlalchemy.orm import Session, aliased

from core.analytics.clock import (
    DAY,
    business_seconds,
    clock_rows,
    clock_table,
    day_number,
    epoch_seconds,
    from_epoch,
)
from core.analytics.models import (
    OrderDay,
    RefundDay,
    ReturnDay,
    RollupState,
    SkuDay,
    SkuReturnDay,
    StaleDay,
    TicketDay,
    TicketFact,
    TicketSkuDay,
)
from core.analytics.rollup import STATE_ID, day_of
from core.analytics.tables import SOLVED
from core.catalog.models import Sku
from core.fulfillment.models import Shipment, TrackingEvent
from core.orders.models import Order, OrderLine
from core.returns.models import Refund, ReturnLine, ReturnRequest
from core.support.models import Conversation
from core.support.sla_services import load_calendar

SUMMARIES = (OrderDay, ReturnDay, RefundDay, SkuDay, SkuReturnDay, TicketDay, TicketSkuDay, TicketFact)
CHUNK_DAYS = 31


@dataclass(frozen=True)
class RefreshResult:
    through: date  # every day before it is summed
    days: int  # days summed by this refresh


def refresh(
    session: Session,
    *,
    now: datetime,
    since: date | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> RefreshResult:
    """Sum every closed day (before now's UTC day) that needs it; `since` sums that day onwards again.
    `progress(done, total)` is called after each chunk of days."""
    through = day_of(now)
    current = session.get(RollupState, STATE_ID)
    stale = set(session.scalars(select(StaleDay.day)))
    if current is None:
        first = _first_day(session)
        days = set(range(first, through)) if first is not None else set()
    else:
        start = current.through_day if since is None else min(current.through_day, _day(since))
        days = set(range(start, through)) | stale
        low, high = sorted((current.through_day, through))
        days |= _first_order_days(session, low, high)
    days = {d for d in days if d < through}
    session.execute(delete(StaleDay).where(StaleDay.day < through))
    ranges = _chunks(sorted(days))
    total, done = len(days), 0
    watermark = from_epoch(through * DAY)
    for first_day, after in ranges:
        _sum_days(session, first_day, after, watermark)
        done += after - first_day
        if progress is not None:
            progress(done, total)
    if current is None:
        session.add(RollupState(id=STATE_ID, through_day=through, refreshed_at=now))
    else:
        current.through_day, current.refreshed_at = through, now
    session.flush()
    return RefreshResult(from_epoch(through * DAY).date(), total)


def _day(value: date) -> int:
    return (value - date(1970, 1, 1)).days


def _first_day(session: Session) -> int | None:
    firsts = [
        session.scalar(select(func.min(column)))
        for column in (
            Order.placed_at,
            ReturnRequest.requested_at,
            Refund.created_at,
            Conversation.created_at,
        )
    ]
    known = [day_of(f) for f in firsts if f is not None]
    return min(known) if known else None


def _first_order(order: Any) -> Any:
    """The condition that `order` is its customer's first (earliest placed, then lowest id)."""
    earlier = aliased(Order)
    return ~exists().where(
        earlier.customer_id == order.customer_id,
        or_(
            earlier.placed_at < order.placed_at,
            and_(earlier.placed_at == order.placed_at, earlier.id < order.id),
        ),
    )


def _first_order_days(session: Session, low: int, high: int) -> set[int]:
    """The first-order days of the customers with orders placed on days low..high-1."""
    if low >= high:
        return set()
    later, first = aliased(Order), aliased(Order)
    return set(
        session.scalars(
            select(day_number(first.placed_at))
            .distinct()
            .select_from(later)
            .join(first, first.customer_id == later.customer_id)
            .where(later.placed_at >= from_epoch(low * DAY), later.placed_at < from_epoch(high * DAY))
            .where(_first_order(first))
        )
    )


def _chunks(days: list[int]) -> list[tuple[int, int]]:
    ranges: list[tuple[int, int]] = []
    for d in days:
        if ranges and ranges[-1][1] == d and d - ranges[-1][0] < CHUNK_DAYS:
            ranges[-1] = (ranges[-1][0], d + 1)
        else:
            ranges.append((d, d + 1))
    return ranges


def _sum_days(session: Session, first: int, after: int, watermark: datetime) -> None:
    """Replace the summaries of days first..after-1."""
    start, end = from_epoch(first * DAY), from_epoch(after * DAY)
    for table in SUMMARIES:
        session.execute(delete(table).where(table.day >= first, table.day < after))
    _order_days(session, start, end, watermark)
    _ticket_facts(session, start, end)

    def within(column: Any) -> Any:
        return and_(column >= start, column < end)

    requested = day_number(ReturnRequest.requested_at)
    session.execute(
        insert(ReturnDay).from_select(
            ["day", "channel_id", "reason", "requests"],
            select(requested, Order.channel_id, ReturnRequest.reason, func.count())
            .join(Order, Order.id == ReturnRequest.order_id)
            .where(within(ReturnRequest.requested_at))
            .group_by(requested, Order.channel_id, ReturnRequest.reason),
        )
    )
    refunded = day_number(Refund.created_at)
    session.execute(
        insert(RefundDay).from_select(
            ["day", "channel_id", "currency", "amount", "refunds"],
            select(
                refunded, Order.channel_id, Refund.currency, func.sum(Refund.amount + Refund.shipping_amount)
            )
            .add_columns(func.count())
            .join(Order, Order.id == Refund.order_id)
            .where(within(Refund.created_at))
            .group_by(refunded, Order.channel_id, Refund.currency),
        )
    )
    placed = day_number(Order.placed_at)
    session.execute(
        insert(SkuDay).from_select(
            ["day", "channel_id", "sku_id", "units"],
            select(placed, Order.channel_id, OrderLine.sku_id, func.sum(OrderLine.quantity))
            .join(Order, Order.id == OrderLine.order_id)
            .where(within(Order.placed_at), OrderLine.sku_id.is_not(None))
            .group_by(placed, Order.channel_id, OrderLine.sku_id),
        )
    )
    session.execute(
        insert(SkuReturnDay).from_select(
            ["day", "channel_id", "sku_id", "reason", "units", "requests"],
            select(
                requested,
                Order.channel_id,
                Sku.id,
                ReturnRequest.reason,
                func.sum(ReturnLine.quantity),
                func.count(func.distinct(ReturnRequest.id)),
            )
            .select_from(ReturnRequest)
            .join(ReturnLine, ReturnLine.return_id == ReturnRequest.id)
            .join(OrderLine, OrderLine.id == ReturnLine.order_line_id)
            .join(Sku, Sku.id == OrderLine.sku_id)
            .join(Order, Order.id == ReturnRequest.order_id)
            .where(within(ReturnRequest.requested_at))
            .group_by(requested, Order.channel_id, Sku.id, ReturnRequest.reason),
        )
    )
    created = day_number(Conversation.created_at)
    channel = func.coalesce(Order.channel_id, 0)
    category = func.coalesce(Conversation.category, "other")
    session.execute(
        insert(TicketDay).from_select(
            ["day", "channel_id", "category", "tickets"],
            select(created, channel, category, func.count())
            .select_from(Conversation)
            .outerjoin(Order, Order.id == Conversation.order_id)
            .where(within(Conversation.created_at))
            .group_by(created, channel, category),
        )
    )
    session.execute(
        insert(TicketSkuDay).from_select(
            ["day", "channel_id", "sku_id", "category", "tickets"],
            select(created, Order.channel_id, Sku.id, category, func.count(func.distinct(Conversation.id)))
            .select_from(Conversation)
            .join(OrderLine, OrderLine.order_id == Conversation.order_id)
            .join(Sku, Sku.id == OrderLine.sku_id)
            .join(Order, Order.id == Conversation.order_id)
            .where(within(Conversation.created_at))
            .group_by(created, Order.channel_id, Sku.id, category),
        )
    )


def _ticket_facts(session: Session, start: datetime, end: datetime) -> None:
    """TicketFact rows: each ticket's first response and resolution in business seconds, as
    core.analytics.service computes them live (a stamp before the opening counts as none)."""
    within = and_(Conversation.created_at >= start, Conversation.created_at < end)
    lasts = session.execute(
        select(func.max(Conversation.solved_at), func.max(Conversation.first_responded_at)).where(within)
    ).one()
    last_day = max([day_of(end)] + [day_of(last) for last in lasts if last is not None]) + 1
    clock = clock_table(clock_rows(load_calendar(session), day_of(start) - 1, last_day))
    opened, responded, solved = clock.alias("opened"), clock.alias("responded"), clock.alias("solved")

    def duration(reached: Any, stamp: Any) -> Any:
        return case(
            (
                and_(stamp.is_not(None), stamp >= Conversation.created_at),
                business_seconds(reached, stamp) - business_seconds(opened, Conversation.created_at),
            ),
            else_=None,
        )

    def stamp_day(stamp: Any) -> Any:
        return case(
            (and_(stamp.is_not(None), stamp >= Conversation.created_at), day_number(stamp)), else_=None
        )

    session.execute(
        insert(TicketFact).from_select(
            [
                "conversation_id",
                "day",
                "channel_id",
                "first_response",
                "first_response_day",
                "resolution",
                "resolution_day",
                "resolved_day",
            ],
            select(
                Conversation.id,
                day_number(Conversation.created_at),
                func.coalesce(Order.channel_id, 0),
                duration(responded, Conversation.first_responded_at),
                stamp_day(Conversation.first_responded_at),
                duration(solved, Conversation.solved_at),
                stamp_day(Conversation.solved_at),
                day_number(
                    case(
                        (
                            Conversation.status.in_(SOLVED),
                            func.coalesce(Conversation.solved_at, Conversation.updated_at),
                        ),
                        else_=None,
                    )
                ),
            )
            .select_from(Conversation)
            .outerjoin(Order, Order.id == Conversation.order_id)
            .join(opened, opened.c.day == day_number(Conversation.created_at))
            .outerjoin(responded, responded.c.day == day_number(Conversation.first_responded_at))
            .outerjoin(solved, solved.c.day == day_number(Conversation.solved_at))
            .where(within),
        )
    )


def _order_days(session: Session, start: datetime, end: datetime, watermark: datetime) -> None:
    """OrderDay rows: the same aggregates as core.analytics.kpis's live queries, per day and channel."""
    placed = day_number(Order.placed_at).label("day")
    span = and_(Order.placed_at >= start, Order.placed_at < end)
    kept = Order.status != "cancelled"
    rows: dict[tuple[int, int], dict[str, Any]] = {}

    def put(result: Any, *names: str) -> None:
        for day, channel_id, *values in result:
            rows.setdefault((day, channel_id), {}).update(zip(names, values, strict=True))

    put(
        session.execute(
            select(
                placed,
                Order.channel_id,
                func.count(),
                func.count().filter(Order.status == "cancelled"),
                func.count().filter(kept),
                func.coalesce(func.sum(Order.total).filter(kept), 0),
                func.max(Order.currency),
            )
            .where(span)
            .group_by(placed, Order.channel_id)
        ).all(),
        "orders",
        "cancelled",
        "kept_orders",
        "revenue",
        "currency",
    )
    put(
        session.execute(
            select(placed, Order.channel_id, func.count(func.distinct(ReturnRequest.order_id)))
            .join(ReturnRequest, ReturnRequest.order_id == Order.id)
            .where(span)
            .group_by(placed, Order.channel_id)
        ).all(),
        "returned_orders",
    )
    first_orders = (
        select(
            placed,
            Order.channel_id.label("channel_id"),
            Order.customer_id.label("customer_id"),
        )
        .where(span, Order.customer_id.is_not(None), _first_order(Order))
        .subquery()
    )
    lifetime = aliased(Order)
    put(
        session.execute(
            select(
                first_orders.c.day,
                first_orders.c.channel_id,
                func.count(func.distinct(first_orders.c.customer_id)),
                func.coalesce(
                    func.sum(lifetime.total - lifetime.refunded_total).filter(lifetime.status != "cancelled"),
                    0,
                ),
            )
            .select_from(first_orders)
            .join(
                lifetime,
                and_(lifetime.customer_id == first_orders.c.customer_id, lifetime.placed_at < watermark),
            )
            .group_by(first_orders.c.day, first_orders.c.channel_id)
        ).all(),
        "new_customers",
        "new_customer_revenue",
    )
    put(
        session.execute(
            select(placed, Order.channel_id, func.coalesce(func.sum(OrderLine.quantity * Sku.cost), 0))
            .join(OrderLine, OrderLine.order_id == Order.id)
            .join(Sku, Sku.id == OrderLine.sku_id)
            .where(span, kept)
            .group_by(placed, Order.channel_id)
        ).all(),
        "cogs",
    )
    tracked = and_(
        func.coalesce(Shipment.tracking_number, "") != "",
        exists().where(TrackingEvent.shipment_id == Shipment.id),
    )
    put(
        session.execute(
            select(
                placed,
                Order.channel_id,
                func.count(),
                func.count().filter(tracked),
                func.coalesce(
                    func.sum(epoch_seconds(Shipment.shipped_at) - epoch_seconds(Order.placed_at)), 0
                ),
                func.count().filter(Order.expected_dispatch_by.is_not(None)),
                func.count().filter(Shipment.shipped_at > Order.expected_dispatch_by),
            )
            .join(Shipment, Shipment.order_id == Order.id)
            .where(span, Shipment.shipped_at.is_not(None))
            .group_by(placed, Order.channel_id)
        ).all(),
        "parcels",
        "tracked_parcels",
        "fulfilment_seconds",
        "promised_parcels",
        "late",
    )
    if rows:
        session.execute(
            insert(OrderDay),
            [{"day": day, "channel_id": channel_id, **values} for (day, channel_id), values in rows.items()],
        )


def analytics_refresh_job(session: Session, now: datetime) -> dict[str, Any]:
    """The worker's job: sum the days closed and the days marked stale since the last run."""
    result = refresh(session, now=now)
    return {"through": result.through.isoformat(), "days": result.days}
