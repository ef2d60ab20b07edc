"""A page of results for list screens: numbered pages for small lists, keyset pages (newer/older links,
a capped count) for the large ones."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

from sqlalchemy import Select, bindparam, func, select, tuple_
from sqlalchemy.orm import Session

T = TypeVar("T")


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    page: int
    per_page: int
    total: int
    cap: int | None = None  # `total` was counted no further than cap + 1 (capped_count)

    @property
    def more_than_cap(self) -> bool:
        return self.cap is not None and self.total > self.cap

    @property
    def shown_total(self) -> str:
        """The count for a screen: "42" or "more than 1,000"."""
        return f"more than {self.cap:,}" if self.more_than_cap else f"{self.total:,}"

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))

    @property
    def has_prev(self) -> bool:
        return self.page > 1

    @property
    def has_next(self) -> bool:
        if self.more_than_cap and self.page >= self.pages:  # beyond the count: a full page may have more
            return len(self.items) == self.per_page
        return self.page < self.pages


MAX_PAGE = 1_000_000
MAX_ID = 2**63 - 1  # the largest BIGINT: a larger number from a form would overflow the database driver


def clamp_page(page: int | str | None) -> int:
    """A page number from user input: between 1 and MAX_PAGE, garbage becomes 1."""
    try:
        return max(1, min(int(page or 1), MAX_PAGE))
    except (TypeError, ValueError):
        return 1


def id_from_text(value: str | None) -> int | None:
    """A row id (or a count) from user input: ASCII digits within a BIGINT, else None. (`str.isdigit` alone
    lets through "²", which `int` refuses, and numbers no database column holds.)"""
    text = (value or "").strip()
    if not (text.isascii() and text.isdigit()):
        return None
    number = int(text)
    return number if number <= MAX_ID else None


def escape_like(term: str) -> str:
    """`term` for a LIKE pattern, its own % and _ taken literally (use with escape="\\")."""
    return term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def contains_pattern(term: str) -> str:
    """A LIKE pattern matching `term` anywhere, its own % and _ taken literally (use with escape="\\")."""
    return "%" + escape_like(term) + "%"


COUNT_CAP = 1000  # list screens count matches up to here and say "more than" beyond, never a full COUNT(*)


def capped_count(session: Session, statement: Select[Any], cap: int = COUNT_CAP) -> int:
    """How many rows `statement` selects, counting no further than cap + 1 (read: "more than `cap`")."""
    limited = statement.limit(cap + 1).subquery()
    return session.scalar(select(func.count()).select_from(limited)) or 0


@dataclass(frozen=True)
class KeysetPage(Generic[T]):
    """A page of a newest-first list read by key (a time and the row id), not by offset: `newer` and `older`
    are the cursors of the pages either side (None at either end). `total` counts up to `cap` + 1."""

    items: list[T]
    per_page: int
    total: int
    cap: int = COUNT_CAP
    newer: str | None = None
    older: str | None = None

    @property
    def more_than_cap(self) -> bool:
        return self.total > self.cap

    @property
    def shown_total(self) -> str:
        """The count for a screen: "42" or "more than 1,000"."""
        return f"more than {self.cap:,}" if self.more_than_cap else f"{self.total:,}"


def encode_cursor(at: datetime, row_id: int) -> str:
    """A row's place in a newest-first list, for a link: its time (UTC) and id."""
    return f"{at.astimezone(UTC).strftime('%Y%m%dT%H%M%S.%f')}_{row_id}"


def decode_cursor(value: str | None) -> tuple[datetime, int] | None:
    """The (time, id) of a cursor from a link; None for garbage (the list then starts at the newest)."""
    stamp, _, row_id = (value or "").partition("_")
    number = id_from_text(row_id)
    if number is None or len(stamp) > 30:
        return None
    try:
        return datetime.strptime(stamp, "%Y%m%dT%H%M%S.%f").replace(tzinfo=UTC), number
    except ValueError:
        return None


def keyset_page(
    session: Session,
    statement: Select[Any],
    *,
    at: Any,
    key: Any,
    cursor_of: Callable[[Any], tuple[datetime, int]],
    after: str | None = None,
    before: str | None = None,
    per_page: int = 20,
    scalars: bool = True,
) -> tuple[list[Any], str | None, str | None]:
    """One page of `statement` newest first by (`at`, `key`): the rows older than the `after` cursor, or the
    rows newer than `before`, or the newest. Returns (rows, newer cursor, older cursor); an index on
    (..., at, key) serves every page alike, however deep."""
    run = session.scalars if scalars else session.execute
    older_than, newer_than = decode_cursor(after), decode_cursor(before)
    place = tuple_(at, key)
    if newer_than is not None and older_than is None:
        bound = tuple_(bindparam(None, newer_than[0], type_=at.type), bindparam(None, newer_than[1]))
        rows = list(run(statement.where(place > bound).order_by(at.asc(), key.asc()).limit(per_page + 1)))
        more_newer = len(rows) > per_page
        rows = rows[:per_page][::-1]
        if not rows:  # nothing newer any more: the newest page
            return keyset_page(
                session, statement, at=at, key=key, cursor_of=cursor_of, per_page=per_page, scalars=scalars
            )
        newer = encode_cursor(*cursor_of(rows[0])) if more_newer else None
        return rows, newer, encode_cursor(*cursor_of(rows[-1]))
    ordered = statement.order_by(at.desc(), key.desc()).limit(per_page + 1)
    if older_than is not None:
        bound = tuple_(bindparam(None, older_than[0], type_=at.type), bindparam(None, older_than[1]))
        ordered = ordered.where(place < bound)
    rows = list(run(ordered))
    if older_than is not None and not rows:  # past the oldest (the rows moved on): the newest page
        return keyset_page(
            session, statement, at=at, key=key, cursor_of=cursor_of, per_page=per_page, scalars=scalars
        )
    more_older = len(rows) > per_page
    rows = rows[:per_page]
    newer = encode_cursor(*cursor_of(rows[0])) if older_than is not None and rows else None
    return rows, newer, encode_cursor(*cursor_of(rows[-1])) if more_older else None
