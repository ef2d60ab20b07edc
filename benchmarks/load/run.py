"""The load test's run: private cluster, seed, web and worker processes, the clients, the faults, the checks."""

from __future__ import annotations

import argparse
import copy
import json
import os
import random
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import requests
from requests.adapters import HTTPAdapter

from benchmarks.load.cluster import PrivateCluster, free_port
from core.channels.signatures import sign
from core.demo.seed import DEMO_PASSWORD
from core.notifications.catcher import start_catcher
from core.security.encryption import KEYS_VARIABLE, generate_key, unseal

PROJECT_ROOT = Path(__file__).resolve().parents[2]
SHOPIFY_ORDER = PROJECT_ROOT / "tests" / "fixtures" / "channels" / "shopify" / "order.json"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
ORDER_NUMBER = re.compile(r'class="order-number">([^<]+)<')
TICKET_LINK = re.compile(r'href="/console/tickets/(\d+)"')
CUSTOMER_ACCOUNTS = 500  # seeded customers given a sign-in (the demo seeds one customer account)
MIX = (("customer", 30), ("guest", 15), ("webhook", 25), ("agent", 30))


@dataclass
class Tally:
    """Per endpoint: latencies of the answers, and what came back."""

    seconds: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    unavailable: Counter[str] = field(default_factory=Counter)  # 503 with Retry-After: the outage, by design
    limited: Counter[str] = field(default_factory=Counter)  # 429: a rate limit said no
    errors: Counter[str] = field(
        default_factory=Counter
    )  # anything else unexpected (a 500, a refused socket)
    error_samples: list[str] = field(default_factory=list)
    accepted_webhooks: list[str] = field(default_factory=list)
    outage: tuple[float, float] = (0.0, 0.0)  # when the first and the last 503 came
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(
        self, name: str, response: requests.Response | None, took: float, expected: int, note: str
    ) -> bool:
        with self.lock:
            if response is not None and response.status_code == expected:
                self.seconds[name].append(took)
                return True
            if response is not None and response.status_code == 503 and response.headers.get("Retry-After"):
                self.unavailable[name] += 1
                now = time.monotonic()
                self.outage = (self.outage[0] or now, now)
            elif response is not None and response.status_code == 429:
                self.limited[name] += 1
            else:
                self.errors[name] += 1
                if len(self.error_samples) < 20:
                    status = response.status_code if response is not None else "no answer"
                    self.error_samples.append(f"{name}: {status} {note}"[:300])
            return False


class _FromAddress(HTTPAdapter):
    """Connections from one loopback address, so each client is its own IP for the per-IP rate limits."""

    def __init__(self, address: str) -> None:
        self.address = address
        super().__init__(pool_connections=1, pool_maxsize=1)

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        kwargs["source_address"] = (self.address, 0)
        super().init_poolmanager(*args, **kwargs)


@dataclass
class World:
    """What the clients draw from: accounts, orders for guests, the webhook channel, agents' searches."""

    base: str
    customers: list[str]
    guest_orders: list[tuple[str, str]]
    shopify_secret: str
    shopify_skus: list[str]
    names: list[str]
    order_template: dict[str, Any]
    webhook_counter: Any = field(default_factory=lambda: iter(range(1, 10**9)))
    counter_lock: threading.Lock = field(default_factory=threading.Lock)

    def next_webhook(self) -> int:
        with self.counter_lock:
            return next(self.webhook_counter)


