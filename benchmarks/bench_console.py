"""Console pages at scale, in one generated database per target of 1,000,000 orders and 1,000,000 customers
(BENCH_CONSOLE_ORDERS, BENCH_CONSOLE_CUSTOMERS to change):

- the ticket page with the customer's cross-channel panel, for a customer with 200 orders on three channels,
  served by waitress in its own process and hit by 16 keep-alive connections; floor: the portal benchmark's
  (a minimal Flask route, one primary-key query, a 10-row template; benchmarks/portal_server.py), served and
  hit the same way in the same run;
- the console search (core.support.search) over a mix of what agents type: an exact email, a partial name,
  a name with a typo, our order number, a marketplace order number, a phone number as written, a tracking
  number. Judged by the p95 latency of one search; the rate is also given beside a floor of as many
  primary-key lookups of a customer through the same session.

The rows are written off the clock: COPY on PostgreSQL, executemany on SQLite, with the tables' secondary
indexes dropped during the load and built again after it (a few minutes for the default size on PostgreSQL).
Names are a first name and a surname from short lists, so a full name is shared by about 30 customers, as
common names are; every email, phone number, order number and tracking number is unique.
"""

from __future__ import annotations

import os
import random
import re
import statistics
import sys
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from app import create_app
from benchmarks.bench_portal import SECRET, USER_AGENT, _hammer, _start  # the servers run with SECRET
from benchmarks.runner import Scenario, Target
from core.customers.models import CrmNote
from core.db import make_engine
from core.security.models import User
from core.security.passwords import hash_password
from core.support.models import Conversation, ConversationTag, Message
from core.support.search import console_search

ORDERS = int(os.environ.get("BENCH_CONSOLE_ORDERS", "1000000"))
CUSTOMERS = int(os.environ.get("BENCH_CONSOLE_CUSTOMERS", "1000000"))
THEIR_ORDERS = 200  # the ticket's customer (id 1)

PASSWORD = "bench-password-1"
AGENT_EMAIL = "agent@bench.example"
NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
CHUNK = 50_000
SEARCH_SUBJECTS = 30  # customers searched for in each timed run, each in every way of the mix

