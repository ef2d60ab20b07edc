"""Service: response and resolution times in business hours (core.analytics.clock), SLA by week, backlog,
CSAT, agent workload and the assistant's automation and handoffs."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import and_, case, exists, func, literal, or_, select, union_all
from sqlalchemy.orm import Session

from core.analytics import rollup, rules
from core.analytics.clock import (
    DAY,
    WEEK,
    bucket,
    business_seconds,
    day_number,
    epoch,
    epoch_seconds,
)
from core.analytics.models import TicketFact
from core.analytics.tables import (
    SOLVED,
    TOP,
    Chart,
    Column,
    Filters,
    Section,
    Table,
    business_clock,
    percentiles,
    ticket_channel,
    week_labels,
    within_period,
)
from core.security.models import User
from core.support.csat import satisfaction_summary
from core.support.models import Conversation, Message, SatisfactionRating

EARLIEST = datetime(1970, 1, 2, tzinfo=UTC)  # before any ticket: the start of "opened before the period"


def _handoff() -> Any:
    return and_(
        Message.author_kind == "system",
        Message.data["event"].as_string() == "handoff",
    )


def service(session: Session, filters: Filters, *, now: datetime) -> Section:
    """Response and resolution times in business hours, SLA by week, backlog, CSAT, workload, the
    assistant."""
    period = filters.period
    weeks = period.week_starts()
    labels = week_labels(period)
    clock = business_clock(session, period, now)
    opened, reached = clock.alias("opened"), clock.alias("reached")
    week = bucket(Conversation.created_at, epoch(period.week_origin), WEEK)
    in_period = within_period(Conversation.created_at, period)

    window = rollup.split(session, period.start_at, period.end_at)
    last_clock_day = epoch(max(now, period.end_at)) // DAY + 1  # the live clock's last day (tables.py)

    def times(stamp: Any, fact: Any, fact_day: Any) -> tuple[dict[Any, Any], dict[Any, Any]]:
        """Per week and over the period: count, median, p90 of business seconds from opening to `stamp`,
        the summed days' from TicketFact and the rest live."""
        weekly_parts: list[Any] = []
        overall_parts: list[Any] = []
        if window.has_summary:
            facts = select(fact.label("val")).where(
                window.summary_days(TicketFact.day),
                fact.is_not(None),
                fact_day <= last_clock_day,
                *([TicketFact.channel_id == filters.channel_id] if filters.channel_id is not None else []),
            )
            weekly_parts.append(
                facts.add_columns(rollup.day_bucket(TicketFact.day, period.week_origin, 7).label("grp"))
            )
            overall_parts.append(facts.add_columns(literal(0).label("grp")))
        if window.has_live:
            base = (
                select(
                    (
                        business_seconds(reached, stamp) - business_seconds(opened, Conversation.created_at)
                    ).label("val")
                )
                .select_from(Conversation)
                .join(opened, opened.c.day == day_number(Conversation.created_at))
                .join(reached, reached.c.day == day_number(stamp))
                .where(
                    window.live_at(Conversation.created_at),
                    stamp.is_not(None),
                    stamp >= Conversation.created_at,
                )
            )
            base = ticket_channel(base, filters)
            weekly_parts.append(base.add_columns(week.label("grp")))
            overall_parts.append(base.add_columns(literal(0).label("grp")))
        if not weekly_parts:
            return {}, {}
        weekly = union_all(*weekly_parts).subquery()
        overall = union_all(*overall_parts).subquery()
        return percentiles(session, weekly), percentiles(session, overall)

    first_weeks, first_all = times(
        Conversation.first_responded_at, TicketFact.first_response, TicketFact.first_response_day
    )
    solve_weeks, solve_all = times(Conversation.solved_at, TicketFact.resolution, TicketFact.resolution_day)

    def h(value: int | None) -> float | None:
        return rules.hours(value)

    time_table = Table(
        "response_times_week",
        "Response and resolution times per week (business hours)",
        (
            Column("Week"),
            Column("First responses", "int"),
            Column("First response median", "hours"),
            Column("First response p90", "hours"),
            Column("Resolved", "int"),
            Column("Resolution median", "hours"),
            Column("Resolution p90", "hours"),
        ),
        [
            (
                labels[i],
                first_weeks.get(i, (0, None, None))[0],
                h(first_weeks.get(i, (0, None, None))[1]),
                h(first_weeks.get(i, (0, None, None))[2]),
                solve_weeks.get(i, (0, None, None))[0],
                h(solve_weeks.get(i, (0, None, None))[1]),
                h(solve_weeks.get(i, (0, None, None))[2]),
            )
            for i in range(len(weeks))
        ],
    )
    overall = {
        "first_response": tuple(first_all.get(0, (0, None, None))),
        "resolution": tuple(solve_all.get(0, (0, None, None))),
    }
    time_chart = Chart(
        "response_times_week",
        "First response and resolution, median and p90 (business hours)",
        "line",
        labels,
        [
            ("First response median", [r[2] for r in time_table.rows]),
            ("First response p90", [r[3] for r in time_table.rows]),
            ("Resolution median", [r[5] for r in time_table.rows]),
            ("Resolution p90", [r[6] for r in time_table.rows]),
        ],
        time_table,
        y_label="Business hours",
        x_label="Week tickets were opened",
        summary=(
            f"Over the period: first response median {h(overall['first_response'][1])} h, p90 "
            f"{h(overall['first_response'][2])} h over {overall['first_response'][0]} tickets; "
            "resolution median "
            f"{h(overall['resolution'][1])} h, p90 {h(overall['resolution'][2])} h over "
            f"{overall['resolution'][0]} tickets."
        ),
    )

    breached = or_(
        Conversation.first_response_breached_at.is_not(None), Conversation.resolution_breached_at.is_not(None)
    )
    has_target = or_(
        Conversation.first_response_due_at.is_not(None), Conversation.resolution_due_at.is_not(None)
    )
    sla_rows = session.execute(
        ticket_channel(
            select(
                week.label("week"),
                func.count().filter(and_(has_target, ~breached, Conversation.status.in_(SOLVED))),
                func.count().filter(breached),
                func.count().filter(and_(has_target, ~breached, Conversation.status.not_in(SOLVED))),
            ).where(in_period),
            filters,
        ).group_by(week)
    ).all()
    sla = {w: (met, missed, running) for w, met, missed, running in sla_rows}
    sla_table = Table(
        "sla_week",
        "SLA met and breached per week",
        (
            Column("Week"),
            Column("Met", "int"),
            Column("Breached", "int"),
            Column("Still running", "int"),
            Column("Met %", "pct"),
        ),
        [
            (
                labels[i],
                *sla.get(i, (0, 0, 0)),
                rules.rate(sla.get(i, (0, 0, 0))[0], sum(sla.get(i, (0, 0, 0))[:2])),
            )
            for i in range(len(weeks))
        ],
    )
    sla_chart = Chart(
        "sla_week",
        "SLA met and breached per week",
        "bar",
        labels,
        [("Met", [r[1] for r in sla_table.rows]), ("Breached", [r[2] for r in sla_table.rows])],
        sla_table,
        y_label="Tickets",
        x_label="Week tickets were opened",
        stacked=True,
        summary=(
            f"{sum(r[1] for r in sla_table.rows)} tickets met their SLA and "
            f"{sum(r[2] for r in sla_table.rows)} breached it."
        ),
    )

    backlog = _backlog(session, filters)
    days = period.day_list()
    backlog_table = Table(
        "backlog_day",
        "Backlog: unsolved tickets at the end of each day",
        (Column("Day", "date"), Column("Unsolved", "int")),
        list(zip([d.isoformat() for d in days], backlog, strict=True)),
    )
    backlog_chart = Chart(
        "backlog_day",
        "Backlog over time",
        "line",
        [d.isoformat() for d in days],
        [("Unsolved tickets", backlog)],
        backlog_table,
        y_label="Unsolved tickets",
        x_label="Day",
        summary=f"{backlog[0] if backlog else 0} unsolved at the end of the first day, "
        f"{backlog[-1] if backlog else 0} at the end of the last.",
    )

    csat = satisfaction_summary(session, since=period.start_at, until=period.end_at)
    comments = session.execute(
        select(SatisfactionRating.rated_at, SatisfactionRating.score, SatisfactionRating.comment)
        .where(within_period(SatisfactionRating.rated_at, period), SatisfactionRating.comment.is_not(None))
        .where(SatisfactionRating.comment != "")
        .order_by(SatisfactionRating.rated_at.desc())
        .limit(TOP)
    ).all()
    comment_table = Table(
        "csat_comments",
        "Latest satisfaction comments",
        (Column("Rated", "date"), Column("Score", "int"), Column("Comment")),
        [(r.date().isoformat(), s, c) for r, s, c in comments],
        empty="No comments in this period.",
    )

    workload = _workload(session, filters)
    automation, reasons, after = _assistant(session, filters, clock)
    reason_table = Table(
        "handoff_reasons",
        "Why the assistant handed chats to a person",
        (Column("Reason"), Column("Chats", "int")),
        reasons,
        empty="No handoffs in this period.",
    )
    return Section(
        charts=[time_chart, sla_chart, backlog_chart],
        tables=[workload, reason_table, comment_table],
        extra={
            "times": {k: (n, h(m), h(p)) for k, (n, m, p) in overall.items()},
            "csat": csat,
            "automation": automation,
            "after_handoff": (after[0], h(after[1]), h(after[2])),
        },
    )


