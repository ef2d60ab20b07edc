"""Portal pages under load: a customer's order page and order list, in a database of 1,000,000 orders
(BENCH_PORTAL_ORDERS to change), served by waitress in its own process and hit by 16 concurrent keep-alive
connections. Floor: a minimal Flask route rendering a 10-row template from one primary-key query, served and
hit the same way in the same run.
"""

from __future__ import annotations

import http.client
import os
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, text

from app import create_app
from benchmarks.runner import Scenario, Target
from core.db import make_engine
from core.security.passwords import hash_password

ORDERS = int(os.environ.get("BENCH_PORTAL_ORDERS", "1000000"))
CUSTOMERS = max(ORDERS // 10, 10)
MY_ORDERS = 60
CONNECTIONS = 16
REQUESTS_PER_CONNECTION = 40
SECRET = "bench-portal-secret"
PASSWORD = "bench-password-1"
NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
ROOT = Path(__file__).resolve().parents[1]
CHUNK = 20_000
USER_AGENT = "crossdock-bench"


def _stamp(value: datetime, sqlite: bool) -> Any:
    return value.replace(tzinfo=None).isoformat(sep=" ") if sqlite else value


def _generate(engine: Engine) -> None:
    """Channels, CUSTOMERS customers, ORDERS orders of 1-4 lines each; customer 1 (signed in) owns MY_ORDERS of
    them on three channels. Written with bare executemany in large transactions (off the clock)."""
    sqlite = engine.dialect.name == "sqlite"
    mark = "?" if sqlite else "%s"
    json_empty = "'[]'" if sqlite else "'[]'::json"
    json_object = "'{}'" if sqlite else "'{}'::json"
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        now = _stamp(NOW, sqlite)
        cur.executemany(
            f"INSERT INTO channels (id, code, name, kind, sender_name, credentials, is_marketplace, return_window_days,"
            f" returns_handled_by_channel, return_instructions, stock_buffer_units, stock_buffer_percent, stock_floor,"
            f" active, created_at) VALUES ({mark}, {mark}, {mark}, {mark}, '', {json_object}, {mark}, 30, {mark}, '',"
            f" 0, 0, 0, {mark}, {mark})",
            [
                (1, "web", "Web shop", "webshop", False, False, True, now),
                (2, "amazon", "Amazon", "amazon", True, True, True, now),
                (3, "ebay", "eBay", "ebay", True, True, True, now),
            ],
        )
        cur.executemany(
            f"INSERT INTO customers (id, name, email, marketing_opt_out, notification_prefs, created_at) "
            f"VALUES ({mark}, {mark}, {mark}, {mark}, {json_object}, {mark})",
            [(n, f"Customer {n}", f"customer{n}@example.org", False, now) for n in range(1, CUSTOMERS + 1)],
        )
        cur.execute(
            f"INSERT INTO users (email, name, password_hash, role, customer_id, active, email_verified_at, "
            f"session_version, created_at) VALUES ({mark}, 'Bench', {mark}, 'customer', 1, {mark}, {mark}, 1, {mark})",
            ("customer1@example.org", hash_password(PASSWORD), True, now, now),
        )
        order_sql = (
            "INSERT INTO orders (id, channel_id, external_id, number, status, channel_status, channel_state, "
            "hold_warnings, customer_id, email, buyer_name, placed_at, placed_at_offset_minutes, currency, subtotal, "
            "discount_total, shipping_total, tax_total, total, refunded_total, fulfilled_by_channel, created_at, "
            f"updated_at, shipping_address) VALUES ({mark}, {mark}, {mark}, {mark}, {mark}, '', 'paid', {json_empty}, "
            f"{mark}, {mark}, {mark}, {mark}, 0, 'USD', {mark}, 0, 500, 0, {mark}, 0, {mark}, {mark}, {mark}, "
            f"{mark}{'' if sqlite else '::json'})"
        )
        line_sql = (
            "INSERT INTO order_lines (order_id, line_no, channel_sku, title, quantity, unit_price, discount, tax, total, "
            f"quantity_shipped, quantity_returned, quantity_cancelled) VALUES ({mark}, {mark}, {mark}, {mark}, {mark}, "
            f"{mark}, 0, 0, {mark}, 0, 0, 0)"
        )
        address = '{"name": "Bench Customer", "line1": "1 Main St", "city": "Leeds", "postal_code": "LS1 4AB", "country": "GB"}'
        statuses = ("delivered", "delivered", "shipped", "confirmed", "cancelled", "returned")
        for start in range(1, ORDERS + 1, CHUNK):
            orders, lines = [], []
            for n in range(start, min(start + CHUNK, ORDERS + 1)):
                mine = n % (ORDERS // MY_ORDERS or 1) == 0 and n // (ORDERS // MY_ORDERS or 1) <= MY_ORDERS
                customer = 1 if mine else 2 + n % (CUSTOMERS - 1)
                count = 1 + n % 4
                placed = _stamp(NOW - timedelta(minutes=n), sqlite)
                orders.append(
                    (
                        n,
                        1 + n % 3,
                        f"X-{n}",
                        f"CD-{1000000 + n}",
                        statuses[n % 6],
                        customer,
                        f"customer{customer}@example.org",
                        f"Customer {customer}",
                        placed,
                        2500 * count,
                        2500 * count + 500,
                        False,
                        now,
                        now,
                        address,
                    )
                )
                lines += [
                    (n, i + 1, f"SKU-{(n + i) % 500}", f"Product {(n + i) % 500}", 1, 2500, 2500)
                    for i in range(count)
                ]
            cur.executemany(order_sql, orders)
            cur.executemany(line_sql, lines)
            raw.commit()
        cur.execute("ANALYZE")
        raw.commit()
        if sqlite:  # a served database has its write-ahead log checkpointed, not 3 million pages behind
            cur.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        raw.close()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class _Context:
    url: str
    cookie: str
    order_number: str
    floor_order_id: int
    app_server: Any = None
    app_port: int = 0
    floor_server: Any = None
    floor_port: int = 0


def _start(mode: str, url: str) -> tuple[subprocess.Popen, int]:
    port = _free_port()
    # The server's output goes to a file: a pipe nobody reads fills up and blocks the server mid-run.
    log = tempfile.TemporaryFile()
    process = subprocess.Popen(
        [sys.executable, "-m", "benchmarks.portal_server", mode, url, str(port), SECRET],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=log,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return process, port
        except OSError:
            if process.poll() is not None:
                log.seek(0)
                raise RuntimeError(f"{mode} server exited: {log.read().decode()[-2000:]}") from None
            time.sleep(0.2)
    process.kill()
    raise RuntimeError(f"{mode} server did not start")


def setup(target: Target) -> _Context:
    url = target.fresh_url()
    engine = make_engine(url)
    try:
        _generate(engine)
        with engine.connect() as conn:
            number = conn.execute(
                text("SELECT number FROM orders WHERE customer_id = 1 ORDER BY placed_at DESC")
            ).first()[0]
    finally:
        engine.dispose()
    client = create_app({"DATABASE_URL": url, "SECRET_KEY": SECRET}).test_client()
    page = client.get("/login", headers={"User-Agent": USER_AGENT}).get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    response = client.post(
        "/login",
        data={"email": "customer1@example.org", "password": PASSWORD, "csrf_token": token},
        headers={"User-Agent": USER_AGENT},
    )
    if response.status_code != 303:
        raise RuntimeError(f"could not sign in the benchmark customer: {response.status_code}")
    cookie = "; ".join(f"{c.key}={c.value}" for c in client._cookies.values())
    ctx = _Context(url, cookie, number, floor_order_id=ORDERS // 2)
    ctx.app_server, ctx.app_port = _start("app", url)
    ctx.floor_server, ctx.floor_port = _start("floor", url)
    return ctx


def _hammer(port: int, path: str, cookie: str) -> float:
    """CONNECTIONS keep-alive connections, REQUESTS_PER_CONNECTION requests each; every answer must be 200."""
    errors: list[str] = []

    def worker() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        try:
            for _ in range(REQUESTS_PER_CONNECTION):
                # Same agent as at sign-in: the session is bound to it (flask-login's strong protection).
                conn.request("GET", path, headers={"Cookie": cookie, "User-Agent": USER_AGENT})
                response = conn.getresponse()
                response.read()
                if response.status != 200:
                    errors.append(f"{path}: HTTP {response.status}")
                    return
        finally:
            conn.close()

    threads = [threading.Thread(target=worker) for _ in range(CONNECTIONS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise RuntimeError(errors[0])
    return CONNECTIONS * REQUESTS_PER_CONNECTION


def order_page(ctx: _Context) -> float:
    return _hammer(ctx.app_port, f"/orders/{ctx.order_number}", ctx.cookie)


def order_list(ctx: _Context) -> float:
    return _hammer(ctx.app_port, "/orders", ctx.cookie)


def floor(ctx: _Context) -> float:
    return _hammer(ctx.floor_port, f"/floor/{ctx.floor_order_id}", "")


def teardown(ctx: _Context) -> None:
    for process in (ctx.app_server, ctx.floor_server):
        if process is not None:
            process.terminate()
            process.wait(timeout=20)


_shared: dict[int, _Context] = {}


def _setup_once(target: Target) -> _Context:
    """Both scenarios share one generated database and one pair of servers per target."""
    if id(target) not in _shared:
        _shared[id(target)] = setup(target)
    return _shared[id(target)]


_list_done = threading.Event()


def _list_teardown(ctx: _Context) -> None:
    _list_done.set()
    teardown(ctx)
    _shared.clear()
    _list_done.clear()


SCENARIOS = [
    Scenario(
        name="portal order page, 16 connections, 1M orders",
        setup=_setup_once,
        run=order_page,
        floor=floor,
        unit="requests/s",
        repeats=3,
        goal=0.4,
        floor_note="a minimal Flask route: one primary-key query, a 10-row template, same server and load",
    ),
    Scenario(
        name="portal order list, 16 connections, 1M orders",
        setup=_setup_once,
        run=order_list,
        floor=floor,
        unit="requests/s",
        repeats=3,
        goal=None,
        teardown=_list_teardown,
        floor_note="a minimal Flask route: one primary-key query, a 10-row template, same server and load",
    ),
]
