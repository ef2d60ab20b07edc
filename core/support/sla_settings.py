"""SLA settings a manager edits: business hours and time zone, holidays, the targets of each priority, and
the sales channels' overrides. Each write validates what it is given (DomainError says what is wrong) and
is audited; new targets apply to tickets opened, re-prioritised or resumed from then on."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from core.audit.services import record_audit
from core.channels.models import Channel
from core.errors import DomainError, NotFound
from core.security.roles import Actor
from core.support.models import (
    BusinessHours,
    SlaChannelOverride,
    SlaPolicy,
    SupportCalendar,
    SupportHoliday,
)
from core.support.sla import WEEKDAYS, default_policy
from core.support.sla_services import CALENDAR_ID

PRIORITIES = ("urgent", "high", "normal", "low")
MAX_TARGET_HOURS = 2000
TIME_RE = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")
HOURS_RE = re.compile(r"^(\d{1,4})(?:[.,](\d{1,2}))?$|^(\d{1,4}):([0-5]\d)$")


@dataclass(frozen=True)
class DayHours:
    """One weekday as the form shows it."""

    weekday: int
    name: str
    open: bool
    opens: str
    closes: str


@dataclass(frozen=True)
class TargetRow:
    """A priority's or a channel's targets as the form shows them (hours as text, "" for none)."""

    key: str  # the priority, or the channel's code
    label: str
    first_response: str
    resolution: str
    round_the_clock: bool


@dataclass(frozen=True)
class SlaSettings:
    """The settings page: calendar, holidays, policies, overrides, and the channels to add one for."""

    timezone: str
    week: list[DayHours]
    holidays: list[tuple[date, str]]
    policies: list[TargetRow]
    overrides: list[TargetRow]
    channels: list[tuple[str, str]]


def _hours_text(minutes: int | None) -> str:
    if not minutes:
        return ""
    hours, rest = divmod(minutes, 60)
    return f"{hours}:{rest:02d}" if rest else str(hours)


def sla_settings(session: Session) -> SlaSettings:
    """Everything the SLA settings page shows (six small queries)."""
    calendar = session.get(SupportCalendar, CALENDAR_ID)
    hours = {row.weekday: row for row in session.scalars(select(BusinessHours))}
    week = [
        DayHours(
            d,
            WEEKDAYS[d],
            d in hours,
            hours[d].opens.strftime("%H:%M") if d in hours else "09:00",
            hours[d].closes.strftime("%H:%M") if d in hours else "17:00",
        )
        for d in range(7)
    ]
    rows = {row.priority: row for row in session.scalars(select(SlaPolicy))}
    policies = []
    for priority in PRIORITIES:
        row = rows.get(priority)
        if row is None:
            shipped = default_policy(priority)
            first = shipped.first_response.minutes if shipped.first_response else None
            resolution = shipped.resolution.minutes if shipped.resolution else None
            policies.append(TargetRow(priority, priority, _hours_text(first), _hours_text(resolution), False))
        else:
            policies.append(
                TargetRow(
                    priority,
                    priority,
                    _hours_text(row.first_response_minutes),
                    _hours_text(row.resolution_minutes),
                    row.round_the_clock,
                )
            )
    overrides = [
        TargetRow(
            code,
            name,
            _hours_text(o.first_response_minutes),
            _hours_text(o.resolution_minutes),
            o.round_the_clock,
        )
        for o, code, name in session.execute(
            select(SlaChannelOverride, Channel.code, Channel.name)
            .join(Channel, Channel.id == SlaChannelOverride.channel_id)
            .order_by(Channel.name)
        )
    ]
    return SlaSettings(
        calendar.timezone if calendar is not None else "UTC",
        week,
        [(h.day, h.name) for h in session.scalars(select(SupportHoliday).order_by(SupportHoliday.day))],
        policies,
        overrides,
        [
            (code, name)
            for code, name in session.execute(select(Channel.code, Channel.name).order_by(Channel.name))
        ],
    )


def check_timezone(name: str) -> str:
    """An IANA time zone name (e.g. Europe/London), or DomainError."""
    name = (name or "").strip()
    if name not in available_timezones() and name != "UTC":
        raise DomainError(f"unknown time zone {name!r}: use a name such as Europe/London or America/New_York")
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise DomainError(f"unknown time zone {name!r}") from exc
    return name


def parse_clock(text: str, what: str) -> time:
    """A local time of day written HH:MM, or DomainError naming the field."""
    match = TIME_RE.match((text or "").strip())
    if not match:
        raise DomainError(f"{what}: write the time as HH:MM, e.g. 09:00")
    return time(int(match.group(1)), int(match.group(2)))


def parse_target_hours(text: str, what: str) -> int | None:
    """A target written in hours ("4", "1.5" or "1:30") as minutes; None when left blank."""
    text = (text or "").strip()
    if not text:
        return None
    match = HOURS_RE.match(text)
    if not match:
        raise DomainError(f"{what}: write hours as a number such as 4, 1.5 or 1:30")
    if match.group(3) is not None:
        minutes = int(match.group(3)) * 60 + int(match.group(4))
    else:
        fraction = match.group(2) or "0"
        minutes = int(match.group(1)) * 60 + round(float(f"0.{fraction}") * 60)
    if minutes <= 0:
        raise DomainError(f"{what}: a target must be more than zero (leave it blank for none)")
    if minutes > MAX_TARGET_HOURS * 60:
        raise DomainError(f"{what}: at most {MAX_TARGET_HOURS} hours")
    return minutes


def save_business_hours(
    session: Session,
    timezone: str,
    week: Mapping[int, tuple[str, str] | None],
    *,
    actor: Actor,
    now: datetime,
) -> None:
    """Replace the time zone and weekly hours: `week[d]` is (opens, closes) as HH:MM, or None when closed."""
    zone = check_timezone(timezone)
    hours: dict[int, tuple[time, time]] = {}
    for d in range(7):
        given = week.get(d)
        if given is None:
            continue
        opens = parse_clock(given[0], f"{WEEKDAYS[d]} opens")
        closes = parse_clock(given[1], f"{WEEKDAYS[d]} closes")
        if closes <= opens:
            raise DomainError(f"{WEEKDAYS[d]}: closing time must be after opening time")
        hours[d] = (opens, closes)
    if not hours:
        raise DomainError("open on at least one day of the week")
    calendar = session.get(SupportCalendar, CALENDAR_ID)
    if calendar is None:
        calendar = SupportCalendar(id=CALENDAR_ID, timezone="UTC")
        session.add(calendar)
    existing = {row.weekday: row for row in session.scalars(select(BusinessHours))}
    before = {"timezone": calendar.timezone, "hours": _hours_json(existing)}
    for d, row in existing.items():
        if d not in hours:
            session.delete(row)
    for d, (opens, closes) in hours.items():
        row = existing.get(d) or BusinessHours(weekday=d)
        row.opens, row.closes = opens, closes
        session.add(row)
    calendar.timezone = zone
    session.flush()
    after = {
        "timezone": zone,
        "hours": _hours_json({row.weekday: row for row in session.scalars(select(BusinessHours))}),
    }
    if after != before:
        record_audit(
            session,
            actor,
            "sla.hours_changed",
            "support_calendar",
            CALENDAR_ID,
            now=now,
            before=before,
            after=after,
        )


def _hours_json(rows: Mapping[int, BusinessHours]) -> dict[str, str]:
    return {
        WEEKDAYS[d]: f"{rows[d].opens.strftime('%H:%M')}-{rows[d].closes.strftime('%H:%M')}"
        for d in sorted(rows)
    }


def add_holiday(session: Session, day: str, name: str, *, actor: Actor, now: datetime) -> SupportHoliday:
    """A date the business is closed (YYYY-MM-DD), with an optional name."""
    try:
        parsed = date.fromisoformat((day or "").strip())
    except ValueError as exc:
        raise DomainError("give the holiday's date as YYYY-MM-DD") from exc
    if session.get(SupportHoliday, parsed) is not None:
        raise DomainError(f"{parsed.isoformat()} is already a holiday")
    holiday = SupportHoliday(day=parsed, name=" ".join((name or "").split())[:100])
    session.add(holiday)
    session.flush()
    record_audit(
        session,
        actor,
        "sla.holiday_added",
        "support_holiday",
        parsed.isoformat(),
        now=now,
        after={"name": holiday.name},
    )
    return holiday


def remove_holiday(session: Session, day: str, *, actor: Actor, now: datetime) -> None:
    """Open again on a date that was a holiday (NotFound when it was not one)."""
    try:
        parsed = date.fromisoformat((day or "").strip())
    except ValueError as exc:
        raise NotFound("holiday not found") from exc
    holiday = session.get(SupportHoliday, parsed)
    if holiday is None:
        raise NotFound("holiday not found")
    record_audit(
        session,
        actor,
        "sla.holiday_removed",
        "support_holiday",
        parsed.isoformat(),
        now=now,
        before={"name": holiday.name},
    )
    session.delete(holiday)
    session.flush()


def _targets(first: str, resolution: str, label: str) -> tuple[int | None, int | None]:
    return (
        parse_target_hours(first, f"{label} first response"),
        parse_target_hours(resolution, f"{label} resolution"),
    )


def save_sla_policies(
    session: Session,
    policies: Mapping[str, tuple[str, str, bool]],
    *,
    actor: Actor,
    now: datetime,
) -> None:
    """Replace the targets of each priority: (first response hours, resolution hours, round the clock);
    every priority is checked before any is saved."""
    parsed: dict[str, tuple[int | None, int | None, bool]] = {}
    for priority in PRIORITIES:
        first, resolution, round_the_clock = policies.get(priority, ("", "", False))
        parsed[priority] = (*_targets(first, resolution, priority.capitalize()), bool(round_the_clock))
    for priority, (first_minutes, resolution_minutes, round_the_clock) in parsed.items():
        row = session.get(SlaPolicy, priority)
        before = _policy_json(row)
        if row is None:
            row = SlaPolicy(priority=priority)
            session.add(row)
        row.first_response_minutes, row.resolution_minutes = first_minutes, resolution_minutes
        row.round_the_clock = round_the_clock
        after = _policy_json(row)
        if after != before:
            record_audit(
                session,
                actor,
                "sla.policy_changed",
                "sla_policy",
                priority,
                now=now,
                before=before,
                after=after,
            )
    session.flush()


def _policy_json(row: SlaPolicy | SlaChannelOverride | None) -> dict[str, Any] | None:
    if row is None:
        return None
    return {
        "first_response_minutes": row.first_response_minutes,
        "resolution_minutes": row.resolution_minutes,
        "round_the_clock": row.round_the_clock,
    }


def save_channel_override(
    session: Session,
    channel_code: str,
    first: str,
    resolution: str,
    round_the_clock: bool,
    *,
    actor: Actor,
    now: datetime,
) -> SlaChannelOverride:
    """Set a sales channel's own limit on tickets about its orders (added, or replaced when it has one)."""
    channel = session.scalar(select(Channel).where(Channel.code == (channel_code or "").strip().lower()))
    if channel is None:
        raise DomainError("choose a channel")
    first_minutes, resolution_minutes = _targets(first, resolution, channel.name)
    if first_minutes is None and resolution_minutes is None:
        raise DomainError(f"{channel.name}: give a first-response or a resolution target")
    row = session.get(SlaChannelOverride, channel.id)
    before = _policy_json(row)
    if row is None:
        row = SlaChannelOverride(channel_id=channel.id)
        session.add(row)
    row.first_response_minutes, row.resolution_minutes = first_minutes, resolution_minutes
    row.round_the_clock = bool(round_the_clock)
    session.flush()
    record_audit(
        session,
        actor,
        "sla.channel_override_set",
        "channel",
        channel.code,
        now=now,
        before=before,
        after=_policy_json(row),
    )
    return row


def remove_channel_override(session: Session, channel_code: str, *, actor: Actor, now: datetime) -> None:
    """Drop a channel's override: its tickets follow the priorities' targets only."""
    channel = session.scalar(select(Channel).where(Channel.code == (channel_code or "").strip().lower()))
    row = session.get(SlaChannelOverride, channel.id) if channel is not None else None
    if channel is None or row is None:
        raise NotFound("override not found")
    record_audit(
        session,
        actor,
        "sla.channel_override_removed",
        "channel",
        channel.code,
        now=now,
        before=_policy_json(row),
    )
    session.execute(delete(SlaChannelOverride).where(SlaChannelOverride.channel_id == channel.id))