class Client:
    """One simulated user at a time (customer, guest, channel or agent), with its own cookies and address."""

    def __init__(self, index: int, world: World, tally: Tally, rng: random.Random) -> None:
        self.world, self.tally, self.rng = world, tally, rng
        address = f"127.0.{1 + index // 250}.{1 + index % 250}"
        # a browser each for the customer, the agent and the anonymous visits (guest, channel): signing in to
        # the console must not sign the customer out
        self.browsers: dict[str, requests.Session] = {}
        for role in ("customer", "agent", "anonymous"):
            browser = self.browsers[role] = requests.Session()
            browser.mount("http://", _FromAddress(address))
        self.http = self.browsers["anonymous"]
        self.customer_email: str | None = None
        self.agent_signed_in = False

    def call(
        self, name: str, method: str, path: str, *, expected: int = 200, **kwargs: Any
    ) -> requests.Response | None:
        started = time.perf_counter()
        response = None
        note = path
        try:
            response = self.http.request(
                method, self.world.base + path, timeout=60, allow_redirects=False, **kwargs
            )
        except requests.RequestException as error:
            note = f"{path} {type(error).__name__}: {error}"
        ok = self.tally.record(name, response, time.perf_counter() - started, expected, note)
        return response if ok else None

    def _csrf(self, name: str, path: str) -> str | None:
        page = self.call(name, "GET", path)
        match = CSRF.search(page.text) if page is not None else None
        return match.group(1) if match else None

    def step(self) -> None:
        kind = self.rng.choices([k for k, _ in MIX], weights=[w for _, w in MIX])[0]
        self.http = self.browsers.get(kind, self.browsers["anonymous"])
        getattr(self, f"visit_{kind}")()

    def visit_customer(self) -> None:
        """Sign in once, then the order list and one of the orders."""
        if self.customer_email is None:
            token = self._csrf("GET /login", "/login")
            if token is None:
                return
            email = self.rng.choice(self.world.customers)
            form = {"email": email, "password": DEMO_PASSWORD, "csrf_token": token}
            if self.call("POST /login", "POST", "/login", expected=303, data=form) is None:
                return
            self.customer_email = email
        listing = self.call("GET /orders", "GET", "/orders")
        numbers = ORDER_NUMBER.findall(listing.text) if listing is not None else []
        if numbers:
            self.call("GET /orders/<number>", "GET", f"/orders/{self.rng.choice(numbers)}")

    def visit_guest(self) -> None:
        """A guest finds an order by its number and email."""
        token = self._csrf("GET /track", "/track")
        if token is None:
            return
        number, email = self.rng.choice(self.world.guest_orders)
        form = {"reference": number, "proof": email, "csrf_token": token}
        self.call("POST /track", "POST", "/track", expected=303, data=form)

    def visit_webhook(self) -> None:
        """Shopify sends a new order, signed, for SKUs the shop lists there."""
        n = self.world.next_webhook()
        order = copy.deepcopy(self.world.order_template)
        body = order["order"]
        body.update(
            id=7_000_000_000_000 + n, name=f"#L{n}", order_number=500_000 + n, email=f"load-{n}@example.com"
        )
        for i, line in enumerate(body["line_items"]):
            line["id"] = 8_000_000_000_000 + n * 10 + i
            line["sku"] = self.rng.choice(self.world.shopify_skus)
        raw = json.dumps(order).encode()
        delivery = f"load-{uuid.uuid4()}"
        headers = {
            "Content-Type": "application/json",
            "X-Shopify-Hmac-Sha256": sign(self.world.shopify_secret, raw),
            "X-Shopify-Webhook-Id": delivery,
        }
        path = "/api/channels/shopify/webhooks/orders"
        if self.call(f"POST {path}", "POST", path, data=raw, headers=headers) is not None:
            with self.tally.lock:
                self.tally.accepted_webhooks.append(delivery)

    def visit_agent(self) -> None:
        """Sign in to the console once, then the queue, one of its tickets and a search."""
        if not self.agent_signed_in:
            token = self._csrf("GET /console/login", "/console/login")
            if token is None:
                return
            form = {"email": "agent@example.com", "password": DEMO_PASSWORD, "csrf_token": token}
            if self.call("POST /console/login", "POST", "/console/login", expected=303, data=form) is None:
                return
            self.agent_signed_in = True
        queue = self.call("GET /console/tickets", "GET", "/console/tickets")
        ids = TICKET_LINK.findall(queue.text) if queue is not None else []
        if ids:
            self.call("GET /console/tickets/<id>", "GET", f"/console/tickets/{self.rng.choice(ids)}")
        self.call(
            "GET /console/search", "GET", "/console/search", params={"q": self.rng.choice(self.world.names)}
        )


