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


def clamp_page(page: int | str | None) -> int:
    """A page number from user input: at least 1, garbage becomes 1."""
    try:
        return max(1, int(page or 1))
    except (TypeError, ValueError):
        return 1


def contains_pattern(term: str) -> str:
    """A LIKE pattern matching `term` anywhere, its own % and _ taken literally (use with escape="\\")."""
    return "%" + term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
