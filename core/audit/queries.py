"""Reading the audit log: the console's search (keyset pages, newest first), the CSV export and the walk that
verifies the hash chain."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import Connection, String, cast, or_, select, text
from sqlalchemy.orm import Session
from sqlalchemy.sql import Select

from core import csv_cells
from core.audit.chain import GENESIS_HASH, entry_hash
from core.audit.diff import diff_text
from core.audit.models import AuditEntry
from core.errors import DomainError
from core.pagination import contains_pattern, id_from_text

PER_PAGE = 50
FILTER_MAX = 200
CSV_COLUMNS = ("id", "time", "actor", "ip", "action", "entity_type", "entity_id", "change", "hash")


@dataclass(frozen=True)
class AuditFilter:
    actor: str = ""
    action: str = ""
    entity_type: str = ""
    entity_id: str = ""
    date_from: date | None = None
    date_to: date | None = None
    text: str = ""

    @classmethod
    def from_args(cls, args: dict[str, str]) -> AuditFilter:
        """Filters from a query string; a date that is not YYYY-MM-DD is a DomainError naming it."""

        def day(name: str) -> date | None:
            raw = (args.get(name) or "").strip()
            if not raw:
                return None
            try:
                return date.fromisoformat(raw)
            except ValueError as exc:
                raise DomainError(
                    f"{name.replace('_', ' ')} {raw[:20]!r} is not a date (YYYY-MM-DD)"
                ) from exc

        def word(name: str) -> str:
            return (args.get(name) or "").strip()[:FILTER_MAX]

        found = cls(
            actor=word("actor"),
            action=word("action"),
            entity_type=word("entity_type"),
            entity_id=word("entity_id"),
            date_from=day("date_from"),
            date_to=day("date_to"),
            text=word("q"),
        )
        if found.date_from and found.date_to and found.date_from > found.date_to:
            raise DomainError("the date range ends before it starts")
        return found

    def as_args(self) -> dict[str, str]:
        """The filters as query-string arguments (for links to the next page and the export)."""
        args = {
            "actor": self.actor,
            "action": self.action,
            "entity_type": self.entity_type,
            "entity_id": self.entity_id,
            "date_from": self.date_from.isoformat() if self.date_from else "",
            "date_to": self.date_to.isoformat() if self.date_to else "",
            "q": self.text,
        }
        return {key: value for key, value in args.items() if value}


def _filtered(query: Select, filters: AuditFilter) -> Select:
    if filters.actor:
        query = query.where(AuditEntry.actor_label.ilike(contains_pattern(filters.actor), escape="\\"))
    if filters.action:
        query = query.where(AuditEntry.action.ilike(contains_pattern(filters.action), escape="\\"))
    if filters.entity_type:
        query = query.where(AuditEntry.entity_type == filters.entity_type)
    if filters.entity_id:
        query = query.where(AuditEntry.entity_id == filters.entity_id)
    if filters.date_from:
        query = query.where(AuditEntry.created_at >= datetime.combine(filters.date_from, time(), UTC))
    if filters.date_to:
        end = datetime.combine(filters.date_to + timedelta(days=1), time(), UTC)
        query = query.where(AuditEntry.created_at < end)
    if filters.text:
        pattern = contains_pattern(filters.text)
        query = query.where(
            or_(
                AuditEntry.action.ilike(pattern, escape="\\"),
                AuditEntry.actor_label.ilike(pattern, escape="\\"),
                AuditEntry.entity_id.ilike(pattern, escape="\\"),
                cast(AuditEntry.before, String).ilike(pattern, escape="\\"),
                cast(AuditEntry.after, String).ilike(pattern, escape="\\"),
            )
        )
    return query


@dataclass(frozen=True)
class AuditPage:
    entries: list[AuditEntry]
    older_than: int | None  # the cursor of the next (older) page, None on the last
    newer_than: int | None  # the cursor of the previous (newer) page, None on the first


def audit_page(
    session: Session,
    filters: AuditFilter,
    *,
    before_id: str | None = None,
    after_id: str | None = None,
    per_page: int = PER_PAGE,
) -> AuditPage:
    """One page of matching entries, newest first, by keyset on the id: `before_id` pages back (older),
    `after_id` forward (newer); each costs the same wherever it is in the log."""
    query = _filtered(select(AuditEntry), filters)
    after = id_from_text(after_id)
    before = id_from_text(before_id)
    if after is not None:
        rows = list(
            session.scalars(query.where(AuditEntry.id > after).order_by(AuditEntry.id).limit(per_page + 1))
        )
        more_newer = len(rows) > per_page
        entries = list(reversed(rows[:per_page]))
        older = entries[-1].id if entries else None
        return AuditPage(entries, older, entries[0].id if more_newer and entries else None)
    if before is not None:
        query = query.where(AuditEntry.id < before)
    rows = list(session.scalars(query.order_by(AuditEntry.id.desc()).limit(per_page + 1)))
    entries = rows[:per_page]
    older = entries[-1].id if len(rows) > per_page else None
    newer = entries[0].id if before is not None and entries else None
    return AuditPage(entries, older, newer)


def audit_csv(session: Session, filters: AuditFilter, *, batch: int = 1000) -> Iterator[str]:
    """The matching entries as CSV, newest first, a chunk of rows at a time (for a streamed download)."""
    buffer = io.StringIO()
    writer = csv_cells.writer(buffer)  # cells a spreadsheet would run get a leading '
    writer.writerow(CSV_COLUMNS)
    query = _filtered(select(AuditEntry), filters).order_by(AuditEntry.id.desc())
    cursor: int | None = None
    while True:
        page = query if cursor is None else query.where(AuditEntry.id < cursor)
        rows = list(session.scalars(page.limit(batch)))
        for entry in rows:
            writer.writerow(
                [
                    "" if value is None else value
                    for value in (
                        entry.id,
                        entry.created_at.isoformat(),
                        entry.actor_label,
                        entry.ip_address,
                        entry.action,
                        entry.entity_type,
                        entry.entity_id,
                        diff_text(entry.before, entry.after),
                        entry.hash,
                    )
                ]
            )
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        if len(rows) < batch:
            return
        cursor = rows[-1].id
        session.expunge_all()  # a large export keeps only one batch in memory


@dataclass(frozen=True)
class ChainCheck:
    count: int  # entries checked (up to the first broken one)
    broken_id: int | None = None
    problem: str = ""
    head_hash: str = GENESIS_HASH  # the last intact entry's hash: kept elsewhere, it shows a cut-off tail

    @property
    def ok(self) -> bool:
        return self.broken_id is None


_CHAIN_SQL = (
    "SELECT id, actor_id, actor_label, action, entity_type, entity_id, before, after, ip_address, created_at,"
    " prev_hash, hash FROM audit_entries WHERE id > :last ORDER BY id LIMIT :batch"
)


def verify_audit_chain(connection: Connection, *, batch: int = 5000) -> ChainCheck:
    """Walk the whole log in id order, a batch at a time (keyset, so memory stays flat on millions of rows),
    recomputing each hash: the first entry whose prev_hash is not the previous entry's hash, or whose hash
    doesn't match its fields, is reported.

    The rows are read as the driver gives them, without the ORM's type handling (the walk's cost is mostly
    per row): SQLite hands JSON and times over as text, decoded here as the column types would."""
    sqlite = connection.dialect.name == "sqlite"
    expected_prev = GENESIS_HASH
    count = 0
    last_id = 0
    statement = text(_CHAIN_SQL)
    while True:
        rows = connection.execute(statement, {"last": last_id, "batch": batch}).all()
        for row in rows:
            (entry_id, actor_id, label, action, entity_type, entity_id, before, after, ip, created) = row[:10]
            prev_hash, stored_hash = row[10], row[11]
            if prev_hash != expected_prev:
                return ChainCheck(count, entry_id, "its prev_hash is not the hash of the entry before it")
            if sqlite:
                before = None if before is None else json.loads(before)
                after = None if after is None else json.loads(after)
            if isinstance(created, str):
                created = datetime.fromisoformat(created)
            if created.tzinfo is None:
                created = created.replace(tzinfo=UTC)
            fields = {
                "actor_id": actor_id,
                "actor_label": label,
                "action": action,
                "entity_type": entity_type,
                "entity_id": entity_id,
                "before": before,
                "after": after,
                "ip_address": ip,
                "created_at": created,
            }
            if entry_hash(fields, prev_hash) != stored_hash:
                return ChainCheck(count, entry_id, "its hash does not match its contents")
            expected_prev = stored_hash
            count += 1
        if len(rows) < batch:
            return ChainCheck(count, head_hash=expected_prev)
        last_id = rows[-1][0]
