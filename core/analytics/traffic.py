"""Channel traffic import: a CSV of visits and marketing spend per channel and day (columns date, channel,
visits, spend, and optionally currency). All or nothing: every bad row is reported by its line number and,
when there is any, nothing is written. A row for a day and channel already imported replaces it."""

from __future__ import annotations

import csv
import io
from collections.abc import Collection
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.analytics.models import ChannelTraffic
from core.channels.models import Channel
from core.errors import DomainError, PayloadError
from core.money import is_currency_code, to_minor

REQUIRED = ("date", "channel", "visits", "spend")
MAX_VISITS = 2_000_000_000


class TrafficImportError(DomainError):
    """The file was refused; `problems` lists each bad line ("line 4: ...")."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__(f"{len(problems)} problem(s), nothing imported: " + "; ".join(problems[:20]))


@dataclass(frozen=True)
class TrafficRow:
    line: int
    day: date
    channel: str
    visits: int
    spend: int  # minor units
    currency: str


def parse_traffic(text: str, channels: Collection[str]) -> list[TrafficRow]:
    """The rows of a traffic CSV whose channel codes are among `channels`, or TrafficImportError naming every
    bad line (line 1 is the header)."""
    reader = csv.DictReader(io.StringIO(text))
    header = [h.strip().lower() for h in (reader.fieldnames or [])]
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        raise TrafficImportError(
            [f"line 1: missing column(s) {', '.join(missing)} (need {', '.join(REQUIRED)})"]
        )
    reader.fieldnames = header
    rows: list[TrafficRow] = []
    problems: list[str] = []
    seen: dict[tuple[date, str], int] = {}
    for raw in reader:
        line = reader.line_num
        if None in raw:
            problems.append(f"line {line}: more cells than columns")
            continue
        values = {k: (v or "").strip() for k, v in raw.items()}
        if not any(values.values()):
            continue
        try:
            row = _row(line, values)
        except ValueError as exc:
            problems.append(f"line {line}: {exc}")
            continue
        if row.channel not in channels:
            problems.append(f"line {line}: no channel with the code {row.channel!r}")
            continue
        key = (row.day, row.channel)
        if key in seen:
            problems.append(f"line {line}: {row.channel} on {row.day} is already on line {seen[key]}")
            continue
        seen[key] = line
        rows.append(row)
    if problems:
        raise TrafficImportError(problems)
    if not rows:
        raise TrafficImportError(["the file has no rows"])
    return rows


def _row(line: int, values: dict[str, str]) -> TrafficRow:
    try:
        day = date.fromisoformat(values["date"])
    except ValueError:
        raise ValueError(f"date {values['date']!r} is not YYYY-MM-DD") from None
    if not values["channel"]:
        raise ValueError("no channel code")
    try:
        visits = int(values["visits"])
    except ValueError:
        raise ValueError(f"visits {values['visits']!r} is not a whole number") from None
    if not 0 <= visits <= MAX_VISITS:
        raise ValueError(f"visits {visits} is out of range")
    currency = (values.get("currency") or "USD").upper()
    if not is_currency_code(currency):
        raise ValueError(f"currency {values.get('currency')!r} is not a three-letter code")
    try:
        spend = to_minor(values["spend"] or "0", currency)
    except PayloadError:
        raise ValueError(f"spend {values['spend']!r} is not an amount") from None
    if spend < 0:
        raise ValueError("spend is negative")
    return TrafficRow(line, day, values["channel"], visits, spend, currency)


def import_traffic(session: Session, text: str, *, now: datetime) -> tuple[int, int]:
    """Check the whole CSV, then write its rows (a day and channel imported before is replaced); returns
    (new, replaced). Any bad row raises TrafficImportError and nothing is written."""
    channels = dict(session.execute(select(Channel.code, Channel.id)).all())
    rows = parse_traffic(text, channels)
    existing = {
        (t.day, t.channel_id): t
        for t in session.scalars(
            select(ChannelTraffic).where(
                ChannelTraffic.day >= min(r.day for r in rows), ChannelTraffic.day <= max(r.day for r in rows)
            )
        )
    }
    new = replaced = 0
    for r in rows:
        channel_id = channels[r.channel]
        row = existing.get((r.day, channel_id))
        if row is None:
            session.add(
                ChannelTraffic(
                    day=r.day,
                    channel_id=channel_id,
                    visits=r.visits,
                    spend=r.spend,
                    currency=r.currency,
                    imported_at=now,
                )
            )
            new += 1
        else:
            row.visits, row.spend, row.currency, row.imported_at = r.visits, r.spend, r.currency, now
            replaced += 1
    session.flush()
    return new, replaced