FIRST = (
    "James Mary Robert Patricia John Jennifer Michael Linda David Elizabeth William Barbara Richard Susan Joseph "
    "Jessica Thomas Sarah Charles Karen Christopher Lisa Daniel Nancy Matthew Betty Anthony Margaret Mark Sandra "
    "Donald Ashley Steven Kimberly Paul Emily Andrew Donna Joshua Michelle Kenneth Carol Kevin Amanda Brian "
    "Dorothy George Melissa Timothy Deborah Ronald Stephanie Edward Rebecca Jason Sharon Jeffrey Laura Ryan "
    "Cynthia Jacob Kathleen Gary Amy Nicholas Angela Eric Shirley Jonathan Anna Stephen Brenda Larry Pamela "
    "Justin Emma Scott Nicole Brandon Helen Benjamin Samantha Samuel Katherine Gregory Christine Alexander Debra "
    "Frank Rachel Patrick Carolyn Raymond Janet Jack Catherine Dennis Maria Jerry Heather Tyler Diane Aaron Ruth "
    "Jose Julie Adam Olivia Nathan Joyce Henry Virginia Douglas Victoria Zachary Kelly Peter Lauren Kyle Christina "
    "Ethan Joan Walter Evelyn Noah Judith Jeremy Megan Christian Andrea Keith Cheryl Roger Hannah Terry Jacqueline "
    "Gerald Martha Harold Gloria Sean Teresa Austin Ann Carl Sara Arthur Madison Lawrence Frances Dylan Kathryn "
    "Jesse Janice Jordan Jean Bryan Abigail Billy Alice Joe Judy Bruce Sophia Gabriel Grace Logan Denise Albert "
    "Amber Willie Doris Alan Marilyn Juan Danielle Wayne Beverly Elijah Isabella Randy Theresa Roy Diana Vincent "
    "Natalie Ralph Brittany Eugene Charlotte Russell Marie Bobby Kayla Mason Alexis Philip Lori Louis Priya Wei "
    "Aisha Mohammed Fatima Hiroshi Yuki Lukas Sofia Mateo Chloe Oliver Amelia Jack Isla Leo Freya Arjun Ananya"
).split()
LAST = (
    "Smith Johnson Williams Brown Jones Garcia Miller Davis Rodriguez Martinez Hernandez Lopez Gonzalez Wilson "
    "Anderson Thomas Taylor Moore Jackson Martin Lee Perez Thompson White Harris Sanchez Clark Ramirez Lewis "
    "Robinson Walker Young Allen King Wright Scott Torres Nguyen Hill Flores Green Adams Nelson Baker Hall Rivera "
    "Campbell Mitchell Carter Roberts Gomez Phillips Evans Turner Diaz Parker Cruz Edwards Collins Reyes Stewart "
    "Morris Morales Murphy Cook Rogers Gutierrez Ortiz Morgan Cooper Peterson Bailey Reed Kelly Howard Ramos Kim "
    "Cox Ward Richardson Watson Brooks Chavez Wood James Bennett Gray Mendoza Ruiz Hughes Price Alvarez Castillo "
    "Sanders Patel Myers Long Ross Foster Jimenez Powell Jenkins Perry Russell Sullivan Bell Coleman Butler "
    "Henderson Barnes Gonzales Fisher Vasquez Simmons Romero Jordan Patterson Alexander Hamilton Graham Reynolds "
    "Griffin Wallace Moreno West Cole Hayes Bryant Herrera Gibson Ellis Tran Medina Aguilar Stevens Murray Ford "
    "Castro Marshall Owens Harrison Fernandez McDonald Woods Washington Kennedy Wells Vargas Henry Chen Freeman "
    "Webb Tucker Guzman Burns Crawford Olson Simpson Porter Hunter Gordon Mendez Silva Shaw Snyder Mason Dixon "
    "Munoz Hunt Hicks Holmes Palmer Wagner Black Robertson Boyd Rose Stone Salazar Fox Warren Mills Meyer Rice "
    "Schmidt Garza Daniels Ferguson Nichols Stephens Soto Weaver Ryan Gardner Payne Grant Dunn Kelley Spencer "
    "Hawkins Arnold Pierce Vazquez Hansen Peters Santos Hart Bradley Knight Elliott Cunningham Duncan Armstrong "
    "Hudson Carroll Lane Riley Andrews Alvarado Ray Delgado Berry Perkins Hoffman Johnston Matthews Pena Richards "
    "Contreras Willis Carpenter Lawrence Sandoval Okafor Nakamura Kowalski Novak Schneider Dubois Rossi Haddad "
    "Singh Sharma Yamamoto Andersson Nielsen Murphy-Walsh O'Brien Van der Berg Lindqvist Mbeki Oyelaran Zhang"
).split()
DOMAINS = ("example.org", "mail.example", "post.example.com", "inbox.example.net")
CHANNELS = ((1, "web", "Web shop", "webshop", False), (2, "amazon", "Amazon", "amazon", True),
            (3, "ebay", "eBay", "ebay", True))  # fmt: skip
EMAIL_FIRST = [name.lower() for name in FIRST]
EMAIL_LAST = [re.sub("[^a-z]", "", name.lower()) for name in LAST]
STATUSES = ("delivered", "delivered", "shipped", "confirmed", "cancelled", "returned")


