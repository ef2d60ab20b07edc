"""Console search: one box for a customer's name, email or phone, an order number (ours or a channel's) or a
parcel's tracking number, typos forgiven.

Steps: (1) read the query's shape (words, an email, digits); (2) fetch a capped set of candidates per field
with cheap predicates: equality and prefixes of what was typed (prefixes survive a typo near the end, word
prefixes of a name survive one in another word); (3) rank them with rapidfuzz (`rank_candidates`, pure)
and keep those above the threshold. At most six queries of at most CANDIDATES rows each (customers in up to
three tiers, closest first, stopping at the first that finds any). Every predicate is served by an index of
migration 0010_search_index on PostgreSQL (trigram, pattern); on SQLite names and phones are scanned."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from rapidfuzz import fuzz, utils
from sqlalchemy import ColumnElement, and_, case, func, or_, select
from sqlalchemy.orm import Session

from core.channels.models import Channel
from core.customers.models import Customer, Identity
from core.fulfillment.models import Shipment
from core.orders.models import Order
from core.pagination import escape_like

CANDIDATES = 200
THRESHOLD = 70.0
MIN_QUERY = 2
WORD_RE = re.compile(r"[^\W\d_]{2,}")
PHONE_RE = re.compile(r"[\d\s+().\-/]+")  # what a phone number is written with


@dataclass(frozen=True)
class Candidate:
    """A row that might be what was searched for: the field it would match on and that field's value."""

    kind: str  # customer or order
    id: int
    title: str
    detail: str
    field: str  # name, email, phone, order number, channel order number, tracking number
    value: str


@dataclass(frozen=True)
class SearchHit:
    """A result: a customer or an order, the field that matched, and how well (0-100)."""

    kind: str
    id: int
    title: str
    detail: str
    field: str
    score: float


def _score(query: str, candidate: Candidate) -> float:
    if candidate.field == "name":
        return fuzz.WRatio(query, candidate.value, processor=utils.default_process)
    if candidate.field == "phone":
        if not PHONE_RE.fullmatch(query):  # letters: an order or tracking number with a phone's digits
            return 0.0
        typed, stored = _digits(query), _digits(candidate.value)
        if typed and stored.endswith(typed[-7:]) and len(typed) >= 7:
            return 100.0 if stored.endswith(typed) else 90.0
        return fuzz.ratio(typed, stored)
    typed, stored = query.lower(), candidate.value.lower()
    if typed == stored:
        return 100.0
    if len(typed) >= 4 and stored.lstrip("#").startswith(typed.lstrip("#")):
        return 95.0  # typing it out: what was typed so far
    return fuzz.ratio(typed, stored)


def rank_candidates(query: str, candidates: list[Candidate], *, limit: int = 10) -> list[SearchHit]:
    """The candidates scoring at least THRESHOLD against the query, best first, one hit per customer or
    order (its best field)."""
    query = query.strip()
    best: dict[tuple[str, int], SearchHit] = {}
    for candidate in candidates:
        score = _score(query, candidate)
        if score < THRESHOLD:
            continue
        key = (candidate.kind, candidate.id)
        if key not in best or score > best[key].score:
            best[key] = SearchHit(
                candidate.kind, candidate.id, candidate.title, candidate.detail, candidate.field, score
            )
    return sorted(best.values(), key=lambda h: (-h.score, h.kind, h.title))[:limit]


def _digits(text: str) -> str:
    return "".join(ch for ch in text if ch.isdigit())


def _prefix(text: str, keep: int) -> str:
    return escape_like(text[:keep]) + "%"


def _typo_prefix(text: str, *, at_least: int = 4) -> str:
    """A LIKE prefix of an identifier that still matches with a typo in its last three characters."""
    return _prefix(text, max(at_least, len(text) - 3))


