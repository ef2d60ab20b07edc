"""Identity back-fill: `resolve_all_customers` (what `crossdock customers resolve` runs) over 100,000 identities,
one customer each, about one in eight the same person as another under a variant of their name and address.

The run indexes every identity's blocking keys, blocks, scores and merges or queues what it finds, on a fresh
database holding only the customers and identities (written off the clock). The floor is the same matching
done in memory on the same records, no database: `candidate_pairs` and `score_pair`. The goal is absolute:
100,000 identities resolved in under 60 s, a run rate of at least 1,667 identities/s (reported, not a ratio).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import insert
from sqlalchemy.orm import Session

from benchmarks.runner import Scenario, Target
from core.customers.backfill import resolve_all_customers
from core.customers.matching import candidate_pairs, record_from_identity, score_pair
from core.customers.models import Customer, Identity
from core.db import make_engine
from core.demo.data.people import CITIES, FIRST_NAMES, LAST_NAMES, NICKNAMES, STREET_ABBREVIATIONS, STREETS
from core.security.roles import Actor

IDENTITIES = 100_000
SEED = 15
NOW = datetime(2025, 6, 2, 15, 0, tzinfo=UTC)


def _surname(rng: random.Random) -> str:
    """A surname from the demo's list, or (half the time, for a town-sized spread) two of them spliced."""
    first, second = rng.choice(LAST_NAMES), rng.choice(LAST_NAMES)
    if rng.random() < 0.5:
        return first
    return first[: max(2, len(first) // 2)] + second[len(second) // 2 :]


def _street(rng: random.Random) -> str:
    if rng.random() < 0.2:
        return rng.choice(STREETS)
    kind = rng.choice(["Street", "Avenue", "Road", "Lane", "Drive", "Court", "Place"])
    return f"{rng.choice([*LAST_NAMES, *FIRST_NAMES])} {kind}"


def _variant(
    rng: random.Random, first: str, last: str, address: dict[str, Any]
) -> tuple[str, dict[str, Any]]:
    """The same person as another channel has them: a nickname or initial, an abbreviated or mistyped
    street."""
    r = rng.random()
    if first in NICKNAMES and r < 0.35:
        first = NICKNAMES[first]
    elif r < 0.5:
        first = f"{first[0]}."
    line1 = address["line1"]
    r = rng.random()
    if r < 0.4:
        for word, short in STREET_ABBREVIATIONS.items():
            line1 = line1.replace(word, short)
    elif r < 0.6:
        i = rng.randrange(len(line1) - 6, len(line1) - 1)
        line1 = line1[:i] + line1[i + 1] + line1[i] + line1[i + 2 :]
    return f"{first} {last}", {**address, "line1": line1}


def make_rows(count: int = IDENTITIES, seed: int = SEED) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Customer rows and identity rows (one each), deterministic from `seed`."""
    rng = random.Random(seed)
    customers: list[dict[str, Any]] = []
    identities: list[dict[str, Any]] = []
    people: list[tuple[str, str, dict[str, Any]]] = []
    for n in range(1, count + 1):
        if people and rng.random() < 0.12:
            first, last, address = rng.choice(people)
            name, address = _variant(rng, first, last, address)
        else:
            first, last = rng.choice(FIRST_NAMES), _surname(rng)
            city, region, country, postal, *_ = rng.choice(CITIES)
            address = {
                "line1": f"{rng.randint(1, 9899)} {_street(rng)}",
                "city": city,
                "region": region,
                "postal_code": f"{postal}{rng.randrange(100):02d}" if country == "US" else postal,
                "country": country,
            }
            people.append((first, last, address))
            name = f"{first} {last}"
        created = NOW - timedelta(days=400) + timedelta(seconds=n * 60)
        customers.append({"id": n, "name": name, "created_at": created})
        identities.append(
            {"id": n, "customer_id": n, "name": name, "address": address, "created_at": created}
        )
    return customers, identities


@dataclass
class _Context:
    target: Target
    customers: list[dict[str, Any]]
    identities: list[dict[str, Any]]
    url: str = ""


def setup(target: Target) -> _Context:
    customers, identities = make_rows()
    return _Context(target, customers, identities)


def fresh(ctx: _Context) -> None:
    ctx.url = ctx.target.fresh_url()
    engine = make_engine(ctx.url)
    with Session(engine) as session, session.begin():
        session.execute(insert(Customer), ctx.customers)
        session.execute(insert(Identity), ctx.identities)
    engine.dispose()


def run(ctx: _Context) -> float:
    engine = make_engine(ctx.url)
    with Session(engine) as session, session.begin():
        resolve_all_customers(session, actor=Actor(label="bench"), now=NOW)
    engine.dispose()
    return len(ctx.identities)


def floor(ctx: _Context) -> float:
    records = [
        record_from_identity(row["id"], row["name"], row["address"], email=None, phone=None)
        for row in ctx.identities
    ]
    for i, j in candidate_pairs(records):
        score_pair(records[i], records[j])
    return len(ctx.identities)


SCENARIOS = [
    Scenario(
        name="identity back-fill of 100,000 identities",
        setup=setup,
        run=run,
        floor=floor,
        unit="identities/s",
        repeats=1,
        before_each=fresh,
        floor_note="the same blocking and scoring in memory (candidate_pairs, score_pair), no database;"
        " goal: 100,000 identities in under 60 s (1,667 identities/s)",
    ),
]
