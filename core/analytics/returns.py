"""Returns: return rate and top reasons per channel, SKU and week; refunds."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.analytics import rules
from core.analytics.clock import (
    WEEK,
    bucket,
    epoch,
)
from core.analytics.tables import (
    TOP,
    Chart,
    Column,
    Filters,
    Section,
    Table,
    order_channel,
    week_labels,
    within_period,
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
    requested = within_period(ReturnRequest.requested_at, period)
    orders_placed = session.execute(
        select(Channel.name, func.count(Order.id))
        .join(Channel, Channel.id == Order.channel_id)
        .where(within_period(Order.placed_at, period), *order_channel(filters))
        .group_by(Channel.name)
        .order_by(Channel.name)
    ).all()
    with_return = dict(
        session.execute(
            select(Channel.name, func.count(func.distinct(ReturnRequest.order_id)))
            .join(Order, Order.id == ReturnRequest.order_id)
            .join(Channel, Channel.id == Order.channel_id)
            .where(within_period(Order.placed_at, period), *order_channel(filters))
            .group_by(Channel.name)
        ).all()
    )
    per_channel = [(name, orders, with_return.get(name, 0)) for name, orders in orders_placed]
    reason_rows = session.execute(
        select(Channel.name, ReturnRequest.reason, func.count())
        .join(Order, Order.id == ReturnRequest.order_id)
        .join(Channel, Channel.id == Order.channel_id)
        .where(requested, *order_channel(filters))
        .group_by(Channel.name, ReturnRequest.reason)
    ).all()
    top = rules.top_per_group(reason_rows, 3)
    refunds = session.execute(
        select(Channel.name, Refund.currency, func.sum(Refund.amount + Refund.shipping_amount), func.count())
        .join(Order, Order.id == Refund.order_id)
        .join(Channel, Channel.id == Order.channel_id)
        .where(within_period(Refund.created_at, period), *order_channel(filters))
        .group_by(Channel.name, Refund.currency)
    ).all()
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
    sku_rows = session.execute(
        select(Sku.id, Sku.code, Sku.title, units)
        .select_from(ReturnRequest)
        .join(ReturnLine, ReturnLine.return_id == ReturnRequest.id)
        .join(OrderLine, OrderLine.id == ReturnLine.order_line_id)
        .join(Sku, Sku.id == OrderLine.sku_id)
        .join(Order, Order.id == ReturnRequest.order_id)
        .where(requested, *order_channel(filters))
        .group_by(Sku.id, Sku.code, Sku.title)
        .order_by(units.desc(), Sku.code)
        .limit(TOP)
    ).all()
    sold: dict[int, int] = {}
    sku_reasons: dict[str, list[tuple[str, int]]] = {}
    if sku_rows:
        ids = [r[0] for r in sku_rows]
        sold = dict(
            session.execute(
                select(OrderLine.sku_id, func.sum(OrderLine.quantity))
                .join(Order, Order.id == OrderLine.order_id)
                .where(
                    within_period(Order.placed_at, period), OrderLine.sku_id.in_(ids), *order_channel(filters)
                )
                .group_by(OrderLine.sku_id)
            ).all()
        )
        sku_reasons = rules.top_per_group(
            session.execute(
                select(Sku.code, ReturnRequest.reason, func.count(func.distinct(ReturnRequest.id)))
                .select_from(ReturnRequest)
                .join(ReturnLine, ReturnLine.return_id == ReturnRequest.id)
                .join(OrderLine, OrderLine.id == ReturnLine.order_line_id)
                .join(Sku, Sku.id == OrderLine.sku_id)
                .join(Order, Order.id == ReturnRequest.order_id)
                .where(requested, Sku.id.in_(ids), *order_channel(filters))
                .group_by(Sku.code, ReturnRequest.reason)
            ).all(),
            2,
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
    reason_week = session.execute(
        select(week, ReturnRequest.reason, func.count())
        .join(Order, Order.id == ReturnRequest.order_id)
        .where(requested, *order_channel(filters))
        .group_by(week, ReturnRequest.reason)
    ).all()
    reason_names = sorted({r for _, r, _ in reason_week})
    reason_grid = rules.grid(reason_week, len(weeks), reason_names)
    refund_week = bucket(Refund.created_at, epoch(period.week_origin), WEEK).label("week")
    refund_rows = session.execute(
        select(refund_week, Refund.currency, func.sum(Refund.amount + Refund.shipping_amount))
        .join(Order, Order.id == Refund.order_id)
        .where(within_period(Refund.created_at, period), *order_channel(filters))
        .group_by(refund_week, Refund.currency)
    ).all()
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
