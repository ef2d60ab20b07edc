"""Fuzzy identity resolution against the database: keys, candidates, merges, suggestions, unmerge."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.audit.models import AuditEntry
from core.customers.backfill import resolve_all_customers
from core.customers.models import (
    CrmNote,
    Customer,
    CustomerMatchSuggestion,
    CustomerMerge,
    Identity,
    IdentityMatchKey,
)
from core.customers.resolution import (
    customer_matches,
    dismiss_suggestion,
    index_identity_keys,
    merge_customers,
    merge_suggestion,
    resolve_customer_matches,
    resolve_new_identities,
    unmerge_customers,
)
from core.errors import DomainError
from core.orders.models import Order
from core.returns.models import ReturnRequest
from core.security.models import User
from core.security.roles import Actor
from core.support.models import Conversation
from tests.factories import NOW, make_channel, make_customer, make_order, make_user
from tests.support_factories import make_conversation

ACTOR = Actor(label="resolver")
HOME = {
    "line1": "14 Larkspur Street",
    "city": "Fairview",
    "region": "QLD",
    "postal_code": "4051",
    "country": "AU",
}


def person(
    session: Session, name: str, address: dict[str, Any] | None = None, *, age_days: int = 0, **identity: Any
) -> Customer:
    """A customer made `age_days` before NOW with one identity of that name and address."""
    customer = make_customer(
        session, name=name, email=identity.get("email"), created_at=NOW - timedelta(age_days)
    )
    session.add(
        Identity(
            customer_id=customer.id,
            channel_id=identity.pop("channel_id", None) or make_channel(session).id,
            name=name,
            address=HOME if address is None else address,
            created_at=customer.created_at,
            **identity,
        )
    )
    session.flush()
    return customer


def test_index_identity_keys_stores_keys_once_for_identities_without_them(db: Session) -> None:
    person(db, "Margaret Okonkwo")
    assert index_identity_keys(db) == 1
    keys = set(db.scalars(select(IdentityMatchKey.key)))
    assert "pc_sx:4051|o252" in keys
    assert index_identity_keys(db) == 0


def test_index_identity_keys_leave_out_marketplace_relay_emails(db: Session) -> None:
    person(db, "Margaret Okonkwo", email="x7f3@marketplace.amazon.com")
    index_identity_keys(db)
    assert not [key for key in db.scalars(select(IdentityMatchKey.key)) if key.startswith("em:")]


def test_customer_matches_find_a_typo_and_abbreviation_but_not_a_stranger(db: Session) -> None:
    older = person(db, "Margaret Okonkwo", age_days=10)
    newer = person(db, "Margret Okonkwo", {**HOME, "line1": "14 Larkspur St"})
    person(db, "Isla Montgomery", {"line1": "55 Hill Street", "city": "Hobart", "postal_code": "7000"})
    index_identity_keys(db)
    matches = customer_matches(db, newer.id)
    assert set(matches) == {older.id}
    assert matches[older.id].decision == "link"


def test_resolve_merges_the_newer_customer_into_the_older_with_an_audit_entry(db: Session) -> None:
    older = person(db, "Margaret Okonkwo", age_days=10)
    newer = person(db, "Okonkwo Margaret")  # names swapped on another channel
    order = make_order(db, customer_id=newer.id)
    index_identity_keys(db)
    report = resolve_customer_matches(db, newer.id, actor=ACTOR, now=NOW)
    assert (report.links_made, report.merges) == (1, [(newer.id, older.id)])
    assert db.get(Customer, newer.id).merged_into_id == older.id
    assert {i.customer_id for i in db.scalars(select(Identity))} == {older.id}
    assert db.get(Order, order.id).customer_id == older.id
    merge = db.scalar(select(CustomerMerge))
    assert merge.reason.startswith("identity match")
    audit = db.scalar(select(AuditEntry).where(AuditEntry.action == "customer.merge"))
    assert audit.entity_id == str(older.id) and audit.after["merged_into_id"] == older.id


def test_resolve_queues_a_household_member_as_a_suggestion_once(db: Session) -> None:
    grace = person(db, "Grace Okafor", age_days=3)
    samuel = person(db, "Samuel Okafor")
    index_identity_keys(db)
    first = resolve_customer_matches(db, samuel.id, actor=ACTOR, now=NOW)
    again = resolve_customer_matches(db, grace.id, actor=ACTOR, now=NOW)
    assert (first.links_made, first.suggestions_queued, again.suggestions_queued) == (0, 1, 0)
    suggestion = db.scalar(select(CustomerMatchSuggestion))
    assert (suggestion.customer_id, suggestion.other_customer_id, suggestion.status) == (
        grace.id,
        samuel.id,
        "open",
    )
    assert suggestion.reasons["surname"]["similarity"] == 1.0
    assert suggestion.reasons["given_name"]["similarity"] < 0.8
    assert db.get(Customer, samuel.id).merged_into_id is None


def test_resolve_never_touches_a_dismissed_pair(db: Session) -> None:
    older = person(db, "Margaret Okonkwo", age_days=10)
    newer = person(db, "Margret Okonkwo")
    db.add(
        CustomerMatchSuggestion(
            customer_id=older.id, other_customer_id=newer.id, score=0.99, status="dismissed"
        )
    )
    index_identity_keys(db)
    report = resolve_customer_matches(db, newer.id, actor=ACTOR, now=NOW)
    assert (report.links_made, report.suggestions_queued) == (0, 0)
    assert db.get(Customer, newer.id).merged_into_id is None


def test_resolve_suggests_instead_of_merging_two_portal_accounts(db: Session) -> None:
    older = person(db, "Margaret Okonkwo", age_days=10)
    newer = person(db, "Margaret Okonkwo")
    make_user(db, "customer", customer_id=older.id)
    make_user(db, "customer", customer_id=newer.id)
    index_identity_keys(db)
    report = resolve_customer_matches(db, newer.id, actor=ACTOR, now=NOW)
    assert (report.links_made, report.suggestions_queued) == (0, 1)
    assert db.get(Customer, newer.id).merged_into_id is None


def test_resolve_all_customers_links_each_group_into_its_oldest_customer(db: Session) -> None:
    first = person(db, "Margaret Okonkwo", age_days=30)
    second = person(db, "Margret Okonkwo", {**HOME, "line1": "14 Larkspur St"}, age_days=20)
    third = person(db, "OKONKWO, MARGARET", age_days=10)
    household = person(db, "Samuel Okonkwo", age_days=5)
    stranger = person(
        db, "Isla Montgomery", {"line1": "55 Hill Street", "city": "Hobart", "postal_code": "7000"}
    )
    report = resolve_all_customers(db, actor=ACTOR, now=NOW)
    assert report.identities_indexed == 5
    assert (report.links_made, report.suggestions_queued) == (2, 1)
    merged = {c.id: c.merged_into_id for c in db.scalars(select(Customer))}
    assert merged[second.id] == merged[third.id] == first.id
    assert merged[first.id] is merged[household.id] is merged[stranger.id] is None
    suggestion = db.scalar(select(CustomerMatchSuggestion))
    assert {suggestion.customer_id, suggestion.other_customer_id} == {first.id, household.id}


def test_merge_customers_refuses_a_customer_already_merged(db: Session) -> None:
    a, b, c = (make_customer(db) for _ in range(3))
    merge_customers(db, b.id, a.id, actor=ACTOR, now=NOW, reason="same person")
    with pytest.raises(DomainError):
        merge_customers(db, b.id, c.id, actor=ACTOR, now=NOW, reason="same person")


def _snapshot(session: Session) -> dict[str, list[str]]:
    """Every column of every row of the customers and of each table whose rows belong to a customer."""
    session.expire_all()
    return {
        model.__tablename__: sorted(repr(tuple(row)) for row in session.execute(select(model.__table__)))
        for model in (Customer, Identity, Order, ReturnRequest, Conversation, CrmNote, User)
    }


def test_unmerge_restores_both_customers_exactly_and_remembers_the_pair(db: Session) -> None:
    target = person(db, "Margaret Okonkwo", age_days=10)
    source = person(db, "Margret Okonkwo")
    make_order(db, customer_id=target.id)
    make_order(db, customer_id=source.id)
    make_conversation(db, customer_id=source.id)
    db.add(CrmNote(customer_id=source.id, body="Prefers email", created_at=NOW))
    make_user(db, "customer", customer_id=source.id)
    db.flush()
    before = _snapshot(db)
    merge = merge_customers(db, source.id, target.id, actor=ACTOR, now=NOW, reason="same person")
    merged = _snapshot(db)
    assert merged != before
    assert {o.customer_id for o in db.scalars(select(Order))} == {target.id}
    assert db.scalar(select(Conversation.customer_id)) == target.id
    unmerge_customers(db, merge.id, actor=ACTOR, now=NOW + timedelta(hours=1))
    assert _snapshot(db) == before
    assert db.get(CustomerMerge, merge.id).undone_at is not None
    assert db.scalar(select(CustomerMatchSuggestion.status)) == "dismissed"
    assert db.scalar(select(AuditEntry.entity_id).where(AuditEntry.action == "customer.unmerge")) == str(
        source.id
    )
    index_identity_keys(db)
    again = resolve_customer_matches(db, source.id, actor=ACTOR, now=NOW + timedelta(hours=2))
    assert again.links_made == 0
    with pytest.raises(DomainError):
        unmerge_customers(db, merge.id, actor=ACTOR, now=NOW)


def test_unmerge_leaves_rows_the_target_gained_after_the_merge(db: Session) -> None:
    target = person(db, "Margaret Okonkwo", age_days=10)
    source = person(db, "Margret Okonkwo")
    merge = merge_customers(db, source.id, target.id, actor=ACTOR, now=NOW, reason="same person")
    later = make_order(db, customer_id=target.id)
    unmerge_customers(db, merge.id, actor=ACTOR, now=NOW)
    assert db.get(Order, later.id).customer_id == target.id


def test_resolve_new_identities_resolves_only_customers_with_unindexed_identities(db: Session) -> None:
    older = person(db, "Margaret Okonkwo", age_days=10)
    index_identity_keys(db)
    newer = person(db, "Margret Okonkwo")
    report = resolve_new_identities(db, actor=ACTOR, now=NOW)
    assert (report.identities_indexed, report.customers_checked, report.merges) == (
        1,
        1,
        [(newer.id, older.id)],
    )
    assert resolve_new_identities(db, actor=ACTOR, now=NOW).customers_checked == 0


def test_merge_suggestion_merges_the_newer_customer_and_closes_the_suggestion(db: Session) -> None:
    grace = person(db, "Grace Okafor", age_days=3)
    samuel = person(db, "Samuel Okafor")
    resolve_all_customers(db, actor=ACTOR, now=NOW)
    suggestion = db.scalar(select(CustomerMatchSuggestion))
    merge = merge_suggestion(db, suggestion.id, actor=ACTOR, now=NOW)
    assert (merge.source_customer_id, merge.target_customer_id) == (samuel.id, grace.id)
    assert (suggestion.status, suggestion.decided_by) == ("merged", "resolver")
    with pytest.raises(DomainError):
        dismiss_suggestion(db, suggestion.id, actor=ACTOR, now=NOW)


def test_dismiss_suggestion_is_audited_and_remembered(db: Session) -> None:
    person(db, "Grace Okafor", age_days=3)
    samuel = person(db, "Samuel Okafor")
    resolve_all_customers(db, actor=ACTOR, now=NOW)
    suggestion = db.scalar(select(CustomerMatchSuggestion))
    dismiss_suggestion(db, suggestion.id, actor=ACTOR, now=NOW)
    assert db.scalar(select(AuditEntry.action).where(AuditEntry.action == "customer_match.dismissed"))
    report = resolve_customer_matches(db, samuel.id, actor=ACTOR, now=NOW)
    assert (report.links_made, report.suggestions_queued) == (0, 0)


def test_resolve_does_not_merge_a_third_customer_into_one_it_was_dismissed_from(db: Session) -> None:
    first = person(db, "Margaret Okonkwo", age_days=30)
    second = person(db, "Margret Okonkwo", age_days=20)
    third = person(db, "Margaret Okonkow")
    db.add(
        CustomerMatchSuggestion(
            customer_id=first.id, other_customer_id=third.id, score=0.99, status="dismissed"
        )
    )
    index_identity_keys(db)
    report = resolve_customer_matches(db, second.id, actor=ACTOR, now=NOW)
    assert report.merges == [(second.id, first.id)]
    assert db.get(Customer, third.id).merged_into_id is None


def test_identity_resolution_job_takes_a_bounded_batch_per_run(db: Session, monkeypatch) -> None:
    from core import jobs
    from core.customers import resolution

    older = person(db, "Margaret Okonkwo", age_days=10)
    index_identity_keys(db)
    newer = person(db, "Margret Okonkwo")
    person(db, "Tobias Lindqvist")
    monkeypatch.setattr(resolution, "IDENTITIES_PER_RUN", 1)
    first = resolution.identity_resolution_job(db, NOW)
    assert (first.identities_indexed, first.merges) == (1, [(newer.id, older.id)])
    second = resolution.identity_resolution_job(db, NOW)
    assert (second.identities_indexed, second.merges) == (1, [])
    assert resolution.identity_resolution_job(db, NOW).identities_indexed == 0
    assert "identity_resolution_job" in {spec.id for spec in jobs.JOBS}
    audit = db.scalar(select(AuditEntry).where(AuditEntry.action == "customer.merge"))
    assert audit is not None and audit.actor_label == "system"


def test_unmerge_refuses_while_the_target_is_merged_on(db: Session) -> None:
    first = person(db, "Ada Lovelace", age_days=3)
    second = person(db, "Ada Lovelase", age_days=2)
    third = person(db, "Ada King", age_days=1)
    earlier = merge_customers(db, first.id, second.id, actor=ACTOR, now=NOW, reason="test")
    later = merge_customers(db, second.id, third.id, actor=ACTOR, now=NOW, reason="test")
    with pytest.raises(DomainError, match="undo that merge first"):
        unmerge_customers(db, earlier.id, actor=ACTOR, now=NOW)
    unmerge_customers(db, later.id, actor=ACTOR, now=NOW)
    unmerge_customers(db, earlier.id, actor=ACTOR, now=NOW)
    db.flush()
    assert db.scalar(select(Identity.customer_id).where(Identity.name == "Ada Lovelace")) == first.id


def test_a_merge_by_hand_decides_the_pairs_open_suggestion(db: Session) -> None:
    grace = person(db, "Grace Okafor", age_days=3)
    samuel = person(db, "Samuel Okafor")
    resolve_all_customers(db, actor=ACTOR, now=NOW)
    suggestion = db.scalar(select(CustomerMatchSuggestion))
    assert suggestion is not None and suggestion.status == "open"
    merge_customers(db, samuel.id, grace.id, actor=ACTOR, now=NOW, reason="checked by phone")
    db.refresh(suggestion)
    assert (suggestion.status, suggestion.decided_by) == ("merged", ACTOR.label)
