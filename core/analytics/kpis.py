"""Channel KPIs (rules.KPI_DEFINITIONS) per channel for a period and the one before it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import and_, case, exists, func, literal, or_, select
from sqlalchemy.orm import Session, aliased

from core.analytics import rollup, rules
from core.analytics.clock import DAY, epoch_seconds, from_epoch
from core.analytics.models import ChannelTraffic, OrderDay
from core.analytics.rules import ChannelFigures
from core.analytics.tables import (
    Chart,
    Column,
    Filters,
    Section,
    Table,
    order_channel,
)
from core.catalog.models import Sku
from core.channels.models import Channel
from core.fulfillment.models import Shipment, TrackingEvent
from core.inventory.models import StockLevel
from core.money import to_decimal_string
from core.orders.models import Order, OrderLine
from core.returns.models import ReturnRequest


def channel_kpis(session: Session, filters: Filters, *, now: datetime) -> Section:
    """Every KPI of rules.KPI_DEFINITIONS per channel, for the period and the one before it."""
    period, previous = filters.period, filters.period.previous
    window = rollup.split(session, previous.start_at, period.end_at, now=now)
    which = case((Order.placed_at >= period.start_at, 1), else_=0).label("which")
    channel = order_channel(filters)
    figures: dict[tuple[int, int], dict[str, Any]] = {}

    def put(rows: Any, *names: str) -> None:
        """Add a query's sums into the figures (the summed days' and the live ones' add up)."""
        for channel_id, period_no, *values in rows:
            into = figures.setdefault((channel_id, period_no), {})
            for name, value in zip(names, values, strict=True):
                if name == "currency":
                    known = [v for v in (into.get(name), value) if v is not None]
                    into[name] = max(known) if known else None
                else:
                    into[name] = into.get(name, 0) + int(value or 0)

    if window.has_summary:
        _summed_figures(session, put, filters, window, period.start_at, now)
    if window.has_live:
        _live_figures(session, put, window.live_at(Order.placed_at), which, channel, now)
    traffic_which = case((ChannelTraffic.day >= period.start, 1), else_=0)
    put(
        session.execute(
            select(
                ChannelTraffic.channel_id,
                traffic_which,
                func.sum(ChannelTraffic.visits),
                func.sum(ChannelTraffic.spend),
            )
            .where(ChannelTraffic.day >= previous.start, ChannelTraffic.day <= period.end)
            .where(
                *([ChannelTraffic.channel_id == filters.channel_id] if filters.channel_id is not None else [])
            )
            .group_by(ChannelTraffic.channel_id, traffic_which)
        ).all(),
        "visits",
        "spend",
    )
    inventory_value = (
        session.scalar(
            select(func.coalesce(func.sum(StockLevel.on_hand * Sku.cost), 0)).join(
                Sku, Sku.id == StockLevel.sku_id
            )
        )
        or 0
    )
    channels = session.execute(
        select(Channel.id, Channel.name).where(
            Channel.id.in_({cid for cid, _ in figures}) if figures else literal(False)
        )
    ).all()
    kpi_rows = []
    for channel_id, name in sorted(channels, key=lambda c: c[1]):
        now_f = ChannelFigures(**figures.get((channel_id, 1), {}))
        before_f = ChannelFigures(**figures.get((channel_id, 0), {}))
        currency = now_f.currency if now_f.orders else before_f.currency
        kpi_rows.append(
            {
                "channel": name,
                "currency": currency,
                "current": rules.kpi_values(now_f, inventory_value),
                "previous": rules.kpi_values(before_f, inventory_value),
            }
        )
    for row in kpi_rows:
        row["change"] = {
            k: rules.change(row["current"][k], row["previous"][k]) for k in rules.KPI_DEFINITIONS
        }
        row["direction"] = {k: rules.direction(k, row["change"][k]) for k in rules.KPI_DEFINITIONS}
        for which in ("current", "previous"):  # what the page's cells show: money with its currency
            row[f"{which}_cell"] = {
                k: (v, row["currency"]) if rules.KPI_DEFINITIONS[k][1] == "money" and v is not None else v
                for k, v in row[which].items()
            }
    table = Table(
        "channel_orders",
        "Orders per channel, this period and the one before",
        (
            Column("Channel"),
            Column("Orders", "int"),
            Column("Orders before", "int"),
            Column("Change", "pct"),
            Column("Average order value", "money"),
            Column("Average order value before", "money"),
        ),
        [
            (
                r["channel"],
                r["current"]["orders"],
                r["previous"]["orders"],
                r["change"]["orders"],
                (r["current"]["aov"], r["currency"]) if r["current"]["aov"] is not None else None,
                (r["previous"]["aov"], r["currency"]) if r["previous"]["aov"] is not None else None,
            )
            for r in kpi_rows
        ],
        empty="No orders in this period or the one before.",
    )
    chart = Chart(
        "channel_orders",
        "Orders per channel: this period and the one before",
        "bar",
        [r["channel"] for r in kpi_rows],
        [
            (f"{period.start} to {period.end}", [r["current"]["orders"] for r in kpi_rows]),
            (f"{previous.start} to {previous.end}", [r["previous"]["orders"] for r in kpi_rows]),
        ],
        table,
        y_label="Orders",
        summary="; ".join(
            f"{r['channel']}: {r['current']['orders']} orders (before: {r['previous']['orders']})"
            for r in kpi_rows
        )
        or "No orders in this period or the one before.",
    )
    kpi_table = Table(
        "channel_kpis",
        "Channel KPIs",
        (
            Column("Channel"),
            Column("KPI"),
            Column("This period"),
            Column("Previous period"),
            Column("Change %", "pct"),
        ),
        [
            (
                r["channel"],
                rules.KPI_DEFINITIONS[k][0],
                _plain(r["current"][k], rules.KPI_DEFINITIONS[k][1], r["currency"]),
                _plain(r["previous"][k], rules.KPI_DEFINITIONS[k][1], r["currency"]),
                r["change"][k],
            )
            for r in kpi_rows
            for k in rules.KPI_DEFINITIONS
        ],
    )
    return Section(
        charts=[chart], tables=[kpi_table], extra={"kpis": kpi_rows, "inventory_value": inventory_value}
    )