def _closeness(exact: ColumnElement[bool], column_values: list[tuple[Any, str]], *, at_least: int = 4) -> Any:
    """An ORDER BY key for identifiers matched by a typo prefix: 0 for what was typed exactly, then 1-3 for
    those sharing all but its last 1-3 characters, so the cap keeps the closest of the thousands a short
    prefix can match."""
    whens: list[tuple[ColumnElement[bool], int]] = [(exact, 0)]
    for cut in (1, 2, 3):
        near = [
            column.like(_prefix(typed, len(typed) - cut), escape="\\")
            for column, typed in column_values
            if len(typed) - cut >= at_least
        ]
        if near:
            whens.append((or_(*near), cut))
    return case(*whens, else_=len(whens))


def _word_start(name: Any, start: str) -> ColumnElement[bool]:
    """A word of the (lower-cased) name starts with `start`."""
    start = escape_like(start)
    return or_(name.like(start + "%", escape="\\"), name.like("% " + start + "%", escape="\\"))


def _customer_tiers(query: str) -> list[tuple[ColumnElement[bool], Any]]:
    """(condition, ORDER BY key or None) of customers, closest first: (1) the email typed, or a name with
    every word starting as typed; (2) with a typo: every word starting with its first three letters, or one
    word as typed and the others by their first letter; (3) any word by its first three letters. Each is
    narrow enough for the trigram and pattern indexes of a large table but the last, taken without order."""
    words = [w.lower() for w in WORD_RE.findall(query)][:4]
    single = " " not in query
    digits = _digits(query)
    name = func.lower(Customer.name)
    exact, near, wide = [], [], []
    closest: list[ColumnElement[bool]] = []
    if words and "@" not in query and not digits:  # no name has digits: an order number, email or phone
        exact.append(and_(*(_word_start(name, w) for w in words)))
        closest.append(name == " ".join(words))
        near.append(and_(*(_word_start(name, w[:3]) for w in words)))
        if len(words) > 1:
            near += [
                and_(_word_start(name, w), *(_word_start(name, o[0]) for o in words if o is not w))
                for w in words
            ]
        wide += [_word_start(name, w[:3]) for w in words]
    if single and len(query) >= 3 and not (digits and len(digits) == len(query)):
        local = query.lower().partition("@")[0]
        exact += [
            Customer.email == query.lower(),
            Customer.email.like(_typo_prefix(local, at_least=3), escape="\\"),
        ]
        closest.insert(0, Customer.email == query.lower())
        wide.append(Customer.email.like(_prefix(local, 3), escape="\\"))
    if len(digits) >= 6 and PHONE_RE.fullmatch(query):
        exact.append(Customer.phone.like("%" + digits[-7:]))
    rank = case(*((c, i) for i, c in enumerate(closest)), else_=len(closest)) if closest else None
    return [(or_(*tier), order) for tier, order in ((exact, rank), (near, None), (wide, None)) if tier]


def _customer_candidates(session: Session, query: str) -> list[Candidate]:
    """Customers whose name has a word starting like one of the query's words, whose email starts like it,
    or whose phone ends in its last seven digits: the first of `_customer_tiers` that finds any, the exact
    name or email first, so the cap keeps them when a common prefix matches thousands."""
    rows: list[Any] = []
    for condition, order in _customer_tiers(query):
        statement = select(Customer.id, Customer.name, Customer.email, Customer.phone).where(
            Customer.merged_into_id.is_(None), condition
        )
        if order is not None:
            statement = statement.order_by(order, Customer.id)
        rows = session.execute(statement.limit(CANDIDATES)).all()
        if rows:
            break
    found = []
    for customer_id, name_, email, phone in rows:
        title, detail = name_ or email or f"Customer {customer_id}", email or phone or ""
        for field, value in (("name", name_), ("email", email), ("phone", phone)):
            if value:
                found.append(Candidate("customer", customer_id, title, detail, field, value))
    return found


