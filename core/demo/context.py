"""What every demo builder shares: the seeded random generator and the clock, the id counters, the rows of
the batch being built, and the natural keys a previous seed left in the database."""

from __future__ import annotations

import random
import string
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, func, select

from core import models as m
from core.demo.data.people import CASEY_EMAIL

HISTORY_DAYS = 120
DAY = 86400.0
ALNUM = string.ascii_uppercase + string.digits
BASE62 = string.ascii_letters + string.digits

Staff = tuple[int, str, str, str]  # user id, email, name, role

# The default demo (20 000 orders) has its own shape: a few regulars who order often (about 2 000 people, one
# ticket for every twelve orders). Above it the data set grows towards a large shop's ratios, reached at a
# million orders: a customer for every five orders, three identities for every two customers (more people
# buy on a second channel), a ticket for every five orders. Up to DEMO_SHAPE_ORDERS nothing changes.
DEMO_SHAPE_ORDERS = 20000
LARGE_SHAPE_ORDERS = 1_000_000
PEOPLE_PER_ORDER_LARGE = 0.19  # plus the customers a second channel's identity makes: ~0.2 per order
TICKET_ODDS = (0.08, 0.19)  # an order's chance of a ticket: the demo's, a million orders'
SECOND_CHANNEL_ODDS = (0.2, 0.8)  # a person's chance of buying on more than one channel
FIRST_CHANNEL_ODDS = (0.6, 0.4)  # a multi-channel person's chance of an order on their first channel


def _largeness(n_orders: int) -> float:
    """0 up to the demo's size, 1 from a million orders, linear in between."""
    span = LARGE_SHAPE_ORDERS - DEMO_SHAPE_ORDERS
    return min(1.0, max(0.0, (n_orders - DEMO_SHAPE_ORDERS) / span))


def person_count(n_orders: int) -> int:
    """How many people buy over `n_orders` orders."""
    if n_orders <= DEMO_SHAPE_ORDERS:
        return max(50, round(2000 * (n_orders / DEMO_SHAPE_ORDERS) ** 0.75))
    return 2000 + round((n_orders - DEMO_SHAPE_ORDERS) * PEOPLE_PER_ORDER_LARGE)


def scaled_odds(n_orders: int, odds: tuple[float, float]) -> float:
    """The demo's odds up to its size, growing to the large shop's at a million orders."""
    low, high = odds
    return low + (high - low) * _largeness(n_orders)


class SeedContext:
    """The random generator and `now`, the last id of each table, and `out`: the rows of the batch being
    built, by table."""

    def __init__(self, rng: random.Random, now: datetime, n_orders: int) -> None:
        self.rng = rng
        self.now = now
        self.n_orders = n_orders
        self.ids: dict[str, int] = {}
        self.out: dict[str, list[dict[str, Any]]] = defaultdict(list)

    def next_id(self, table: str) -> int:
        self.ids[table] += 1
        return self.ids[table]

    def add(self, table: str, row: dict[str, Any]) -> None:
        self.out[table].append(row)

    def take_batch(self) -> dict[str, list[dict[str, Any]]]:
        batch, self.out = self.out, defaultdict(list)
        return batch

    def ago(self, days: float) -> datetime:
        return self.now - timedelta(seconds=round(days * DAY))

    def audit(
        self,
        actor: Staff,
        action: str,
        entity_type: str,
        entity_id: int,
        *,
        when: datetime,
        before: dict[str, Any] | None = None,
        after: dict[str, Any] | None = None,
    ) -> None:
        self.add(
            "audit_entries",
            {
                "id": self.next_id("audit_entries"),
                "actor_id": actor[0],
                "actor_label": actor[1],
                "action": action,
                "entity_type": entity_type,
                "entity_id": str(entity_id),
                "before": before,
                "after": after,
                "ip_address": f"10.0.{actor[0] % 250}.{10 + actor[0] % 200}",
                "created_at": when,
            },
        )


@dataclass
class Existing:
    """What a previous seed wrote, so `--force` seeding into a non-empty database reuses channels, locations,
    SKUs, users and stock levels, and never repeats a unique key. The key sets grow as the seed takes keys."""

    channels: dict[str, int]  # code -> id
    locations: dict[str, int]  # code -> id
    skus: dict[str, int]  # code -> id
    sku_products: dict[str, int]  # SKU code -> product id
    listings: set[tuple[int, str]]  # (channel id, channel SKU)
    channel_locations: set[tuple[int, int]]
    options: dict[tuple[int, str], int]  # (channel id, option code) -> shipping option id
    users: dict[str, int]  # email -> id
    casey: int | None  # the demo customer's customer id
    levels: dict[tuple[int, int], tuple[int, int, int]]  # (location id, SKU id) -> (id, on hand, reserved)
    external_ids: set[tuple[int, str]]  # (channel id, order external id)
    rma_numbers: set[str]
    outbox_keys: set[str]
    macro_names: set[str]
    article_slugs: set[str]


def load_existing(conn: Connection, ctx: SeedContext) -> Existing:
    """Each table's max id into `ctx.ids`, and the natural keys a previous seed may have written."""
    for table in m.Base.metadata.sorted_tables:
        if "id" in table.c:
            ctx.ids[table.name] = conn.scalar(select(func.max(table.c.id))) or 0

    def pairs(*columns: Any) -> Any:
        return conn.execute(select(*columns)).all()

    return Existing(
        channels=dict(pairs(m.Channel.code, m.Channel.id)),
        locations=dict(pairs(m.Location.code, m.Location.id)),
        skus=dict(pairs(m.Sku.code, m.Sku.id)),
        sku_products=dict(pairs(m.Sku.code, m.Sku.product_id)),
        listings=set(pairs(m.Listing.channel_id, m.Listing.channel_sku)),
        channel_locations=set(pairs(*m.channel_locations.c)),
        options={
            (c, code): i
            for i, c, code in pairs(m.ShippingOption.id, m.ShippingOption.channel_id, m.ShippingOption.code)
        },
        users=dict(pairs(m.User.email, m.User.id)),
        casey=conn.scalar(select(m.User.customer_id).where(m.User.email == CASEY_EMAIL)),
        levels={
            (loc, sku): (i, on_hand, reserved)
            for i, loc, sku, on_hand, reserved in pairs(
                m.StockLevel.id,
                m.StockLevel.location_id,
                m.StockLevel.sku_id,
                m.StockLevel.on_hand,
                m.StockLevel.reserved,
            )
        },
        external_ids=set(pairs(m.Order.channel_id, m.Order.external_id)),
        rma_numbers=set(conn.scalars(select(m.ReturnRequest.rma_number))),
        outbox_keys=set(conn.scalars(select(m.OutboxMessage.dedup_key))),
        macro_names=set(conn.scalars(select(m.Macro.name))),
        article_slugs=set(conn.scalars(select(m.HelpArticle.slug))),
    )