def _summed_figures(
    session: Session,
    put: Any,
    filters: Filters,
    window: rollup.Window,
    current_start: datetime,
    now: datetime,
) -> None:
    """The figures of the summed days (OrderDay), and the revenue their new customers brought since."""
    which = case((OrderDay.day >= rollup.day_of(current_start), 1), else_=0).label("which")
    channel = [OrderDay.channel_id == filters.channel_id] if filters.channel_id is not None else []
    sums = (
        "orders",
        "cancelled",
        "kept_orders",
        "revenue",
        "returned_orders",
        "cogs",
        "parcels",
        "tracked_parcels",
        "fulfilment_seconds",
        "promised_parcels",
        "late",
        "new_customers",
        "new_customer_revenue",
    )
    put(
        session.execute(
            select(
                OrderDay.channel_id,
                which,
                *(func.sum(getattr(OrderDay, name)) for name in sums),
                func.max(OrderDay.currency),
            )
            .where(window.summary_days(OrderDay.day), *channel)
            .group_by(OrderDay.channel_id, which)
        ).all(),
        *sums,
        "currency",
    )
    # The summed lifetime revenue stops at the watermark: add the orders placed since, up to now, of the
    # customers whose first order is on a summed day.
    watermark = from_epoch((window.through or 0) * DAY)
    first, earlier, later = aliased(Order), aliased(Order), aliased(Order)
    first_which = case((first.placed_at >= current_start, 1), else_=0)
    put(
        session.execute(
            select(
                first.channel_id,
                first_which,
                func.coalesce(
                    func.sum(later.total - later.refunded_total).filter(later.status != "cancelled"), 0
                ),
            )
            .select_from(later)
            .join(first, first.customer_id == later.customer_id)
            .where(later.placed_at >= watermark, later.placed_at <= now)
            .where(
                or_(
                    *(
                        and_(first.placed_at >= from_epoch(a * DAY), first.placed_at < from_epoch(b * DAY))
                        for a, b in window.summary
                    )
                ),
                *([first.channel_id == filters.channel_id] if filters.channel_id is not None else []),
            )
            .where(
                ~exists().where(
                    earlier.customer_id == first.customer_id,
                    or_(
                        earlier.placed_at < first.placed_at,
                        and_(earlier.placed_at == first.placed_at, earlier.id < first.id),
                    ),
                )
            )
            .group_by(first.channel_id, first_which)
        ).all(),
        "new_customer_revenue",
    )


