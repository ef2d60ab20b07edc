"""Running Crossdock: `seed` demo data, `serve` the web application, run the `worker`, or all (`demo`)."""

from __future__ import annotations

import logging
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import click
import waitress
from aiosmtpd.controller import Controller
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy import Engine

from cli import context
from cli.context import PROJECT_ROOT
from core import migrate
from core.demo import seed as demo_seed
from core.jobs import Worker
from core.notifications.catcher import start_catcher
from core.security.encryption import ensure_demo_key_file

DEMO_SMTP_PORT = 8025
WORKER_STOP_SECONDS = 10
LOG_LEVELS = ("debug", "info", "warning", "error")
LOG_PROGRESS_ORDERS = 50_000  # from this size, seeding into a log (not a terminal) reports its progress


def _seed_with_progress(engine: Engine, *, orders: int, seed_value: int, label: str) -> demo_seed.SeedStats:
    """Seed, with a progress bar on stderr when that is a terminal; when it is not (a log), a line per tenth
    of the orders and the steps' times for a large data set only (LOG_PROGRESS_ORDERS), else nothing."""
    hidden = not sys.stderr.isatty()
    logged = hidden and orders >= LOG_PROGRESS_ORDERS

    def resolving(ids: Iterable[int]) -> Iterator[int]:
        customer_ids = list(ids)
        with click.progressbar(
            customer_ids, label="Resolving customers", show_pos=True, file=sys.stderr, hidden=hidden
        ) as customers:
            yield from customers

    def note(text: str) -> None:
        if not hidden or logged:
            click.echo(f"  {text}", err=True)

    with click.progressbar(length=orders, label=label, show_pos=True, file=sys.stderr, hidden=hidden) as bar:
        progress = _progress_lines(orders, label) if logged else bar.update
        stats = demo_seed.seed_demo(
            engine, orders=orders, seed=seed_value, progress=progress, resolving=resolving, note=note
        )
    if stats.resolution is not None:
        click.echo(
            f"identity resolution: {stats.resolution.links_made} customers merged,"
            f" {stats.resolution.suggestions_queued} suggestions queued"
        )
    return stats


def _demo_key() -> None:
    """Demo data has channel secrets, stored encrypted: without a configured key the demo makes its own."""
    written = ensure_demo_key_file()
    if written is not None:
        click.echo(f"CROSSDOCK_ENCRYPTION_KEYS is not set: the demo encrypts channel secrets with {written}")


def _progress_lines(total: int, label: str) -> Callable[[int], None]:
    """Progress for a log, not a terminal: a line every tenth of the orders, with the rate so far."""
    started = time.perf_counter()
    done = 0
    step = max(1, total // 10)

    def update(count: int) -> None:
        nonlocal done
        before, done = done, done + count
        if done // step > before // step or done == total:
            rate = done / max(time.perf_counter() - started, 1e-9)
            click.echo(f"{label}: {done}/{total} ({rate:.0f}/s)", err=True)

    return update


@click.command("seed")
@click.option("--orders", "orders", type=click.IntRange(min=0), default=20000, show_default=True)
@click.option("--seed", "seed_value", type=int, default=42, show_default=True, help="Random seed.")
@click.option("--force", is_flag=True, help="Seed even if the database already has data.")
@with_appcontext
def seed(orders: int, seed_value: int, force: bool) -> None:
    """Generate a realistic, deterministic demo data set of about N orders."""
    _demo_key()
    engine = context.engine()
    migrate.upgrade(engine)
    if not force and not demo_seed.database_is_empty(engine):
        raise click.ClickException("the database already has data: use --force to seed anyway")
    stats = _seed_with_progress(engine, orders=orders, seed_value=seed_value, label="Seeding orders")
    click.echo(", ".join(f"{count} {name}" for name, count in stats.counts.items()))
    click.echo(f"seeded in {stats.seconds:.1f}s ({stats.orders_per_second:.0f} orders/s)")


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=int, default=5000, show_default=True)
@click.option(
    "--threads", type=click.IntRange(min=1), default=8, show_default=True, help="Threads per process."
)
@click.option(
    "--workers",
    type=click.IntRange(min=0),
    default=0,
    show_default=True,
    help="0: one waitress process (the embedded default); N: gunicorn with N processes (production).",
)
@with_appcontext
def serve(host: str, port: int, threads: int, workers: int) -> None:
    """Serve the web application (portal, console, API): waitress in this process, or with --workers N a
    gunicorn master and N worker processes, each with its own connection pool. Nothing a request needs
    lives in one process's memory (sessions are signed cookies checked against the database, rate limits
    and caches are in the database), so processes on several machines behind a load balancer share one
    PostgreSQL."""
    if workers == 0:
        waitress.serve(current_app._get_current_object(), host=host, port=port, threads=threads)
        return
    from cli.gunicorn_app import serve_with_gunicorn  # POSIX only, so imported when asked for

    serve_with_gunicorn(dict(current_app.config), host=host, port=port, workers=workers, threads=threads)


