"""Demo data: a realistic, coherent data set of about N orders, deterministic from a seed.

Steps: read each table's max id and the natural keys already present (so `--force` seeding into a non-empty
database reuses channels, locations, SKUs, users and stock levels); build the reference data (locations,
channels, catalog, opening stock, staff, customers) and the plan of every order (placed time, status, channel,
buyer); then play the orders in time order, ORDERS_PER_BATCH at a time, each batch one transaction of
executemany INSERTs of plain dicts with precomputed ids. Stock moves only through the ledger: units are
received, reserved, shipped, released and returned by StockMovement rows, so a level's on_hand is the sum of
its on_hand_delta and its reserved the sum of its reserved_delta (= the units of allocations still reserved).
Levels are written in the last transaction with their final counts.

Only `random.Random(seed)` and `now` feed the values: the same seed and `now` give the same rows.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import random
import string
import time
from collections import Counter, defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, func, insert, select, update
from sqlalchemy.orm import Session

from core import models as m
from core.db import utcnow
from core.demo import data
from core.inventory.queries import available_to_sell_formula
from core.money import to_decimal_string
from core.orders.events import CUSTOMER_VISIBLE_KINDS
from core.orders.services import format_order_number
from core.orders.status import OrderStatus, check_transition
from core.security.passwords import hash_password

DEMO_PASSWORD = "crossdock-demo"  # noqa: S105 - the published demo sign-in, printed by `./run demo`
DEMO_ACCOUNTS: list[tuple[str, str]] = [
    ("customer@example.com", "customer"),
    ("agent@example.com", "agent"),
    ("manager@example.com", "manager"),
    ("admin@example.com", "admin"),
]
ORDERS_PER_BATCH = 2000
HISTORY_DAYS = 120

S = OrderStatus
_TABLES = {table.name: table for table in m.Base.metadata.sorted_tables}
_MODELS: dict[str, Any] = {mapper.local_table.name: mapper.class_ for mapper in m.Base.registry.mappers}
_ALNUM = string.ascii_uppercase + string.digits
_BASE62 = string.ascii_letters + string.digits
_DAY = 86400.0
_SHIPPED = frozenset({S.PARTIALLY_SHIPPED, S.SHIPPED, S.DELIVERED, S.PARTIALLY_RETURNED, S.RETURNED})
_DELIVERED = frozenset({S.DELIVERED, S.PARTIALLY_RETURNED, S.RETURNED})
_RETURNED = frozenset({S.PARTIALLY_RETURNED, S.RETURNED})
_AFN_OK = frozenset({S.PENDING, S.SHIPPED, S.DELIVERED, S.CANCELLED, S.RETURNED, S.PARTIALLY_RETURNED})
_POS_OK = frozenset({S.DELIVERED, S.CANCELLED, S.RETURNED, S.PARTIALLY_RETURNED})

Staff = tuple[int, str, str, str]  # user id, email, name, role
_Known = tuple[int, str, str | None, str | None, dict[str, Any]]  # identity id, name, email, phone, address


@dataclass(frozen=True)
class SeedStats:
    """Rows written per table and the wall time it took."""

    counts: dict[str, int]
    seconds: float

    @property
    def orders_per_second(self) -> float:
        return self.counts.get("orders", 0) / self.seconds if self.seconds > 0 else 0.0


def database_is_empty(engine: Engine) -> bool:
    """True when the database has no users and no orders (a fresh install the demo may seed)."""
    with engine.connect() as conn:
        no_users = conn.scalar(select(m.User.id).limit(1)) is None
        return no_users and conn.scalar(select(m.Order.id).limit(1)) is None


def seed_demo(
    engine: Engine,
    *,
    orders: int = 20000,
    seed: int = 42,
    progress: Callable[[int], None] | None = None,
    now: datetime | None = None,
) -> SeedStats:
    """Write the demo data set of `orders` orders (the caller has migrated the database)."""
    started = time.perf_counter()
    now = (now or utcnow()).astimezone(UTC).replace(microsecond=0)
    seeder = _Seeder(random.Random(seed), now, orders)
    with engine.connect() as conn:
        seeder.load_existing(conn)
    seeder.build_reference(hash_password(DEMO_PASSWORD))
    _write(engine, seeder.take_batch(), seeder.counts)
    for start in range(0, len(seeder.specs), ORDERS_PER_BATCH):
        specs = seeder.specs[start : start + ORDERS_PER_BATCH]
        for spec in specs:
            seeder.build_order(spec)
        _write(engine, seeder.take_batch(), seeder.counts)
        if progress is not None:
            progress(len(specs))
    seeder.build_final()
    _write(engine, seeder.take_batch(), seeder.counts, seeder.level_updates)
    counts = {name: seeder.counts[name] for name in _TABLES if seeder.counts[name]}
    return SeedStats(counts=counts, seconds=time.perf_counter() - started)


def _write(engine: Engine, batch: dict[str, list[dict[str, Any]]], counts: Counter[str],
           level_updates: list[dict[str, Any]] | None = None) -> None:
    """One transaction: each table's rows in one executemany, parents before children."""
    with Session(engine) as session, session.begin():
        for name, table in _TABLES.items():
            rows = batch.get(name)
            if rows:
                # render_nulls keeps every row's column set the same, so a table is one executemany.
                session.execute(insert(_MODELS.get(name, table)).execution_options(render_nulls=True), rows)
                counts[name] += len(rows)
        if level_updates:
            session.execute(update(m.StockLevel), level_updates)


# --- value helpers ------------------------------------------------------------------------------------------


def _business_days(moment: datetime, days: int) -> datetime:
    """`moment` moved forward by `days` weekdays (a weekend start counts from Monday)."""
    while moment.weekday() >= 5:
        moment += timedelta(days=1)
    while days > 0:
        moment += timedelta(days=1)
        if moment.weekday() < 5:
            days -= 1
    return moment


def _end_of_day(moment: datetime) -> datetime:
    return moment.replace(hour=23, minute=59, second=0)


def _ups_number(rng: random.Random, shipper: str, service: str) -> str:
    body = f"{shipper}{service}{rng.randrange(10**7):07d}"
    total = sum((int(c) if c.isdigit() else (ord(c) - 63) % 10) * (1 + i % 2) for i, c in enumerate(body))
    return f"1Z{body}{(10 - total % 10) % 10}"


def _usps_number(rng: random.Random) -> str:
    body = f"94001{rng.randrange(10**16):016d}"
    total = sum(int(c) * (3 if i % 2 == 0 else 1) for i, c in enumerate(reversed(body)))
    return f"{body}{(10 - total % 10) % 10}"


def _fedex_number(rng: random.Random) -> str:
    body = f"{rng.randrange(10**10, 10**11):011d}"
    total = sum(int(c) * (1, 3, 7)[i % 3] for i, c in enumerate(reversed(body)))
    return f"{body}{total % 11 % 10}"


def _dhl_number(rng: random.Random) -> str:
    body = rng.randrange(10**8, 10**9)
    return f"{body}{body % 7}"


def _upc(item: int) -> str:
    body = f"08401{item:06d}"
    total = sum(int(c) * (3 if i % 2 == 0 else 1) for i, c in enumerate(body))
    return f"{body}{(10 - total % 10) % 10}"


_SIZE_CODES = {"Small": "SM", "Medium": "MD", "Large": "LG", "Twin": "TW", "Queen": "QN", "King": "KG",
               "Standard": "STD"}


def _code_part(label: str) -> str:
    """A colour or size as it appears in a SKU code: Navy -> NAV, Heather Grey -> HG, L/XL -> LXL."""
    words = label.replace("/", " ").split()
    if label in _SIZE_CODES:
        return _SIZE_CODES[label]
    if len(words) > 1 and not label[0].isdigit() and "/" not in label:
        return "".join(w[0] for w in words).upper()
    if label.isalpha() and len(label) > 3:
        return label[:3].upper()
    return "".join(ch for ch in label if ch.isalnum()).upper()