def _resolved_at() -> Any:
    """When a ticket stopped being unsolved, for the backlog: solved_at, or its last update when closed
    without."""
    return case(
        (Conversation.status.in_(SOLVED), func.coalesce(Conversation.solved_at, Conversation.updated_at)),
        else_=None,
    )


def _backlog(session: Session, filters: Filters) -> list[int]:
    """Unsolved tickets at the end of each day of the period (three counts and a running sum), from the
    ticket facts for the summed days of opening and live for the rest."""
    period = filters.period
    resolved_at = _resolved_at()
    origin = epoch(period.start_at)
    first, after = origin // DAY, epoch(period.end_at) // DAY
    before = rollup.split(session, EARLIEST, period.start_at)  # tickets opened before the period
    inside = rollup.split(session, period.start_at, period.end_at)
    channel = [TicketFact.channel_id == filters.channel_id] if filters.channel_id is not None else []
    opening = 0
    created: dict[int, int] = {}
    resolved: dict[int, int] = {}
    if before.has_summary:
        opening += (
            session.scalar(
                select(func.count()).where(
                    before.summary_days(TicketFact.day),
                    or_(TicketFact.resolved_day.is_(None), TicketFact.resolved_day >= first),
                    *channel,
                )
            )
            or 0
        )
    if before.has_live:
        opening += (
            session.scalar(
                ticket_channel(
                    select(func.count()).where(
                        before.live_at(Conversation.created_at),
                        or_(resolved_at.is_(None), resolved_at >= period.start_at),
                    ),
                    filters,
                )
            )
            or 0
        )
    resolved_in = [TicketFact.resolved_day >= first, TicketFact.resolved_day < after, *channel]
    resolved_offset = (TicketFact.resolved_day - first).label("day")
    for window in (before, inside):
        if window.has_summary:
            for day, n in session.execute(
                select(resolved_offset, func.count())
                .where(window.summary_days(TicketFact.day), *resolved_in)
                .group_by(resolved_offset)
            ).all():
                resolved[day] = resolved.get(day, 0) + n
    if inside.has_summary:
        created_offset = (TicketFact.day - first).label("day")
        for day, n in session.execute(
            select(created_offset, func.count())
            .where(inside.summary_days(TicketFact.day), *channel)
            .group_by(created_offset)
        ).all():
            created[day] = created.get(day, 0) + n
    created_day = bucket(Conversation.created_at, origin, DAY).label("day")
    resolved_day = ((epoch_seconds(resolved_at) - origin) // DAY).label("day")
    if inside.has_live:
        for day, n in session.execute(
            ticket_channel(
                select(created_day, func.count()).where(inside.live_at(Conversation.created_at)),
                filters,
            ).group_by(created_day)
        ).all():
            created[day] = created.get(day, 0) + n
    for window in (before, inside):
        if window.has_live:
            for day, n in session.execute(
                ticket_channel(
                    select(resolved_day, func.count()).where(
                        resolved_at >= period.start_at,
                        resolved_at < period.end_at,
                        window.live_at(Conversation.created_at),
                    ),
                    filters,
                ).group_by(resolved_day)
            ).all():
                resolved[day] = resolved.get(day, 0) + n
    return rules.backlog_series(opening, created, resolved, period.days)


def _workload(session: Session, filters: Filters) -> Table:
    """Per agent: tickets of the period assigned to them, how many of those they solved, and unsolved now."""
    period = filters.period
    in_period = within_period(Conversation.created_at, period)
    rows = session.execute(
        ticket_channel(
            select(
                User.name,
                func.count().filter(in_period),
                func.count().filter(and_(in_period, Conversation.status.in_(SOLVED))),
                func.count().filter(Conversation.status.in_(("open", "pending"))),
            )
            .join(User, User.id == Conversation.assignee_id)
            .where(or_(in_period, Conversation.status.in_(("open", "pending")))),
            filters,
        )
        .group_by(User.id, User.name)
        .order_by(User.name)
    ).all()
    return Table(
        "agent_workload",
        "Agent workload",
        (
            Column("Agent"),
            Column("Assigned (opened in period)", "int"),
            Column("Of those solved", "int"),
            Column("Unsolved now", "int"),
        ),
        [tuple(r) for r in rows],
        empty="No assigned tickets.",
    )


def _assistant(
    session: Session, filters: Filters, clock: Any
) -> tuple[dict[str, Any], list[tuple[str, int]], tuple[int, int | None, int | None]]:
    """Chats opened in the period: how many the assistant resolved with no person, the handoff reasons, and
    the business time from the (first) handoff to the solve."""
    period = filters.period
    chats = [Conversation.source == "chat", within_period(Conversation.created_at, period)]
    handed = exists().where(Message.conversation_id == Conversation.id, _handoff())
    person = exists().where(Message.conversation_id == Conversation.id, Message.author_kind == "agent")
    total, handed_off, automated = session.execute(
        ticket_channel(
            select(
                func.count(),
                func.coalesce(func.sum(case((handed, 1), else_=0)), 0),
                func.coalesce(func.sum(case((and_(~handed, ~person), 1), else_=0)), 0),
            ).where(*chats),
            filters,
        )
    ).one()
    automation = {
        "chats": total,
        "handed_off": handed_off,
        "automated": automated,
        "rate": rules.rate(automated, total),
    }
    reason = func.coalesce(Message.data["reason"].as_string(), "").label("reason")
    reasons = session.execute(
        ticket_channel(
            select(reason, func.count())
            .select_from(Message)
            .join(Conversation, Conversation.id == Message.conversation_id)
            .where(*chats, _handoff()),
            filters,
        )
        .group_by(reason)
        .order_by(func.count().desc(), reason)
        .limit(TOP)
    ).all()
    first = (
        ticket_channel(
            select(Message.conversation_id.label("cid"), func.min(Message.created_at).label("at"))
            .join(Conversation, Conversation.id == Message.conversation_id)
            .where(*chats, _handoff()),
            filters,
        )
        .group_by(Message.conversation_id)
        .subquery()
    )
    start, end = clock.alias("handed"), clock.alias("solved")
    values = (
        select(
            literal(0).label("grp"),
            (business_seconds(end, Conversation.solved_at) - business_seconds(start, first.c.at)).label(
                "val"
            ),
        )
        .select_from(first)
        .join(Conversation, Conversation.id == first.c.cid)
        .join(start, start.c.day == day_number(first.c.at))
        .join(end, end.c.day == day_number(Conversation.solved_at))
        .where(Conversation.solved_at.is_not(None), Conversation.solved_at >= first.c.at)
        .subquery()
    )
    after = percentiles(session, values).get(0, (0, None, None))
    return automation, [(r or "(no reason given)", n) for r, n in reasons], after
