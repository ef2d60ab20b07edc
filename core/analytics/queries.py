"""The managers' dashboard: issue trends, service, returns and channel KPIs for a period and an optional
channel, each section a fixed handful of GROUP BY queries whose rows core.analytics.rules turns into figures.

Each section lives in its own module (issues, service, returns, kpis); this one assembles the page.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.analytics.issues import issue_trends, trend_alerts
from core.analytics.kpis import channel_kpis
from core.analytics.returns import returns
from core.analytics.rules import Period, TrendAlert
from core.analytics.service import service
from core.analytics.tables import (
    Filters,
    Section,
    Table,
)
from core.channels.models import Channel

SECTIONS: dict[str, Callable[..., Section]] = {
    "issues": issue_trends,
    "service": service,
    "returns": returns,
    "channels": channel_kpis,
}


@dataclass(frozen=True)
class Dashboard:
    filters: Filters
    channels: list[tuple[str, str]]
    alerts: list[TrendAlert]
    sections: dict[str, Section]

    def table(self, key: str) -> Table | None:
        for section in self.sections.values():
            for table in section.all_tables():
                if table.key == key:
                    return table
        return None


def channel_choices(session: Session) -> list[tuple[str, str]]:
    return [
        tuple(r) for r in session.execute(select(Channel.code, Channel.name).order_by(Channel.name)).all()
    ]


def resolve_filters(session: Session, period: Period, channel_code: str) -> Filters:
    """The filters with the channel's id looked up; an unknown channel code means every channel."""
    channel_id = (
        session.scalar(select(Channel.id).where(Channel.code == channel_code)) if channel_code else None
    )
    return Filters(period, channel_code if channel_id is not None else "", channel_id)


def dashboard(
    session: Session, filters: Filters, *, now: datetime, sections: Sequence[str] | None = None
) -> Dashboard:
    """The managers' dashboard for a period (and a channel): trend alerts and the chosen sections."""
    names = list(sections) if sections is not None else list(SECTIONS)
    return Dashboard(
        filters,
        channel_choices(session),
        trend_alerts(session, now=now) if sections is None else [],
        {name: SECTIONS[name](session, filters, now=now) for name in names},
    )


TABLE_SECTIONS = {
    "tickets_by_category_week": "issues",
    "tickets_by_channel": "issues",
    "tickets_by_sku": "issues",
    "response_times_week": "service",
    "sla_week": "service",
    "backlog_day": "service",
    "agent_workload": "service",
    "handoff_reasons": "service",
    "csat_comments": "service",
    "returns_by_channel": "returns",
    "returns_by_sku": "returns",
    "returns_week": "returns",
    "channel_orders": "channels",
    "channel_kpis": "channels",
}


def export_table(session: Session, filters: Filters, key: str, *, now: datetime) -> Table | None:
    """One table of the dashboard (only its section computed), or None for an unknown key."""
    section = TABLE_SECTIONS.get(key)
    if section is None:
        return None
    return dashboard(session, filters, now=now, sections=[section]).table(key)
