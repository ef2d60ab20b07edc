"""Retention: closed conversations and inactive customers past their periods are anonymised."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy.orm import Session

from core import jobs
from core.customers.models import Customer
from core.errors import DomainError
from core.privacy.erasure import is_erased
from core.privacy.retention import RetentionSettings, apply_retention, plan_retention
from core.support.models import Conversation
from tests.factories import NOW, make_customer, make_order
from tests.support_factories import make_conversation

SETTINGS = RetentionSettings(conversation_days=365, customer_days=1000)


def test_retention_settings_read_days_from_the_environment() -> None:
    settings = RetentionSettings.from_env(
        {"CROSSDOCK_RETENTION_CONVERSATION_DAYS": "90", "CROSSDOCK_RETENTION_CUSTOMER_DAYS": "0"}
    )
    assert (settings.conversation_days, settings.customer_days) == (90, 0)
    assert RetentionSettings.from_env({}) == RetentionSettings(730, 1825)


def test_retention_settings_refuse_a_value_that_is_not_days() -> None:
    with pytest.raises(DomainError, match="CROSSDOCK_RETENTION_CUSTOMER_DAYS"):
        RetentionSettings.from_env({"CROSSDOCK_RETENTION_CUSTOMER_DAYS": "five years"})


def test_retention_anonymises_old_closed_conversations_only(db: Session) -> None:
    old_closed = make_conversation(db, body="My address is 1 Hill Road", status="closed")
    old_closed.updated_at = NOW - timedelta(days=400)
    old_open = make_conversation(db, status="open")
    old_open.updated_at = NOW - timedelta(days=400)
    recent_closed = make_conversation(db, status="closed")
    recent_closed.updated_at = NOW - timedelta(days=10)
    db.flush()

    plan = plan_retention(db, SETTINGS, now=NOW)
    assert plan.conversation_ids == [old_closed.id]
    apply_retention(db, plan, now=NOW)

    assert db.get(Conversation, old_closed.id).subject == "[erased]"
    assert [m.body for m in old_closed.messages] == ["[erased]"]
    assert old_open.messages[0].body == "Where is my parcel?"
    assert plan_retention(db, SETTINGS, now=NOW).conversation_ids == []


def test_retention_erases_customers_inactive_past_the_period(db: Session) -> None:
    inactive = make_customer(
        db, name="Octavia Lindqvist", email="ol@example.com", created_at=NOW - timedelta(days=2000)
    )
    make_order(db, customer_id=inactive.id, placed_at=NOW - timedelta(days=1500), total=5000, subtotal=5000)
    active = make_customer(db, name="Rufus Penhaligon", created_at=NOW - timedelta(days=2000))
    make_order(db, customer_id=active.id, placed_at=NOW - timedelta(days=30))
    new = make_customer(db, name="Ines Valdivia", created_at=NOW - timedelta(days=10))

    plan = plan_retention(db, SETTINGS, now=NOW)
    assert plan.customer_ids == [inactive.id]
    outcome = apply_retention(db, plan, now=NOW)

    assert outcome["customers"] == 1
    assert is_erased(db.get(Customer, inactive.id))
    assert db.get(Customer, active.id).name == "Rufus Penhaligon"
    assert db.get(Customer, new.id).name == "Ines Valdivia"
    assert plan_retention(db, SETTINGS, now=NOW).customer_ids == []


def test_retention_turned_off_plans_nothing(db: Session) -> None:
    make_customer(db, created_at=NOW - timedelta(days=4000))
    plan = plan_retention(db, RetentionSettings(0, 0), now=NOW)
    assert (plan.conversation_ids, plan.customer_ids) == ([], [])


def test_retention_job_is_scheduled() -> None:
    assert "retention_job" in {spec.id for spec in jobs.JOBS}
