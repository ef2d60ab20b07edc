"""The plan of every order, made before any is built: when it is placed, the status it reaches, on which
channel and by whom. Casey's orders come first, then each status once, then the crowd."""

from __future__ import annotations

import itertools
from collections import defaultdict
from datetime import datetime, timedelta

from core.demo.context import FIRST_CHANNEL_ODDS, HISTORY_DAYS, SeedContext, scaled_odds
from core.demo.data.orders import CASEY_ORDERS, FORCED_AGES, STATUS_BY_AGE
from core.demo.data.reference import CHANNELS
from core.demo.records import Person, Spec
from core.orders.status import OrderStatus

S = OrderStatus
_AFN_OK = frozenset({S.PENDING, S.SHIPPED, S.DELIVERED, S.CANCELLED, S.RETURNED, S.PARTIALLY_RETURNED})
_POS_OK = frozenset({S.DELIVERED, S.CANCELLED, S.RETURNED, S.PARTIALLY_RETURNED})


def plan_orders(ctx: SeedContext, casey: Person, people: list[Person]) -> list[Spec]:
    """Who orders what, where and when: one spec per order, sorted by placed time.

    Dates each person's first order (`first_order_at`)."""
    rng = ctx.rng
    n = ctx.n_orders
    specs = [
        Spec(
            ctx.ago(age) + timedelta(minutes=rng.randint(-90, 90)),
            S(status),
            code,
            casey,
            afn,
            2 if status == "returned" else 1,
            ticket=ticket,
        )
        for code, status, age, afn, ticket in CASEY_ORDERS[:n]
    ]
    by_channel: dict[str, list[Person]] = defaultdict(list)
    for person in people:
        for code in person.channels:
            by_channel[code].append(person)
    shippable = [code for code in CHANNELS if code != "pos" and by_channel[code]]
    for status in list(S)[: max(0, n - len(specs))]:
        low, high = FORCED_AGES[status]
        code = rng.choice(shippable)
        buyer = rng.choice(by_channel[code])
        specs.append(_spec(ctx, ctx.ago(rng.uniform(low, high)), status, code, buyer))
    weights = list(itertools.accumulate(min(15.0, rng.paretovariate(1.4)) for _ in people))
    first_channel = scaled_odds(n, FIRST_CHANNEL_ODDS)
    for person in rng.choices(people, cum_weights=weights, k=n - len(specs)):
        age = _sample_age(ctx)
        code = (
            person.channels[0]
            if len(person.channels) == 1 or rng.random() < first_channel
            else rng.choice(person.channels[1:])
        )
        status = _status_for_age(ctx, age)
        if code == "pos" and status not in _POS_OK:
            status = S.DELIVERED
        anonymous = code == "pos" and rng.random() < 0.5  # a walk-in who gave no name at the till
        specs.append(_spec(ctx, ctx.ago(age), status, code, None if anonymous else person))
    specs.sort(key=lambda spec: spec.placed_at)
    for spec in specs:
        if spec.person is not None and spec.person.first_order_at is None:
            spec.person.first_order_at = spec.placed_at
    return specs


def _spec(ctx: SeedContext, placed: datetime, status: S, code: str, person: Person | None) -> Spec:
    afn = code == "amazon" and status in _AFN_OK and ctx.rng.random() < 0.33
    split = code != "pos" and not afn and (status == S.PARTIALLY_SHIPPED or ctx.rng.random() < 0.03)
    two = split or status == S.PARTIALLY_RETURNED
    return Spec(placed, status, code, person, afn, 2 if two else 1, split=split)


def _sample_age(ctx: SeedContext) -> float:
    """Days before now: more orders lately (the shop is growing) and fewer at weekends."""
    rng = ctx.rng
    while True:
        age = rng.random() * HISTORY_DAYS
        weekend = (ctx.now - timedelta(days=age)).weekday() >= 5
        if rng.random() * 1.3 < (1.3 - 0.6 * age / HISTORY_DAYS) * (0.8 if weekend else 1.0):
            return age


def _status_for_age(ctx: SeedContext, age: float) -> S:
    odds = next(table for limit, table in STATUS_BY_AGE if age < limit)
    return S(ctx.rng.choices(list(odds), weights=list(odds.values()))[0])