def name_of(customer: int) -> tuple[str, str]:
    """Customer n's first name and surname: every pairing of the lists in turn, spread over the ids."""
    mixed = customer * 2654435761 % 4294967296  # a bijection of the ids, so neighbours differ
    return FIRST[mixed % len(FIRST)], LAST[(mixed // len(FIRST)) % len(LAST)]


def email_of(customer: int) -> str:
    mixed = customer * 2654435761 % 4294967296
    first, last = EMAIL_FIRST[mixed % len(FIRST)], EMAIL_LAST[(mixed // len(FIRST)) % len(LAST)]
    return f"{first}.{last}{customer}@{DOMAINS[customer % len(DOMAINS)]}"


def phone_of(customer: int) -> str | None:
    """E.164 for seven customers in ten; the last seven digits differ for every customer."""
    if customer % 10 >= 7:
        return None
    return f"+1{200 + customer % 700:03d}{customer * 7919 % 10_000_000:07d}"


def order_owner(order: int) -> int:
    step = ORDERS // THEIR_ORDERS
    if order % step == 0 and order // step <= THEIR_ORDERS:
        return 1
    return 2 + order * 48271 % (CUSTOMERS - 1)


def channel_number(order: int) -> str:
    channel = 1 + order % 3
    if channel == 2:
        return f"{100 + order % 900:03d}-{order:07d}-{order * 7919 % 10_000_000:07d}"
    if channel == 3:
        return f"{order % 100:02d}-{order:06d}-{order * 31 % 100_000:05d}"
    return f"#{100000 + order}"


def tracking_of(order: int) -> str:
    return f"1Z{order * 2654435761 % 10**16:016d}"


def _stamp(value: datetime, sqlite: bool) -> Any:
    return value.replace(tzinfo=None).isoformat(sep=" ") if sqlite else value


def _bulk(cur: Any, sqlite: bool, table: str, columns: str, rows: Iterable[tuple[Any, ...]]) -> None:
    if sqlite:
        marks = ", ".join("?" * len(columns.split(",")))
        cur.executemany(f"INSERT INTO {table} ({columns}) VALUES ({marks})", rows)
        return
    with cur.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)


def _chunks(total: int) -> Iterator[range]:
    for start in range(1, total + 1, CHUNK):
        yield range(start, min(start + CHUNK, total + 1))


BULK_TABLES = ("customers", "identities", "orders", "order_lines", "shipments")


def _secondary_indexes(cur: Any, sqlite: bool) -> list[tuple[str, str]]:
    """(name, CREATE statement) of the bulk tables' indexes that no constraint owns."""
    names = ", ".join(f"'{t}'" for t in BULK_TABLES)
    if sqlite:
        cur.execute(
            f"SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL AND tbl_name IN ({names})"
        )
    else:
        cur.execute(
            "SELECT i.indexname, i.indexdef FROM pg_indexes i WHERE i.schemaname = current_schema() "
            f"AND i.tablename IN ({names}) AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname)"
        )
    return list(cur.fetchall())


def _generate(engine: Engine) -> None:
    """Three channels, CUSTOMERS customers (one in ten with a second identity on a channel), ORDERS orders of
    one or two lines, a shipment with a tracking number for every shipped order; customer 1 owns
    THEIR_ORDERS orders across the three channels."""
    sqlite = engine.dialect.name == "sqlite"
    now = _stamp(NOW, sqlite)
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        indexes = _secondary_indexes(cur, sqlite)
        for name, _ in indexes:
            cur.execute(f'DROP INDEX "{name}"')
        _bulk(
            cur, sqlite, "channels",
            "id, code, name, kind, sender_name, credentials, is_marketplace, return_window_days, "
            "returns_handled_by_channel, return_instructions, stock_buffer_units, stock_buffer_percent, "
            "stock_floor, active, created_at",
            [(i, code, name, kind, "", "{}", market, 30, market, "", 0, 0, 0, True, now)
             for i, code, name, kind, market in CHANNELS],
        )  # fmt: skip
        for ids in _chunks(CUSTOMERS):
            _bulk(
                cur, sqlite, "customers",
                "id, name, email, phone, marketing_opt_out, notification_prefs, created_at",
                ((c, " ".join(name_of(c)), email_of(c), phone_of(c), False, "{}", now) for c in ids),
            )  # fmt: skip
            raw.commit()
        identity_columns = (
            "id, customer_id, channel_id, external_id, name, email, phone, address, matched_by, created_at"
        )
        _bulk(
            cur, sqlite, "identities", identity_columns,
            [(i, 1, i, f"BUYER-1-{i}", " ".join(name_of(1)), email_of(1) if i == 1 else f"buyer1.{i}@marketplace.example",
              phone_of(1), "{}", "email", now) for i in (1, 2, 3)],
        )  # fmt: skip
        _bulk(
            cur, sqlite, "identities", identity_columns,
            ((3 + c, c, 2 + c % 2, f"BUYER-{c}", " ".join(name_of(c)), f"{name_of(c)[0].lower()}{c}@marketplace.example",
              None, "{}", "email", now) for c in range(10, CUSTOMERS + 1, 10)),
        )  # fmt: skip
        raw.commit()
        address = '{"name": "Bench Customer", "line1": "1 Main St", "city": "Leeds", "postal_code": "LS1 4AB", "country": "GB"}'
        for ids in _chunks(ORDERS):
            orders, lines, shipments = [], [], []
            for n in ids:
                customer, count, status = order_owner(n), 1 + n % 2, STATUSES[n % 6]
                external = channel_number(n) if n % 3 else str(5_000_000 + n)
                orders.append(
                    (n, 1 + n % 3, external, f"CD-{1000000 + n}", channel_number(n), status, "", "paid", "[]",
                     customer, email_of(customer), " ".join(name_of(customer)), _stamp(NOW - timedelta(minutes=n), sqlite),
                     0, "USD", 2500 * count, 0, 500, 0, 2500 * count + 500, 0, False, now, now, address)
                )  # fmt: skip
                lines += [
                    (
                        n,
                        i + 1,
                        f"SKU-{(n + i) % 500}",
                        f"Product {(n + i) % 500}",
                        1,
                        2500,
                        0,
                        0,
                        2500,
                        0,
                        0,
                        0,
                    )
                    for i in range(count)
                ]
                if status in ("delivered", "shipped", "returned"):
                    shipments.append(
                        (n, n, "UPS", tracking_of(n), status if status != "returned" else "delivered", now)
                    )
            _bulk(
                cur, sqlite, "orders",
                "id, channel_id, external_id, number, channel_number, status, channel_status, channel_state, "
                "hold_warnings, customer_id, email, buyer_name, placed_at, placed_at_offset_minutes, currency, "
                "subtotal, discount_total, shipping_total, tax_total, total, refunded_total, fulfilled_by_channel, "
                "created_at, updated_at, shipping_address",
                orders,
            )  # fmt: skip
            _bulk(
                cur, sqlite, "order_lines",
                "order_id, line_no, channel_sku, title, quantity, unit_price, discount, tax, total, quantity_shipped, "
                "quantity_returned, quantity_cancelled",
                lines,
            )  # fmt: skip
            _bulk(
                cur,
                sqlite,
                "shipments",
                "id, order_id, carrier, tracking_number, status, created_at",
                shipments,
            )
            raw.commit()
        started = time.perf_counter()
        for _, statement in indexes:
            cur.execute(statement)
        raw.commit()
        print(f"  indexes built again in {time.perf_counter() - started:.0f} s", file=sys.stderr, flush=True)
        if not sqlite:  # rows were written with their ids: move the sequences past them
            for table in BULK_TABLES:
                cur.execute(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))"
                )
        cur.execute("ANALYZE")
        raw.commit()
        if sqlite:
            cur.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        raw.close()


def _ticket(engine: Engine) -> int:
    """The agent, and a ticket of customer 1 about one of their orders: a dozen messages (replies, internal
    notes, history), two tags, three CRM notes (one pinned). Returns the conversation's id."""
    with Session(engine) as session:
        agent = User(
            email=AGENT_EMAIL, name="Bench Agent", password_hash=hash_password(PASSWORD), role="agent",
            email_verified_at=NOW,
        )  # fmt: skip
        session.add(agent)
        session.flush()
        order_id = ORDERS // THEIR_ORDERS * 3
        conversation = Conversation(
            customer_id=1, order_id=order_id, source="portal", subject="Where is my parcel?", status="open",
            priority="high", category="delivery", assignee_id=agent.id,
        )  # fmt: skip
        session.add(conversation)
        session.flush()
        for i in range(12):
            kind = ("customer", "agent", "agent", "system")[i % 4]
            session.add(
                Message(
                    conversation_id=conversation.id, author_kind=kind,
                    author_user_id=agent.id if kind == "agent" else None,
                    body=f"Message {i}: " + "the parcel was due on Tuesday and has not arrived. " * 3,
                    internal=kind == "agent" and i % 8 == 2, created_at=NOW - timedelta(hours=12 - i),
                )
            )  # fmt: skip
        session.add_all(ConversationTag(conversation_id=conversation.id, tag=t) for t in ("late", "vip"))
        session.add_all(
            CrmNote(customer_id=1, author_id=agent.id, body=f"Note {i}: prefers email.", pinned=i == 0)
            for i in range(3)
        )
        session.commit()
        return conversation.id


@dataclass
class _Context:
    url: str
    cookie: str
    conversation_id: int
    floor_order_id: int
    app_server: Any = None
    app_port: int = 0
    floor_server: Any = None
    floor_port: int = 0
    engine: Engine | None = None
    queries: list[tuple[str, str, int | None]] = field(default_factory=list)  # kind, query, expected id
    latencies: list[float] = field(default_factory=list)  # seconds, per search
    by_kind: dict[str, list[float]] = field(default_factory=dict)


def _typo(word: str) -> str:
    """Two neighbouring letters swapped in the middle of the word."""
    i = max(1, len(word) // 2 - 1)
    return word[:i] + word[i + 1] + word[i] + word[i + 2 :] if len(word) > 3 else word


def _search_mix() -> list[tuple[str, str, int | None]]:
    """What agents type: (kind, query, the customer or order id it must find first, or None for names,
    which are shared)."""
    rng = random.Random(13)
    mix: list[tuple[str, str, int | None]] = []
    for _ in range(SEARCH_SUBJECTS):
        customer = rng.randrange(2, CUSTOMERS + 1)
        while phone_of(customer) is None:
            customer = rng.randrange(2, CUSTOMERS + 1)
        order = rng.randrange(1, ORDERS + 1)
        while STATUSES[order % 6] not in ("delivered", "shipped", "returned"):
            order = rng.randrange(1, ORDERS + 1)
        first, last = name_of(customer)
        phone = phone_of(customer) or ""
        mix += [
            ("exact email", email_of(customer), customer),
            ("partial name", f"{first} {last[:3]}", None),
            ("typo'd name", f"{_typo(first)} {last}", None),
            ("order number", f"CD-{1000000 + order}", order),
            ("marketplace order number", channel_number(order), order),
            ("phone", f"({phone[2:5]}) {phone[5:8]}-{phone[8:]}", customer),
            ("tracking number", tracking_of(order), order),
        ]
    return mix


def setup(target: Target) -> _Context:
    url = target.fresh_url()
    engine = make_engine(url)
    started = time.perf_counter()
    try:
        _generate(engine)
        conversation_id = _ticket(engine)
    finally:
        engine.dispose()
    print(
        f"  {ORDERS:,} orders, {CUSTOMERS:,} customers in {time.perf_counter() - started:.0f} s",
        file=sys.stderr,
        flush=True,
    )
    client = create_app({"DATABASE_URL": url, "SECRET_KEY": SECRET}).test_client()
    page = client.get("/console/login", headers={"User-Agent": USER_AGENT}).get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    response = client.post(
        "/console/login",
        data={"email": AGENT_EMAIL, "password": PASSWORD, "csrf_token": token},
        headers={"User-Agent": USER_AGENT},
    )
    if response.status_code != 303:
        raise RuntimeError(f"could not sign in the benchmark agent: {response.status_code}")
    cookie = "; ".join(f"{c.key}={c.value}" for c in client._cookies.values())
    ctx = _Context(url, cookie, conversation_id, floor_order_id=ORDERS // 2)
    ticket = client.get(f"/console/tickets/{conversation_id}", headers={"User-Agent": USER_AGENT})
    if ticket.status_code != 200 or "Where is my parcel?" not in ticket.get_data(as_text=True):
        raise RuntimeError(f"the ticket page did not render: {ticket.status_code}")
    ctx.app_server, ctx.app_port = _start("app", url)
    ctx.floor_server, ctx.floor_port = _start("floor", url)
    ctx.engine = make_engine(url)
    ctx.queries = _search_mix()
    return ctx


def ticket_page(ctx: _Context) -> float:
    return _hammer(ctx.app_port, f"/console/tickets/{ctx.conversation_id}", ctx.cookie)


def floor(ctx: _Context) -> float:
    return _hammer(ctx.floor_port, f"/floor/{ctx.floor_order_id}", "")


def search(ctx: _Context) -> float:
    """Every query of the mix once, each timed; the ones naming one customer or order must find it first."""
    with Session(ctx.engine) as session:
        for kind, query, expected in ctx.queries:
            started = time.perf_counter()
            hits = console_search(session, query)
            took = time.perf_counter() - started
            ctx.latencies.append(took)
            ctx.by_kind.setdefault(kind, []).append(took)
            if expected is not None and (not hits or hits[0].id != expected):
                raise RuntimeError(f"search for {kind} {query!r} did not find {expected} first: {hits[:3]}")
            if expected is None and not hits:
                raise RuntimeError(f"search for {kind} {query!r} found nothing")
    return len(ctx.queries)


def search_floor(ctx: _Context) -> float:
    """As many primary-key lookups of a customer, through a session the same way."""
    statement = text("SELECT id, name, email, phone FROM customers WHERE id = :id")
    rng = random.Random(7)
    with Session(ctx.engine) as session:
        for _ in ctx.queries:
            session.execute(statement, {"id": rng.randrange(1, CUSTOMERS + 1)}).one()
    return len(ctx.queries)


def search_latencies(ctx: _Context) -> list[float]:
    for kind, took in sorted(ctx.by_kind.items()):
        ordered = sorted(took)
        print(
            f"  search {kind}: median {statistics.median(ordered) * 1000:.1f} ms, "
            f"max {ordered[-1] * 1000:.1f} ms",
            file=sys.stderr,
            flush=True,
        )
    return ctx.latencies


def teardown(ctx: _Context) -> None:
    for process in (ctx.app_server, ctx.floor_server):
        if process is not None:
            process.terminate()
            process.wait(timeout=20)
    if ctx.engine is not None:
        ctx.engine.dispose()


_shared: dict[int, _Context] = {}


def _setup_once(target: Target) -> _Context:
    """Both scenarios share one generated database (and its servers) per target."""
    if id(target) not in _shared:
        _shared[id(target)] = setup(target)
    return _shared[id(target)]


def _last_teardown(ctx: _Context) -> None:
    teardown(ctx)
    _shared.clear()


SIZE = f"{ORDERS // 1000:,}k orders" if ORDERS < 1_000_000 else f"{ORDERS / 1_000_000:g}M orders"
CUSTOMER_SIZE = f"{CUSTOMERS // 1000:,}k" if CUSTOMERS < 1_000_000 else f"{CUSTOMERS / 1_000_000:g}M"

SCENARIOS = [
    Scenario(
        name=f"console ticket page, 200-order customer, 16 connections, {SIZE}",
        setup=_setup_once,
        run=ticket_page,
        floor=floor,
        unit="requests/s",
        repeats=3,
        goal=0.25,
        floor_note="a minimal Flask route: one primary-key query, a 10-row template, same server and load",
    ),
    Scenario(
        name=f"console search mix, {CUSTOMER_SIZE} customers",
        setup=_setup_once,
        run=search,
        floor=search_floor,
        unit="searches/s",
        repeats=3,
        latencies=search_latencies,
        p95_goals_ms={"postgresql": 50.0},
        teardown=_last_teardown,
        floor_note="as many primary-key lookups of a customer through the same session",
    ),
]
