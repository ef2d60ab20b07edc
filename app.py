"""The composition root: `create_app` wires the database, sign-in, CSRF, the three faces and the `crossdock`
commands (cli/, also reachable as `flask --app app ...`)."""

from __future__ import annotations

import os
import sqlite3
from datetime import timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from flask import Flask, Response, abort, g, redirect, render_template, request, url_for
from flask_login import AnonymousUserMixin, LoginManager
from flask_wtf.csrf import CSRFError, CSRFProtect
from htmx_flask import Htmx
from sqlalchemy.exc import DBAPIError, DisconnectionError
from werkzeug.exceptions import HTTPException

from cli import register_commands
from core.db import (
    default_database_url,
    is_database_busy,
    is_database_unavailable,
    make_engine,
    make_session_factory,
    utcnow,
)
from core.money import format_money
from core.notifications.catcher import mail_dir_for
from core.security.models import User
from core.security.tokens import load_secret_key
from core.system.queries import health_report

PROJECT_ROOT = Path(__file__).resolve().parent


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
        INBOUND_EMAIL_SECRET=os.environ.get("INBOUND_EMAIL_SECRET"),
        MAIL_DIR=None,  # where the demo's SMTP catcher keeps this database's mail (default: mail_dir_for)
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
    if app.config["MAIL_DIR"] is None:
        app.config["MAIL_DIR"] = mail_dir_for(factory.kw["bind"].engine.url)

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
    503: (
        "Busy right now",
        "We are handling a lot at the moment. Nothing was changed: please try again in a few seconds.",
    ),
}


SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
FORM_TYPES = frozenset({"application/x-www-form-urlencoded", "multipart/form-data"})
# POSTs that read without the write lock and put their small write in a transaction of its own: sign-in
# checks a password (argon2, slow on purpose) that no other writer should wait for; a ticket's presence
# heartbeat skips its write rather than answer 503 when the lock can't be had.
OWN_WRITE_TRANSACTIONS = frozenset({"portal.login", "console.login", "console.ticket_presence"})
BUSY_RETRY_AFTER_SECONDS = 5


def _init_errors(app: Flask) -> None:
    def busy(exc: DBAPIError | DisconnectionError | sqlite3.OperationalError) -> Any:
        # SQLite's write lock stayed taken past the busy timeout, or the database can't be reached (PostgreSQL
        # restarting): say so and when to come back, no traceback. Nothing was written: the transaction did
        # not commit. The pool drops broken connections, so the next request reconnects by itself.
        unavailable = is_database_unavailable(exc)
        if not (unavailable or is_database_busy(exc)):
            raise exc
        what = "unavailable" if unavailable else "busy"
        app.logger.warning("database %s: answered 503 to %s %s", what, request.method, request.path)
        headers = {"Retry-After": str(BUSY_RETRY_AFTER_SECONDS)}
        if request.path.startswith("/api/"):
            return {"error": f"the database is {what}; retry shortly"}, 503, headers
        g._login_user = (
            AnonymousUserMixin()
        )  # the error page must not load the signed-in user from the database
        title, message = ERROR_TEXT[503]
        return render_template("errors.html", code=503, title=title, message=message), 503, headers

    app.register_error_handler(DBAPIError, busy)
    app.register_error_handler(DisconnectionError, busy)
    app.register_error_handler(sqlite3.OperationalError, busy)  # from the BEGIN core.db sends itself

    def handle(exc: HTTPException) -> Any:
        if request.path.startswith("/api/"):
            return {"error": exc.description or exc.name}, exc.code
        title, message = ERROR_TEXT.get(exc.code or 500, (exc.name, exc.description))
        if exc.code == 400 and exc.description != type(exc).description:
            message = exc.description  # a 400 we raised says exactly what was wrong
        if isinstance(exc, CSRFError):
            message = (
                "This form has expired or was not sent from our site. Go back, reload the page and try again."
            )
        return render_template("errors.html", code=exc.code, title=title, message=message), exc.code

    for code in ERROR_TEXT:
        app.register_error_handler(code, handle)


def healthz() -> tuple[dict[str, Any], int]:
    """Database reachable and writable, migrations current, worker heartbeat age, outbox backlog; 503 when
    not ready."""
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

    # A request that may write takes SQLite's write lock with its first statement (loading the signed-in
    # user), in every transaction it begins: a read transaction that later writes fails at once when another
    # writer got there first, where one that asks for the lock up front waits its turn (the busy timeout).
    writer_bind = factory.kw["bind"].execution_options(sqlite_immediate=True)

    @app.before_request
    def open_session() -> None:
        reads_first = request.method in SAFE_METHODS or request.endpoint in OWN_WRITE_TRANSACTIONS
        g.db = factory() if reads_first else factory(bind=writer_bind)

    @app.before_request
    def refuse_nul_characters() -> None:
        """No text column takes a NUL character (PostgreSQL refuses one): a query string or form carrying
        one is answered 400 rather than failing at the database with a 500. (It runs after the session opens:
        the error page reads the signed-in user.)"""
        sources = (request.args, request.form) if request.mimetype in FORM_TYPES else (request.args,)
        if any("\x00" in value for source in sources for _, values in source.lists() for value in values):
            abort(400, description="a NUL character is not allowed in a form or address")

    @app.teardown_request
    def close_session(_exc: BaseException | None) -> None:
        session = g.pop("db", None)
        if session is not None:
            try:
                session.rollback()
            except DBAPIError as error:
                # The database went away after the answer was made (a restart cut the connection): the pool
                # has discarded the connection, and the answer stands.
                if not is_database_unavailable(error):
                    raise
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
