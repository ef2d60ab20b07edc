"""Issue trends: tickets per category per week, per channel and per SKU, and the trend alerts."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.analytics import rollup, rules
from core.analytics.clock import (
    DAY,
    WEEK,
    bucket,
    epoch,
    epoch_seconds,
)
from core.analytics.models import TicketDay, TicketSkuDay
from core.analytics.rules import TrendAlert
from core.analytics.tables import (
    NO_ORDER,
    TOP,
    Chart,
    Column,
    Filters,
    Section,
    Table,
    ticket_channel,
    week_labels,
)
from core.catalog.models import Sku
from core.channels.models import Channel
from core.orders.models import Order, OrderLine
from core.support.models import Conversation


def issue_trends(session: Session, filters: Filters, *, now: datetime) -> Section:
    """Tickets per category per week, per channel and per SKU over the period."""
    period = filters.period
    weeks = period.week_starts()
    week = bucket(Conversation.created_at, epoch(period.week_origin), WEEK).label("week")
    category = func.coalesce(Conversation.category, "other").label("category")
    window = rollup.split(session, period.start_at, period.end_at)
    in_period = window.live_at(Conversation.created_at)
    summed = window.summary_days
    channel_only = [TicketDay.channel_id == filters.channel_id] if filters.channel_id is not None else []
    parts: list[Any] = []
    if window.has_summary:
        summary_week = rollup.day_bucket(TicketDay.day, period.week_origin, 7).label("week")
        parts.append(
            session.execute(
                select(summary_week, TicketDay.category, func.sum(TicketDay.tickets))
                .where(summed(TicketDay.day), *channel_only)
                .group_by(summary_week, TicketDay.category)
            ).all()
        )
    if window.has_live:
        parts.append(
            session.execute(
                ticket_channel(select(week, category, func.count()).where(in_period), filters).group_by(
                    week, category
                )
            ).all()
        )
    rows = rollup.added(2, *parts)
    totals: dict[str, int] = {}
    for _, name, count in rows:
        totals[name] = totals.get(name, 0) + count
    names = sorted(totals, key=lambda n: (-totals[n], n))
    counts = rules.grid(rows, len(weeks), names)
    labels = week_labels(period)
    table = Table(
        "tickets_by_category_week",
        "Tickets per category per week",
        (
            Column("Week"),
            *(Column(n.replace("_", " ").capitalize(), "int") for n in names),
            Column("Total", "int"),
        ),
        [
            (labels[i], *(counts[n][i] for n in names), sum(counts[n][i] for n in names))
            for i in range(len(weeks))
        ],
    )
    busiest = names[0].replace("_", " ") if names else ""
    category_chart = Chart(
        "tickets_by_category_week",
        "Tickets per category per week",
        "bar",
        labels,
        [(n.replace("_", " ").capitalize(), counts[n]) for n in names],
        table,
        y_label="Tickets",
        x_label="Week starting",
        stacked=True,
        summary=(
            f"{sum(totals.values())} tickets over {len(weeks)} weeks; the most common category is {busiest} "
            f"({totals[names[0]]})."
            if names
            else "No tickets in this period."
        ),
    )
    channel_name = func.coalesce(Channel.name, NO_ORDER)
    channel_parts: list[Any] = []
    if window.has_summary:
        channel_parts.append(
            session.execute(
                select(channel_name, func.sum(TicketDay.tickets))
                .select_from(TicketDay)
                .outerjoin(Channel, Channel.id == TicketDay.channel_id)
                .where(summed(TicketDay.day), *channel_only)
                .group_by(channel_name)
            ).all()
        )
    if window.has_live:
        channel_parts.append(
            session.execute(
                ticket_channel(
                    select(channel_name, func.count())
                    .select_from(Conversation)
                    .outerjoin(Order, Order.id == Conversation.order_id)
                    .outerjoin(Channel, Channel.id == Order.channel_id)
                    .where(in_period),
                    filters,
                ).group_by(channel_name)
            ).all()
        )
    rank = rollup.name_rank(session, NO_ORDER)
    by_channel = sorted(rollup.added(1, *channel_parts), key=lambda r: (-r[1], rank.get(r[0], len(rank))))
    channel_table = Table(
        "tickets_by_channel", "Tickets per channel", (Column("Channel"), Column("Tickets", "int")), by_channel
    )
    channel_chart = Chart(
        "tickets_by_channel",
        "Tickets per channel",
        "bar",
        [r[0] for r in by_channel],
        [("Tickets", [r[1] for r in by_channel])],
        channel_table,
        y_label="Tickets",
        summary=", ".join(f"{name}: {n}" for name, n in by_channel) or "No tickets in this period.",
    )
    tickets = func.count(func.distinct(Conversation.id))
    sku_parts: list[Any] = []
    if window.has_summary:
        sku_only = [TicketSkuDay.channel_id == filters.channel_id] if filters.channel_id is not None else []
        sku_parts.append(
            session.execute(
                select(TicketSkuDay.sku_id, func.sum(TicketSkuDay.tickets))
                .where(summed(TicketSkuDay.day), *sku_only)
                .group_by(TicketSkuDay.sku_id)
            ).all()
        )
    if window.has_live:
        sku_parts.append(
            session.execute(
                ticket_channel(
                    select(Sku.id, tickets)
                    .select_from(Conversation)
                    .join(OrderLine, OrderLine.order_id == Conversation.order_id)
                    .join(Sku, Sku.id == OrderLine.sku_id)
                    .where(in_period),
                    filters,
                ).group_by(Sku.id)
            ).all()
        )
    sku_counts = dict(rollup.added(1, *sku_parts))
    by_code = {i: r for r, i in enumerate(rollup.ordered_ids(session, Sku.id, Sku.code, sku_counts))}
    top_ids = sorted(sku_counts, key=lambda i: (-sku_counts[i], by_code[i]))[:TOP]
    sku_names = {
        i: (code, title)
        for i, code, title in (
            session.execute(select(Sku.id, Sku.code, Sku.title).where(Sku.id.in_(top_ids))).all()
            if top_ids
            else []
        )
    }
    by_sku = [(*sku_names[i], sku_counts[i]) for i in top_ids]
    sku_table = Table(
        "tickets_by_sku",
        f"Products most asked about (top {TOP})",
        (Column("SKU"), Column("Product"), Column("Tickets", "int")),
        [tuple(r) for r in by_sku],
    )
    return Section(charts=[category_chart, channel_chart], tables=[sku_table])


def trend_alerts(session: Session, *, now: datetime) -> list[TrendAlert]:
    """Categories, channels, SKUs and SKU-category pairs whose tickets of the last 7 days rose well above
    their
    own baseline of the 8 weeks before (rules.ALERT_RULE), sharpest first."""
    since = now - timedelta(weeks=rules.BASELINE_WEEKS + 1)
    ago = ((epoch(now) - epoch_seconds(Conversation.created_at)) // WEEK).label("ago")
    category = func.coalesce(Conversation.category, "other").label("category")
    alerts: list[TrendAlert] = []
    # Whole days inside one week bucket come from the summaries; the days a bucket edge cuts, live.
    window = rollup.split(
        session, since, now, [now - timedelta(weeks=k) for k in range(rules.BASELINE_WEEKS + 2)]
    )
    live = window.live_at(Conversation.created_at)
    summary_ago = ((epoch(now) - TicketDay.day * DAY) // WEEK).label("ago")
    sku_ago = ((epoch(now) - TicketSkuDay.day * DAY) // WEEK).label("ago")
    category_parts: list[Any] = []
    channel_parts: list[Any] = []
    sku_parts: list[Any] = []
    if window.has_summary:
        summed = window.summary_days
        category_parts.append(
            session.execute(
                select(TicketDay.category, summary_ago, func.sum(TicketDay.tickets))
                .where(summed(TicketDay.day))
                .group_by(TicketDay.category, summary_ago)
            ).all()
        )
        channel_parts.append(
            session.execute(
                select(Channel.code, Channel.name, summary_ago, func.sum(TicketDay.tickets))
                .join(Channel, Channel.id == TicketDay.channel_id)
                .where(summed(TicketDay.day))
                .group_by(Channel.code, Channel.name, summary_ago)
            ).all()
        )
        sku_parts.append(
            session.execute(
                select(Sku.code, TicketSkuDay.category, sku_ago, func.sum(TicketSkuDay.tickets))
                .join(Sku, Sku.id == TicketSkuDay.sku_id)
                .where(summed(TicketSkuDay.day))
                .group_by(Sku.code, TicketSkuDay.category, sku_ago)
            ).all()
        )
    if window.has_live:
        category_parts.append(
            session.execute(select(category, ago, func.count()).where(live).group_by(category, ago)).all()
        )
        channel_parts.append(
            session.execute(
                select(Channel.code, Channel.name, ago, func.count())
                .select_from(Conversation)
                .join(Order, Order.id == Conversation.order_id)
                .join(Channel, Channel.id == Order.channel_id)
                .where(live)
                .group_by(Channel.code, Channel.name, ago)
            ).all()
        )
        tickets = func.count(func.distinct(Conversation.id))
        sku_parts.append(
            session.execute(
                select(Sku.code, category, ago, tickets)
                .select_from(Conversation)
                .join(OrderLine, OrderLine.order_id == Conversation.order_id)
                .join(Sku, Sku.id == OrderLine.sku_id)
                .where(live)
                .group_by(Sku.code, category, ago)
            ).all()
        )

    rows = rollup.added(2, *category_parts)
    alerts += rules.trend_alerts(
        "category",
        (((c,), a, n) for c, a, n in rows),
        {(c,): f"{c.replace('_', ' ').capitalize()} tickets" for c, _, _ in rows},
        {(c,): {"category": c} for c, _, _ in rows},
    )
    rows = rollup.added(3, *channel_parts)
    alerts += rules.trend_alerts(
        "channel",
        (((code,), a, n) for code, _, a, n in rows),
        {(code,): f"Tickets about {name} orders" for code, name, _, _ in rows},
        {(code,): {"channel": code} for code, _, _, _ in rows},
    )
    sku_rows = rollup.added(3, *sku_parts)
    # A ticket about an order of two SKUs counts once for each. A ticket has one category, so its SKU's count
    # of tickets is the sum over categories of the SKU-category counts.
    per_sku: dict[tuple[str, int], int] = {}
    for code, _, weeks_ago, n in sku_rows:
        per_sku[(code, weeks_ago)] = per_sku.get((code, weeks_ago), 0) + n
    per_sku_rows = [(code, weeks_ago, n) for (code, weeks_ago), n in per_sku.items()]
    alerts += rules.trend_alerts(
        "sku",
        (((code,), a, n) for code, a, n in per_sku_rows),
        {(code,): f"Tickets about SKU {code}" for code, _, _ in per_sku_rows},
        {(code,): {"sku": code} for code, _, _ in per_sku_rows},
    )
    alerts += rules.trend_alerts(
        "sku_category",
        (((code, c), a, n) for code, c, a, n in sku_rows),
        {
            (code, c): f"{c.replace('_', ' ').capitalize()} tickets about SKU {code}"
            for code, c, _, _ in sku_rows
        },
        {(code, c): {"sku": code, "category": c} for code, c, _, _ in sku_rows},
    )
    return rules.rank_alerts(alerts)
