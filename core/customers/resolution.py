"""Fuzzy identity resolution over the database: blocking keys stored per identity, candidates found through
their index and scored (core.customers.matching), high scores merged into the older customer, middle scores
queued as suggestions; merges recorded so they can be undone.

The blocking keys are stored rows (`identity_match_keys`, indexed on the key) rather than computed in SQL:
they need Python's normalisation (accents, street types) and Soundex, which SQLite lacks and PostgreSQL has
only as an extension; stored, one indexed `key IN (...)` lookup finds the candidates of every blocking pass
on either database. Intake does not write them (its fast path stays as it is): `index_identity_keys` picks up
every identity that has none, and the back-fill (`crossdock customers resolve`) calls it first.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Select, exists, func, insert, or_, select, update
from sqlalchemy.orm import Session

from core.audit.services import record_audit
from core.channels.base import is_relay_email
from core.customers.matching import (
    MAX_BLOCK,
    MatchResult,
    PersonRecord,
    blocking_keys,
    record_from_identity,
    score_pair,
)
from core.customers.models import (
    CrmNote,
    Customer,
    CustomerMatchSuggestion,
    CustomerMerge,
    Identity,
    IdentityMatchKey,
)
from core.db import begin_write
from core.errors import DomainError, NotFound
from core.orders.models import Order
from core.returns.models import ReturnRequest
from core.security.models import User
from core.security.roles import SYSTEM, Actor
from core.support.models import Conversation

# Every table whose rows belong to a customer and follow them into a merge (identities are listed apart).
MOVED_WITH_CUSTOMER: dict[str, Any] = {
    "orders": Order,
    "return_requests": ReturnRequest,
    "conversations": Conversation,
    "crm_notes": CrmNote,
    "users": User,
}
IDENTITY_COLUMNS = (
    Identity.id,
    Identity.customer_id,
    Identity.name,
    Identity.address,
    Identity.email,
    Identity.phone,
)


def identity_record(row: Any) -> PersonRecord:
    """The matching record of an identity row (id, customer_id, name, address, email, phone); a marketplace
    relay email is left out, as it names the channel's mailbox, not the person."""
    email = None if is_relay_email(row.email) else row.email
    return record_from_identity(row.id, row.name, row.address, email=email, phone=row.phone)


def index_identity_keys(session: Session, *, batch: int = 5000, limit: int | None = None) -> int:
    """Store the blocking keys of every identity that has none yet (the `limit` oldest of them, when given);
    the number of identities indexed."""
    unindexed = (
        select(*IDENTITY_COLUMNS)
        .where(~exists().where(IdentityMatchKey.identity_id == Identity.id))
        .order_by(Identity.id)
        .limit(limit)
    )
    indexed = 0
    rows = session.execute(unindexed).all()
    for start in range(0, len(rows), batch):
        values = [
            {"identity_id": row.id, "key": key}
            for row in rows[start : start + batch]
            for key in sorted(blocking_keys(identity_record(row)))
        ]
        if values:
            session.execute(insert(IdentityMatchKey), values)
        indexed += len(rows[start : start + batch])
    return indexed


def _candidates(customer_id: int, keys: set[str]) -> Select[Any]:
    """Identities of other active customers sharing one of `keys`, skipping keys too common to block on."""
    usable_keys = (
        select(IdentityMatchKey.key)
        .where(IdentityMatchKey.key.in_(sorted(keys)))
        .group_by(IdentityMatchKey.key)
        .having(func.count() <= MAX_BLOCK)
    )
    sharing = select(IdentityMatchKey.identity_id).where(IdentityMatchKey.key.in_(usable_keys))
    return (
        select(*IDENTITY_COLUMNS)
        .join(Customer, Customer.id == Identity.customer_id)
        .where(
            Identity.id.in_(sharing),
            Identity.customer_id != customer_id,
            Customer.merged_into_id.is_(None),
        )
    )


def customer_matches(session: Session, customer_id: int) -> dict[int, MatchResult]:
    """The other active customers who may be this one, each with the best score over both customers'
    identities (pairs scored at or above the suggestion threshold only)."""
    own = [
        identity_record(row)
        for row in session.execute(select(*IDENTITY_COLUMNS).where(Identity.customer_id == customer_id))
    ]
    keys = set().union(*(blocking_keys(record) for record in own)) if own else set()
    if not keys:
        return {}
    best: dict[int, MatchResult] = {}
    for row in session.execute(_candidates(customer_id, keys)):
        theirs = identity_record(row)
        for mine in own:
            result = score_pair(mine, theirs)
            current = best.get(row.customer_id)
            if result.decision != "distinct" and (
                current is None or match_rank(result) > match_rank(current)
            ):
                best[row.customer_id] = result
    return best