def _cad(minor: int) -> int:
    """A USD price in CAD, ending in .99."""
    return max(99, minor * 137 // 10000 * 100 + 99)


def _money(minor: int, currency: str) -> str:
    return f"{to_decimal_string(minor, currency)} {currency}"


def _digits_phone(phone: str) -> str:
    """As the customer services normalise a phone: digits, keeping a leading +."""
    return ("+" if phone.startswith("+") else "") + "".join(ch for ch in phone if ch.isdigit())


def _compact(address: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in address.items() if value is not None}


# --- what the seeder keeps in memory ------------------------------------------------------------------------


@dataclass(slots=True)
class _Location:
    id: int
    code: str
    name: str
    kind: str
    regions: list[str]
    priority: int
    city: str


@dataclass(slots=True)
class _Channel:
    id: int
    code: str
    name: str
    kind: str
    return_window: int
    channel_returns: bool
    ship_from: list[_Location]
    options: list[tuple[int, str, str, int, int, int, int]] = field(default_factory=list)
    pickup: tuple[int, str] = (0, "")

    @property
    def actor(self) -> str:
        return f"channel:{self.code}"


@dataclass(slots=True)
class _Sku:
    id: int
    code: str
    product: str
    brand: str
    option: str | None
    price: int
    returnable: bool
    dropship: bool
    reorder_point: int
    reorder_quantity: int

    @property
    def title(self) -> str:
        return f"{self.product} - {self.option}" if self.option else self.product


@dataclass(slots=True)
class _Level:
    id: int | None  # None until written (new level); else the existing row, updated at the end
    on_hand: int
    reserved: int
    reorder_point: int
    restock: int
    short: bool  # replenished only just enough: ends below its reorder point
    override: int | None
    touched: datetime


@dataclass(slots=True)
class _Person:
    customer_id: int
    first: str
    last: str
    email: str
    phone: str | None
    address: dict[str, Any]
    channels: list[str]
    identities: dict[str, _Known] = field(default_factory=dict)
    first_order_at: datetime | None = None


@dataclass(slots=True)
class _Spec:
    placed_at: datetime
    status: S
    channel: str
    person: _Person | None
    afn: bool = False
    min_lines: int = 1
    split: bool = False
    ticket: str | None = None


@dataclass(slots=True)
class _Line:
    id: int
    line_no: int
    sku: _Sku
    channel_sku: str
    qty: int
    unit_price: int
    total: int
    tax: int = 0
    shipped: int = 0
    returned: int = 0


class _Seeder:
    """Builds the rows, one batch at a time: `out` holds the rows of the batch being built, by table."""

    def __init__(self, rng: random.Random, now: datetime, n_orders: int) -> None:
        self.rng = rng
        self.now = now
        self.n_orders = n_orders
        self.ids: dict[str, int] = {}
        self.out: dict[str, list[dict[str, Any]]] = defaultdict(list)
        self.counts: Counter[str] = Counter()
        self.level_updates: list[dict[str, Any]] = []
        self.recent: deque[dict[str, Any]] = deque(maxlen=40)
        self.counters: Counter[str] = Counter()
        self.ticket_count = 0

    def next_id(self, table: str) -> int:
        self.ids[table] += 1
        return self.ids[table]

    def add(self, table: str, row: dict[str, Any]) -> None:
        self.out[table].append(row)

    def take_batch(self) -> dict[str, list[dict[str, Any]]]:
        batch, self.out = self.out, defaultdict(list)
        return batch

    def ago(self, days: float) -> datetime:
        return self.now - timedelta(seconds=round(days * _DAY))

    def load_existing(self, conn: Any) -> None:
        """Max ids, and the natural keys a previous seed may have written."""
        for name, table in _TABLES.items():
            if "id" in table.c:
                self.ids[name] = conn.scalar(select(func.max(table.c.id))) or 0

        def pairs(*columns: Any) -> Any:
            return conn.execute(select(*columns)).all()

        self.old_channels = dict(pairs(m.Channel.code, m.Channel.id))
        self.old_locations = dict(pairs(m.Location.code, m.Location.id))
        self.old_skus = dict(pairs(m.Sku.code, m.Sku.id))
        self.old_sku_products = dict(pairs(m.Sku.code, m.Sku.product_id))
        self.old_listings = set(pairs(m.Listing.channel_id, m.Listing.channel_sku))
        self.old_channel_locations = set(pairs(*m.channel_locations.c))
        self.old_options = {(c, code): i for i, c, code in pairs(
            m.ShippingOption.id, m.ShippingOption.channel_id, m.ShippingOption.code)}
        self.old_users = dict(pairs(m.User.email, m.User.id))
        self.old_casey = conn.scalar(select(m.User.customer_id).where(m.User.email == DEMO_ACCOUNTS[0][0]))
        self.old_levels = {(loc, sku): (i, on_hand, reserved) for i, loc, sku, on_hand, reserved in pairs(
            m.StockLevel.id, m.StockLevel.location_id, m.StockLevel.sku_id, m.StockLevel.on_hand,
            m.StockLevel.reserved)}
        self.external_ids = set(pairs(m.Order.channel_id, m.Order.external_id))
        self.rma_numbers = set(conn.scalars(select(m.ReturnRequest.rma_number)))
        self.outbox_keys = set(conn.scalars(select(m.OutboxMessage.dedup_key)))
        self.macro_names = set(conn.scalars(select(m.Macro.name)))
        self.article_slugs = set(conn.scalars(select(m.HelpArticle.slug)))

    # -- reference data --------------------------------------------------------------------------------------

    def build_reference(self, password_hash: str) -> None:
        """Locations, channels, catalog, listings, opening stock, staff, customers and the plan of orders."""
        self._locations()
        self._channels()
        self._catalog()
        self._listings()
        self._opening_stock()
        self._staff(password_hash)
        self._people()
        self._plan_orders()
        self._customers(password_hash)
        self._support_content()

    def _locations(self) -> None:
        self.locations: dict[str, _Location] = {}
        for code, name, kind, method, regions, priority, email, address in data.LOCATIONS:
            loc_id = self.old_locations.get(code) or self.next_id("locations")
            self.locations[code] = _Location(loc_id, code, name, kind, regions, priority, address["city"])
            if code not in self.old_locations:
                self.add("locations", {
                    "id": loc_id, "code": code, "name": name, "kind": kind, "fulfillment_method": method,
                    "regions": regions, "priority": priority, "email": email,
                    "address": {"name": name, **address}, "active": True, "created_at": self.ago(400),
                })
        self.loc_by_id = {loc.id: loc for loc in self.locations.values()}

    def _channels(self) -> None:
        self.channels: dict[str, _Channel] = {}
        for code, (name, kind, market, window, by_channel, instructions, buffer, locs, _source, _share) in (
            data.CHANNELS.items()
        ):
            ch_id = self.old_channels.get(code) or self.next_id("channels")
            shippers = [self.locations[c] for c in locs if self.locations[c].kind in ("warehouse", "3pl")]
            ship_from = sorted(shippers, key=lambda loc: loc.priority)
            channel = self.channels[code] = _Channel(ch_id, code, name, kind, window, by_channel, ship_from)
            secret = f"{self.rng.getrandbits(256):064x}"
            if code not in self.old_channels:
                self.add("channels", {
                    "id": ch_id, "code": code, "name": name, "kind": kind, "sender_name": name,
                    "credentials": {}, "webhook_secret": secret,
                    "base_url": "https://shop.crossdock.example" if kind == "webshop" else None,
                    "poll_cursor": self.now - timedelta(minutes=4) if market else None,
                    "is_marketplace": market,
                    "return_window_days": window, "returns_handled_by_channel": by_channel,
                    "return_instructions": instructions, "stock_buffer_units": buffer[0],
                    "stock_buffer_percent": buffer[1], "stock_floor": buffer[2], "active": True,
                    "created_at": self.ago(365),
                })
            for loc_id in (self.locations[loc_code].id for loc_code in locs):
                if (ch_id, loc_id) not in self.old_channel_locations:
                    self.add("channel_locations", {"channel_id": ch_id, "location_id": loc_id})
            for opt_code, opt_name, price, low, high, dispatch, pickup in data.SHIPPING_OPTIONS[code]:
                opt_id = self.old_options.get((ch_id, opt_code)) or self.next_id("shipping_options")
                if pickup:
                    channel.pickup = (opt_id, opt_name)
                else:
                    channel.options.append((opt_id, opt_code, opt_name, price, low, high, dispatch))
                if (ch_id, opt_code) not in self.old_options:
                    self.add("shipping_options", {
                        "id": opt_id, "channel_id": ch_id, "code": opt_code, "name": opt_name, "price": price,
                        "currency": "USD", "min_business_days": low, "max_business_days": high,
                        "dispatch_business_days": dispatch, "is_pickup": pickup,
                    })

    def _catalog(self) -> None:
        rng = self.rng
        self.skus: list[_Sku] = []
        item = 0
        for prefix, title, brand, price, sizes, colours, flags in data.PRODUCTS:
            variants = [(c, s) for c in (colours or [None]) for s in (sizes or [None])]
            codes = ["-".join([prefix] + [_code_part(p) for p in (c, s and s.split(":")[0]) if p])
                     for c, s in variants]
            product_id = next((self.old_sku_products[c] for c in codes if c in self.old_sku_products), None)
            if product_id is None:
                product_id = self.next_id("products")
                self.add("products", {
                    "id": product_id, "title": title, "brand": brand, "created_at": self.ago(380),
                    "description": f"{title} by {brand}. {data.PRODUCT_BLURBS[brand]}"})
            for (colour, size), code in zip(variants, codes, strict=True):
                item += 1
                label, _, size_price = (size or "").partition(":")
                option = " / ".join(p for p in (colour, label) if p) or None
                unit = int(size_price) if size_price else price
                sku = _Sku(self.old_skus.get(code) or self.next_id("skus"), code, title, brand, option, unit,
                           "final_sale" not in flags, "dropship" in flags, rng.randint(8, 25),
                           rng.randint(40, 120))
                self.skus.append(sku)
                if code not in self.old_skus:
                    self.add("skus", {
                        "id": sku.id, "product_id": product_id, "code": code, "title": sku.title,
                        "option": option, "barcode": _upc(item), "price": unit, "currency": "USD",
                        "cost": unit * rng.randint(32, 48) // 100,
                        "weight_grams": (rng.randint(60, 250) * 100 if sku.dropship
                                         else rng.randint(2, 60) * 50),
                        "returnable": sku.returnable,
                        "dropship_location_id": self.locations["DS-ACME"].id if sku.dropship else None,
                        "reorder_point": sku.reorder_point, "reorder_quantity": sku.reorder_quantity,
                        "lead_time_days": rng.choice([5, 7, 10, 14, 21]), "active": True,
                        "created_at": self.ago(380),
                    })
        self.sku_by_id = {sku.id: sku for sku in self.skus}
        stocked = [sku for sku in self.skus if not sku.dropship]
        self.short_skus = {sku.id for sku in rng.sample(stocked, 6)}
        self.carried: set[tuple[int, int]] = set()  # (location id, sku id) with a stock level
        for sku in self.skus:
            homes = ["DS-ACME"] if sku.dropship else ["WH-EAST"] + [
                code for code, odds in (("WH-WEST", 0.85), ("3PL-CENTRAL", 0.3), ("STORE-DT", 0.4))
                if rng.random() < odds]
            self.carried.update((self.locations[code].id, sku.id) for code in homes)
        west = self.locations["WH-WEST"].id
        self.both_warehouses = [
            s for s in stocked if (west, s.id) in self.carried and s.id not in self.short_skus]

    def _listings(self) -> None:
        """Each channel's SKUs: our code, Amazon seller SKUs, and the channel's own listing ids."""
        rng = self.rng
        self.channel_skus: dict[str, tuple[list[tuple[_Sku, str]], list[float]]] = {}
        rank = list(range(len(self.skus)))
        rng.shuffle(rank)
        store = self.locations["STORE-DT"].id
        ebay_items: dict[str, str] = {}
        shopify_variant, woo_id = 41_000_000_000_000 + rng.randrange(10**9), 1200
        for ch in self.channels.values():
            listed: list[tuple[_Sku, str]] = []
            weights: list[float] = []
            for sku, popularity in zip(self.skus, rank, strict=True):
                if (ch.kind in ("amazon", "ebay") and sku.dropship) or (
                        ch.kind == "square" and (store, sku.id) not in self.carried):
                    continue
                channel_sku = f"AMZ-{sku.code}" if ch.kind == "amazon" else sku.code
                listing_id: str | None = None
                if ch.kind == "amazon":
                    listing_id = "B0" + "".join(rng.choices(_ALNUM, k=8))
                elif ch.kind == "ebay":
                    item_id = f"{rng.choice('23')}{rng.randrange(10**11):011d}"
                    listing_id = ebay_items.setdefault(sku.product, item_id)  # one listing per product
                elif ch.kind == "shopify":
                    shopify_variant += rng.randint(1000, 900_000)
                    listing_id = str(shopify_variant)
                elif ch.kind == "woocommerce":
                    woo_id += rng.randint(1, 4)
                    listing_id = str(woo_id)
                elif ch.kind == "square":
                    listing_id = "".join(rng.choices(_ALNUM, k=24))
                listed.append((sku, channel_sku))
                # A few best sellers, a long tail, and cheap things sell more often than furniture.
                weights.append((3000 / sku.price) ** 0.7 / (popularity + 6) ** 0.9)
                if (ch.id, channel_sku) not in self.old_listings:
                    self.add("listings", {
                        "id": self.next_id("listings"), "channel_id": ch.id, "channel_sku": channel_sku,
                        "sku_id": sku.id, "channel_listing_id": listing_id, "active": True,
                        "created_at": self.ago(360),
                    })
            self.channel_skus[ch.code] = (listed, list(itertools.accumulate(weights)))

    def _opening_stock(self) -> None:
        """A level for every carried (location, SKU), each new one starting with a receipt."""
        rng = self.rng
        start = self.ago(HISTORY_DAYS + 5)
        self.stock: dict[tuple[int, int], _Level] = {}
        self.po_number = 4100
        for loc_id, sku_id in sorted(self.carried):
            sku, kind = self.sku_by_id[sku_id], self.loc_by_id[loc_id].kind
            short = sku_id in self.short_skus
            if kind == "store":
                rp, restock, override, qty = 3, 10, 3, rng.randint(6, 18)
            elif kind == "dropship":
                rp, restock, override, qty = 20, 200, None, rng.randint(150, 400)
            else:
                rp, restock, override = sku.reorder_point, sku.reorder_quantity, None
                qty = rng.randint(10, 30) if short else rng.randint(40, 160)
            level_id, on_hand, reserved = self.old_levels.get((loc_id, sku_id), (None, 0, 0))
            level = _Level(level_id, on_hand, reserved, rp, restock, short, override, start)
            self.stock[(loc_id, sku_id)] = level
            if level_id is not None:
                continue
            self._receive(loc_id, sku_id, qty, start,
                          "Supplier stock feed" if kind == "dropship" else "Opening stock count")

    def _staff(self, password_hash: str) -> None:
        self.staff: list[Staff] = []
        for n, (email, name, role) in enumerate(data.STAFF):
            user_id = self.old_users.get(email) or self.next_id("users")
            self.staff.append((user_id, email, name, role))
            if email not in self.old_users:
                self.add("users", self._user_row(user_id, email, name, role, password_hash=password_hash,
                                                 created=self.ago(400 - n)))
        self.agents = [member for member in self.staff if member[3] == "agent"]

    def _user_row(self, user_id: int, email: str, name: str, role: str, *, password_hash: str,
                  created: datetime, customer_id: int | None = None) -> dict[str, Any]:
        return {
            "id": user_id, "email": email, "name": name, "password_hash": password_hash, "role": role,
            "customer_id": customer_id, "active": True, "email_verified_at": created + timedelta(minutes=7),
            "session_version": 1, "last_login_at": self.now - timedelta(hours=self.rng.randint(2, 90)),
            "created_at": created,
        }

    # -- customers -------------------------------------------------------------------------------------------

    def _people(self) -> None:
        """The persons behind the orders; about one in six buys on several channels."""
        rng = self.rng
        codes = list(data.CHANNELS)
        shares = [data.CHANNELS[code][9] for code in codes]
        city_weights = list(itertools.accumulate(city[5] for city in data.CITIES))
        used_emails, used_phones = {"customer@example.com"}, {"+17185550142"}
        self.casey = _Person(self.old_casey or self.next_id("customers"), "Casey", "Customer",
                             "customer@example.com", "+17185550142", dict(data.CASEY_ADDRESS),
                             [code for code, *_ in data.CASEY_ORDERS])
        self.people: list[_Person] = []
        for _ in range(max(50, round(2000 * (self.n_orders / 20000) ** 0.75))):
            first, last = rng.choice(data.FIRST_NAMES), rng.choice(data.LAST_NAMES)
            city, region, country, postal, areas, _ = rng.choices(data.CITIES, cum_weights=city_weights)[0]
            phone = None
            if rng.random() < 0.75:
                for candidate in (f"+1{rng.choice(areas)}5550{rng.randrange(100, 200)}" for _ in range(4)):
                    if candidate not in used_phones:
                        phone = candidate
                        used_phones.add(candidate)
                        break
            postal_code = f"{postal}{rng.randrange(100):02d}" if country == "US" else (
                f"{postal} {rng.randrange(10)}{rng.choice('ABCEGHJKLMNPRSTVXY')}{rng.randrange(10)}")
            line2 = None
            if rng.random() < 0.3:
                line2 = rng.choice(["Apt {n}{l}", "Unit {n}", "Suite {n}", "Apt {n}"]).format(
                    n=rng.randint(1, 24), l=rng.choice("ABCDEF"))
            street = f"{rng.randint(1, 9899)} {rng.choice(data.STREETS)}"
            address = {"name": f"{first} {last}", "line1": street, "line2": line2, "city": city,
                       "region": region, "postal_code": postal_code, "country": country}
            channels = rng.choices(codes, weights=shares)
            if rng.random() < 0.2:
                channels += rng.sample([c for c in codes if c not in channels], rng.choice([1, 1, 2]))
            email = self._unique_email(first, last, used_emails)
            customer_id = self.next_id("customers")
            self.people.append(_Person(customer_id, first, last, email, phone, address, channels))

    def _unique_email(self, first: str, last: str, used: set[str]) -> str:
        rng = self.rng
        given, family = ("".join(ch for ch in part.lower() if ch.isalnum()) or "x" for part in (first, last))
        pattern = rng.choice(["{g}.{f}", "{g}{f}", "{i}{f}", "{g}_{f}", "{g}.{f}{n}", "{g}{n}"])
        while True:
            local = pattern.format(g=given, f=family, i=given[0], n=rng.randint(1, 99))
            email = f"{local}@{rng.choice(data.EMAIL_DOMAINS)}"
            if email not in used:
                used.add(email)
                return email
            pattern = "{g}.{f}{n}"

    def _plan_orders(self) -> None:
        """Who orders what, where and when: one spec per order, sorted by placed time."""
        rng = self.rng
        n = self.n_orders
        specs = [
            _Spec(self.ago(age) + timedelta(minutes=rng.randint(-90, 90)), S(status), code, self.casey, afn,
                  2 if status == "returned" else 1, ticket=ticket)
            for code, status, age, afn, ticket in data.CASEY_ORDERS[:n]
        ]
        by_channel: dict[str, list[_Person]] = defaultdict(list)
        for person in self.people:
            for code in person.channels:
                by_channel[code].append(person)
        shippable = [code for code in data.CHANNELS if code != "pos" and by_channel[code]]
        for status in list(S)[: max(0, n - len(specs))]:
            low, high = data.FORCED_AGES[status]
            code = rng.choice(shippable)
            buyer = rng.choice(by_channel[code])
            specs.append(self._spec(self.ago(rng.uniform(low, high)), status, code, buyer))
        weights = list(itertools.accumulate(min(15.0, rng.paretovariate(1.4)) for _ in self.people))
        for person in rng.choices(self.people, cum_weights=weights, k=n - len(specs)):
            age = self._sample_age()
            code = person.channels[0] if len(person.channels) == 1 or rng.random() < 0.6 else rng.choice(
                person.channels[1:])
            status = self._status_for_age(age)
            if code == "pos" and status not in _POS_OK:
                status = S.DELIVERED
            anonymous = code == "pos" and rng.random() < 0.5  # a walk-in who gave no name at the till
            specs.append(self._spec(self.ago(age), status, code, None if anonymous else person))
        specs.sort(key=lambda spec: spec.placed_at)
        for spec in specs:
            if spec.person is not None and spec.person.first_order_at is None:
                spec.person.first_order_at = spec.placed_at
        self.specs = specs

    def _spec(self, placed: datetime, status: S, code: str, person: _Person | None) -> _Spec:
        afn = code == "amazon" and status in _AFN_OK and self.rng.random() < 0.33
        split = code != "pos" and not afn and (status == S.PARTIALLY_SHIPPED or self.rng.random() < 0.03)
        two = split or status == S.PARTIALLY_RETURNED
        return _Spec(placed, status, code, person, afn, 2 if two else 1, split=split)

    def _sample_age(self) -> float:
        """Days before now: more orders lately (the shop is growing) and fewer at weekends."""
        rng = self.rng
        while True:
            age = rng.random() * HISTORY_DAYS
            weekend = (self.now - timedelta(days=age)).weekday() >= 5
            if rng.random() * 1.3 < (1.3 - 0.6 * age / HISTORY_DAYS) * (0.8 if weekend else 1.0):
                return age

    def _status_for_age(self, age: float) -> S:
        odds = next(table for limit, table in data.STATUS_BY_AGE if age < limit)
        return S(self.rng.choices(list(odds), weights=list(odds.values()))[0])

    def _customers(self, password_hash: str) -> None:
        rng = self.rng
        for person in self.people if self.old_casey else [self.casey, *self.people]:
            if person.first_order_at is not None and rng.random() < 0.6:
                created = person.first_order_at - timedelta(seconds=rng.randint(60, 900))
            else:
                created = self.ago(rng.uniform(HISTORY_DAYS, 900))
            # An Amazon-only buyer is known by a relay address, never their own: no customer email.
            email = None if person.channels == ["amazon"] else person.email
            name = f"{person.first} {person.last}"
            self.add("customers", self._customer_row(person.customer_id, name, email, person.phone, created))
        if self.old_casey is None and DEMO_ACCOUNTS[0][0] not in self.old_users:
            casey = self.casey
            self.add("users", self._user_row(
                self.next_id("users"), casey.email, "Casey Customer", "customer", password_hash=password_hash,
                customer_id=casey.customer_id, created=self.ago(HISTORY_DAYS + 30)))

    def _customer_row(self, customer_id: int, name: str, email: str | None, phone: str | None,
                      created: datetime, *, merged_into: int | None = None) -> dict[str, Any]:
        return {
            "id": customer_id, "name": name, "email": email, "phone": phone, "merged_into_id": merged_into,
            "marketing_opt_out": self.rng.random() < 0.2, "notification_prefs": {"email": True, "sms": False},
            "deletion_requested_at": None, "created_at": created,
        }

    def _identity(self, person: _Person, ch: _Channel, at: datetime
                  ) -> tuple[int, str, str | None, str | None, dict[str, Any]]:
        """How this channel knows the person, made at their first order there, with the channel's quirks.

        Returns (identity id, name, email, phone as given, address)."""
        found = person.identities.get(ch.code)
        if found is not None:
            return found
        rng = self.rng
        first_identity = not person.identities
        name, email, phone = f"{person.first} {person.last}", person.email, person.phone
        address = dict(person.address)
        if not first_identity:  # the same person as another channel knows them: a nickname, a typo, ...
            r = rng.random()
            if person.first in data.NICKNAMES and r < 0.35:
                name = f"{data.NICKNAMES[person.first]} {person.last}"
            elif r < 0.5:
                name = f"{person.first[0]}. {person.last}"
            elif r < 0.6:
                name = name.lower()
            r = rng.random()
            if r < 0.2:
                local = email.split("@")[0].replace(".", "")
                email = f"{local}{rng.randint(2, 99)}@{rng.choice(data.EMAIL_DOMAINS)}"
            elif r < 0.4:
                email = email.title()
            address = self._address_variant(address)
        if phone is not None and (ch.kind in ("amazon", "ebay", "square") or not first_identity):
            d = phone[2:]
            phone = rng.choice([f"({d[:3]}) {d[3:6]}-{d[6:]}", f"{d[:3]}.{d[3:6]}.{d[6:]}", d,
                                f"+1 {d[:3]}-{d[3:6]}-{d[6:]}", phone])
        if ch.kind == "amazon":
            relay = "".join(rng.choices(string.ascii_lowercase + string.digits, k=14))
            email = f"{relay}@marketplace.amazon.com"
        elif ch.kind == "ebay" and rng.random() < 0.3:
            email = f"{rng.getrandbits(64):016x}@members.ebay.com"
        elif ch.kind == "square" and rng.random() < 0.4:
            email = None
        address["name"] = name
        normalized = _digits_phone(phone) if phone else None
        if first_identity:
            matched, score = "new", None
        elif email is not None and email.lower() == person.email:
            matched, score = "email", None
        elif normalized is not None and normalized == person.phone:
            matched, score = "phone", None
        elif rng.random() < 0.06:
            matched, score = "manual", None
        else:
            matched, score = "fuzzy", rng.randint(82, 97)
        identity_id = self.next_id("identities")
        self.add("identities", {
            "id": identity_id, "customer_id": person.customer_id, "channel_id": ch.id,
            "external_id": self._buyer_id(ch, person), "name": name, "email": email and email.lower(),
            "phone": normalized, "address": _compact(address), "matched_by": matched, "match_score": score,
            "created_at": at,
        })
        if matched == "manual":
            self._recorded_merge(person, identity_id, name, email, at)
        found = person.identities[ch.code] = (identity_id, name, email and email.lower(), phone, address)
        return found

    def _address_variant(self, address: dict[str, Any]) -> dict[str, Any]:
        """The same address as another channel has it: abbreviated, mistyped, upper-cased, ZIP+4."""
        rng = self.rng
        r = rng.random()
        line1 = address["line1"]
        if r < 0.35:
            for word, short in data.STREET_ABBREVIATIONS.items():
                line1 = line1.replace(word, short)
        elif r < 0.45:
            i = rng.randrange(len(line1) - 6, len(line1) - 1)
            line1 = line1[:i] + line1[i + 1] + line1[i] + line1[i + 2 :]
        elif r < 0.55:
            line1 = line1.upper()
        line2 = address["line2"]
        if line2 and rng.random() < 0.4:
            line2 = line2.replace("Apt ", rng.choice(["Apartment ", "#", "APT "]))
        postal = address["postal_code"]
        if address["country"] == "US" and rng.random() < 0.25:
            postal = f"{postal}-{rng.randrange(10000):04d}"
        return {**address, "line1": line1, "line2": line2, "postal_code": postal}

    def _buyer_id(self, ch: _Channel, person: _Person) -> str:
        rng = self.rng
        if ch.kind == "shopify":
            return str(7_100_000_000_000 + rng.randrange(10**12))
        if ch.kind == "amazon":
            return "A" + "".join(rng.choices(_ALNUM, k=13))
        if ch.kind == "ebay":
            family = "".join(c for c in person.last if c.isalnum())
            return f"{person.first[0]}{family}_{rng.randint(1, 999)}".lower()
        if ch.kind == "square":
            return "".join(rng.choices(_ALNUM, k=26))
        self.counters[f"buyer:{ch.code}"] += 1
        return str(1000 + self.counters[f"buyer:{ch.code}"] * 3)

    def _recorded_merge(self, person: _Person, identity_id: int, name: str, email: str | None,
                        at: datetime) -> None:
        """An agent merged a duplicate customer into this one; the duplicate stays, pointing at it."""
        duplicate = self.next_id("customers")
        agent = self.rng.choice(self.agents)
        merged_at = min(at + timedelta(hours=self.rng.randint(2, 40)), self.now - timedelta(minutes=5))
        self.add("customers", self._customer_row(duplicate, name, email and email.lower(), None, at,
                                                 merged_into=person.customer_id))
        self.add("customer_merges", {
            "id": self.next_id("customer_merges"), "source_customer_id": duplicate,
            "target_customer_id": person.customer_id, "identity_ids": [identity_id],
            "reason": "Same street address and phone; confirmed with the customer.", "actor": agent[1],
            "created_at": merged_at, "undone_at": None,
        })
        self._audit(agent, "customer.merge", "customer", person.customer_id, when=merged_at,
                    before={"customer_id": duplicate}, after={"merged_into_id": person.customer_id})

    # -- the stock ledger ------------------------------------------------------------------------------------

    def _movement(self, loc_id: int, sku_id: int, kind: str, on_hand: int, reserved: int, *, at: datetime,
                  order_id: int | None = None, reference: str | None = None, actor: str = "system") -> None:
        level = self.stock[(loc_id, sku_id)]
        level.on_hand += on_hand
        level.reserved += reserved
        level.touched = max(level.touched, at)
        self.add("stock_movements", {
            "id": self.next_id("stock_movements"), "location_id": loc_id, "sku_id": sku_id, "kind": kind,
            "on_hand_delta": on_hand, "reserved_delta": reserved, "order_id": order_id,
            "reference": reference, "actor": actor, "created_at": at,
        })

    def _receive(self, loc_id: int, sku_id: int, qty: int, at: datetime, reference: str | None = None
                 ) -> None:
        if reference is None:
            self.po_number += 1
            reference = f"PO-{self.po_number:05d}"
        self._movement(loc_id, sku_id, "receipt", qty, 0, at=at, reference=reference, actor="receiving")

    def _make_available(self, loc_id: int, sku_id: int, qty: int, at: datetime) -> None:
        """Replenish before a reservation: a purchase order keeps stock above the reorder point.

        Short SKUs get just enough, so they stay below it (the low-stock alerts)."""
        level = self.stock[(loc_id, sku_id)]
        available = level.on_hand - level.reserved
        arrived = at - timedelta(seconds=self.rng.randint(7200, 108000))
        if level.short:
            if available < qty:
                self._receive(loc_id, sku_id, qty - available + self.rng.randint(0, 1), arrived)
        elif available - qty < level.reorder_point:
            self._receive(loc_id, sku_id, level.restock + max(0, qty - available), arrived)

    # -- orders ----------------------------------------------------------------------------------------------

    def build_order(self, spec: _Spec) -> None:
        """One order with its lines, allocations, shipments, returns, ticket, timeline and stock movements."""
        rng = self.rng
        ch = self.channels[spec.channel]
        order_id = self.next_id("orders")
        number = format_order_number(order_id)
        placed, status = spec.placed_at, spec.status
        pos = ch.kind == "square"
        identity_id = email = phone = address = None
        name = ""
        if spec.person is not None:
            identity_id, name, email, phone, address = self._identity(spec.person, ch, placed)
        ship_to = None if pos or address is None else _compact(address)
        country, region = (ship_to["country"], ship_to["region"]) if ship_to else ("US", "NY")
        currency = "CAD" if country == "CA" and ch.kind in ("amazon", "ebay") else "USD"
        external_id, channel_number = self._external_id(ch, country)
        lines = self._lines(ch, spec, currency)
        if pos:
            (option_id, option_name), option_code = ch.pickup, "in_store"
            price = low = high = dispatch = 0
        else:
            option_id, option_code, option_name, price, low, high, dispatch = rng.choices(
                ch.options, weights=[80, 15, 5][: len(ch.options)])[0]

        subtotal = sum(line.total for line in lines)
        discount, code = 0, None
        if ch.kind in ("webshop", "shopify", "woocommerce") and rng.random() < 0.12:
            code, percent = rng.choice([("WELCOME10", 10), ("SPRING15", 15), ("LOYAL10", 10)])
            discount = subtotal * percent // 100
        shipping = price if currency == "USD" or not price else _cad(price)
        if ch.code in ("webshop", "shopify", "instagram") and option_code == "standard" and subtotal >= 7500:
            shipping = 0  # free standard shipping over 75.00
        tax = ((subtotal - discount) * data.TAX_BASIS_POINTS.get(region, 0) + 5000) // 10000
        for line in lines[:-1]:
            line.tax = tax * line.total // subtotal
        lines[-1].tax = tax - sum(line.tax for line in lines[:-1])
        total = subtotal - discount + shipping + tax

        # When each milestone happens, in seconds after placement; squeezed to end before now when needed.
        cancel_late = status == S.CANCELLED and not spec.afn and not pos and rng.random() < 0.55
        allocated = not spec.afn and (status in _SHIPPED or status == S.CONFIRMED or cancel_late
                                      or (pos and status != S.CANCELLED))
        groups = self._plan_groups(ch, region if country == "US" else None, country, lines, spec.split
                                   ) if allocated else []
        ship_groups = [] if pos or status not in _SHIPPED else (
            groups[:1] if status == S.PARTIALLY_SHIPPED else groups)
        off: dict[str, float] = {}
        must: list[str] = []

        def plan(key: str, seconds: float, required: bool = True) -> None:
            off[key] = seconds
            if required:
                must.append(key)

        if pos and groups:
            plan("sale", rng.uniform(30, 240))
        if status == S.ON_HOLD:
            plan("hold", rng.uniform(60, 900))
        if status == S.BACKORDERED:
            plan("backorder", rng.uniform(60, 600))
        if groups and not pos:
            plan("confirm", rng.uniform(120, 1800))
        if status == S.CANCELLED:
            after = off["confirm"] + rng.uniform(3600, 72000) if cancel_late else rng.uniform(600, 2 * _DAY)
            plan("cancel", after)
        units = [(i, group[0].kind) for i, group in enumerate(ship_groups)]
        if spec.afn and status in _SHIPPED:
            units = [(0, "amazon")]
        for i, kind in units:
            shipped = self._ship_time(placed + timedelta(seconds=off.get("confirm", 0)), kind, i)
            plan(f"ship{i}", (shipped - placed).total_seconds(), i == 0 or status != S.PARTIALLY_SHIPPED)
            days = rng.randint(max(low, 1), max(high, 1)) + (rng.randint(1, 4) if rng.random() < 0.06 else 0)
            arrives = _business_days(shipped, days).replace(hour=rng.randint(14, 23),
                                                            minute=rng.randrange(60))
            plan(f"deliver{i}", (arrives - placed).total_seconds(), status in _DELIVERED)
        if status in _RETURNED:
            counter = pos  # handed back at the till: the whole return takes minutes
            last = max((v for k, v in off.items() if k.startswith("deliver")), default=off.get("sale", 0))
            plan("ret_request", last + rng.uniform(1, min(ch.return_window - 1, 20)) * _DAY, False)
            plan("ret_approve", off["ret_request"] + (60 if counter else rng.uniform(1800, 72000)), False)
            plan("ret_received", off["ret_approve"] + (60 if counter else rng.uniform(3, 9) * _DAY))
            plan("ret_refund", off["ret_received"] + (60 if counter else rng.uniform(0.2, 2) * _DAY))
        age = max((self.now - placed).total_seconds(), 2.0)
        limit = age - min(120.0, age * 0.1)
        peak = max((off[k] for k in must), default=0.0)
        factor = limit / peak if peak > limit else 1.0
        at = {k: placed + timedelta(seconds=round(v * factor)) for k, v in off.items()}

        events: list[tuple[datetime, int, dict[str, Any]]] = []
        state = {"status": S.PENDING.value}

        def event(kind: str, when: datetime, message: str, *, frm: str | None = None, to: str | None = None,
                  actor: str = "system", info: dict[str, Any] | None = None) -> None:
            events.append((when, len(events), {
                "order_id": order_id, "kind": kind, "from_status": frm, "to_status": to, "message": message,
                "data": info or {}, "actor": actor, "visible_to_customer": kind in CUSTOMER_VISIBLE_KINDS,
                "created_at": when,
            }))

        def move(target: S, when: datetime, why: str, actor: str = "system") -> None:
            previous = state["status"]
            state["status"] = check_transition(previous, target).value
            event("status_changed", when, why, frm=previous, to=target.value, actor=actor)

        event("placed", placed, f"Order placed on {ch.name}", to=S.PENDING.value, actor=ch.actor,
              info={"external_id": external_id, "total": to_decimal_string(total, currency),
                    "currency": currency, **({"discount_code": code} if code else {})})
        hold_reason = rng.choice(data.HOLD_REASONS) if status == S.ON_HOLD else None
        if hold_reason:
            move(S.ON_HOLD, at["hold"], hold_reason)
        if status == S.BACKORDERED:
            short = lines[0]
            move(S.BACKORDERED, at["backorder"], f"not enough stock: {short.sku.code} wanted {short.qty}")

        allocations: list[dict[str, Any]] = []
        line_location: dict[int, int] = {}
        if groups:
            when = at["sale"] if pos else at["confirm"]
            for loc, group_lines, reason in groups:
                for line in group_lines:
                    self._make_available(loc.id, line.sku.id, line.qty, when)
                    if not pos:
                        self._movement(loc.id, line.sku.id, "reservation", 0, line.qty, at=when,
                                       order_id=order_id, reference=number)
                    line_location[line.id] = loc.id
                    allocations.append({
                        "id": self.next_id("allocations"), "order_line_id": line.id, "location_id": loc.id,
                        "quantity": line.qty, "status": "reserved", "reason": reason, "created_at": when,
                    })
            event("allocated", when, "; ".join(dict.fromkeys(reason for *_, reason in groups)), info={
                "strategy": "pickup" if pos else "default", "allocations": [
                    {"line_id": a["order_line_id"], "location_id": a["location_id"],
                     "quantity": a["quantity"], "reason": a["reason"]} for a in allocations]})
            if not pos:
                move(S.CONFIRMED, when, "stock reserved")
        if pos and groups:
            for line in lines:
                self._movement(line_location[line.id], line.sku.id, "shipment", -line.qty, 0, at=at["sale"],
                               order_id=order_id, reference=f"{number} counter sale")
                line.shipped = line.qty
            for allocation in allocations:
                allocation["status"] = "shipped"
            move(S.DELIVERED, at["sale"], "Sold and handed over at the Downtown Store counter")

        shipments: list[tuple[str, datetime]] = []
        ctx = {"order_id": order_id, "country": country, "fast": high <= 3, "ch": ch, "low": low,
               "high": high, "dest": ship_to}
        ordered_units = sorted(units, key=lambda unit: at[f"ship{unit[0]}"])
        for n_shipped, (i, _kind) in enumerate(ordered_units, start=1):
            loc, group_lines = (None, lines) if spec.afn else ship_groups[i][:2]
            shipped = at[f"ship{i}"]
            delivered = status in _DELIVERED or (
                status == S.PARTIALLY_SHIPPED and at[f"deliver{i}"] < self.now - timedelta(hours=1))
            carrier, tracking, first_to = self._shipment(
                ctx, loc, group_lines, shipped, at[f"deliver{i}"], delivered=delivered,
                earliest=at.get("confirm", placed))
            shipments.append((carrier, first_to))
            ids = {line.id for line in group_lines}
            for line in group_lines:
                line.shipped = line.qty
                if loc is not None:
                    self._movement(loc.id, line.sku.id, "shipment", -line.qty, -line.qty, at=shipped,
                                   order_id=order_id, reference=number)
            for allocation in allocations:
                if allocation["order_line_id"] in ids:
                    allocation["status"] = "shipped"
            who = ch.actor if spec.afn else "system"
            event("shipped", shipped, f"Shipped with {carrier}, tracking {tracking}", actor=who, info={
                "carrier": carrier, "tracking_number": tracking,
                "lines": [line.line_no for line in group_lines]})
            if n_shipped < len(ordered_units) or status == S.PARTIALLY_SHIPPED:
                if state["status"] != S.PARTIALLY_SHIPPED:
                    move(S.PARTIALLY_SHIPPED, shipped, f"Shipped {n_shipped} of {len(groups)} parcels")
            else:
                why = "Shipped by Amazon (fulfilled by Amazon)" if spec.afn else "All lines shipped"
                move(S.SHIPPED, shipped, why, who)
        if units and status in _DELIVERED:
            delivered_at = max(at[f"deliver{i}"] for i, _ in units)
            event("delivered", delivered_at, f"Delivered by {shipments[-1][0]}")
            move(S.DELIVERED, delivered_at, "All parcels delivered")

        refunded = 0
        if status == S.CANCELLED:
            refunded = self._cancel(order_id, number, ch, lines, allocations, when=at["cancel"],
                                    paid=cancel_late, money=(total, shipping, currency), move=move,
                                    event=event)
        elif status in _RETURNED:
            refunded = self._returns(order_id, number, ch, spec, lines, shipped_from=line_location, at=at,
                                     currency=currency, money=(subtotal, discount, shipping), move=move,
                                     event=event)
        elif status == S.DELIVERED and not ch.channel_returns and not pos:
            delivered_at = max(at[k] for k in at if k.startswith("deliver"))
            self._open_return(order_id, ch, spec, lines, line_location, delivered_at=delivered_at,
                              event=event)
        if spec.person is not None and (spec.ticket or rng.random() < 0.08):
            self._order_ticket(spec, order_id, number, lines, at=at, shipments=shipments)

        for line in lines:
            self.add("order_lines", {
                "id": line.id, "order_id": order_id, "line_no": line.line_no,
                "external_id": self._line_external_id(ch, order_id, line), "sku_id": line.sku.id,
                "channel_sku": line.channel_sku, "title": self._line_title(ch, line.sku),
                "quantity": line.qty, "unit_price": line.unit_price, "discount": 0, "tax": line.tax,
                "total": line.total,
                "quantity_shipped": line.shipped, "quantity_returned": line.returned,
                "quantity_cancelled": line.qty if status == S.CANCELLED else 0,
            })
        self.out["allocations"] += allocations
        events.sort(key=lambda item: (item[0], item[1]))
        for *_, row in events:
            row["id"] = self.next_id("order_events")
            self.add("order_events", row)
        updated = events[-1][0]
        words = data.CHANNEL_STATUS.get(ch.kind)
        channel_status = status.value if words is None else words.get(status.value, words["*"])
        dispatch_by = _business_days(placed, dispatch)
        self.add("orders", {
            "id": order_id, "channel_id": ch.id, "external_id": external_id, "number": number,
            "channel_number": channel_number, "status": state["status"], "channel_status": channel_status,
            "hold_reason": hold_reason, "customer_id": spec.person.customer_id if spec.person else None,
            "identity_id": identity_id, "email": email, "phone": phone, "buyer_name": name,
            "placed_at": placed, "placed_at_offset_minutes": data.ZONE_MINUTES.get(ch.kind, 0),
            "channel_updated_at": None if ch.kind == "webshop" else updated, "currency": currency,
            "subtotal": subtotal, "discount_total": discount, "shipping_total": shipping, "tax_total": tax,
            "total": total, "refunded_total": refunded, "billing_address": ship_to,
            "shipping_address": ship_to, "shipping_method": option_name, "shipping_option_id": option_id,
            "fulfilled_by_channel": spec.afn, "source": data.CHANNELS[ch.code][8],
            "pickup_location_id": self.locations["STORE-DT"].id if pos else None,
            "note": rng.choice(data.ORDER_NOTES) if rng.random() < 0.03 else None,
            "expected_dispatch_by": None if pos else _end_of_day(dispatch_by),
            "promised_delivery_from": None if pos else _business_days(dispatch_by, max(low, 1)).replace(
                hour=0, minute=0, second=0),
            "promised_delivery_to": None if pos else _end_of_day(_business_days(dispatch_by, max(high, 1))),
            "created_at": placed if pos else min(placed + timedelta(seconds=rng.randint(1, 90)), self.now),
            "updated_at": updated,
        })
        self.recent.append({
            "order_id": order_id, "channel": ch, "external_id": external_id, "number": number,
            "placed": placed, "email": email, "total": total, "currency": currency,
            "channel_status": channel_status,
            "lines": [(line.channel_sku, line.qty, line.unit_price) for line in lines]})

    def _external_id(self, ch: _Channel, country: str) -> tuple[str, str | None]:
        """The channel's own order id in its usual shape, and the number it shows the buyer if different."""
        rng = self.rng
        while True:
            number = None
            if ch.kind == "amazon":
                prefix = rng.choice(("701", "702") if country == "CA" else ("111", "112", "113", "114"))
                external = f"{prefix}-{rng.randrange(10**7):07d}-{rng.randrange(10**7):07d}"
            elif ch.kind == "ebay":
                external = f"{rng.randint(10, 27):02d}-{rng.randrange(10**5):05d}-{rng.randrange(10**5):05d}"
            elif ch.kind == "shopify":  # Instagram orders come through the same Shopify store
                self.counters["shopify"] += 1
                external = str(5_600_000_000_000 + self.counters["shopify"] * 104_729 + rng.randrange(1000))
                number = f"#{1000 + self.counters['shopify']}"
            elif ch.kind == "woocommerce":
                self.counters["woocommerce"] += rng.randint(1, 3)
                external = number = str(20_000 + self.counters["woocommerce"])
            elif ch.kind == "square":
                external = "".join(rng.choices(_BASE62, k=24))
                number = external[:4].upper()
            else:
                self.counters[ch.kind] += 1
                external = str(100_000 + self.counters[ch.kind])
            if (ch.id, external) not in self.external_ids:
                self.external_ids.add((ch.id, external))
                return external, number

    def _lines(self, ch: _Channel, spec: _Spec, currency: str) -> list[_Line]:
        """1-4 distinct SKUs the channel lists, popular ones more often; a split order ends with one stocked
        in both warehouses, a backordered one starts with a SKU that is out of stock."""
        rng = self.rng
        listed, cum = self.channel_skus[ch.code]
        count = max(spec.min_lines, rng.choices((1, 2, 3, 4), weights=(20, 30, 30, 20))[0])
        returnable_only = spec.status in _RETURNED
        picked: list[tuple[_Sku, str]] = []
        if spec.status == S.BACKORDERED:
            picked.append(rng.choice([item for item in listed if item[0].id in self.short_skus]))
        for _try in range(40):
            if len(picked) >= count - spec.split:
                break
            sku, channel_sku = rng.choices(listed, cum_weights=cum)[0]
            if all(sku.id != p.id for p, _ in picked) and (sku.returnable or not returnable_only):
                picked.append((sku, channel_sku))
        if spec.split:
            sku = rng.choice([s for s in self.both_warehouses if all(s.id != p.id for p, _ in picked)])
            picked.append((sku, f"AMZ-{sku.code}" if ch.kind == "amazon" else sku.code))
        lines = []
        for n, (sku, channel_sku) in enumerate(picked, start=1):
            qty = rng.choices((1, 2, 3, 4), weights=(76, 17, 5, 2))[0]
            price = sku.price if currency == "USD" else _cad(sku.price)
            lines.append(_Line(self.next_id("order_lines"), n, sku, channel_sku, qty, price, price * qty))
        return lines

    def _line_title(self, ch: _Channel, sku: _Sku) -> str:
        if ch.kind == "amazon":
            option = f", {sku.option.replace(' / ', ', ')}" if sku.option else ""
            return f"{sku.brand} {sku.product}{option}"
        return sku.title

    def _line_external_id(self, ch: _Channel, order_id: int, line: _Line) -> str:
        ids = {"amazon": f"{30_000_000_000_000 + line.id * 7919:014d}",
               "shopify": str(13_500_000_000_000 + line.id * 37), "ebay": str(10_000_000_000 + line.id * 13),
               "woocommerce": str(50_000 + line.id),
               "square": hashlib.sha256(f"{order_id}:{line.line_no}".encode()).hexdigest()[:22].upper()}
        return ids.get(ch.kind, f"{order_id}-{line.line_no}")

    def _plan_groups(self, ch: _Channel, state: str | None, country: str, lines: list[_Line], split: bool
                     ) -> list[tuple[_Location, list[_Line], str]]:
        """Which location ships which lines, and why (the default allocation rule, in short)."""
        if ch.kind == "square":
            return [(self.locations["STORE-DT"], lines, "Downtown Store: sold at the counter")]
        region = f"{country}-{state}" if state else country
        drop = [line for line in lines if line.sku.dropship]
        rest = [line for line in lines if not line.sku.dropship]
        groups: list[tuple[_Location, list[_Line], str]] = []

        def carries(loc: _Location, some: list[_Line]) -> bool:
            return all((loc.id, line.sku.id) in self.carried for line in some)

        if rest:
            n = len(rest)
            regional = next((loc for loc in ch.ship_from if region in loc.regions), None)
            if regional is not None and carries(regional, rest):
                first, reason = regional, f"{regional.name}: serves {region}, priority {regional.priority}"
            else:
                first = next(loc for loc in ch.ship_from if carries(loc, rest))
                every = "the line" if n == 1 else f"all {n} lines"
                reason = (f"{first.name}: only location with {every} in stock" if regional is not None
                          else f"{first.name}: {every} in stock, priority {first.priority}")
            if split and n >= 2:
                second = self.locations["WH-WEST" if first.code == "WH-EAST" else "WH-EAST"]
                moved = [line for line in rest[1:] if carries(second, [line])][-1:]
                kept = [line for line in rest if line not in moved]
                groups.append((first, kept, f"split: {first.name} had {len(kept)} of {n} lines"))
                groups.append((second, moved, f"split: {second.name} had the remaining line"))
            else:
                groups.append((first, rest, reason))
        if drop:
            supplier = self.locations["DS-ACME"]
            groups.append((supplier, drop, f"{supplier.name}: drop-ship supplier of this SKU"))
        return groups

    def _ship_time(self, confirmed: datetime, kind: str, index: int) -> datetime:
        low, high = {"3pl": (8, 40), "dropship": (24, 72), "amazon": (4, 30)}.get(kind, (2, 26))
        moment = confirmed + timedelta(seconds=round(3600 * (self.rng.uniform(low, high)
                                                             + index * self.rng.uniform(0, 10))))
        if kind != "amazon" and moment.weekday() >= 5:  # our docks are closed at weekends
            moment += timedelta(days=7 - moment.weekday())
        return moment

    def _carrier(self, ctx: dict[str, Any], loc: _Location | None) -> tuple[str, str]:
        rng = self.rng
        if loc is None:
            return "Amazon Logistics", f"TBA{rng.randrange(10**11, 10**12)}"
        if ctx["country"] == "CA":
            carrier = rng.choices(["DHL", "UPS"], [6, 4])[0]
        elif ctx["fast"]:
            carrier = rng.choices(["UPS", "FedEx"], [6, 4])[0]
        elif ctx["ch"].kind == "ebay":
            carrier = rng.choices(["USPS", "UPS"], [6, 4])[0]
        elif loc.kind in ("3pl", "dropship"):
            carrier = rng.choices(["FedEx", "UPS"], [6, 4])[0]
        else:
            carrier = rng.choices(["UPS", "USPS", "FedEx"], [45, 40, 15])[0]
        if carrier == "UPS":
            return carrier, _ups_number(rng, data.UPS_SHIPPERS[loc.code], "02" if ctx["fast"] else "03")
        return carrier, {"USPS": _usps_number, "FedEx": _fedex_number, "DHL": _dhl_number}[carrier](rng)

    def _shipment(self, ctx: dict[str, Any], loc: _Location | None, lines: list[_Line], shipped: datetime,
                  arrives: datetime, *, delivered: bool, earliest: datetime) -> tuple[str, str, datetime]:
        """A parcel with its lines and 2-6 tracking events; returns (carrier, tracking, first estimate)."""
        rng = self.rng
        carrier, tracking = self._carrier(ctx, loc)
        shipment_id = self.next_id("shipments")
        first_from = _business_days(shipped, max(ctx["low"], 1)).replace(hour=0, minute=0, second=0)
        first_to = _end_of_day(_business_days(shipped, max(ctx["high"], 1)))
        overdue = not delivered and arrives < self.now
        if overdue and rng.random() < 0.7:  # running late but still moving: it arrives after now
            arrives, overdue = self.now + timedelta(seconds=rng.randint(3 * 3600, 40 * 3600)), False
        words = data.CARRIER_WORDS[carrier]
        origin = loc.city if loc is not None else rng.choice(data.CARRIER_HUBS[carrier])
        dest = ctx["dest"] or {"city": "New York", "region": "NY"}
        here = f"{dest['city']}, {dest['region']}"
        label_at = max(earliest + timedelta(minutes=5), shipped - timedelta(seconds=rng.randint(1800, 14400)))
        points = [("info_received", label_at, words["info_received"], origin),
                  ("in_transit", shipped, words["in_transit"], origin)]
        out_at = arrives - timedelta(seconds=rng.randint(7200, 21600))
        room = out_at - timedelta(days=1) > shipped + timedelta(hours=2)
        failed = delivered and rng.random() < 0.05 and room
        if not failed and rng.random() < 0.6:
            points.append(("in_transit", shipped + (arrives - shipped) * rng.uniform(0.3, 0.6), words["hub"],
                           rng.choice(data.CARRIER_HUBS[carrier])))
        out_at = min(max(points[-1][1] + timedelta(minutes=20), out_at), arrives - timedelta(minutes=1))
        if failed:
            tried = out_at - timedelta(days=1)
            points += [("out_for_delivery", tried, words["out_for_delivery"], here),
                       ("failed_attempt", tried + timedelta(hours=4), words["failed_attempt"], here)]
        points.append(("out_for_delivery", out_at, words["out_for_delivery"], here))
        if delivered:
            spot = rng.choice(data.DELIVERY_SPOTS)
            points.append(("delivered", arrives, f"{words['delivered']}: {spot}", here))
        else:
            points = [point for point in points if point[1] < self.now]
        if overdue:  # stuck: the carrier reports a problem
            last = points[-1][1]
            points.append(("exception", last + (self.now - last) * rng.uniform(0.3, 0.9), words["exception"],
                           rng.choice(data.CARRIER_HUBS[carrier])))
        est_to = max(first_to, _end_of_day(arrives if not overdue else self.now + timedelta(days=2)))
        notified = first_to + timedelta(hours=2) if est_to > first_to else None
        self.add("shipments", {
            "id": shipment_id, "order_id": ctx["order_id"],
            "location_id": loc.id if loc is not None else None, "carrier": carrier,
            "tracking_number": tracking,
            "tracking_url": data.TRACKING_URLS[carrier].format(tracking), "status": points[-1][0],
            "packed_at": label_at, "shipped_at": shipped, "delivered_at": arrives if delivered else None,
            "estimated_from": first_from, "estimated_to": est_to,
            "first_estimated_from": first_from, "first_estimated_to": first_to,
            "delay_notified_at": notified if notified is not None and notified < self.now else None,
            "created_at": label_at,
        })
        for line in lines:
            self.add("shipment_lines", {"id": self.next_id("shipment_lines"), "shipment_id": shipment_id,
                                        "order_line_id": line.id, "quantity": line.qty})
        for n, (status, when, said, place) in enumerate(points):
            self.add("tracking_events", {
                "id": self.next_id("tracking_events"), "shipment_id": shipment_id, "status": status,
                "carrier_status": said[:100], "description": said, "location": place, "occurred_at": when,
                "dedup_key": f"{n}:{status}:{int(when.timestamp())}",
                "raw": {"carrier": carrier, "event": said}, "created_at": when,
            })
        return carrier, tracking, first_to

    # -- cancellations, returns and refunds ------------------------------------------------------------------

    def _cancel(self, order_id: int, number: str, ch: _Channel, lines: list[_Line],
                allocations: list[dict[str, Any]], *, when: datetime, paid: bool, money: tuple[int, int, str],
                move: Callable[..., None], event: Callable[..., None]) -> int:
        """Cancel; a paid order's reservations are released and its payment refunded. Returns the refund."""
        rng = self.rng
        total, shipping, currency = money
        agent = rng.choice(self.agents) if paid and ch.kind in ("webshop", "shopify", "woocommerce") and (
            rng.random() < 0.6) else None
        why = rng.choice(data.CANCEL_REASONS)
        move(S.CANCELLED, when, why, agent[1] if agent else "system" if ch.kind == "webshop" else ch.actor)
        sku_of = {line.id: line.sku.id for line in lines}
        for allocation in allocations:
            allocation["status"] = "released"
            self._movement(allocation["location_id"], sku_of[allocation["order_line_id"]], "release", 0,
                           -allocation["quantity"], at=when, order_id=order_id, reference="order cancelled")
        if allocations:
            units = sum(a["quantity"] for a in allocations)
            event("released", when, f"order cancelled: {units} reserved units released")
        if agent is not None:
            self._audit(agent, "order.cancel", "order", order_id, when=when, before={"status": "confirmed"},
                        after={"status": "cancelled", "reason": why})
        if not paid:
            return 0
        refunded_at = min(when + timedelta(minutes=2), self.now)
        amounts = {str(line.id): line.total + line.tax for line in lines}
        self._refund(order_id, None, total - shipping, shipping, currency, lines=amounts,
                     reason=f"Order {number} cancelled", ch=ch, agent=agent, when=refunded_at)
        event("refunded", refunded_at, f"Refunded {_money(total, currency)}")
        return total

    def _returns(self, order_id: int, number: str, ch: _Channel, spec: _Spec, lines: list[_Line], *,
                 shipped_from: dict[int, int], at: dict[str, datetime], currency: str,
                 money: tuple[int, int, int],
                 move: Callable[..., None], event: Callable[..., None]) -> int:
        """A received return (our RMA, or the marketplace's own); returns the amount refunded.

        `shipped_from` maps each order line to the location that shipped it, where the units come back."""
        rng = self.rng
        line_location = shipped_from
        subtotal, discount, shipping = money
        full = spec.status == S.RETURNED or len(lines) < 2
        chosen = [(line, line.qty) for line in (lines if full else sorted(
            rng.sample(lines, rng.randint(1, len(lines) - 1)), key=lambda line: line.line_no))]
        reason = rng.choices(list(data.RETURN_REASONS), weights=list(data.RETURN_REASONS.values()))[0]
        damaged = reason == "damaged"
        summary = ", ".join(f"{qty} x {line.sku.title}" for line, qty in chosen)
        amounts: dict[str, int] = {}
        for line, qty in chosen:
            base = line.total * qty // line.qty
            amounts[str(line.id)] = base - discount * base // subtotal + line.tax * qty // line.qty
            line.returned = qty
        items = sum(amounts.values())
        ship_back = shipping if full and reason in ("damaged", "not_as_described") else 0
        target = S.RETURNED if spec.status == S.RETURNED else S.PARTIALLY_RETURNED
        requested, approved, received, refunded_at = (at[k] for k in (
            "ret_request", "ret_approve", "ret_received", "ret_refund"))
        place = self.loc_by_id.get(line_location.get(chosen[0][0].id, 0))
        why = reason.replace("_", " ")

        def restock(label: str) -> None:  # received units go back on hand; damaged ones are written off
            for line, qty in chosen:
                if line.id in line_location:
                    loc_id, sku_id = line_location[line.id], line.sku.id
                    self._movement(loc_id, sku_id, "return", qty, 0, at=received, order_id=order_id,
                                   reference=f"{label} received ({number})", actor="receiving")
                    if damaged:
                        self._movement(loc_id, sku_id, "write_off", -qty, 0, at=received, order_id=order_id,
                                       reference=f"{label} damaged ({number})", actor="receiving")

        if ch.channel_returns:
            event("return_update", requested, f"Return opened on {ch.name}: {summary} ({why})",
                  actor=ch.actor)
            where, by = ("Amazon's fulfilment centre", ch.actor) if place is None else (place.name, "system")
            event("return_update", received, f"Return received at {where}", actor=by)
            move(target, received, f"{ch.name} return received")
            restock(f"{ch.name} return")
            self._refund(order_id, None, items, ship_back, currency, lines=amounts,
                         reason=f"{ch.name} return ({why})", ch=ch, agent=None, when=refunded_at)
            event("refunded", refunded_at, f"{ch.name} refunded {_money(items + ship_back, currency)}",
                  actor=ch.actor)
            return items + ship_back

        rma_id, rma = self.next_id("return_requests"), self._rma_number()
        agent = rng.choice(self.agents)
        resolution = rng.choices(["refund", "store_credit", "exchange"], [85, 8, 7])[0]
        first_sku = chosen[0][0].sku
        siblings = [s.id for s in self.skus if s.product == first_sku.product and s.id != first_sku.id]
        exchange = rng.choice(siblings) if resolution == "exchange" and siblings else None
        resolution = "refund" if resolution == "exchange" and exchange is None else resolution
        paid_back = resolution != "exchange" and rng.random() < 0.85
        customer = spec.person.customer_id if spec.person else None
        got = [(line.id, qty, qty, qty * damaged) for line, qty in chosen]
        self._rma_rows(rma_id, rma, order_id, customer, got, status="refunded" if paid_back else "received",
                       reason=reason, resolution=resolution, exchange=exchange,
                       restock=place.id if place else None,
                       times=(requested, approved, received, refunded_at if paid_back else None))
        restock(rma)
        event("return_update", requested, f"Return {rma} requested: {summary} ({why})",
              actor=f"customer:{customer}" if customer else agent[1], info={"rma": rma})
        event("return_update", approved, f"Return {rma} approved; prepaid label emailed", actor=agent[1],
              info={"rma": rma})
        self._audit(agent, "return.approve", "return", rma_id, when=approved, before={"status": "requested"},
                    after={"status": "approved"})
        where = place.name if place else "the warehouse"
        units = sum(qty for _, qty in chosen)
        words = f"{units} item{'s' if units != 1 else ''}" + (", damaged, not restocked" if damaged else "")
        event("return_update", received, f"Return {rma} received at {where}: {words}", info={"rma": rma})
        move(target, received, f"Return {rma} received")
        if not paid_back:
            return 0
        method = "store_credit" if resolution == "store_credit" else "original"
        self._refund(order_id, rma_id, items, ship_back, currency, lines=amounts,
                     reason=f"Return {rma} ({why})", ch=ch, agent=agent, when=refunded_at, method=method)
        self._audit(agent, "refund.create", "order", order_id, when=refunded_at,
                    after={"amount": to_decimal_string(items + ship_back, currency), "rma": rma})
        event("return_update", refunded_at, f"Refund of {_money(items + ship_back, currency)} for {rma}",
              actor=agent[1], info={"rma": rma})
        return items + ship_back

    def _open_return(self, order_id: int, ch: _Channel, spec: _Spec, lines: list[_Line],
                     line_location: dict[int, int], *, delivered_at: datetime,
                     event: Callable[..., None]) -> None:
        """Some delivered orders have a return in progress (requested, approved) or one that was rejected."""
        rng = self.rng
        days = (self.now - delivered_at).total_seconds() / _DAY
        returnable = [line for line in lines if line.sku.returnable]
        if not returnable:
            return
        if days < ch.return_window and rng.random() < 0.06:
            requested = delivered_at + timedelta(days=rng.uniform(0.2, max(0.3, days * 0.9)))
            status = "requested" if self.now - requested < timedelta(days=2) else rng.choices(
                ["approved", "rejected"], [85, 15])[0]
            rejection = data.REJECTION_REASONS[1]
        elif days >= ch.return_window + 2 and rng.random() < 0.012:
            late = rng.uniform(0.5, days - ch.return_window)
            requested = delivered_at + timedelta(days=ch.return_window + late)
            status, rejection = "rejected", data.REJECTION_REASONS[0]
        else:
            return
        requested = min(requested.replace(microsecond=0), self.now - timedelta(minutes=30))
        line = rng.choice(returnable)
        qty = rng.randint(1, line.qty)
        reason = rng.choices(list(data.RETURN_REASONS), weights=list(data.RETURN_REASONS.values()))[0]
        decided = min(requested + timedelta(seconds=rng.randint(3600, 108000)),
                      self.now - timedelta(minutes=5))
        rma_id, rma = self.next_id("return_requests"), self._rma_number()
        customer = spec.person.customer_id if spec.person else None
        self._rma_rows(rma_id, rma, order_id, customer, [(line.id, qty, 0, 0)], status=status, reason=reason,
                       resolution="refund", exchange=None, restock=line_location.get(line.id), times=(
                           requested, decided if status == "approved" else None, None,
                           decided if status == "rejected" else None),
                       rejection=rejection if status == "rejected" else None)
        event("return_update", requested, f"Return {rma} requested: {qty} x {line.sku.title} "
              f"({reason.replace('_', ' ')})", actor=f"customer:{customer}" if customer else "system",
              info={"rma": rma})
        if status != "requested":
            agent = rng.choice(self.agents)
            word = "approved; prepaid label emailed" if status == "approved" else f"rejected: {rejection}"
            event("return_update", decided, f"Return {rma} {word}", actor=agent[1], info={"rma": rma})
            action = "return.approve" if status == "approved" else "return.reject"
            self._audit(agent, action, "return", rma_id, when=decided, before={"status": "requested"},
                        after={"status": status})

    def _rma_rows(self, rma_id: int, rma: str, order_id: int, customer: int | None,
                  lines: list[tuple[int, int, int, int]], *, status: str, reason: str, resolution: str,
                  exchange: int | None, restock: int | None, times: tuple[datetime | None, ...],
                  rejection: str | None = None) -> None:
        """A return request and its lines: (order line id, quantity, received, damaged)."""
        requested, approved, received, closed = times
        self.add("return_requests", {
            "id": rma_id, "rma_number": rma, "order_id": order_id, "customer_id": customer, "status": status,
            "reason": reason, "reason_text": self.rng.choice(data.RETURN_REASON_TEXTS[reason]),
            "resolution": resolution, "exchange_sku_id": exchange,
            "photo_path": f"returns/{rma}.jpg" if reason == "damaged" else None,
            "restock_location_id": restock,
            "rejection_reason": rejection, "requested_at": requested, "approved_at": approved,
            "received_at": received, "closed_at": closed,
        })
        for line_id, qty, got, broken in lines:
            self.add("return_lines", {
                "id": self.next_id("return_lines"), "return_id": rma_id, "order_line_id": line_id,
                "quantity": qty, "quantity_received": got, "quantity_damaged": broken})

    def _rma_number(self) -> str:
        while True:
            rma = "RMA-" + "".join(self.rng.choices("ABCDEFGHJKLMNPQRSTUVWXYZ23456789", k=6))
            if rma not in self.rma_numbers:
                self.rma_numbers.add(rma)
                return rma

    def _refund(self, order_id: int, return_id: int | None, amount: int, shipping: int, currency: str, *,
                lines: dict[str, int], reason: str, ch: _Channel, agent: Staff | None, when: datetime,
                method: str = "original") -> None:
        rng = self.rng
        refs: dict[str, Callable[[], str]] = {
            "amazon": lambda: f"amzn1.refund.{rng.getrandbits(64):016x}",
            "ebay": lambda: f"5{rng.randrange(10**11):011d}",
            "shopify": lambda: str(9_000_000_000_000 + rng.randrange(10**12)),
            "woocommerce": lambda: str(rng.randint(30_000, 99_999)),
            "square": lambda: "".join(rng.choices(_BASE62, k=24)),
        }
        self.add("refunds", {
            "id": self.next_id("refunds"), "order_id": order_id, "return_id": return_id, "amount": amount,
            "shipping_amount": shipping, "currency": currency, "method": method, "line_amounts": lines,
            "reason": reason, "external_ref": refs.get(ch.kind, lambda: f"re_{rng.getrandbits(96):024x}")(),
            "actor": agent[1] if agent else ch.actor, "created_at": when,
        })

    def _audit(self, actor: Staff, action: str, entity_type: str, entity_id: int, *, when: datetime,
               before: dict[str, Any] | None = None, after: dict[str, Any] | None = None) -> None:
        self.add("audit_entries", {
            "id": self.next_id("audit_entries"), "actor_id": actor[0], "actor_label": actor[1],
            "action": action, "entity_type": entity_type, "entity_id": str(entity_id), "before": before,
            "after": after,
            "ip_address": f"10.0.{actor[0] % 250}.{10 + actor[0] % 200}", "created_at": when,
        })

    # -- support ---------------------------------------------------------------------------------------------

    def _order_ticket(self, spec: _Spec, order_id: int, number: str, lines: list[_Line], *,
                      at: dict[str, datetime], shipments: list[tuple[str, datetime]]) -> None:
        """The buyer asks about this order; when they write depends on what they ask."""
        rng = self.rng
        person, status = spec.person, spec.status
        assert person is not None
        odds = data.TICKET_CATEGORIES[status.value]
        category = spec.ticket or rng.choices(list(odds), weights=list(odds.values()))[0]
        placed = spec.placed_at
        delivered = max((v for k, v in at.items() if k.startswith("deliver")), default=None)
        if category == "where_is_my_order":
            start = at.get("ship0", placed) + timedelta(days=rng.uniform(1, 5))
        elif category in ("return", "damaged", "product_question"):
            start = (delivered or placed) + timedelta(days=rng.uniform(0.2, 6))
        elif category == "refund":
            start = (at.get("ret_refund") or at.get("cancel") or placed) + timedelta(days=rng.uniform(1, 6))
        else:
            start = placed + timedelta(seconds=rng.uniform(600, 6 * 3600))
        start = min(start, self.now - timedelta(seconds=rng.uniform(600, 3 * 3600))).replace(microsecond=0)
        if start <= placed + timedelta(minutes=5):
            return
        carrier, eta = (shipments[0][0], shipments[0][1].strftime("%A %d %B")) if shipments else (
            "the carrier", "the end of the week")
        missing = category == "where_is_my_order" and status in _DELIVERED
        fill = {"first": person.first, "number": number, "carrier": carrier, "eta": eta,
                "item": lines[0].sku.product}
        forced = {"where_is_my_order": ("open", "chat"), "return": ("solved", "portal")}
        ticket_status, source = forced.get(category, (None, None)) if spec.ticket else (None, None)
        self._ticket(person.customer_id, order_id, category, start, fill, status=ticket_status, source=source,
                     texts="delivered_not_received" if missing else category)

    def _ticket(self, customer_id: int, order_id: int | None, category: str, start: datetime,
                fill: dict[str, str], *, texts: str, status: str | None = None,
                source: str | None = None) -> None:
        """A conversation of 2-6 messages: the customer, the assistant or an auto-reply, then an agent."""
        rng = self.rng
        subjects, openers, replies, followups = data.TICKET_TEXTS[texts]
        source = source or rng.choices(["portal", "email", "chat"], [40, 35, 25])[0]
        priority = "high" if category == "damaged" else rng.choices(["low", "normal", "high", "urgent"],
                                                                    [15, 65, 15, 5])[0]
        hours_old = (self.now - start).total_seconds() / 3600
        if status is None:
            if hours_old < 6:
                status = rng.choice(["open", "open", "pending"])
            elif hours_old < 48:
                status = rng.choices(["open", "pending", "solved"], [2, 3, 5])[0]
            else:
                status = rng.choices(["solved", "closed"], [3, 7])[0]
        conversation_id = self.next_id("conversations")
        clock = [start]

        def later(seconds: float) -> datetime:  # the next moment, never after now
            wanted = clock[0] + timedelta(seconds=round(seconds))
            clock[0] = max(clock[0], min(wanted, self.now - timedelta(seconds=30)))
            return clock[0]

        def say(kind: str, body: str, moment: datetime, *, user: int | None = None, internal: bool = False,
                info: dict[str, Any] | None = None) -> None:
            self.add("messages", {
                "id": self.next_id("messages"), "conversation_id": conversation_id, "author_kind": kind,
                "author_user_id": user, "body": body, "internal": internal,
                "intent": category if kind in ("customer", "assistant") else None, "data": info or {},
                "created_at": moment,
            })

        say("customer", rng.choice(openers).format(**fill), start)
        if source == "email":
            say("system", "We've received your message and will reply within one business day.", later(60))
        else:
            reply, slug = data.ASSISTANT_REPLIES[texts]
            say("assistant", reply.format(**fill), later(20), info={"article": slug})
        assignee = rng.choice(self.agents) if status != "open" or rng.random() < 0.4 else None
        responded = solved = None
        if assignee is not None:
            say("system", f"Assigned to {assignee[2]}", later(rng.uniform(300, 7200)))
            if status != "open":
                responded = later(rng.uniform(300, 6 * 3600))
                signed = f"{rng.choice(replies).format(**fill)}\n\n{assignee[2].split()[0]}"
                say("agent", signed, responded, user=assignee[0])
                if rng.random() < 0.25:
                    note = rng.choice(data.INTERNAL_NOTES[texts])
                    say("agent", note, later(600), user=assignee[0], internal=True)
                if status != "pending" and rng.random() < 0.6:
                    say("customer", rng.choice(followups), later(rng.uniform(3600, 20 * 3600)))
        if status in ("solved", "closed"):
            solved = later(rng.uniform(600, 8 * 3600))
        hours = {"urgent": (1, 8), "high": (2, 24), "normal": (8, 48), "low": (24, 96)}[priority]
        self.add("conversations", {
            "id": conversation_id, "customer_id": customer_id, "order_id": order_id, "source": source,
            "subject": rng.choice(subjects).format(**fill), "status": status, "priority": priority,
            "category": category, "assignee_id": assignee[0] if assignee else None,
            "first_response_due_at": start + timedelta(hours=hours[0]),
            "resolution_due_at": start + timedelta(hours=hours[1]), "first_responded_at": responded,
            "solved_at": solved, "created_at": start, "updated_at": clock[0],
        })
        self.ticket_count += 1

    def _support_content(self) -> None:
        for n, (name, category, body) in enumerate(data.MACROS):
            if name not in self.macro_names:
                self.add("macros", {"id": self.next_id("macros"), "name": name, "body": body,
                                    "category": category, "active": True, "created_at": self.ago(300 - n)})
        for slug, title, topic, keywords, summary, body in data.HELP_ARTICLES:
            if slug not in self.article_slugs:
                self.add("help_articles", {
                    "id": self.next_id("help_articles"), "slug": slug, "title": title, "summary": summary,
                    "body": body, "topic": topic, "keywords": keywords, "published": True,
                    "updated_at": self.ago(self.rng.randint(5, 200)),
                })

    # -- the last transaction: stock levels and what happened around the orders ------------------------------

    def build_final(self) -> None:
        """Stock levels and low-stock alerts, CRM notes, general questions, payloads, outbox, admin audit."""
        rng = self.rng
        self._levels()
        self._crm_notes()
        for _ in range(max(2, self.ticket_count // 10)):
            person = rng.choice(self.people)
            item = rng.choice(self.skus).product
            fill = {"first": person.first, "number": "", "carrier": "", "eta": "", "item": item}
            start = self.ago(rng.uniform(0.1, 60))
            self._ticket(person.customer_id, None, "product_question", start, fill, texts="product_question")
        self._inbound_payloads()
        self._outbox()
        manager, admin = self.staff[1], self.staff[2]
        self._audit(admin, "user.create", "user", self.staff[3][0], when=self.ago(390),
                    after={"email": self.staff[3][1], "role": "agent"})
        self._audit(manager, "channel.update", "channel", self.channels["ebay"].id, when=self.ago(200),
                    before={"return_window_days": 30}, after={"return_window_days": 14})
        self._audit(admin, "location.update", "location", self.locations["3PL-CENTRAL"].id,
                    when=self.ago(150), before={"priority": 40}, after={"priority": 30})

    def _levels(self) -> None:
        for (loc_id, sku_id), level in self.stock.items():
            if level.id is None:
                self.add("stock_levels", {
                    "id": self.next_id("stock_levels"), "location_id": loc_id, "sku_id": sku_id,
                    "on_hand": level.on_hand, "reserved": level.reserved, "reorder_point": level.override,
                    "updated_at": level.touched,
                })
            else:
                self.level_updates.append({"id": level.id, "on_hand": level.on_hand,
                                           "reserved": level.reserved, "updated_at": level.touched})
        low = sorted(
            ((key, level) for key, level in self.stock.items() if self.loc_by_id[key[0]].kind != "dropship"
             and level.on_hand - level.reserved < level.reorder_point),
            key=lambda item: (not item[1].short, item[1].on_hand - item[1].reserved, item[0]))
        for n, ((loc_id, sku_id), level) in enumerate(low[:8]):
            available = level.on_hand - level.reserved
            self.add("low_stock_alerts", {
                "id": self.next_id("low_stock_alerts"), "sku_id": sku_id, "location_id": loc_id,
                "available": available, "reorder_point": level.reorder_point,
                "suggested_quantity": level.restock, "status": "ordered" if n % 4 == 3 else "open",
                "reason": f"{available} available at {self.loc_by_id[loc_id].name}, below the reorder point "
                          f"of {level.reorder_point}",
                "created_at": level.touched, "resolved_at": None,
            })
        for sku in self.skus[:2]:
            self.add("low_stock_alerts", {
                "id": self.next_id("low_stock_alerts"), "sku_id": sku.id,
                "location_id": self.locations["WH-EAST"].id, "available": sku.reorder_point - 3,
                "reorder_point": sku.reorder_point, "suggested_quantity": sku.reorder_quantity,
                "reason": "Below the reorder point after a busy weekend",
                "status": "resolved", "created_at": self.ago(40), "resolved_at": self.ago(33),
            })

    def _crm_notes(self) -> None:
        rng = self.rng
        authors = [*self.agents, self.staff[1]]
        for person in [self.casey, *self.people]:
            if person is not self.casey and rng.random() >= 0.03:
                continue
            body = rng.choice(data.CRM_NOTES) if person is not self.casey else (
                "Buys on the web shop, Amazon, eBay and Instagram under different names; all merged.")
            self.add("crm_notes", {
                "id": self.next_id("crm_notes"), "customer_id": person.customer_id,
                "author_id": rng.choice(authors)[0], "body": body,
                "pinned": person is self.casey or rng.random() < 0.2,
                "created_at": self.ago(rng.uniform(1, 100)).replace(microsecond=0),
            })

    def _inbound_payloads(self) -> None:
        """The last orders' payloads as received, and a few that needed attention or were rejected."""
        for n, order in enumerate(list(self.recent)[-10:]):
            self._payload(order["channel"], _native_body(order), "processed", order_id=order["order_id"],
                          received=order["placed"], n=n)
        shopify, woo, web = self.channels["shopify"], self.channels["woocommerce"], self.channels["webshop"]
        bad_sku = f"{self.skus[0].code}-XXL"
        held = {"id": 5_699_000_000_000 + self.rng.randrange(10**6), "name": "#9901", "currency": "USD",
                "line_items": [{"sku": bad_sku, "quantity": 1, "price": "89.00"}]}
        self._payload(shopify, json.dumps(held), "needs_attention", received=self.ago(0.4), n=90,
                      error=f"unmapped channel SKU: {bad_sku}; add a listing and reprocess.")
        empty = json.dumps({"id": 99_001, "status": "processing", "line_items": []})
        self._payload(woo, empty, "needs_attention", error="order has no lines", received=self.ago(2.1), n=91)
        self._payload(web, '{"id": "100001", "total": "12.00"', "rejected", received=self.ago(5.3), n=92,
                      error="body is not valid JSON: Expecting ',' delimiter: line 1 column 34 (char 33)")
        self._payload(shopify, json.dumps({"id": 1, "test": True}), "rejected", received=self.ago(11.7), n=93,
                      error="signature mismatch: X-Shopify-Hmac-Sha256 does not match the body")

    def _payload(self, ch: _Channel, body: str, status: str, *, received: datetime, n: int,
                 error: str | None = None, order_id: int | None = None) -> None:
        delivery = f"{self.rng.getrandbits(128):032x}"
        polled = ch.kind in ("amazon", "ebay", "square")
        headers = {"Content-Type": "application/json"}
        if ch.kind == "shopify":
            headers |= {"X-Shopify-Topic": "orders/create", "X-Shopify-Webhook-Id": delivery}
        elif ch.kind == "woocommerce":
            headers |= {"X-WC-Webhook-Topic": "order.created", "X-WC-Webhook-Delivery-ID": str(n + 7000)}
        elif ch.kind == "webshop":
            headers |= {"X-Crossdock-Delivery": delivery}
        self.add("inbound_payloads", {
            "id": self.next_id("inbound_payloads"), "channel_id": ch.id, "channel_code": ch.code,
            "source": "poll" if polled else "webhook", "delivery_id": None if polled else delivery,
            "topic": "orders" if polled else "orders/create", "filename": None, "body": body,
            "headers": {} if polled else headers, "sha256": hashlib.sha256(body.encode()).hexdigest(),
            "status": status, "error": error, "order_id": order_id, "received_at": received,
            "processed_at": None if status == "needs_attention" else received + timedelta(seconds=2),
        })

    def _outbox(self) -> None:
        """Confirmation emails of the latest orders (sent, the last few pending, one failed) and the last
        stock pushes to the marketplaces, keyed as the notification and inventory services key them."""
        recent = [order for order in self.recent if order["email"]]
        for n, order in enumerate(recent):
            key = f"order:{order['order_id']}:confirmed"
            if key in self.outbox_keys:
                continue
            status = "pending" if n >= len(recent) - 3 else "failed" if n == len(recent) - 6 else "sent"
            created, sent = min(order["placed"] + timedelta(seconds=40), self.now), status == "sent"
            self.add("outbox_messages", {
                "id": self.next_id("outbox_messages"), "kind": "order_confirmed", "transport": "email",
                "dedup_key": key, "recipient": order["email"],
                "subject": f"Your order {order['number']} is confirmed", "status": status,
                "payload": {"order_id": order["order_id"]}, "next_attempt_at": created,
                "attempts": {"pending": 0, "failed": 5, "sent": 1}[status],
                "last_error": "SMTP 451 4.7.1 greylisted, try again later" if status == "failed" else None,
                "message_id": f"<{self.rng.getrandbits(64):016x}@crossdock.example>" if sent else None,
                "created_at": created,
                "sent_at": min(created + timedelta(seconds=5), self.now) if sent else None,
            })
        sku = self.skus[0]
        for code in ("amazon", "ebay"):
            ch = self.channels[code]
            key = f"stock:{ch.id}:{sku.id}:pending"
            if key in self.outbox_keys:
                continue
            stocked = [(loc.code, self.stock[(loc.id, sku.id)]) for loc in ch.ship_from
                       if (loc.id, sku.id) in self.stock]
            buffer = data.CHANNELS[code][6]
            quantity, formula = available_to_sell_formula(
                [(loc_code, level.on_hand - level.reserved) for loc_code, level in stocked],
                buffer_units=buffer[0], buffer_percent=buffer[1], floor=buffer[2])
            created = max(level.touched for _, level in stocked) if stocked else self.ago(1)
            self.add("outbox_messages", {
                "id": self.next_id("outbox_messages"), "kind": "stock_push", "transport": "channel",
                "dedup_key": key, "recipient": code, "subject": f"stock of SKU {sku.id}", "status": "sent",
                "payload": {"channel_id": ch.id, "channel": code, "sku_id": sku.id, "quantity": quantity,
                            "formula": formula},
                "attempts": 1, "next_attempt_at": created, "last_error": None, "message_id": None,
                "created_at": created, "sent_at": min(created + timedelta(seconds=20), self.now),
            })


def _native_body(order: dict[str, Any]) -> str:
    """A compact payload in the channel's own shape, as its webhook or poll delivered it."""
    kind, cur = order["channel"].kind, order["currency"]
    total, when = to_decimal_string(order["total"], cur), order["placed"].isoformat()
    if kind == "amazon":
        body: dict[str, Any] = {"AmazonOrderId": order["external_id"], "PurchaseDate": when,
                                "OrderStatus": order["channel_status"], "FulfillmentChannel": "MFN",
                                "OrderTotal": {"CurrencyCode": cur, "Amount": total}}
    elif kind == "ebay":
        body = {"orderId": order["external_id"], "creationDate": when,
                "orderFulfillmentStatus": order["channel_status"],
                "pricingSummary": {"total": {"value": total, "currency": cur}}}
    elif kind == "square":
        body = {"id": order["external_id"], "state": order["channel_status"], "created_at": when,
                "total_money": {"amount": order["total"], "currency": cur}}
    else:
        items = [{"sku": sku, "quantity": qty, "price": to_decimal_string(price, cur)}
                 for sku, qty, price in order["lines"]]
        body = {"id": order["external_id"], "created_at": when, "email": order["email"], "currency": cur,
                "total_price" if kind == "shopify" else "total": total, "line_items": items}
    return json.dumps(body, sort_keys=True)