class Deployment:
    """The private cluster, the SMTP catcher, `crossdock serve --workers 2` and `crossdock worker`."""

    def __init__(self, log: Callable[[str], None]) -> None:
        self.log = log
        self.cluster = PrivateCluster()
        self.work = Path(tempfile.mkdtemp(prefix="crossdock-load-"))
        self.maildir = self.work / "mail"
        self.smtp_port = free_port()
        self.web_port = free_port()
        self.catcher: Any = None
        self.web: subprocess.Popen[bytes] | None = None
        self.worker: subprocess.Popen[bytes] | None = None
        self.env = {
            **os.environ,
            "DATABASE_URL": self.cluster.url,
            "SECRET_KEY": uuid.uuid4().hex,
            # channel secrets are stored encrypted: the seed, the servers and this tool share one key
            KEYS_VARIABLE: generate_key(),
            "SMTP_HOST": "127.0.0.1",
            "SMTP_PORT": str(self.smtp_port),
        }

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.web_port}"

    def dsn(self) -> str:
        return self.cluster.url.replace("postgresql+psycopg://", "postgresql://")

    def cli(self, *args: str) -> subprocess.Popen[bytes]:
        out = (self.work / f"{args[0]}.log").open("ab")
        return subprocess.Popen(
            [sys.executable, "-m", "cli", *args], cwd=PROJECT_ROOT, env=self.env, stdout=out, stderr=out
        )

    def start(self, orders: int) -> float:
        self.cluster.start()
        self.log(f"private PostgreSQL on port {self.cluster.port} ({self.cluster.root})")
        started = time.perf_counter()
        seed = subprocess.run(
            [sys.executable, "-m", "cli", "seed", "--orders", str(orders)],
            cwd=PROJECT_ROOT,
            env=self.env,
            check=False,
        )
        if seed.returncode:
            raise RuntimeError("seeding failed")
        seeded = time.perf_counter() - started
        self.maildir.mkdir()
        self.catcher = start_catcher("127.0.0.1", self.smtp_port, self.maildir)
        self.web = self.cli("serve", "--workers", "2", "--port", str(self.web_port))
        self.start_worker()
        deadline = time.monotonic() + 120
        while True:
            try:
                if requests.get(self.base + "/healthz", timeout=5).status_code == 200:
                    break
            except requests.RequestException:
                pass
            if time.monotonic() > deadline or self.web.poll() is not None:
                raise RuntimeError(f"the web did not start: see {self.work / 'serve.log'}")
            time.sleep(0.5)
        return seeded

    def start_worker(self) -> None:
        self.worker = self.cli("worker")

    def kill_worker(self) -> None:
        assert self.worker is not None
        self.worker.send_signal(signal.SIGKILL)
        self.worker.wait()

    def stop(self) -> None:
        for process in (self.web, self.worker):
            if process is not None and process.poll() is None:
                process.terminate()
                try:
                    process.wait(30)
                except subprocess.TimeoutExpired:
                    process.kill()
        if self.catcher is not None:
            self.catcher.stop()
        self.cluster.stop()


def prepare(deployment: Deployment, rng: random.Random) -> World:
    """Sign-ins for seeded customers (the demo password), and what the clients draw from."""
    with psycopg.connect(deployment.dsn(), autocommit=True) as conn:
        conn.execute(
            "INSERT INTO users (email, name, password_hash, role, customer_id, active, email_verified_at,"
            " session_version, available, created_at)"
            " SELECT c.email, c.name, (SELECT password_hash FROM users WHERE role = 'customer' LIMIT 1),"
            " 'customer', c.id, true, now(), 1, false, now() FROM customers c"
            " WHERE c.email IS NOT NULL AND NOT EXISTS (SELECT 1 FROM users u WHERE u.customer_id = c.id"
            " OR u.email = c.email) AND EXISTS (SELECT 1 FROM orders o WHERE o.customer_id = c.id)"
            " ORDER BY c.id LIMIT %s",
            (CUSTOMER_ACCOUNTS,),
        )
        customers = [row[0] for row in conn.execute("SELECT email FROM users WHERE role = 'customer'")]
        guest_orders = list(
            conn.execute(
                "SELECT number, email FROM orders WHERE email IS NOT NULL"
                " AND email NOT LIKE '%%marketplace.amazon.com' ORDER BY id DESC LIMIT 3000"
            )
        )
        stored_secret, channel_id = conn.execute(
            "SELECT webhook_secret, id FROM channels WHERE code = 'shopify'"
        ).fetchone()
        secret = unseal(stored_secret, deployment.env)
        skus = [
            row[0]
            for row in conn.execute("SELECT channel_sku FROM listings WHERE channel_id = %s", (channel_id,))
        ]
        names = [
            row[0].split()[-1]
            for row in conn.execute("SELECT name FROM customers WHERE name <> '' LIMIT 500")
        ]
    names += [number for number, _ in rng.sample(guest_orders, min(200, len(guest_orders)))]
    return World(
        base=deployment.base,
        customers=customers,
        guest_orders=[(n, e) for n, e in guest_orders],
        shopify_secret=secret,
        shopify_skus=skus,
        names=names,
        order_template=json.loads(SHOPIFY_ORDER.read_text()),
    )


