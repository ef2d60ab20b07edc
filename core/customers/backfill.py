"""The identity back-fill (`crossdock customers resolve`, the demo seed): resolution over every customer at
once, planned in memory and written in bulk.

Every active identity is read and normalised once; its blocking keys are stored (for the incremental runs)
from the same computation; the pairs are blocked and scored in one pass; then every active customer is
resolved, oldest first, as `resolve_customer_matches` does one at a time (automatic matches merge into the
oldest customer of the group, middle ones queue a suggestion, dismissed pairs are never touched, two portal
accounts are never merged), but against in-memory state: the merges, their CustomerMerge records (every row
moved, so each can be undone) and audit entries, and the suggestions are written with one statement per table
and kind rather than several per customer.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.orm import Session

from core.audit.models import AuditEntry
from core.audit.services import chain_entries
from core.customers.matching import MatchResult, PersonRecord, blocking_keys, candidate_pairs, score_pair
from core.customers.models import (
    Customer,
    CustomerMatchSuggestion,
    CustomerMerge,
    Identity,
    IdentityMatchKey,
)
from core.customers.resolution import (
    IDENTITY_COLUMNS,
    MOVED_WITH_CUSTOMER,
    ResolutionReport,
    identity_record,
    index_identity_keys,
    match_rank,
    match_reason,
    ordered_pair,
)
from core.security.models import User
from core.security.roles import Actor

_CHUNK = 900  # ids per IN (...) list, under SQLite's bound-parameter limit


def _chunks(ids: list[int]) -> Iterable[list[int]]:
    for start in range(0, len(ids), _CHUNK):
        yield ids[start : start + _CHUNK]


def _index_keys(session: Session, rows: list[Any], keys: list[set[str]]) -> int:
    """Store the keys (computed already) of the identities that have none; the number of them."""
    indexed = set(session.scalars(select(IdentityMatchKey.identity_id).distinct()))
    values = [
        {"identity_id": row.id, "key": key}
        for row, row_keys in zip(rows, keys, strict=True)
        if row.id not in indexed
        for key in sorted(row_keys)
    ]
    table = IdentityMatchKey.__table__
    if session.get_bind().dialect.name == "postgresql":  # COPY: psycopg's executemany goes row by row
        driver = session.connection().connection.driver_connection
        statement = f"COPY {table.name} (identity_id, key) FROM STDIN"
        with driver.cursor() as cursor, cursor.copy(statement) as copy:
            for value in values:
                copy.write_row((value["identity_id"], value["key"]))
    else:
        for start in range(0, len(values), 20000):
            session.execute(insert(table), values[start : start + 20000])
    return len({value["identity_id"] for value in values})


def _found_matches(
    rows: list[Any], records: list[PersonRecord], keys: list[set[str]]
) -> dict[int, dict[int, MatchResult]]:
    """Per customer, the other customers scored at or above LOW, each with its best identity pair."""
    found: dict[int, dict[int, MatchResult]] = defaultdict(dict)
    for i, j in candidate_pairs(records, keys=keys):
        a, b = rows[i].customer_id, rows[j].customer_id
        if a == b:
            continue
        result = score_pair(records[i], records[j])
        if result.decision == "distinct":
            continue
        for mine, other in ((a, b), (b, a)):
            current = found[mine].get(other)
            if current is None or match_rank(result) > match_rank(current):
                found[mine][other] = result
    return found


def resolve_all_customers(
    session: Session,
    *,
    actor: Actor,
    now: datetime,
    progress: Callable[[Iterable[int]], Iterable[int]] = lambda ids: ids,
) -> ResolutionReport:
    """The back-fill: index, block and score every active identity, then resolve every active customer,
    oldest first (so duplicates merge into the first customer made). `progress` wraps the customer ids."""
    session.flush()
    rows = session.execute(
        select(*IDENTITY_COLUMNS)
        .join(Customer, Customer.id == Identity.customer_id)
        .where(Customer.merged_into_id.is_(None))
        .order_by(Identity.id)
    ).all()
    records = [identity_record(row) for row in rows]
    keys = [blocking_keys(record) for record in records]
    report = ResolutionReport(identities_indexed=_index_keys(session, rows, keys))
    report.identities_indexed += index_identity_keys(session)  # identities of merged customers, if any
    found = _found_matches(rows, records, keys)
    customers = session.execute(
        select(Customer.id, Customer.created_at)
        .where(Customer.merged_into_id.is_(None))
        .order_by(Customer.created_at, Customer.id)
    ).all()
    age = {customer.id: (customer.created_at, customer.id) for customer in customers}
    known = {
        ordered_pair(s.customer_id, s.other_customer_id): s.status
        for s in session.execute(
            select(
                CustomerMatchSuggestion.customer_id,
                CustomerMatchSuggestion.other_customer_id,
                CustomerMatchSuggestion.status,
            )
        )
    }
    with_account = {
        id_ for id_ in session.scalars(select(User.customer_id).where(User.customer_id.is_not(None)))
    }
    plan = _Plan(known, with_account)
    for customer_id in progress([customer.id for customer in customers]):
        report.customers_checked += 1
        if customer_id in plan.merged_into:
            continue
        matches: dict[int, MatchResult] = {}
        for matched, result in found.get(customer_id, {}).items():
            other = plan.survivor_of(matched)
            if other != customer_id and (
                other not in matches or match_rank(result) > match_rank(matches[other])
            ):
                matches[other] = result
        matches = {o: r for o, r in matches.items() if known.get(ordered_pair(customer_id, o)) != "dismissed"}
        linked = sorted((o for o, r in matches.items() if r.decision == "link"), key=age.__getitem__)
        survivor = linked[0] if linked and age[linked[0]] < age[customer_id] else customer_id
        for other in [customer_id, *linked]:
            if other == survivor or known.get(ordered_pair(other, survivor)) == "dismissed":
                continue
            result = matches.get(other) or matches[survivor]
            if not plan.merge(other, survivor, result):
                plan.queue(other, survivor, result)
        for other, result in matches.items():
            if result.decision == "suggest":
                plan.queue(other, survivor, result)
    plan.write(session, actor=actor, now=now)
    report.links_made = len(plan.merges)
    report.merges = [(source, target) for source, target, _ in plan.merges]
    report.suggestions_queued = len(plan.suggestions)
    return report


class _Plan:
    """The merges and suggestions of a back-fill, decided in memory, then written in bulk."""

    def __init__(self, known: dict[tuple[int, int], str], with_account: set[int]) -> None:
        self.known = known
        self.with_account = with_account
        self.merged_into: dict[int, int] = {}
        self.members: dict[int, list[int]] = {}  # customer -> the customers whose rows it holds now
        self.merges: list[tuple[int, int, MatchResult]] = []
        self.suggestions: dict[tuple[int, int], MatchResult] = {}
        self.decided: list[tuple[int, int]] = []

    def survivor_of(self, customer_id: int) -> int:
        while customer_id in self.merged_into:
            customer_id = self.merged_into[customer_id]
        return customer_id

    def merge(self, source: int, target: int, result: MatchResult) -> bool:
        """Plan a merge; False when both have a portal account (staff decide those)."""
        if source in self.with_account and target in self.with_account:
            return False
        if source in self.with_account:
            self.with_account.add(target)  # the account moves with the merge
        pair = ordered_pair(source, target)
        if self.suggestions.pop(pair, None) is None and self.known.get(pair) == "open":
            self.decided.append(pair)  # the pair's open suggestion is decided by this merge
        self.known[pair] = "merged"
        self.merged_into[source] = target
        self.members.setdefault(target, [target]).extend(self.members.pop(source, [source]))
        self.merges.append((source, target, result))
        return True

    def queue(self, a: int, b: int, result: MatchResult) -> None:
        pair = ordered_pair(a, b)
        if a != b and pair not in self.known:
            self.known[pair] = "open"
            self.suggestions[pair] = result

    def write(self, session: Session, *, actor: Actor, now: datetime) -> None:
        label = actor.label[:100]
        holders = {source: [source] for source, _, _ in self.merges}  # whose rows each source holds then
        moved_by_merge: list[list[int]] = []
        for source, target, _ in self.merges:
            moved_by_merge.append(holders[source])
            holders.setdefault(target, [target]).extend(holders[source])
        involved = sorted({c for group in moved_by_merge for c in group})
        owned: dict[str, dict[int, list[int]]] = {}
        for table, model in {"identities": Identity, **MOVED_WITH_CUSTOMER}.items():
            by_customer: dict[int, list[int]] = defaultdict(list)
            for chunk in _chunks(involved):
                for row_id, customer_id in session.execute(
                    select(model.id, model.customer_id).where(model.customer_id.in_(chunk)).order_by(model.id)
                ):
                    by_customer[customer_id].append(row_id)
            owned[table] = by_customer
        final = {c: self.survivor_of(c) for c in involved}
        for table, model in {"identities": Identity, **MOVED_WITH_CUSTOMER}.items():
            kept = {column.key: column for column in model.__table__.columns if column.onupdate is not None}
            params = [
                {"_from": c, "_to": final[c]} for c in involved if owned[table].get(c) and final[c] != c
            ]
            if params:
                session.execute(
                    update(model.__table__)
                    .where(model.__table__.c.customer_id == bindparam("_from"))
                    .values(customer_id=bindparam("_to"), **kept),
                    params,
                )
        if self.merges:
            session.execute(
                update(Customer.__table__)
                .where(Customer.__table__.c.id == bindparam("_id"))
                .values(merged_into_id=bindparam("_to")),
                [{"_id": source, "_to": target} for source, target, _ in self.merges],
            )
        records = []
        for (source, target, result), group in zip(self.merges, moved_by_merge, strict=True):
            moved = {
                table: sorted(i for c in group for i in owned[table].get(c, []))
                for table in MOVED_WITH_CUSTOMER
            }
            records.append(
                CustomerMerge(
                    source_customer_id=source,
                    target_customer_id=target,
                    identity_ids=sorted(i for c in group for i in owned["identities"].get(c, [])),
                    moved_rows={table: ids for table, ids in moved.items() if ids},
                    reason=match_reason(result)[:300],
                    actor=label,
                    created_at=now,
                )
            )
        session.add_all(records)
        session.flush()
        if records:
            session.execute(
                insert(AuditEntry),
                chain_entries(
                    session,
                    [
                        {
                            "actor_id": actor.user_id,
                            "actor_label": actor.label,
                            "action": "customer.merge",
                            "entity_type": "customer",
                            "entity_id": str(merge.target_customer_id),
                            "before": {"customer_id": merge.source_customer_id},
                            "after": {
                                "merged_into_id": merge.target_customer_id,
                                "merge_id": merge.id,
                                "identity_ids": merge.identity_ids,
                                "moved": merge.moved_rows,
                            },
                            "ip_address": actor.ip_address,
                            "created_at": now,
                        }
                        for merge in records
                    ],
                ),
            )
            decided = [{"_low": low, "_high": high} for low, high in self.decided]
            if decided:
                table = CustomerMatchSuggestion.__table__
                session.execute(
                    update(table)
                    .where(
                        table.c.customer_id == bindparam("_low"),
                        table.c.other_customer_id == bindparam("_high"),
                        table.c.status == "open",
                    )
                    .values(status="merged", decided_at=now, decided_by=label),
                    decided,
                )
        if self.suggestions:
            session.execute(
                insert(CustomerMatchSuggestion),
                [
                    {
                        "customer_id": low,
                        "other_customer_id": high,
                        "score": result.score,
                        "reasons": result.reasons,
                        "created_at": now,
                    }
                    for (low, high), result in self.suggestions.items()
                ],
            )
        session.expire_all()