def match_rank(result: MatchResult) -> tuple[bool, float]:
    """Order of preference between matches: links first, then by score."""
    return result.decision == "link", result.score


def ordered_pair(a: int, b: int) -> tuple[int, int]:
    """A pair of customer ids as suggestions store it: the lower first."""
    return (a, b) if a < b else (b, a)


def match_reason(result: MatchResult) -> str:
    fields = ", ".join(f"{name} {reason['similarity']:.2f}" for name, reason in result.reasons.items())
    return f"identity match {result.score:.3f}: {fields}"[:300]


def _reassign(session: Session, model: Any, ids: list[int], from_id: int, to_id: int) -> None:
    """Move the listed rows still on `from_id` to `to_id`, leaving their update times as they were (a merge
    moves rows; it does not change them)."""
    if not ids:
        return
    kept = {column.key: column for column in model.__table__.columns if column.onupdate is not None}
    session.execute(
        update(model).where(model.id.in_(ids), model.customer_id == from_id).values(customer_id=to_id, **kept)
    )


def merge_customers(
    session: Session, source_id: int, target_id: int, *, actor: Actor, now: datetime, reason: str
) -> CustomerMerge:
    """Merge one customer into another: their identities, orders, returns, conversations, CRM notes and
    portal account move to the target, the source points at it, and the merge records every row moved (so
    `unmerge_customers` restores both exactly); audited. Refused when both have a portal account."""
    source, target = session.get(Customer, source_id), session.get(Customer, target_id)
    if source is None or target is None:
        raise NotFound(f"customer {source_id if source is None else target_id} not found")
    if source_id == target_id or source.merged_into_id is not None or target.merged_into_id is not None:
        raise DomainError("only two different customers that are not merged already can be merged")
    accounts = session.scalars(select(User.customer_id).where(User.customer_id.in_((source_id, target_id))))
    if len(list(accounts)) == 2:
        raise DomainError("both customers have a portal account: merge them by hand after checking with them")
    session.flush()
    identity_ids = list(session.scalars(select(Identity.id).where(Identity.customer_id == source_id)))
    moved: dict[str, list[int]] = {}
    for table, model in MOVED_WITH_CUSTOMER.items():
        ids = list(session.scalars(select(model.id).where(model.customer_id == source_id).order_by(model.id)))
        if ids:
            moved[table] = ids
            _reassign(session, model, ids, source_id, target_id)
    _reassign(session, Identity, identity_ids, source_id, target_id)
    source.merged_into_id = target_id
    merge = CustomerMerge(
        source_customer_id=source_id,
        target_customer_id=target_id,
        identity_ids=identity_ids,
        moved_rows=moved,
        reason=reason[:300],
        actor=actor.label[:100],
        created_at=now,
    )
    session.add(merge)
    session.flush()
    low, high = sorted((source_id, target_id))
    session.execute(  # the pair's open suggestion, if any, is decided by this merge
        update(CustomerMatchSuggestion)
        .where(
            CustomerMatchSuggestion.customer_id == low,
            CustomerMatchSuggestion.other_customer_id == high,
            CustomerMatchSuggestion.status == "open",
        )
        .values(status="merged", decided_at=now, decided_by=actor.label[:100])
    )
    record_audit(
        session,
        actor,
        "customer.merge",
        "customer",
        target_id,
        now=now,
        before={"customer_id": source_id},
        after={
            "merged_into_id": target_id,
            "merge_id": merge.id,
            "identity_ids": identity_ids,
            "moved": moved,
        },
    )
    return merge


def unmerge_customers(session: Session, merge_id: int, *, actor: Actor, now: datetime) -> CustomerMerge:
    """Undo a merge: the rows it moved go back to the source customer, which stands alone again; the pair is
    remembered as dismissed so resolution does not merge it again; audited."""
    merge = session.get(CustomerMerge, merge_id)
    if merge is None:
        raise NotFound(f"merge {merge_id} not found")
    if merge.undone_at is not None:
        raise DomainError(f"merge {merge_id} was already undone")
    source_id, target_id = merge.source_customer_id, merge.target_customer_id
    onward = session.scalar(select(Customer.merged_into_id).where(Customer.id == target_id))
    if onward is not None:  # the moved rows went on with the target: undo that later merge first
        raise DomainError(
            f"customer {target_id} was merged into customer {onward} since: undo that merge first"
        )
    session.flush()
    tables = {"identities": Identity, **MOVED_WITH_CUSTOMER}
    rows = {"identities": list(merge.identity_ids), **(merge.moved_rows or {})}
    for table, ids in rows.items():
        _reassign(session, tables[table], ids, target_id, source_id)
    session.execute(update(Customer).where(Customer.id == source_id).values(merged_into_id=None))
    merge.undone_at = now
    _decide_suggestion(session, source_id, target_id, status="dismissed", actor=actor, now=now)
    session.flush()
    record_audit(
        session,
        actor,
        "customer.unmerge",
        "customer",
        source_id,
        now=now,
        before={"merged_into_id": target_id, "merge_id": merge.id},
        after={"merged_into_id": None},
    )
    return merge


