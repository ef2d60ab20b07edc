"""Stock reconciliation: read a stock count (a location's stocktake CSV) or a channel's stock report,
compare it with our figures, and apply an approved count as 'count' movements in the ledger, each one audited.

A file is applied only when it is clean: every malformed row is reported with its line number, and a report
with any error cannot be approved. A channel stock report is for comparison only (what the channel shows
against what we would let it sell); it never changes stock.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.audit.services import record_audit
from core.catalog.models import Listing, Sku
from core.channels.models import Channel
from core.errors import DomainError, InsufficientStock
from core.inventory.alerts import check_low_stock
from core.inventory.allocations import fill_backorders
from core.inventory.ledger import adjust_stock
from core.inventory.models import Location, StockLevel
from core.inventory.queries import available_to_sell_by_channel
from core.money import format_money
from core.security.roles import Actor

STOCK_COUNT = "stock_count"
CHANNEL_REPORT = "channel_report"
STOCK_COUNT_COLUMNS = ("location", "sku", "counted")  # and optionally "note"
CHANNEL_REPORT_COLUMNS = ("channel", "channel_sku", "quantity")
_NOTE_MAX = 150


@dataclass(frozen=True)
class LineError:
    """A problem with one line of the file (line 1 is the header)."""

    line: int
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}"


@dataclass(frozen=True)
class CountLine:
    line: int
    location: str  # location code, upper-case as codes are stored
    sku: str  # our SKU code
    counted: int
    note: str = ""


@dataclass(frozen=True)
class ChannelStockLine:
    line: int
    channel: str  # channel code
    channel_sku: str
    quantity: int


@dataclass(frozen=True)
class ParsedCount:
    """A parsed file: its kind (stock_count, channel_report, or "" when the header was not understood), the
    rows that parsed, and every error."""

    kind: str
    rows: tuple[CountLine, ...] | tuple[ChannelStockLine, ...]
    errors: tuple[LineError, ...]

    @property
    def ok(self) -> bool:
        return not self.errors


@dataclass(frozen=True)
class DiscrepancyRow:
    """One counted (location, SKU): ours is on hand when the report was made; value is difference x cost."""

    line: int
    location_id: int
    location_code: str
    sku_id: int
    sku_code: str
    sku_title: str
    ours: int
    counted: int
    unit_cost: int  # minor units
    currency: str
    note: str = ""

    @property
    def difference(self) -> int:
        return self.counted - self.ours

    @property
    def value(self) -> int:
        return self.difference * self.unit_cost


@dataclass(frozen=True)
class ChannelDiscrepancyRow:
    """What a channel reports for one of its SKUs against what we let it sell (available to sell)."""

    line: int
    channel_id: int
    channel_code: str
    channel_sku: str
    sku_id: int
    sku_code: str
    ours: int
    reported: int
    formula: str

    @property
    def difference(self) -> int:
        return self.reported - self.ours


@dataclass(frozen=True)
class DiscrepancyReport:
    kind: str
    rows: tuple[DiscrepancyRow, ...] = ()
    channel_rows: tuple[ChannelDiscrepancyRow, ...] = ()
    errors: tuple[LineError, ...] = ()
    value_by_currency: dict[str, int] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.errors

    @property
    def differences(self) -> list[DiscrepancyRow]:
        return [row for row in self.rows if row.difference]

    @property
    def approvable(self) -> bool:
        """A clean stock count with at least one difference to apply."""
        return self.kind == STOCK_COUNT and self.ok and bool(self.differences)


def _header(cells: list[str]) -> list[str]:
    return [cell.strip().lower().replace(" ", "_") for cell in cells]


def _quantity(text: str, column: str) -> tuple[int | None, str | None]:
    value = text.strip()
    if not value.lstrip("+").isdigit():
        return None, f"{column} must be a whole number of units, 0 or more (got {text.strip()!r})"
    return int(value), None


def parse_stock_count(csv_text: str) -> ParsedCount:
    """Read a stock count CSV (location, sku, counted[, note]) or a channel stock report CSV
    (channel, channel_sku, quantity), told apart by the header row, which is required.

    Column names are case-insensitive and in any order; other columns are ignored; blank lines are skipped.
    Each malformed row (wrong number of fields, a missing code, a quantity that is not a whole number >= 0,
    the same location and SKU, or channel and channel SKU, twice) becomes a LineError with its line number.
    """
    reader = csv.reader(io.StringIO(csv_text.lstrip("\ufeff")))
    errors: list[LineError] = []
    try:
        records = [(reader.line_num, row) for row in reader]
    except csv.Error as exc:
        return ParsedCount("", (), (LineError(reader.line_num, f"not a readable CSV file: {exc}"),))
    records = [(line, row) for line, row in records if any(cell.strip() for cell in row)]
    if not records:
        return ParsedCount("", (), (LineError(1, "the file is empty: a header row is required"),))
    header_line, header_cells = records[0]
    header = _header(header_cells)
    if all(column in header for column in STOCK_COUNT_COLUMNS):
        kind, columns = STOCK_COUNT, STOCK_COUNT_COLUMNS
    elif all(column in header for column in CHANNEL_REPORT_COLUMNS):
        kind, columns = CHANNEL_REPORT, CHANNEL_REPORT_COLUMNS
    else:
        return ParsedCount(
            "",
            (),
            (
                LineError(
                    header_line,
                    "the first row must name the columns location, sku, counted (and optionally note) "
                    "for a stock count, or channel, channel_sku, quantity for a channel stock report; "
                    f"found: {', '.join(header) or 'nothing'}",
                ),
            ),
        )
    duplicated = sorted({c for c in header if c and header.count(c) > 1})
    if duplicated:
        return ParsedCount(
            kind, (), (LineError(header_line, f"column named twice: {', '.join(duplicated)}"),)
        )
    index = {name: header.index(name) for name in (*columns, "note") if name in header}
    rows: list = []
    seen: dict[tuple[str, str], int] = {}
    for line, cells in records[1:]:
        if len(cells) != len(header):
            errors.append(LineError(line, f"expected {len(header)} fields, found {len(cells)}"))
            continue
        first, second = cells[index[columns[0]]].strip(), cells[index[columns[1]]].strip()
        if kind == STOCK_COUNT:
            first = first.upper()
        problems = [
            f"{name} is empty" for name, value in zip(columns[:2], (first, second), strict=True) if not value
        ]
        quantity, problem = _quantity(cells[index[columns[2]]], columns[2])
        if problem:
            problems.append(problem)
        if not problems and (first, second) in seen:
            what = "location and SKU" if kind == STOCK_COUNT else "channel and channel SKU"
            problems.append(f"the same {what} as line {seen[(first, second)]}")
        if problems:
            errors.append(LineError(line, "; ".join(problems)))
            continue
        assert quantity is not None
        seen[(first, second)] = line
        if kind == STOCK_COUNT:
            note = cells[index["note"]].strip()[:_NOTE_MAX] if "note" in index else ""
            rows.append(CountLine(line, first, second, quantity, note))
        else:
            rows.append(ChannelStockLine(line, first, second, quantity))
    if not rows and not errors:
        errors.append(LineError(header_line, "the file has a header but no rows"))
    return ParsedCount(kind, tuple(rows), tuple(errors))


def discrepancy_report(session: Session, parsed: ParsedCount) -> DiscrepancyReport:
    """Compare a parsed file with our figures: per counted (location, SKU) ours (on hand), counted, difference
    and value at cost; per channel SKU our available to sell against the channel's figure.

    Codes we do not know are errors with their line numbers, added to the parse errors; rows that resolved are
    still listed so the whole picture shows, but a report with errors cannot be approved.
    A fixed number of queries.
    """
    if parsed.kind == STOCK_COUNT:
        return _count_report(session, parsed)
    if parsed.kind == CHANNEL_REPORT:
        return _channel_report(session, parsed)
    return DiscrepancyReport(parsed.kind, errors=parsed.errors)


def _count_report(session: Session, parsed: ParsedCount) -> DiscrepancyReport:
    lines = [row for row in parsed.rows if isinstance(row, CountLine)]
    locations = {
        loc.code: loc
        for loc in session.execute(
            select(Location.id, Location.code).where(Location.code.in_({r.location for r in lines}))
        ).all()
    }
    skus = {
        sku.code: sku
        for sku in session.execute(
            select(Sku.id, Sku.code, Sku.title, Sku.cost, Sku.currency).where(
                Sku.code.in_({r.sku for r in lines})
            )
        ).all()
    }
    on_hand = _on_hand(
        session,
        {
            (locations[r.location].id, skus[r.sku].id)
            for r in lines
            if r.location in locations and r.sku in skus
        },
    )
    errors = list(parsed.errors)
    rows = []
    for r in lines:
        problems = []
        if r.location not in locations:
            problems.append(f"unknown location {r.location!r}")
        if r.sku not in skus:
            problems.append(f"unknown SKU {r.sku!r}")
        if problems:
            errors.append(LineError(r.line, "; ".join(problems)))
            continue
        loc, sku = locations[r.location], skus[r.sku]
        rows.append(
            DiscrepancyRow(
                r.line,
                loc.id,
                loc.code,
                sku.id,
                sku.code,
                sku.title,
                on_hand.get((loc.id, sku.id), 0),
                r.counted,
                sku.cost,
                sku.currency,
                r.note,
            )
        )
    values: dict[str, int] = {}
    for row in rows:
        values[row.currency] = values.get(row.currency, 0) + row.value
    return DiscrepancyReport(
        STOCK_COUNT,
        rows=tuple(rows),
        errors=tuple(sorted(errors, key=lambda e: e.line)),
        value_by_currency=values,
    )


def _channel_report(session: Session, parsed: ParsedCount) -> DiscrepancyReport:
    lines = [row for row in parsed.rows if isinstance(row, ChannelStockLine)]
    channels = {
        ch.code: ch
        for ch in session.execute(
            select(Channel.id, Channel.code, Channel.active).where(
                Channel.code.in_({r.channel for r in lines})
            )
        ).all()
    }
    listings = {
        (channel_id, channel_sku): sku_id
        for channel_id, channel_sku, sku_id in session.execute(
            select(Listing.channel_id, Listing.channel_sku, Listing.sku_id).where(
                Listing.channel_id.in_({ch.id for ch in channels.values()}),
                Listing.channel_sku.in_({r.channel_sku for r in lines}),
                Listing.active,
            )
        ).all()
    }
    sku_codes = dict(
        session.execute(select(Sku.id, Sku.code).where(Sku.id.in_(set(listings.values())))).all()
    )
    figures = {
        (ats.channel_id, ats.sku_id): ats
        for ats in available_to_sell_by_channel(session, set(listings.values()))
    }
    errors = list(parsed.errors)
    rows = []
    for r in lines:
        channel = channels.get(r.channel)
        if channel is None:
            errors.append(LineError(r.line, f"unknown channel {r.channel!r}"))
            continue
        if not channel.active:
            errors.append(LineError(r.line, f"channel {r.channel!r} is inactive"))
            continue
        sku_id = listings.get((channel.id, r.channel_sku))
        if sku_id is None:
            errors.append(
                LineError(
                    r.line, f"channel SKU {r.channel_sku!r} is not mapped to a SKU of ours on {r.channel}"
                )
            )
            continue
        ats = figures[(channel.id, sku_id)]
        rows.append(
            ChannelDiscrepancyRow(
                r.line,
                channel.id,
                channel.code,
                r.channel_sku,
                sku_id,
                sku_codes[sku_id],
                ats.quantity,
                r.quantity,
                ats.formula,
            )
        )
    return DiscrepancyReport(
        CHANNEL_REPORT, channel_rows=tuple(rows), errors=tuple(sorted(errors, key=lambda e: e.line))
    )


def _on_hand(
    session: Session, pairs: set[tuple[int, int]], *, lock: bool = False
) -> dict[tuple[int, int], int]:
    if not pairs:
        return {}
    query = (
        select(StockLevel.location_id, StockLevel.sku_id, StockLevel.on_hand)
        .where(
            StockLevel.location_id.in_({loc for loc, _ in pairs}),
            StockLevel.sku_id.in_({sku for _, sku in pairs}),
        )
        .order_by(StockLevel.location_id, StockLevel.sku_id)
    )
    if lock:
        query = query.with_for_update()
    return {(loc, sku): qty for loc, sku, qty in session.execute(query) if (loc, sku) in pairs}


def approve_count(
    session: Session,
    report: DiscrepancyReport | Sequence[DiscrepancyRow],
    *,
    actor: Actor,
    now: datetime,
) -> list[DiscrepancyRow]:
    """Apply an approved stock count: one 'count' movement (adjust_stock) and one audit entry
    ('stock.count_adjusted') per row with a difference; the rows applied.

    All or nothing. Refused with a DomainError, before anything changes: a report with errors, a channel
    report, the same (location, SKU) twice, or rows whose 'ours' no longer matches on hand (stock moved since
    the report was made: the error lists them). The levels are locked in (location, SKU) order first, and
    the adjustments run in a SAVEPOINT, so a count that would take away reserved units undoes the rest.
    Afterwards, units that appeared go to waiting backorders and low-stock alerts are re-checked.
    """
    if isinstance(report, DiscrepancyReport):
        if report.kind != STOCK_COUNT:
            raise DomainError("a channel stock report is for comparison only: it cannot be applied")
        if report.errors:
            raise DomainError(
                f"the file has {len(report.errors)} error(s): fix them and upload it again; "
                "nothing was applied"
            )
        rows: Sequence[DiscrepancyRow] = report.rows
    else:
        rows = report
    if any(not isinstance(row, DiscrepancyRow) for row in rows):
        raise DomainError("only stock count rows can be applied")
    pairs: dict[tuple[int, int], DiscrepancyRow] = {}
    for row in rows:
        key = (row.location_id, row.sku_id)
        if key in pairs:
            raise DomainError(f"{row.sku_code} at {row.location_code} is counted twice; nothing was applied")
        pairs[key] = row
    current = _on_hand(session, set(pairs), lock=True)
    stale = [row for key, row in sorted(pairs.items()) if current.get(key, 0) != row.ours]
    if stale:
        detail = "; ".join(
            f"{row.sku_code} at {row.location_code}: the report says {row.ours} on hand, now "
            f"{current.get((row.location_id, row.sku_id), 0)}"
            for row in stale
        )
        raise DomainError(
            f"stock moved since this report was made, so nothing was applied; refresh the report ({detail})"
        )
    applied = [row for _key, row in sorted(pairs.items()) if row.difference]
    savepoint = session.begin_nested()
    try:
        for row in applied:
            reference = f"stock count line {row.line}" + (f": {row.note}" if row.note else "")
            try:
                adjust_stock(
                    session,
                    row.location_id,
                    row.sku_id,
                    row.difference,
                    kind="count",
                    actor=actor.label,
                    now=now,
                    reference=reference[:200],
                )
            except InsufficientStock as exc:
                raise DomainError(
                    f"{row.sku_code} at {row.location_code} cannot be counted down to {row.counted}: "
                    f"units are reserved for orders ({exc}); nothing was applied"
                ) from exc
            record_audit(
                session,
                actor,
                "stock.count_adjusted",
                "sku",
                row.sku_id,
                now=now,
                before={"location": row.location_code, "on_hand": row.ours},
                after={
                    "location": row.location_code,
                    "on_hand": row.counted,
                    "difference": row.difference,
                    "value": row.value,
                    "currency": row.currency,
                    "value_text": format_money(row.value, row.currency),
                    "note": row.note,
                },
            )
    except BaseException:
        savepoint.rollback()
        raise
    savepoint.commit()
    for sku_id in sorted({row.sku_id for row in applied if row.difference > 0}):
        fill_backorders(session, sku_id, actor=actor.label, now=now)
    if applied:
        check_low_stock(session, {row.sku_id for row in applied}, now=now)
    return applied