def _identity_candidates(session: Session, query: str) -> list[Candidate]:
    """Emails and phones a channel gave for a customer that differ from the customer's own."""
    digits = _digits(query)
    matches = []
    if " " not in query and "@" in query:
        matches.append(Identity.email.like(_prefix(query.lower().partition("@")[0], 3), escape="\\"))
    if len(digits) >= 6 and PHONE_RE.fullmatch(query):
        matches.append(Identity.phone.like("%" + digits[-7:]))
    if not matches:
        return []
    rows = session.execute(
        select(Identity.customer_id, Customer.name, Identity.email, Identity.phone)
        .join(Customer, Customer.id == Identity.customer_id)
        .where(or_(*matches))
        .limit(CANDIDATES)
    ).all()
    found = []
    for customer_id, name, email, phone in rows:
        for field, value in (("email", email), ("phone", phone)):
            if value:
                found.append(Candidate("customer", customer_id, name or value, value, field, value))
    return found


def _order_candidates(session: Session, query: str) -> list[Candidate]:
    if " " in query or len(query) < 3 or not _digits(query):
        return []
    ours = query.upper()
    if ours.isdigit():
        ours = "CD-" + ours
    # our numbers are "CD-" and digits: keep at least four characters after the "CD-"
    ours_kept = 7 if ours.startswith("CD-") else 4
    # LIKE without a wildcard for the channel's number: an exact match that SQLite's NOCASE index serves
    exact = or_(
        Order.number == ours,
        Order.channel_number.like(escape_like(query), escape="\\"),
        Order.channel_number.like(escape_like("#" + query), escape="\\"),
        Order.external_id == query,
    )
    rows = session.execute(
        select(
            Order.id, Order.number, Order.channel_number, Order.external_id, Order.buyer_name, Channel.name
        )
        .join(Channel, Channel.id == Order.channel_id)
        .where(
            or_(
                Order.number.like(_typo_prefix(ours, at_least=ours_kept), escape="\\"),
                Order.channel_number.like(_typo_prefix(query), escape="\\"),
                exact,
            )
        )
        .order_by(_closeness(exact, [(Order.number, ours), (Order.channel_number, query)]), Order.id)
        .limit(CANDIDATES)
    ).all()
    found = []
    for order_id, number, channel_number, external_id, buyer, channel in rows:
        detail = f"{channel} · {buyer}" if buyer else channel
        found.append(Candidate("order", order_id, number, detail, "order number", number))
        for value in {channel_number, external_id} - {None, number}:
            found.append(Candidate("order", order_id, number, detail, "channel order number", value))
    return found


def _tracking_candidates(session: Session, query: str) -> list[Candidate]:
    if " " in query or len(query) < 6:
        return []
    closeness = _closeness(Shipment.tracking_number == query, [(Shipment.tracking_number, query)], at_least=6)
    rows = session.execute(
        select(Shipment.tracking_number, Shipment.carrier, Order.id, Order.number, Order.buyer_name)
        .join(Order, Order.id == Shipment.order_id)
        .where(Shipment.tracking_number.like(_typo_prefix(query, at_least=6), escape="\\"))
        .order_by(closeness, Shipment.id)
        .limit(CANDIDATES)
    ).all()
    return [
        Candidate(
            "order",
            order_id,
            number,
            f"{carrier or 'parcel'} {tracking}" + (f" · {buyer}" if buyer else ""),
            "tracking number",
            tracking,
        )
        for tracking, carrier, order_id, number, buyer in rows
    ]


def console_search(session: Session, query: str, *, limit: int = 10) -> list[SearchHit]:
    """Customers and orders matching what an agent typed (name, email, phone, order number ours or a
    channel's, tracking number), typos forgiven, best first."""
    query = " ".join((query or "").split())[:100]
    if len(query) < MIN_QUERY:
        return []
    candidates = (
        _customer_candidates(session, query)
        + _identity_candidates(session, query)
        + _order_candidates(session, query)
        + _tracking_candidates(session, query)
    )
    return rank_candidates(query, candidates, limit=limit)