def _decide_suggestion(
    session: Session,
    a: int,
    b: int,
    *,
    status: str,
    actor: Actor,
    now: datetime,
    result: MatchResult | None = None,
) -> CustomerMatchSuggestion:
    """The pair's suggestion set to `status` (made when there is none)."""
    low, high = ordered_pair(a, b)
    suggestion = session.scalar(
        select(CustomerMatchSuggestion).where(
            CustomerMatchSuggestion.customer_id == low, CustomerMatchSuggestion.other_customer_id == high
        )
    )
    if suggestion is None:
        suggestion = CustomerMatchSuggestion(
            customer_id=low,
            other_customer_id=high,
            score=result.score if result else 0.0,
            reasons=result.reasons if result else {},
            created_at=now,
        )
        session.add(suggestion)
    suggestion.status = status
    suggestion.decided_at = now
    suggestion.decided_by = actor.label[:100]
    return suggestion


@dataclass
class ResolutionReport:
    """What a resolution run did (or, dry, would do)."""

    customers_checked: int = 0
    identities_indexed: int = 0
    links_made: int = 0
    suggestions_queued: int = 0
    merges: list[tuple[int, int]] = field(default_factory=list)  # (source, target)


def resolve_customer_matches(
    session: Session,
    customer_id: int,
    *,
    actor: Actor,
    now: datetime,
    report: ResolutionReport | None = None,
) -> ResolutionReport:
    """Resolve one customer against the others: every automatic match merges into the oldest customer of the
    group (the lowest id among equally old), every middle one queues an open suggestion for that customer;
    pairs already suggested are not queued twice and dismissed pairs are never touched. Assumes the keys of
    the customer's identities are indexed (`index_identity_keys`)."""
    report = report if report is not None else ResolutionReport()
    customer = session.get(Customer, customer_id)
    if customer is None:
        raise NotFound(f"customer {customer_id} not found")
    report.customers_checked += 1
    if customer.merged_into_id is not None:
        return report
    _apply_matches(
        session, customer_id, customer_matches(session, customer_id), actor=actor, now=now, report=report
    )
    return report


def _apply_matches(
    session: Session,
    customer_id: int,
    matches: dict[int, MatchResult],
    *,
    actor: Actor,
    now: datetime,
    report: ResolutionReport,
) -> None:
    """Merge the automatic matches into the oldest customer of the group, queue the middle ones."""
    if not matches:
        return
    known = {
        ordered_pair(s.customer_id, s.other_customer_id): s.status
        for s in session.scalars(
            select(CustomerMatchSuggestion).where(
                or_(
                    CustomerMatchSuggestion.customer_id == customer_id,
                    CustomerMatchSuggestion.other_customer_id == customer_id,
                )
            )
        )
    }
    matches = {
        other: result
        for other, result in matches.items()
        if known.get(ordered_pair(customer_id, other)) != "dismissed"
    }
    linked = sorted(
        (other for other, result in matches.items() if result.decision == "link"),
        key=lambda other: _age(session, other),
    )
    survivor = customer_id
    if linked and _age(session, linked[0]) < _age(session, customer_id):
        survivor = linked[0]
    for other in [customer_id, *linked]:
        if other == survivor:
            continue
        result = matches.get(other) or matches[survivor]
        if _pair_status(session, other, survivor) == "dismissed":  # staff said these two are different people
            continue
        try:
            with session.begin_nested():
                merge_customers(session, other, survivor, actor=actor, now=now, reason=match_reason(result))
        except DomainError:
            _queue(session, other, survivor, result, known, now=now, report=report)
            continue
        if ordered_pair(other, survivor) in known:
            _decide_suggestion(session, other, survivor, status="merged", actor=actor, now=now)
        report.links_made += 1
        report.merges.append((other, survivor))
    for other, result in matches.items():
        if result.decision == "suggest":
            _queue(session, other, survivor, result, known, now=now, report=report)


