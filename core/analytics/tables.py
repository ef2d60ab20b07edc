"""What the dashboard's sections share: tables and charts as the page shows them, the filters, the
period conditions, and medians and p90s taken in SQL with window functions (nearest rank: the value at rank
ceil(p x n) in order), so only one row per group leaves the database."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import and_, case, func, select
from sqlalchemy.orm import Session

from core.analytics.clock import (
    DAY,
    clock_rows,
    clock_table,
    epoch,
)
from core.analytics.rules import Period
from core.orders.models import Order
from core.support.models import Conversation
from core.support.sla_services import load_calendar

SOLVED = ("solved", "closed")
NO_ORDER = "No order"
TOP = 10


@dataclass(frozen=True)
class Column:
    label: str
    kind: str = "text"  # text, int, num, pct, hours, money (a (minor units, currency) pair), date


@dataclass(frozen=True)
class Table:
    """A table as the page shows it and the CSV export writes it."""

    key: str
    title: str
    columns: tuple[Column, ...]
    rows: list[tuple[Any, ...]]
    empty: str = "Nothing in this period."


@dataclass(frozen=True)
class Chart:
    """A Chart.js chart of one table: labels along x, one dataset per series; `summary` is its text
    alternative."""

    key: str
    title: str
    kind: str  # bar, line
    labels: list[str]
    series: list[tuple[str, list[float | int | None]]]
    table: Table
    y_label: str = ""
    x_label: str = ""
    stacked: bool = False
    summary: str = ""

    def data(self) -> dict[str, Any]:
        """What static/js/analytics.js reads from the page to draw the chart."""
        return {
            "type": self.kind,
            "labels": self.labels,
            "datasets": [{"label": name, "data": values} for name, values in self.series],
            "stacked": self.stacked,
            "yLabel": self.y_label,
            "xLabel": self.x_label,
        }


@dataclass(frozen=True)
class Filters:
    period: Period
    channel_code: str = ""
    channel_id: int | None = None


@dataclass
class Section:
    charts: list[Chart] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)

    def all_tables(self) -> list[Table]:
        return [c.table for c in self.charts] + self.tables


def within_period(column: Any, period: Period) -> Any:
    return and_(column >= period.start_at, column < period.end_at)


def ticket_channel(statement: Any, filters: Filters) -> Any:
    """Narrow a statement over conversations to the tickets about the filtered channel's orders."""
    if filters.channel_id is None:
        return statement
    return statement.where(
        Conversation.order_id.in_(select(Order.id).where(Order.channel_id == filters.channel_id))
    )


def order_channel(filters: Filters) -> list[Any]:
    return [Order.channel_id == filters.channel_id] if filters.channel_id is not None else []


def percentiles(session: Session, values: Any) -> dict[Any, tuple[int, int | None, int | None]]:
    """{group: (count, median, p90)} of a subquery with columns `grp` and `val` (nearest rank)."""
    ranked = select(
        values.c.grp,
        values.c.val,
        func.row_number().over(partition_by=values.c.grp, order_by=values.c.val).label("rn"),
        func.count().over(partition_by=values.c.grp).label("n"),
    ).subquery()
    rows = session.execute(
        select(
            ranked.c.grp,
            ranked.c.n,
            func.max(case((ranked.c.rn == (ranked.c.n + 1) // 2, ranked.c.val))),
            func.max(case((ranked.c.rn == (9 * ranked.c.n + 9) // 10, ranked.c.val))),
        ).group_by(ranked.c.grp, ranked.c.n)
    ).all()
    return {grp: (n, median, p90) for grp, n, median, p90 in rows}


def week_labels(period: Period) -> list[str]:
    return [f"w/c {d.isoformat()}" for d in period.week_starts()]


def business_clock(session: Session, period: Period, now: datetime) -> Any:
    last = max(now, period.end_at)
    rows = clock_rows(load_calendar(session), epoch(period.start_at) // DAY - 1, epoch(last) // DAY + 1)
    return clock_table(rows)
