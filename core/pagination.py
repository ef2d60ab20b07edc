"""A page of results for list screens."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    page: int
    per_page: int
    total: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))

    @property
    def has_prev(self) -> bool:
        return self.page > 1

    @property
    def has_next(self) -> bool:
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
