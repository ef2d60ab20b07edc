"""Console search: the ranking (pure: typos forgiven per field, one hit per customer or order, best first),
and the candidates the database gives it."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from core.fulfillment.models import Shipment
from core.support import search
from core.support.search import Candidate, rank_candidates
from tests.factories import make_channel, make_customer, make_order

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


def test_an_order_number_typed_in_full_comes_first_when_its_prefix_hits_the_cap(
    db: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(search, "CANDIDATES", 3)
    channel = make_channel(db)
    for k in range(8):  # CD-7700000 ... CD-7700700: all share the prefix kept for a typo, "CD-7700"
        make_order(db, channel_id=channel.id, number=f"CD-7700{k}00")
    wanted = make_order(db, channel_id=channel.id, number="CD-7700612")
    hits = search.console_search(db, "CD-7700612")
    assert (hits[0].id, hits[0].score) == (wanted.id, 100.0)
    assert search.console_search(db, "CD-7700621")[0].id == wanted.id  # the last two swapped
    assert search.console_search(db, "7700612")[0].id == wanted.id  # our number without its "CD-"


def test_a_tracking_number_typed_in_full_comes_first_when_its_prefix_hits_the_cap(
    db: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(search, "CANDIDATES", 3)
    channel = make_channel(db)
    for n in range(8):
        order = make_order(db, channel_id=channel.id)
        db.add(Shipment(order_id=order.id, carrier="UPS", tracking_number=f"1Z999AA1{n:08d}"))
    db.flush()
    hits = search.console_search(db, "1Z999AA100000006")
    assert (hits[0].field, hits[0].score) == ("tracking number", 100.0)
    assert hits[0].detail.endswith("1Z999AA100000006")


def test_a_marketplace_order_number_is_found_exactly_among_many_alike(
    db: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(search, "CANDIDATES", 3)
    channel = make_channel(db)
    orders = [make_order(db, channel_id=channel.id, channel_number=f"114-12345{n:02d}-1") for n in range(8)]
    assert search.console_search(db, "114-1234505-1")[0].id == orders[5].id


# The queries' shapes the search indexes of migration 0010_search_index are for, checked in the plans the
# database makes (on PostgreSQL with sequential scans priced out, as a large table would).
PLANS = {
    "postgresql": [
        ("SELECT id FROM customers WHERE lower(name) LIKE '% smi%'", "ix_customers_name_trgm"),
        ("SELECT id FROM customers WHERE phone LIKE '%1234567'", "ix_customers_phone_trgm"),
        ("SELECT id FROM customers WHERE email LIKE 'jane.d%'", "ix_customers_email_prefix"),
        ("SELECT id FROM identities WHERE email LIKE 'jane.d%'", "ix_identities_email_prefix"),
        ("SELECT id FROM orders WHERE number LIKE 'CD-1000%'", "ix_orders_number_prefix"),
        ("SELECT id FROM orders WHERE channel_number LIKE '114-1%'", "ix_orders_channel_number_prefix"),
        (
            "SELECT id FROM shipments WHERE tracking_number LIKE '1Z999%'",
            "ix_shipments_tracking_number_prefix",
        ),
    ],
    "sqlite": [
        ("SELECT id FROM customers WHERE email LIKE 'jane.d%' ESCAPE '\\'", "ix_customers_email_prefix"),
        ("SELECT id FROM orders WHERE number LIKE 'CD-1000%' ESCAPE '\\'", "ix_orders_number_prefix"),
        (
            "SELECT id FROM orders WHERE channel_number LIKE '114-1%' ESCAPE '\\'",
            "ix_orders_channel_number_prefix",
        ),
        (
            "SELECT id FROM shipments WHERE tracking_number LIKE '1Z999%' ESCAPE '\\'",
            "ix_shipments_tracking_number_prefix",
        ),
    ],
}


def test_the_search_matches_are_served_by_the_search_indexes(db: Session) -> None:
    dialect = db.get_bind().dialect.name
    if dialect == "postgresql":
        db.execute(text("SET LOCAL enable_seqscan = off"))
    for statement, index in PLANS[dialect]:
        explain = "EXPLAIN " if dialect == "postgresql" else "EXPLAIN QUERY PLAN "
        plan = " ".join(str(row[-1]) for row in db.execute(text(explain + statement)))
        assert index in plan, (statement, plan)


def test_an_order_number_is_not_taken_for_a_phone_ending_in_its_digits(db: Session) -> None:
    order = make_order(db, number="CD-1832685")
    make_customer(db, name="Beverly Peters", phone="+12001832685")
    hits = search.console_search(db, "CD-1832685")
    assert [(h.kind, h.id) for h in hits] == [("order", order.id)]
    assert {h.kind for h in search.console_search(db, "(200) 183-2685")} == {"customer"}


def test_a_query_with_digits_is_not_looked_for_in_names(db: Session) -> None:
    make_customer(db, name="Cd Jones", email="cd.jones@example.org")
    order = make_order(db, number="CD-1777777")
    assert search._customer_candidates(db, "CD-1777777") == []  # the name's "Cd" is not fetched
    assert [(h.kind, h.id) for h in search.console_search(db, "CD-1777777")] == [("order", order.id)]
    assert search.console_search(db, "CD Jones")[0].kind == "customer"
