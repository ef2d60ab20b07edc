"""The composition root: `create_app` wires the database, sign-in, CSRF and the three faces; the
`crossdock` command (also `flask --app app ...`) drives the same core from the shell."""

from __future__ import annotations

import importlib
import json
import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import click
import waitress
from flask import Flask, Response, current_app, g, redirect, render_template, request, url_for
from flask.cli import AppGroup, FlaskGroup, with_appcontext
from flask_login import LoginManager
from flask_wtf.csrf import CSRFError, CSRFProtect
from htmx_flask import Htmx
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.exceptions import HTTPException

from core import migrate
from core.catalog.models import Sku
from core.db import INSTANCE_DIR, begin_write, default_database_url, make_engine, make_session_factory, utcnow
from core.demo import seed
from core.errors import DomainError, NotFound
from core.fulfillment import services as fulfillment_services
from core.fulfillment import tracking
from core.fulfillment.calendar import holidays_from_env
from core.inventory import queries as inventory_queries
from core.inventory import services as inventory_services
from core.inventory.models import Location
from core.jobs import Worker
from core.money import format_money
from core.notifications import services as notification_services
from core.notifications.catcher import start_catcher
from core.orders import queries as order_queries
from core.orders.importer import import_files
from core.security.models import User
from core.security.tokens import load_secret_key
from core.system.queries import health_report

PROJECT_ROOT = Path(__file__).resolve().parent
MAIL_DIR = INSTANCE_DIR / "mail"  # where the demo's SMTP catcher keeps what the system sent
DEMO_SMTP_PORT = 8025


def create_app(config: dict[str, Any] | None = None) -> Flask:
    """Build the web application. `config` overrides settings (tests pass DATABASE_URL or SESSION_FACTORY)."""
    app = Flask(
        __name__,
        template_folder=str(PROJECT_ROOT / "templates"),
        static_folder=str(PROJECT_ROOT / "static"),
    )
    app.config.update(
        SECRET_KEY=None,
        DATABASE_URL=None,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SECURE=os.environ.get("SESSION_COOKIE_SECURE", "0") == "1",
        REMEMBER_COOKIE_SAMESITE="Lax",
        REMEMBER_COOKIE_HTTPONLY=True,
        PERMANENT_SESSION_LIFETIME=timedelta(hours=12),
        MAX_CONTENT_LENGTH=8 * 1024 * 1024,
        WTF_CSRF_TIME_LIMIT=None,
        WTF_CSRF_SSL_STRICT=False,
        PORTAL_BASE_URL=os.environ.get("PORTAL_BASE_URL", "http://127.0.0.1:5000"),
        DISPLAY_TZ=os.environ.get("CROSSDOCK_TZ", "UTC"),
        TRACKING_WEBHOOK_SECRET=os.environ.get("TRACKING_WEBHOOK_SECRET"),
        MAIL_DIR=MAIL_DIR,
        RETURNS_ADDRESS=os.environ.get(
            "CROSSDOCK_RETURNS_ADDRESS", "Crossdock Returns | 100 Logistics Way | Newark, NJ 07114 | US"
        ),
    )
    app.config.update(config or {})
    app.config["SECRET_KEY"] = app.config["SECRET_KEY"] or load_secret_key()

    factory = app.config.get("SESSION_FACTORY")
    if factory is None:
        engine = make_engine(app.config["DATABASE_URL"] or default_database_url())
        factory = make_session_factory(engine)
    app.extensions["crossdock.session_factory"] = factory

    _init_request_session(app)  # first, so every later hook (CSRF included) can use g.db
    CSRFProtect(app)
    Htmx(app)
    _init_login(app)
    _init_templates(app)

    from agent_console import bp as console_bp
    from api import bp as api_bp
    from api import webhooks_bp
    from portal import bp as portal_bp

    app.register_blueprint(portal_bp)
    app.register_blueprint(console_bp, url_prefix="/console")
    app.register_blueprint(api_bp, url_prefix="/api")
    app.register_blueprint(webhooks_bp, url_prefix="/api")
    for machine_bp in (api_bp, webhooks_bp):  # machines sign their requests; CSRF is for browsers
        app.extensions["csrf"].exempt(machine_bp)
    # One-click unsubscribe (RFC 8058) is a POST from the mail client; the signed token is the proof.
    app.extensions["csrf"].exempt("portal.views.unsubscribe")

    app.add_url_rule("/healthz", "healthz", healthz)
    _init_errors(app)
    register_commands(app)
    return app