def _live_figures(
    session: Session, put: Any, span: Any, which: Any, channel: list[Any], now: datetime
) -> None:
    """The figures of the orders placed in `span`, from the operational tables."""
    kept = Order.status != "cancelled"
    put(
        session.execute(
            select(
                Order.channel_id,
                which,
                func.count(),
                func.count().filter(Order.status == "cancelled"),
                func.count().filter(kept),
                func.coalesce(func.sum(Order.total).filter(kept), 0),
                func.max(Order.currency),
            )
            .where(span, *channel)
            .group_by(Order.channel_id, which)
        ).all(),
        "orders",
        "cancelled",
        "kept_orders",
        "revenue",
        "currency",
    )
    put(
        session.execute(
            select(Order.channel_id, which, func.count(func.distinct(ReturnRequest.order_id)))
            .join(ReturnRequest, ReturnRequest.order_id == Order.id)
            .where(span, *channel)
            .group_by(Order.channel_id, which)
        ).all(),
        "returned_orders",
    )
    earlier = aliased(Order)
    first_orders = (
        select(Order.channel_id.label("channel_id"), which, Order.customer_id.label("customer_id"))
        .where(span, *channel, Order.customer_id.is_not(None))
        .where(
            ~exists().where(
                earlier.customer_id == Order.customer_id,
                or_(
                    earlier.placed_at < Order.placed_at,
                    and_(earlier.placed_at == Order.placed_at, earlier.id < Order.id),
                ),
            )
        )
        .subquery()
    )
    lifetime = aliased(Order)
    put(
        session.execute(
            select(
                first_orders.c.channel_id,
                first_orders.c.which,
                func.count(func.distinct(first_orders.c.customer_id)),
                func.coalesce(
                    func.sum(lifetime.total - lifetime.refunded_total).filter(lifetime.status != "cancelled"),
                    0,
                ),
            )
            .select_from(first_orders)
            .join(
                lifetime, and_(lifetime.customer_id == first_orders.c.customer_id, lifetime.placed_at <= now)
            )
            .group_by(first_orders.c.channel_id, first_orders.c.which)
        ).all(),
        "new_customers",
        "new_customer_revenue",
    )
    put(
        session.execute(
            select(Order.channel_id, which, func.coalesce(func.sum(OrderLine.quantity * Sku.cost), 0))
            .join(OrderLine, OrderLine.order_id == Order.id)
            .join(Sku, Sku.id == OrderLine.sku_id)
            .where(span, kept, *channel)
            .group_by(Order.channel_id, which)
        ).all(),
        "cogs",
    )
    # Parcels of the orders placed in the period: how long each took to leave, whether it left after the
    # promised dispatch date, and whether the carrier ever reported on its tracking number.
    tracked = and_(
        func.coalesce(Shipment.tracking_number, "") != "",
        exists().where(TrackingEvent.shipment_id == Shipment.id),
    )
    put(
        session.execute(
            select(
                Order.channel_id,
                which,
                func.count(),
                func.count().filter(tracked),
                func.coalesce(
                    func.sum(epoch_seconds(Shipment.shipped_at) - epoch_seconds(Order.placed_at)), 0
                ),
                func.count().filter(Order.expected_dispatch_by.is_not(None)),
                func.count().filter(Shipment.shipped_at > Order.expected_dispatch_by),
            )
            .join(Shipment, Shipment.order_id == Order.id)
            .where(span, *channel, Shipment.shipped_at.is_not(None))
            .group_by(Order.channel_id, which)
        ).all(),
        "parcels",
        "tracked_parcels",
        "fulfilment_seconds",
        "promised_parcels",
        "late",
    )


def _plain(value: Any, kind: str, currency: str) -> Any:
    """A KPI value for the CSV: money as a decimal string with its currency."""
    if value is None:
        return None
    if kind == "money":
        return f"{to_decimal_string(value, currency)} {currency}"
    return value