def _age(session: Session, customer_id: int) -> tuple[datetime, int]:
    customer = session.get(Customer, customer_id)
    if customer is None:
        raise NotFound(f"customer {customer_id} not found")
    return customer.created_at, customer.id


def _pair_status(session: Session, a: int, b: int) -> str | None:
    """The status of the pair's suggestion, None when it has none."""
    low, high = ordered_pair(a, b)
    return session.scalar(
        select(CustomerMatchSuggestion.status).where(
            CustomerMatchSuggestion.customer_id == low, CustomerMatchSuggestion.other_customer_id == high
        )
    )


def _queue(
    session: Session,
    a: int,
    b: int,
    result: MatchResult,
    known: dict[tuple[int, int], str],
    *,
    now: datetime,
    report: ResolutionReport,
) -> None:
    pair = ordered_pair(a, b)
    if a == b or pair in known:
        return
    status = _pair_status(session, a, b)
    if status is not None:  # a pair known to the survivor of a merge made in this run
        known[pair] = status
        return
    low, high = pair
    session.add(
        CustomerMatchSuggestion(
            customer_id=low,
            other_customer_id=high,
            score=result.score,
            reasons=result.reasons,
            created_at=now,
        )
    )
    known[pair] = "open"
    report.suggestions_queued += 1


def resolve_new_identities(
    session: Session, *, actor: Actor, now: datetime, limit: int | None = None
) -> ResolutionReport:
    """The incremental run (for a scheduled job, so intake stays as fast as it is): index the identities
    that came in since the last run (the `limit` oldest of them, when given) and resolve only their
    customers, through the stored keys."""
    new = (
        select(Identity.customer_id)
        .join(Customer, Customer.id == Identity.customer_id)
        .where(
            ~exists().where(IdentityMatchKey.identity_id == Identity.id),
            Customer.merged_into_id.is_(None),
        )
        .order_by(Identity.id)
        .limit(limit)
    )
    customer_ids = sorted(set(session.scalars(new)))
    report = ResolutionReport(identities_indexed=index_identity_keys(session, limit=limit))
    for customer_id in customer_ids:
        resolve_customer_matches(session, customer_id, actor=actor, now=now, report=report)
    return report


# A worker run takes this many new identities at most, so it holds SQLite's write lock briefly.
IDENTITIES_PER_RUN = 500


def identity_resolution_job(session: Session, now: datetime) -> ResolutionReport:
    """Worker job (every 10 minutes): resolve the customers of the identities intake added since the last run
    (links made automatically, suggestions queued for staff)."""
    begin_write(session)
    return resolve_new_identities(session, actor=SYSTEM, now=now, limit=IDENTITIES_PER_RUN)


def _open_suggestion(session: Session, suggestion_id: int) -> CustomerMatchSuggestion:
    suggestion = session.get(CustomerMatchSuggestion, suggestion_id)
    if suggestion is None:
        raise NotFound(f"suggestion {suggestion_id} not found")
    if suggestion.status != "open":
        raise DomainError(f"suggestion {suggestion_id} is already {suggestion.status}")
    return suggestion


def dismiss_suggestion(
    session: Session, suggestion_id: int, *, actor: Actor, now: datetime
) -> CustomerMatchSuggestion:
    """Staff say the two customers are different people: the pair is never suggested or merged again;
    audited."""
    suggestion = _open_suggestion(session, suggestion_id)
    suggestion.status, suggestion.decided_at, suggestion.decided_by = "dismissed", now, actor.label[:100]
    record_audit(
        session,
        actor,
        "customer_match.dismissed",
        "customer",
        suggestion.customer_id,
        now=now,
        after={"other_customer_id": suggestion.other_customer_id, "score": suggestion.score},
    )
    return suggestion


def merge_suggestion(session: Session, suggestion_id: int, *, actor: Actor, now: datetime) -> CustomerMerge:
    """Staff confirm a suggestion: the newer customer is merged into the older (audited, reversible)."""
    suggestion = _open_suggestion(session, suggestion_id)
    pair = (suggestion.customer_id, suggestion.other_customer_id)
    target, source = sorted(pair, key=lambda customer_id: _age(session, customer_id))
    merge = merge_customers(
        session,
        source,
        target,
        actor=actor,
        now=now,
        reason=f"suggestion {suggestion.id} confirmed (score {suggestion.score:.3f})",
    )
    suggestion.status, suggestion.decided_at, suggestion.decided_by = "merged", now, actor.label[:100]
    return merge