ERROR_TEXT = {
    400: ("Bad request", "The request could not be understood."),
    403: ("Not allowed", "Your account does not have access to this page."),
    404: ("Not found", "There is nothing here. The link may be old or mistyped."),
    413: ("Too large", "That upload is larger than we accept."),
    429: ("Slow down", "Too many attempts. Please wait a minute and try again."),
}


def _init_errors(app: Flask) -> None:
    def handle(exc: HTTPException) -> Any:
        if request.path.startswith("/api/"):
            return {"error": exc.description or exc.name}, exc.code
        title, message = ERROR_TEXT.get(exc.code or 500, (exc.name, exc.description))
        if isinstance(exc, CSRFError):
            message = (
                "This form has expired or was not sent from our site. Go back, reload the page and try again."
            )
        return render_template("errors.html", code=exc.code, title=title, message=message), exc.code

    for code in ERROR_TEXT:
        app.register_error_handler(code, handle)


def healthz() -> tuple[dict[str, Any], int]:
    """Database reachable, migrations current, worker heartbeat age; 503 when not ready."""
    report = health_report(g.db, now=utcnow())
    return report, (200 if report["ok"] else 503)


def _init_login(app: Flask) -> None:
    login = LoginManager(app)
    login.session_protection = "strong"

    @login.user_loader
    def load_user(alternative_id: str) -> User | None:
        user_id, _, version = alternative_id.partition(":")
        if not user_id.isdigit() or not version.isdigit():
            return None
        user = g.db.get(User, int(user_id))
        if user is None or not user.active or user.session_version != int(version):
            return None
        return user

    @login.unauthorized_handler
    def unauthorized() -> Response:
        target = "console.login" if request.blueprint == "console" else "portal.login"
        if request.headers.get("HX-Request"):
            resp = Response(status=401)
            resp.headers["HX-Redirect"] = url_for(target, next=request.full_path.rstrip("?"))
            return resp
        return redirect(url_for(target, next=request.full_path.rstrip("?")))


def _init_request_session(app: Flask) -> None:
    factory = app.extensions["crossdock.session_factory"]

    @app.before_request
    def open_session() -> None:
        g.db = factory()

    @app.teardown_request
    def close_session(_exc: BaseException | None) -> None:
        session = g.pop("db", None)
        if session is not None:
            session.rollback()
            session.close()

    @app.after_request
    def security_headers(response: Response) -> Response:
        if response.mimetype == "text/html":
            response.vary.add("HX-Request")
            response.headers.setdefault("X-Content-Type-Options", "nosniff")
            response.headers.setdefault("X-Frame-Options", "DENY")
            response.headers.setdefault("Referrer-Policy", "same-origin")
        return response


def _init_templates(app: Flask) -> None:
    app.jinja_env.filters["money"] = format_money
    app.jinja_env.globals["display_tz"] = app.config["DISPLAY_TZ"]
    app.jinja_env.globals["returns_address"] = app.config["RETURNS_ADDRESS"]

    zone = ZoneInfo(app.config["DISPLAY_TZ"])

    def local_time(value: Any, fmt: str = "%d %b %Y %H:%M") -> str:
        return "" if value is None else value.astimezone(zone).strftime(fmt)

    app.jinja_env.filters["local"] = local_time


# ----------------------------------------------------------------------------------------------------
# The `crossdock` command. Each command is thin: parse arguments, open one unit of work, call core.


