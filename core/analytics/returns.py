"""Returns: return rate and top reasons per channel, SKU and week; refunds."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.analytics import rollup, rules
from core.analytics.clock import (
    WEEK,
    bucket,
    epoch,
)
from core.analytics.models import OrderDay, RefundDay, ReturnDay, SkuDay, SkuReturnDay
from core.analytics.rollup import ordered_ids
from core.analytics.tables import (
    TOP,
    Chart,
    Column,
    Filters,
    Section,
    Table,
    order_channel,
    week_labels,
)
from core.catalog.models import Sku
from core.channels.models import Channel
from core.orders.models import Order, OrderLine
from core.returns.models import Refund, ReturnLine, ReturnRequest


def returns(session: Session, filters: Filters, *, now: datetime) -> Section:
    """Return rate and reasons per channel, SKU and week; refunds."""
    period = filters.period
    labels = week_labels(period)
    weeks = period.week_starts()
    window = rollup.split(session, period.start_at, period.end_at)
    requested = window.live_at(ReturnRequest.requested_at)
    placed = window.live_at(Order.placed_at)
    summed = window.summary_days

    def summary_channel(table: Any) -> list[Any]:
        return [table.channel_id == filters.channel_id] if filters.channel_id is not None else []

    per_channel_parts: list[Any] = []
    if window.has_summary:
        per_channel_parts.append(
            session.execute(
                select(Channel.name, func.sum(OrderDay.orders), func.sum(OrderDay.returned_orders))
                .join(Channel, Channel.id == OrderDay.channel_id)
                .where(summed(OrderDay.day), *summary_channel(OrderDay))
                .group_by(Channel.name)
            ).all()
        )
    if window.has_live:
        with_return = dict(
            session.execute(
                select(Channel.name, func.count(func.distinct(ReturnRequest.order_id)))
                .join(Order, Order.id == ReturnRequest.order_id)
                .join(Channel, Channel.id == Order.channel_id)
                .where(placed, *order_channel(filters))
                .group_by(Channel.name)
            ).all()
        )
        per_channel_parts.append(
            (name, orders, with_return.get(name, 0))
            for name, orders in session.execute(
                select(Channel.name, func.count(Order.id))
                .join(Channel, Channel.id == Order.channel_id)
                .where(placed, *order_channel(filters))
                .group_by(Channel.name)
            ).all()
        )
    per_channel = rollup.in_name_order(session, rollup.added(1, *per_channel_parts))
    reason_parts: list[Any] = []
    if window.has_summary:
        reason_parts.append(
            session.execute(
                select(Channel.name, ReturnDay.reason, func.sum(ReturnDay.requests))
                .join(Channel, Channel.id == ReturnDay.channel_id)
                .where(summed(ReturnDay.day), *summary_channel(ReturnDay))
                .group_by(Channel.name, ReturnDay.reason)
            ).all()
        )
    if window.has_live:
        reason_parts.append(
            session.execute(
                select(Channel.name, ReturnRequest.reason, func.count())
                .join(Order, Order.id == ReturnRequest.order_id)
                .join(Channel, Channel.id == Order.channel_id)
                .where(requested, *order_channel(filters))
                .group_by(Channel.name, ReturnRequest.reason)
            ).all()
        )
    top = rules.top_per_group(rollup.added(2, *reason_parts), 3)
    refund_parts: list[Any] = []
    if window.has_summary:
        refund_parts.append(
            session.execute(
                select(
                    Channel.name, RefundDay.currency, func.sum(RefundDay.amount), func.sum(RefundDay.refunds)
                )
                .join(Channel, Channel.id == RefundDay.channel_id)
                .where(summed(RefundDay.day), *summary_channel(RefundDay))
                .group_by(Channel.name, RefundDay.currency)
            ).all()
        )
    if window.has_live:
        refund_parts.append(
            session.execute(
                select(
                    Channel.name,
                    Refund.currency,
                    func.sum(Refund.amount + Refund.shipping_amount),
                    func.count(),
                )
                .join(Order, Order.id == Refund.order_id)
                .join(Channel, Channel.id == Order.channel_id)
                .where(window.live_at(Refund.created_at), *order_channel(filters))
                .group_by(Channel.name, Refund.currency)
            ).all()
        )
    refunds = rollup.added(2, *refund_parts)
    refund_by_channel: dict[str, list[tuple[int, str, int]]] = {}
    for name, currency, amount, count in refunds:
        refund_by_channel.setdefault(name, []).append((amount, currency, count))
    channel_table = Table(
        "returns_by_channel",
        "Returns per channel",
        (
            Column("Channel"),
            Column("Orders placed", "int"),
            Column("With a return", "int"),
            Column("Return rate", "pct"),
            Column("Top reasons (requests in period)"),
            Column("Refunds", "int"),
            Column("Refunded", "money"),
        ),
        [
            (
                name,
                orders,
                returned,
                rules.rate(returned, orders),
                ", ".join(f"{r.replace('_', ' ')} ({n})" for r, n in top.get(name, [])),
                sum(c for _, _, c in refund_by_channel.get(name, [])),
                _main_money(refund_by_channel.get(name, [])),
            )
            for name, orders, returned in per_channel
        ],
    )
    channel_chart = Chart(
        "returns_by_channel",
        "Return rate per channel",
        "bar",
        [r[0] for r in channel_table.rows],
        [("Return rate %", [r[3] for r in channel_table.rows])],
        channel_table,
        y_label="% of orders",
        summary="; ".join(
            f"{r[0]}: {r[3] if r[3] is not None else '-'}% of {r[1]} orders" for r in channel_table.rows
        )
        or "No orders in this period.",
    )

    units = func.sum(ReturnLine.quantity)
    returned_parts: list[Any] = []
    if window.has_summary:
        returned_parts.append(
            session.execute(
                select(SkuReturnDay.sku_id, func.sum(SkuReturnDay.units))
                .where(summed(SkuReturnDay.day), *summary_channel(SkuReturnDay))
                .group_by(SkuReturnDay.sku_id)
            ).all()
        )
    if window.has_live:
        returned_parts.append(
            session.execute(
                select(Sku.id, units)
                .select_from(ReturnRequest)
                .join(ReturnLine, ReturnLine.return_id == ReturnRequest.id)
                .join(OrderLine, OrderLine.id == ReturnLine.order_line_id)
                .join(Sku, Sku.id == OrderLine.sku_id)
                .join(Order, Order.id == ReturnRequest.order_id)
                .where(requested, *order_channel(filters))
                .group_by(Sku.id)
            ).all()
        )
    returned_units = dict(rollup.added(1, *returned_parts))
    skus = (
        {
            sku_id: (code, title)
            for sku_id, code, title in session.execute(
                select(Sku.id, Sku.code, Sku.title).where(Sku.id.in_(returned_units))
            ).all()
        }
        if returned_units
        else {}
    )
    # Ties go by code in the database's collation, as ORDER BY code puts them.
    by_code = {sku_id: rank for rank, sku_id in enumerate(ordered_ids(session, Sku.id, Sku.code, skus))}
    sku_rows = sorted(
        ((sku_id, *skus[sku_id], n) for sku_id, n in returned_units.items()),
        key=lambda r: (-r[3], by_code[r[0]]),
    )[:TOP]
    sold: dict[int, int] = {}
    sku_reasons: dict[str, list[tuple[str, int]]] = {}
    if sku_rows:
        ids = [r[0] for r in sku_rows]
        sold_parts: list[Any] = []
        request_parts: list[Any] = []
        if window.has_summary:
            sold_parts.append(
                session.execute(
                    select(SkuDay.sku_id, func.sum(SkuDay.units))
                    .where(summed(SkuDay.day), SkuDay.sku_id.in_(ids), *summary_channel(SkuDay))
                    .group_by(SkuDay.sku_id)
                ).all()
            )
            request_parts.append(
                session.execute(
                    select(SkuReturnDay.sku_id, SkuReturnDay.reason, func.sum(SkuReturnDay.requests))
                    .where(
                        summed(SkuReturnDay.day), SkuReturnDay.sku_id.in_(ids), *summary_channel(SkuReturnDay)
                    )
                    .group_by(SkuReturnDay.sku_id, SkuReturnDay.reason)
                ).all()
            )
        if window.has_live:
            sold_parts.append(
                session.execute(
                    select(OrderLine.sku_id, func.sum(OrderLine.quantity))
                    .join(Order, Order.id == OrderLine.order_id)
                    .where(placed, OrderLine.sku_id.in_(ids), *order_channel(filters))
                    .group_by(OrderLine.sku_id)
                ).all()
            )
            request_parts.append(
                session.execute(
                    select(Sku.id, ReturnRequest.reason, func.count(func.distinct(ReturnRequest.id)))
                    .select_from(ReturnRequest)
                    .join(ReturnLine, ReturnLine.return_id == ReturnRequest.id)
                    .join(OrderLine, OrderLine.id == ReturnLine.order_line_id)
                    .join(Sku, Sku.id == OrderLine.sku_id)
                    .join(Order, Order.id == ReturnRequest.order_id)
                    .where(requested, Sku.id.in_(ids), *order_channel(filters))
                    .group_by(Sku.id, ReturnRequest.reason)
                ).all()
            )
        sold = dict(rollup.added(1, *sold_parts))
        sku_reasons = rules.top_per_group(
            [(skus[sku_id][0], reason, n) for sku_id, reason, n in rollup.added(2, *request_parts)], 2
        )
    sku_table = Table(
        "returns_by_sku",
        f"Most returned SKUs (top {TOP})",
        (
            Column("SKU"),
            Column("Product"),
            Column("Units returned", "int"),
            Column("Units sold in period", "int"),
            Column("Return rate (units)", "pct"),
            Column("Top reasons"),
        ),
        [
            (
                code,
                title,
                n,
                sold.get(sku_id, 0),
                rules.rate(n, sold.get(sku_id, 0)),
                ", ".join(f"{r.replace('_', ' ')} ({c})" for r, c in sku_reasons.get(code, [])),
            )
            for sku_id, code, title, n in sku_rows
        ],
    )

    week = bucket(ReturnRequest.requested_at, epoch(period.week_origin), WEEK).label("week")
    refund_week = bucket(Refund.created_at, epoch(period.week_origin), WEEK).label("week")
    reason_week_parts: list[Any] = []
    refund_week_parts: list[Any] = []
    if window.has_summary:
        summary_week = rollup.day_bucket(ReturnDay.day, period.week_origin, 7).label("week")
        reason_week_parts.append(
            session.execute(
                select(summary_week, ReturnDay.reason, func.sum(ReturnDay.requests))
                .where(summed(ReturnDay.day), *summary_channel(ReturnDay))
                .group_by(summary_week, ReturnDay.reason)
            ).all()
        )
        refund_summary_week = rollup.day_bucket(RefundDay.day, period.week_origin, 7).label("week")
        refund_week_parts.append(
            session.execute(
                select(refund_summary_week, RefundDay.currency, func.sum(RefundDay.amount))
                .where(summed(RefundDay.day), *summary_channel(RefundDay))
                .group_by(refund_summary_week, RefundDay.currency)
            ).all()
        )
    if window.has_live:
        reason_week_parts.append(
            session.execute(
                select(week, ReturnRequest.reason, func.count())
                .join(Order, Order.id == ReturnRequest.order_id)
                .where(requested, *order_channel(filters))
                .group_by(week, ReturnRequest.reason)
            ).all()
        )
        refund_week_parts.append(
            session.execute(
                select(refund_week, Refund.currency, func.sum(Refund.amount + Refund.shipping_amount))
                .join(Order, Order.id == Refund.order_id)
                .where(window.live_at(Refund.created_at), *order_channel(filters))
                .group_by(refund_week, Refund.currency)
            ).all()
        )
    reason_week = rollup.added(2, *reason_week_parts)
    reason_names = sorted({r for _, r, _ in reason_week})
    reason_grid = rules.grid(reason_week, len(weeks), reason_names)
    refund_rows = rollup.added(2, *refund_week_parts)
    currency = _main_currency([(c, a) for _, c, a in refund_rows])
    refunded = [0] * len(weeks)
    for w, c, amount in refund_rows:
        if c == currency and 0 <= w < len(weeks):
            refunded[w] += amount
    week_table = Table(
        "returns_week",
        "Return requests per week, by reason, and refunds",
        (
            Column("Week"),
            *(Column(r.replace("_", " ").capitalize(), "int") for r in reason_names),
            Column("Requests", "int"),
            Column(f"Refunded ({currency})" if currency else "Refunded", "money"),
        ),
        [
            (
                labels[i],
                *(reason_grid[r][i] for r in reason_names),
                sum(reason_grid[r][i] for r in reason_names),
                (refunded[i], currency) if currency else None,
            )
            for i in range(len(weeks))
        ],
    )
    week_chart = Chart(
        "returns_week",
        "Return requests per week by reason",
        "bar",
        labels,
        [(r.replace("_", " ").capitalize(), reason_grid[r]) for r in reason_names],
        week_table,
        y_label="Return requests",
        x_label="Week starting",
        stacked=True,
        summary=f"{sum(sum(v) for v in reason_grid.values())} return requests over {len(weeks)} weeks.",
    )
    return Section(charts=[channel_chart, week_chart], tables=[sku_table])


def _main_currency(pairs: Sequence[tuple[str, int]]) -> str | None:
    totals: dict[str, int] = {}
    for currency, amount in pairs:
        totals[currency] = totals.get(currency, 0) + (amount or 0)
    return max(sorted(totals), key=lambda c: totals[c]) if totals else None


def _main_money(rows: Sequence[tuple[int, str, int]]) -> tuple[int, str] | None:
    currency = _main_currency([(c, a) for a, c, _ in rows])
    return (sum(a for a, c, _ in rows if c == currency), currency) if currency else None
