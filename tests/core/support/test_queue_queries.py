"""Queue read model pieces: the SLA countdown table, the filters read from a query string, and finding the
caller of a phone note."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy.orm import Session

from core.errors import DomainError
from core.support.queue import QueueFilters, customer_id_for_contact, sla_countdown
from tests.factories import NOW, make_customer, make_order


@pytest.mark.parametrize(
    ("due", "status", "expected"),
    [
        (NOW - timedelta(minutes=5), "open", ("overdue", "5 min overdue")),
        (NOW - timedelta(hours=2, minutes=3), "open", ("overdue", "2 h 03 min overdue")),
        (NOW + timedelta(minutes=59), "open", ("soon", "due in 59 min")),
        (NOW + timedelta(hours=1), "open", ("soon", "due in 1 h 00 min")),
        (NOW + timedelta(hours=5), "open", ("ok", "due in 5 h 00 min")),
        (NOW - timedelta(hours=5), "pending", ("paused", "paused")),
        (NOW - timedelta(hours=5), "solved", (None, "")),
        (None, "open", (None, "")),
    ],
)
def test_sla_countdown_table(due, status: str, expected) -> None:
    assert sla_countdown(due, status, NOW) == expected


def test_queue_filters_from_args_drop_unknown_values_and_keep_only_changes_in_params() -> None:
    filters = QueueFilters.from_args(
        {
            "view": "nope",
            "sort": "sla",
            "priority": "mega",
            "source": "phone",
            "q": "  lost   parcel ",
            "page": "x",
        }
    )
    assert (filters.view, filters.sort, filters.priority, filters.source, filters.q, filters.page) == (
        "open",
        "sla",
        "",
        "phone",
        "lost parcel",
        1,
    )
    assert filters.params() == {"source": "phone", "q": "lost parcel", "sort": "sla"}
    assert filters.params(view="mine", page=3) == {
        "view": "mine",
        "source": "phone",
        "q": "lost parcel",
        "sort": "sla",
        "page": 3,
    }
    assert QueueFilters.from_args({"status": "pending"}).view == "pending"


def test_customer_id_for_contact_by_email_phone_or_order_number(db: Session) -> None:
    jane = make_customer(db, email="jane@example.org", phone="+15551234567")
    order = make_order(db, customer_id=jane.id, channel_number="#1042")
    for text in ("Jane@Example.org", "+1 555 123 4567", "15551234567", order.number.lower(), "#1042"):
        assert customer_id_for_contact(db, text) == jane.id, text
    with pytest.raises(DomainError, match="no customer matches"):
        customer_id_for_contact(db, "nobody@example.org")
    make_customer(db, email="twin@example.org")
    make_customer(db, email="twin@example.org")
    with pytest.raises(DomainError, match="several customers match"):
        customer_id_for_contact(db, "twin@example.org")
    with pytest.raises(DomainError, match="say who called"):
        customer_id_for_contact(db, "  ")