def _factory() -> Any:
    return current_app.extensions["crossdock.session_factory"]


def _engine() -> Any:
    return _factory().kw["bind"]


@contextmanager
def _write_session() -> Iterator[Session]:
    """A session for a command that writes: SQLite takes its write lock up front; domain errors become
    one-line CLI errors and nothing is committed."""
    with _factory()() as session:
        begin_write(session)
        try:
            yield session
        except DomainError as exc:
            session.rollback()
            raise click.ClickException(str(exc)) from exc


def _location_and_sku(session: Session, location_code: str, sku_code: str) -> tuple[Location, Sku]:
    location = session.scalar(select(Location).where(Location.code == location_code.upper()))
    if location is None:
        raise DomainError(f"unknown location {location_code!r}")
    sku = session.scalar(select(Sku).where(Sku.code == sku_code))
    if sku is None:
        raise DomainError(f"unknown SKU {sku_code!r}")
    return location, sku


def register_commands(app: Flask) -> None:
    """Attach the CLI commands to `app.cli` (so both `crossdock X` and `flask --app app X` work)."""
    db_group = AppGroup("db", help="Database schema.")

    @db_group.command("upgrade")
    def db_upgrade() -> None:
        """Apply migrations to DATABASE_URL."""
        engine = _engine()
        migrate.upgrade(engine)
        click.echo(
            f"database at revision {migrate.current_revision(engine)} ({engine.url.render_as_string()})"
        )

    app.cli.add_command(db_group)

    @app.cli.command("seed")
    @click.option("--orders", "orders", type=click.IntRange(min=0), default=20000, show_default=True)
    @click.option("--seed", "seed_value", type=int, default=42, show_default=True, help="Random seed.")
    @click.option("--force", is_flag=True, help="Seed even if the database already has data.")
    def seed_cmd(orders: int, seed_value: int, force: bool) -> None:
        """Generate a realistic, deterministic demo data set of about N orders."""
        engine = _engine()
        migrate.upgrade(engine)
        if not force and not seed.database_is_empty(engine):
            raise click.ClickException("the database already has data: use --force to seed anyway")
        with click.progressbar(length=orders, label="Seeding orders", show_pos=True) as bar:
            stats = seed.seed_demo(engine, orders=orders, seed=seed_value, progress=bar.update)
        click.echo(", ".join(f"{count} {name}" for name, count in stats.counts.items()))
        click.echo(f"seeded in {stats.seconds:.1f}s ({stats.orders_per_second:.0f} orders/s)")

    @app.cli.command("serve")
    @click.option("--host", default="127.0.0.1", show_default=True)
    @click.option("--port", type=int, default=5000, show_default=True)
    @click.option("--threads", type=int, default=8, show_default=True)
    def serve_cmd(host: str, port: int, threads: int) -> None:
        """Serve the web application (portal, console, API) with waitress."""
        waitress.serve(current_app._get_current_object(), host=host, port=port, threads=threads)

    @app.cli.command("worker")
    def worker_cmd() -> None:
        """Run the scheduled jobs (APScheduler) in this process until interrupted."""
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
        logging.getLogger("apscheduler").setLevel(logging.WARNING)  # our own line per job run says enough
        Worker(_factory()).start()

    @app.cli.command("demo")
    @click.option("--port", type=int, default=5000, show_default=True)
    @click.option("--orders", type=click.IntRange(min=0), default=20000, show_default=True)
    def demo_cmd(port: int, orders: int) -> None:
        """Migrate, seed demo data if the database is empty, run the worker and serve on 127.0.0.1."""
        engine = _engine()
        migrate.upgrade(engine)
        if seed.database_is_empty(engine):
            with click.progressbar(length=orders, label="Seeding demo data", show_pos=True) as bar:
                seed.seed_demo(engine, orders=orders, seed=42, progress=bar.update)
        catcher = None
        if not os.environ.get("SMTP_HOST"):
            catcher = start_catcher("127.0.0.1", DEMO_SMTP_PORT, MAIL_DIR)
        worker = subprocess.Popen([sys.executable, str(PROJECT_ROOT / "app.py"), "worker"])  # noqa: S603
        base = f"http://127.0.0.1:{port}"
        click.echo(
            f"\nCrossdock demo is running.\n"
            f"  Customer portal: {base}/            sign in at {base}/login\n"
            f"  Agent console:   {base}/console/    sign in at {base}/console/login\n"
            f"  Health:          {base}/healthz\n"
            f"  Sent mail:       {base}/console/mail  (a local SMTP catcher on 127.0.0.1:{DEMO_SMTP_PORT})\n"
            f"Demo sign-ins (password {seed.DEMO_PASSWORD}):\n"
            + "".join(f"  {email:<24} {role}\n" for email, role in seed.DEMO_ACCOUNTS)
            + "Press Ctrl+C to stop.\n"
        )
        try:
            waitress.serve(current_app._get_current_object(), host="127.0.0.1", port=port, threads=8)
        finally:
            worker.terminate()
            worker.wait(timeout=10)
            if catcher is not None:
                catcher.stop()

    orders_group = AppGroup("orders", help="Orders.")

    @orders_group.command("show")
    @click.argument("channel_code")
    @click.argument("external_id")
    @click.option("--json", "as_json", is_flag=True, help="Print the canonical order JSON.")
    def orders_show(channel_code: str, external_id: str, as_json: bool) -> None:
        """Show one order by channel and the channel's own order id."""
        with _factory()() as session:
            try:
                order = order_queries.order_by_external_id(session, channel_code, external_id)
            except NotFound as exc:
                raise click.ClickException(str(exc)) from exc
            data = order_queries.canonical_order_json(session, order)
        if as_json:
            click.echo(json.dumps(data, ensure_ascii=False))
            return
        click.echo(
            f"{data['number']}  {data['channel']} {data['external_id']}  {data['status']}  "
            f"{data['total']} {data['currency']}"
        )
        if data["hold_reason"]:
            click.echo(f"on hold: {data['hold_reason']}")
        for line in data["lines"]:
            click.echo(
                f"  {line['quantity']} x {line['sku'] or '(unmapped ' + str(line['channel_sku']) + ')'}"
                f"  {line['title']}  {line['total']}"
            )

    @orders_group.command("ship")
    @click.argument("channel_code")
    @click.argument("external_id")
    @click.option("--carrier", required=True)
    @click.option("--tracking", "tracking_number", required=True)
    @click.option("--location", "location_code", default=None, help="Ship only what this location holds.")
    def orders_ship(
        channel_code: str, external_id: str, carrier: str, tracking_number: str, location_code: str | None
    ) -> None:
        """Mark an order's reserved lines shipped, with carrier and tracking number (as packing does)."""
        now = utcnow()
        with _write_session() as session:
            order = order_queries.order_by_external_id(session, channel_code, external_id)
            location_id = None
            if location_code:
                location = session.scalar(select(Location).where(Location.code == location_code.upper()))
                if location is None:
                    raise DomainError(f"unknown location {location_code!r}")
                location_id = location.id
            shipments = fulfillment_services.mark_shipped(
                session,
                order.id,
                location_id=location_id,
                carrier=carrier,
                tracking_number=tracking_number,
                actor="cli",
                now=now,
                holidays=holidays_from_env(),
            )
            session.commit()
            for shipment in shipments:
                click.echo(
                    f"{order.number}: shipped {sum(line.quantity for line in shipment.lines)} unit(s) "
                    f"with {shipment.carrier} {shipment.tracking_number}; order is {order.status}"
                )

    app.cli.add_command(orders_group)

    tracking_group = AppGroup("tracking", help="Carrier tracking events.")

    @tracking_group.command("import")
    @click.argument(
        "files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path)
    )
    def tracking_import(files: tuple[Path, ...]) -> None:
        """Record carrier events from tracking CSV files or tracking-service JSON (AfterShip, EasyPost...)."""
        with _write_session() as session:
            updates = []
            for path in files:
                text = path.read_text(encoding="utf-8-sig")
                try:
                    parsed = (
                        tracking.parse_tracking_csv(text)
                        if path.suffix.lower() == ".csv"
                        else tracking.parse_tracking_payload(text)
                    )
                except DomainError as exc:
                    raise DomainError(f"{path.name}: {exc}") from exc
                updates.extend(parsed)
            result = tracking.record_tracking_events(session, updates, now=utcnow(), source="import")
            session.commit()
        click.echo(
            f"{result.recorded} new event(s), {result.duplicates} already known, "
            f"{len(result.changes)} shipment status change(s), {len(result.unknown)} unknown number(s)"
        )
        for unknown in result.unknown:
            click.echo(f"  {unknown.reason}: {unknown.tracking_number} ({unknown.carrier or '?'})")

    app.cli.add_command(tracking_group)

    @app.cli.command("import")
    @click.argument("channel_code")
    @click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False, path_type=Path))
    @click.option(
        "--create-listings", is_flag=True, help="Create missing products and listings (first backfill)."
    )
    def import_cmd(channel_code: str, files: tuple[Path, ...], create_listings: bool) -> None:
        """Ingest native channel payload files the way webhooks are ingested; one JSON line per order."""
        lines, failed = import_files(_factory(), channel_code, files, create_listings=create_listings)
        for line in lines:
            click.echo(json.dumps(line, ensure_ascii=False))
        if failed:
            sys.exit(1)

    locations_group = AppGroup("locations", help="Stock locations.")

    @locations_group.command("add")
    @click.argument("code")
    @click.option("--name", required=True)
    @click.option("--kind", required=True, type=click.Choice(["warehouse", "store", "3pl", "dropship"]))
    @click.option("--regions", default="", help="Comma-separated regions served, e.g. US-NY,US-NJ,CA.")
    @click.option("--priority", type=int, default=100, show_default=True, help="Lower ships first.")
    @click.option("--email", default=None, help="Where purchase orders or 3PL requests go.")
    def locations_add(
        code: str, name: str, kind: str, regions: str, priority: int, email: str | None
    ) -> None:
        """Create a location."""
        with _write_session() as session:
            location = inventory_services.add_location(
                session,
                code,
                name=name,
                kind=kind,
                regions=regions.split(","),
                priority=priority,
                email=email,
                now=utcnow(),
            )
            session.commit()
            click.echo(f"location {location.code} ({location.kind}, {location.fulfillment_method}) created")

    app.cli.add_command(locations_group)

    stock_group = AppGroup("stock", help="Stock levels and the ledger.")

    @stock_group.command("receive")
    @click.argument("location_code")
    @click.argument("sku_code")
    @click.argument("quantity", type=click.IntRange(min=1))
    @click.option("--reference", default=None, help="Delivery note or PO number.")
    def stock_receive(location_code: str, sku_code: str, quantity: int, reference: str | None) -> None:
        """Receive units into a location (fills waiting backorders first come, first served)."""
        with _write_session() as session:
            location, sku = _location_and_sku(session, location_code, sku_code)
            state = inventory_services.receive_stock(
                session, location.id, sku.id, quantity, actor="cli", now=utcnow(), reference=reference
            )
            session.commit()
            click.echo(
                f"{sku.code} at {location.code}: on hand {state.on_hand}, reserved {state.reserved}, "
                f"available {state.available}"
            )

    @stock_group.command("show")
    @click.argument("sku_code")
    @click.option("--json", "as_json", is_flag=True)
    def stock_show(sku_code: str, as_json: bool) -> None:
        """Stock of one SKU per location and available to sell per channel."""
        with _factory()() as session:
            sku = session.scalar(select(Sku).where(Sku.code == sku_code))
            if sku is None:
                raise click.ClickException(f"unknown SKU {sku_code!r}")
            stock = inventory_queries.stock_by_sku(session, sku.id)
        data = {
            "sku": stock.code,
            "title": stock.title,
            "on_hand": stock.on_hand,
            "reserved": stock.reserved,
            "available": stock.available,
            "locations": [
                {
                    "location": lv.code,
                    "name": lv.name,
                    "on_hand": lv.on_hand,
                    "reserved": lv.reserved,
                    "available": lv.available,
                }
                for lv in stock.locations
            ],
            "channels": [
                {"channel": ch.channel_code, "available_to_sell": ch.quantity, "formula": ch.formula}
                for ch in stock.channels
            ],
        }
        if as_json:
            click.echo(json.dumps(data, ensure_ascii=False))
            return
        click.echo(
            f"{data['sku']}  {data['title']}: on hand {data['on_hand']}, available {data['available']}"
        )
        for lv in data["locations"]:
            click.echo(
                f"  {lv['location']:<12} on hand {lv['on_hand']:>5}  reserved {lv['reserved']:>5}  "
                f"available {lv['available']:>5}"
            )
        for ch in data["channels"]:
            click.echo(
                f"  {ch['channel']:<12} available to sell {ch['available_to_sell']:>5}   {ch['formula']}"
            )

    @stock_group.command("verify")
    def stock_verify() -> None:
        """Check that every level's on hand and reserved equal the sums of its ledger movements."""
        with _factory()() as session:
            mismatches = inventory_queries.verify_ledger(session)
        for m in mismatches:
            click.echo(f"MISMATCH {m}")
        if mismatches:
            raise click.ClickException(f"{len(mismatches)} stock level(s) disagree with the ledger")
        click.echo("ledger ok: every stock level equals the sum of its movements")

    app.cli.add_command(stock_group)

    @app.cli.group("outbox", invoke_without_command=True)
    @click.option("--json", "as_json", is_flag=True, help="Counts as JSON.")
    @click.pass_context
    @with_appcontext
    def outbox_group(ctx: click.Context, as_json: bool) -> None:
        """Outbox counts by kind and status (pending, sent, failed); `retry ID` re-queues a failed one."""
        if ctx.invoked_subcommand is not None:
            return
        with _factory()() as session:
            counts = notification_services.outbox_counts(session)
        if as_json:
            click.echo(json.dumps(counts))
            return
        click.echo(f"pending {counts['pending']}, sent {counts['sent']}, failed {counts['failed']}")
        for kind, statuses in sorted(counts["by_kind"].items()):
            click.echo(
                f"  {kind:<28} " + ", ".join(f"{status} {n}" for status, n in sorted(statuses.items()))
            )

    @outbox_group.command("retry")
    @click.argument("message_id", type=int)
    def outbox_retry(message_id: int) -> None:
        """Send a failed message again on the next dispatch."""
        with _write_session() as session:
            message = notification_services.retry_outbox_message(session, message_id, now=utcnow())
            session.commit()
            click.echo(f"message {message.id} ({message.kind} to {message.recipient}) is queued again")

    @app.cli.command("bench")
    @click.option("--json", "as_json", is_flag=True, help="Print results as JSON.")
    @click.option("--only", default=None, help="Run only scenarios whose name contains this text.")
    def bench_cmd(as_json: bool, only: str | None) -> None:
        """Run the benchmark suite (benchmarks/), each scenario beside its floor."""
        sys.path.insert(0, str(PROJECT_ROOT))
        runner = importlib.import_module("benchmarks.runner")
        sys.exit(runner.main(as_json=as_json, only=only))


def cli_main() -> None:
    """Entry point of the `crossdock` console script."""
    FlaskGroup(create_app=create_app, add_version_option=False, load_dotenv=False)(prog_name="crossdock")


if __name__ == "__main__":
    cli_main()
