"""Issue trends: tickets per category per week, per channel and per SKU, and the trend alerts."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from core.analytics import rules
from core.analytics.clock import (
    WEEK,
    bucket,
    epoch,
    epoch_seconds,
)
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
    within_period,
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
    in_period = within_period(Conversation.created_at, period)
    rows = session.execute(
        ticket_channel(select(week, category, func.count()).where(in_period), filters).group_by(
            week, category
        )
    ).all()
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
    by_channel = session.execute(
        ticket_channel(
            select(channel_name, func.count())
            .select_from(Conversation)
            .outerjoin(Order, Order.id == Conversation.order_id)
            .outerjoin(Channel, Channel.id == Order.channel_id)
            .where(in_period),
            filters,
        )
        .group_by(channel_name)
        .order_by(func.count().desc(), channel_name)
    ).all()
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
    by_sku = session.execute(
        ticket_channel(
            select(Sku.code, Sku.title, tickets)
            .select_from(Conversation)
            .join(OrderLine, OrderLine.order_id == Conversation.order_id)
            .join(Sku, Sku.id == OrderLine.sku_id)
            .where(in_period),
            filters,
        )
        .group_by(Sku.code, Sku.title)
        .order_by(tickets.desc(), Sku.code)
        .limit(TOP)
    ).all()
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
    window = and_(Conversation.created_at >= since, Conversation.created_at < now)
    category = func.coalesce(Conversation.category, "other").label("category")
    alerts: list[TrendAlert] = []

    rows = session.execute(select(category, ago, func.count()).where(window).group_by(category, ago)).all()
    alerts += rules.trend_alerts(
        "category",
        (((c,), a, n) for c, a, n in rows),
        {(c,): f"{c.replace('_', ' ').capitalize()} tickets" for c, _, _ in rows},
        {(c,): {"category": c} for c, _, _ in rows},
    )
    rows = session.execute(
        select(Channel.code, Channel.name, ago, func.count())
        .select_from(Conversation)
        .join(Order, Order.id == Conversation.order_id)
        .join(Channel, Channel.id == Order.channel_id)
        .where(window)
        .group_by(Channel.code, Channel.name, ago)
    ).all()
    alerts += rules.trend_alerts(
        "channel",
        (((code,), a, n) for code, _, a, n in rows),
        {(code,): f"Tickets about {name} orders" for code, name, _, _ in rows},
        {(code,): {"channel": code} for code, _, _, _ in rows},
    )
    tickets = func.count(func.distinct(Conversation.id))
    sku_rows = session.execute(
        select(Sku.code, category, ago, tickets)
        .select_from(Conversation)
        .join(OrderLine, OrderLine.order_id == Conversation.order_id)
        .join(Sku, Sku.id == OrderLine.sku_id)
        .where(window)
        .group_by(Sku.code, category, ago)
    ).all()
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