def drive(world: World, tally: Tally, *, clients: int, seconds: float, seed: int) -> float:
    """`clients` threads running visits until `seconds` have passed; returns the wall time."""
    stop = threading.Event()

    def loop(index: int) -> None:
        client = Client(index, world, tally, random.Random(seed * 1000 + index))
        while not stop.is_set():
            client.step()

    threads = [threading.Thread(target=loop, args=(i,), daemon=True) for i in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    stop.wait(seconds)
    stop.set()
    for thread in threads:
        thread.join(90)
    return time.perf_counter() - started


def faults(deployment: Deployment, seconds: float, log: Callable[[str], None]) -> threading.Thread:
    """Kill the worker a third of the way in (started again 3 s later), restart PostgreSQL halfway."""

    def run() -> None:
        time.sleep(seconds / 3)
        deployment.kill_worker()
        log("fault: worker killed (SIGKILL)")
        time.sleep(3)
        deployment.start_worker()
        log("fault: worker started again")
        time.sleep(max(0.0, seconds / 2 - seconds / 3 - 3))
        down = deployment.cluster.restart()
        log(f"fault: PostgreSQL restarted ({down:.1f} s)")

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def check(
    deployment: Deployment, tally: Tally, *, baseline: dict[str, Any], drain_seconds: float
) -> list[str]:
    """The data after the run; returns the failed checks (empty when all hold)."""
    failures = []
    dsn = deployment.dsn()
    deadline = time.monotonic() + drain_seconds
    with psycopg.connect(dsn, autocommit=True) as conn:
        while True:  # the worker sends what the run queued (a killed worker's claims come back after 2 min)
            (waiting,) = conn.execute(
                "SELECT count(*) FROM outbox_messages WHERE transport = 'email' AND status = 'pending'"
                " AND id > %s",
                (baseline["outbox_id"],),
            ).fetchone()
            if not waiting or time.monotonic() > deadline:
                break
            time.sleep(1)
        if waiting:
            failures.append(f"{waiting} emails still waiting to be sent after {drain_seconds:.0f} s")
        (failed,) = conn.execute(
            "SELECT count(*) FROM outbox_messages WHERE transport = 'email' AND status = 'failed' AND id > %s",
            (baseline["outbox_id"],),
        ).fetchone()
        if failed:
            failures.append(f"{failed} emails failed")
        (oversold,) = conn.execute(
            "SELECT count(*) FROM stock_levels WHERE on_hand < 0 OR reserved < 0 OR reserved > on_hand"
        ).fetchone()
        if oversold > baseline["oversold"]:
            failures.append(f"{oversold - baseline['oversold']} stock levels oversold by the run")
        (doubled,) = conn.execute(
            "SELECT count(*) FROM (SELECT dedup_key FROM outbox_messages GROUP BY dedup_key HAVING count(*) > 1) d"
        ).fetchone()
        if doubled:
            failures.append(f"{doubled} dedup keys queued twice")
        sent = {
            row[0]
            for row in conn.execute(
                "SELECT message_id FROM outbox_messages WHERE transport = 'email' AND status = 'sent'"
                " AND id > %s",
                (baseline["outbox_id"],),
            )
        }
        stored = {
            row[0]
            for row in conn.execute(
                "SELECT delivery_id FROM inbound_payloads WHERE delivery_id = ANY(%s)",
                (tally.accepted_webhooks,),
            )
        }
    lost = len(set(tally.accepted_webhooks) - stored)
    if lost:
        failures.append(f"{lost} accepted webhooks not stored")
    caught = [_message_id(path) for path in deployment.maildir.glob("*.eml")]
    repeated = len(caught) - len(set(caught))
    if repeated:
        failures.append(f"{repeated} emails delivered twice")
    missing = len(sent - set(caught))
    if missing:
        failures.append(f"{missing} emails marked sent that the SMTP server never received")
    baseline["sent"], baseline["caught"] = len(sent), len(caught)
    return failures


def _message_id(path: Path) -> str:
    for line in path.read_text(errors="replace").splitlines():
        if line.lower().startswith("message-id:"):
            return line.split(":", 1)[1].strip()
        if not line:
            break
    return path.name


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else 0.0


def report(tally: Tally, wall: float, out: Callable[[str], None]) -> None:
    names = sorted(set(tally.seconds) | set(tally.errors) | set(tally.unavailable) | set(tally.limited))
    out(
        f"{'endpoint':<45} {'ok':>6} {'req/s':>7} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'503':>5} {'429':>5} {'err':>5}"
    )
    for name in names:
        took = tally.seconds.get(name, [])
        out(
            f"{name:<45} {len(took):>6} {len(took) / wall:>7.1f} {percentile(took, 0.5) * 1000:>8.0f}"
            f" {percentile(took, 0.95) * 1000:>8.0f} {percentile(took, 0.99) * 1000:>8.0f}"
            f" {tally.unavailable[name]:>5} {tally.limited[name]:>5} {tally.errors[name]:>5}"
        )
    ok = sum(len(v) for v in tally.seconds.values())
    out(
        f"total: {ok} answered as expected in {wall:.1f} s = {ok / wall:.1f} requests/s;"
        f" {sum(tally.unavailable.values())} answered 503 + Retry-After, {sum(tally.limited.values())}"
        f" rate-limited (429), {sum(tally.errors.values())} errors"
    )
    if tally.outage[0]:
        out(f"503 + Retry-After answered for {tally.outage[1] - tally.outage[0]:.1f} s (first to last)")
    for sample in tally.error_samples:
        out(f"  error: {sample}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.load", description=__doc__)
    parser.add_argument("--orders", type=int, default=50000, help="orders to seed (default 50000)")
    parser.add_argument("--clients", type=int, default=64, help="concurrent clients (default 64)")
    parser.add_argument("--seconds", type=float, default=60, help="how long to drive the load (default 60)")
    parser.add_argument(
        "--faults", action="store_true", help="kill the worker and restart PostgreSQL mid-run"
    )
    parser.add_argument("--seed", type=int, default=1, help="random seed of the clients")
    parser.add_argument(
        "--drain", type=float, default=300, help="seconds to wait for the worker's mail after (default 300)"
    )
    args = parser.parse_args(argv)

    def log(text: str) -> None:
        print(text, file=sys.stderr, flush=True)

    rng = random.Random(args.seed)
    deployment = Deployment(log)
    try:
        seeded = deployment.start(args.orders)
        log(f"seeded {args.orders} orders in {seeded:.0f} s; serving on {deployment.base}")
        world = prepare(deployment, rng)
        with psycopg.connect(deployment.dsn(), autocommit=True) as conn:
            baseline: dict[str, Any] = {
                "oversold": conn.execute(
                    "SELECT count(*) FROM stock_levels WHERE on_hand < 0 OR reserved < 0 OR reserved > on_hand"
                ).fetchone()[0],
                "outbox_id": conn.execute("SELECT coalesce(max(id), 0) FROM outbox_messages").fetchone()[0],
            }
        tally = Tally()
        injector = faults(deployment, args.seconds, log) if args.faults else None
        load = os.getloadavg()
        wall = drive(world, tally, clients=args.clients, seconds=args.seconds, seed=args.seed)
        if injector is not None:
            injector.join()
        print(
            f"{args.clients} clients, {args.seconds:.0f} s, {args.orders} orders seeded,"
            f" load average at the start {load[0]:.1f} / after {os.getloadavg()[0]:.1f}"
            f"{', with faults' if args.faults else ''}"
        )
        report(tally, wall, print)
        failures = check(deployment, tally, baseline=baseline, drain_seconds=args.drain)
        print(
            f"checks: {len(tally.accepted_webhooks)} webhooks accepted, {baseline['sent']} emails queued during"
            f" the run sent by the worker, {baseline['caught']} received by the SMTP catcher in all"
        )
        for failure in failures:
            print(f"FAILED: {failure}")
        if not failures:
            print("checks passed: no oversell, every email once, every accepted webhook stored")
        return 1 if failures or sum(tally.errors.values()) else 0
    finally:
        deployment.stop()