@click.command("worker")
@click.option(
    "--log-level",
    type=click.Choice(LOG_LEVELS, case_sensitive=False),
    default="info",
    show_default=True,
    help="info logs every job run; warning logs only problems.",
)
@with_appcontext
def worker(log_level: str) -> None:
    """Run the scheduled jobs (APScheduler) in this process until interrupted (Ctrl+C or SIGTERM)."""
    level = getattr(logging, log_level.upper())
    logging.basicConfig(level=level, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    # Our own line per job run says enough; APScheduler speaks up only about problems.
    logging.getLogger("apscheduler").setLevel(max(level, logging.WARNING))
    Worker(context.session_factory()).start()


def _start_demo_catcher(port: int, maildir: Path) -> Controller:
    """The mail catcher on `port`, or on a free port when another demo holds that one."""
    try:
        return start_catcher("127.0.0.1", port, maildir)
    except OSError:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            free = probe.getsockname()[1]
        return start_catcher("127.0.0.1", free, maildir)


def _stop_worker(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM (the worker releases its lease and exits); kill it if it does not within a few seconds."""
    process.terminate()
    try:
        process.wait(timeout=WORKER_STOP_SECONDS)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@click.command("demo")
@click.option("--port", type=int, default=5000, show_default=True)
@click.option("--orders", type=click.IntRange(min=0), default=20000, show_default=True)
@with_appcontext
def demo(port: int, orders: int) -> None:
    """Migrate, seed demo data if the database is empty, run the worker and serve on 127.0.0.1."""
    _demo_key()
    engine = context.engine()
    migrate.upgrade(engine)
    if demo_seed.database_is_empty(engine):
        _seed_with_progress(engine, orders=orders, seed_value=42, label="Seeding demo data")
    app = current_app._get_current_object()
    base = f"http://127.0.0.1:{port}"
    # Links in emails point at this server, unless PORTAL_BASE_URL says where the portal really is.
    portal_base_url = os.environ.get("PORTAL_BASE_URL") or base
    app.config["PORTAL_BASE_URL"] = portal_base_url
    worker_env = {
        **os.environ,
        "DATABASE_URL": engine.url.render_as_string(hide_password=False),
        "PORTAL_BASE_URL": portal_base_url,
    }
    catcher = None
    if not os.environ.get("SMTP_HOST"):
        smtp_port = os.environ.get("SMTP_PORT", str(DEMO_SMTP_PORT))
        if not smtp_port.isdigit():
            raise click.ClickException(f"SMTP_PORT must be a number, not {smtp_port!r}")
        catcher = _start_demo_catcher(int(smtp_port), app.config["MAIL_DIR"])
        worker_env.update(SMTP_HOST="127.0.0.1", SMTP_PORT=str(catcher.port))
    # The worker logs only problems here, so that its job lines do not bury the addresses below. It starts
    # in the project folder, so that `-m cli` is this project's package whatever the working directory holds.
    process = subprocess.Popen(  # our own interpreter and module, no shell
        [sys.executable, "-m", "cli", "worker", "--log-level", "warning"], env=worker_env, cwd=PROJECT_ROOT
    )
    mail = (
        f"a local SMTP catcher on 127.0.0.1:{catcher.port}"
        if catcher is not None
        else f"SMTP server {os.environ['SMTP_HOST']}"
    )
    click.echo(
        f"\nCrossdock demo is running.\n"
        f"  Customer portal: {base}/            sign in at {base}/login\n"
        f"  Agent console:   {base}/console/    sign in at {base}/console/login\n"
        f"  Health:          {base}/healthz\n"
        f"  Sent mail:       {base}/console/mail  ({mail})\n"
        f"Demo sign-ins (password {demo_seed.DEMO_PASSWORD}):\n"
        + "".join(f"  {email:<24} {role}\n" for email, role in demo_seed.DEMO_ACCOUNTS)
        + "Managers and admins set up two-factor sign-in (an authenticator app) at their first sign-in.\n"
        + "The worker runs beside the server and prints only warnings and errors.\n"
        + "Press Ctrl+C to stop.\n"
    )
    try:
        waitress.serve(app, host="127.0.0.1", port=port, threads=8)
    finally:
        _stop_worker(process)
        if catcher is not None:
            catcher.stop()
