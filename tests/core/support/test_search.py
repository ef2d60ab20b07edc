"""Console search ranking (pure): typos forgiven per field, one hit per customer or order, best first."""

from __future__ import annotations

import pytest

from core.support.search import Candidate, rank_candidates

JANE = [
    Candidate("customer", 1, "Jane Doe", "jane@example.org", "name", "Jane Doe"),
    Candidate("customer", 1, "Jane Doe", "jane@example.org", "email", "jane@example.org"),
    Candidate("customer", 1, "Jane Doe", "jane@example.org", "phone", "+15551234567"),
]
JOHN = [Candidate("customer", 2, "John Smith", "", "name", "John Smith")]
ORDER = [
    Candidate("order", 7, "CD-1000007", "eBay", "order number", "CD-1000007"),
    Candidate("order", 7, "CD-1000007", "eBay", "channel order number", "#1042"),
    Candidate("order", 7, "CD-1000007", "eBay", "tracking number", "1Z999AA10123456784"),
]
ALL = JANE + JOHN + ORDER


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("Jane Doe", [("customer", 1, "name")]),
        ("jnae doe", [("customer", 1, "name")]),
        ("jane@exmaple.org", [("customer", 1, "email")]),
        ("jane@ex", [("customer", 1, "email")]),  # still typing
        ("(555) 123-4567", [("customer", 1, "phone")]),
        ("CD-1000070", [("order", 7, "order number")]),
        ("1042", [("order", 7, "channel order number")]),
        ("1Z999AA10123456748", [("order", 7, "tracking number")]),
        ("Smith", [("customer", 2, "name")]),
        ("xylophone", []),
    ],
)
def test_rank_candidates_table(query: str, expected: list[tuple[str, int, str]]) -> None:
    assert [(h.kind, h.id, h.field) for h in rank_candidates(query, ALL)] == expected


def test_rank_candidates_keeps_the_best_field_once_per_result_and_the_limit() -> None:
    hits = rank_candidates("Jane Doe", JANE * 3 + JOHN, limit=1)
    assert [(h.id, h.score) for h in hits] == [(1, 100.0)]
