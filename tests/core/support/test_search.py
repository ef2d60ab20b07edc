"""Console search: the ranking (pure: typos forgiven per field, one hit per customer or order, best first),
and the candidates the database gives it."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from core.support import search
from core.support.search import Candidate, rank_candidates
from tests.factories import make_customer

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


def test_console_search_keeps_the_closest_candidates_when_a_common_prefix_hits_the_cap(
    db: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(search, "CANDIDATES", 3)
    for n in range(6):
        make_customer(db, name=f"Jane Other{n}", email=f"jane.other{n}@example.org")
    wanted = make_customer(db, name="Jane Doe", email="jd@example.org")
    hits = search.console_search(db, "Jane Doe")
    assert hits[0].id == wanted.id and hits[0].score == 100.0
