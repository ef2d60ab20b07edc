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
from sqlalchemy.exc import DBAPIError, DisconnectionError, OperationalError
from werkzeug.exceptions import HTTPException, InternalServerError

from cli import register_commands
from core.db import (
    begin_write,
    default_database_url,
    is_database_busy,
    is_database_unavailable,
    make_engine,
    make_session_factory,
    utcnow,
)
from core.money import format_money
from core.notifications.catcher import mail_dir_for
from core.security import sessions as auth_sessions
from core.security.encryption import EncryptionKeyMissing, UndecryptableSecret
from core.security.models import User
from core.security.signin import SignInPolicy
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
        REMEMBER_COOKIE_NAME="remember_token",
        # Remember-me (customers only): the cookie's and the server-side session's lifetime.
        REMEMBER_COOKIE_DURATION=timedelta(days=_env_int("REMEMBER_ME_DAYS", 14)),
        # Server-side sessions end after this long without a request.
        STAFF_SESSION_IDLE_MINUTES=_env_int("STAFF_SESSION_IDLE_MINUTES", 30),
        CUSTOMER_SESSION_IDLE_MINUTES=_env_int("CUSTOMER_SESSION_IDLE_MINUTES", 120),
        # Staff roles that must sign in with an authenticator code (an admin can require it of all staff).
        TWO_FACTOR_ROLES=_env_list("TWO_FACTOR_ROLES", "manager,admin"),
        SIGN_IN_POLICY=SignInPolicy(),
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
    500: ("Something went wrong", "Something failed on our side and nothing was changed. Please try again."),
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
        if is_api_request():
            return {"error": f"the database is {what}; retry shortly"}, 503, headers
        # The error page must not read the signed-in user from the database.
        g._login_user = AnonymousUserMixin()
        title, message = ERROR_TEXT[503]
        return render_template("errors.html", code=503, title=title, message=message), 503, headers

    app.register_error_handler(DBAPIError, busy)
    app.register_error_handler(DisconnectionError, busy)
    app.register_error_handler(sqlite3.OperationalError, busy)  # from the BEGIN core.db sends itself

    def secrets_unreadable(exc: EncryptionKeyMissing | UndecryptableSecret) -> Any:
        # Channel secrets can't be read or stored without the right key: an operator's fix, said in the log
        # and to staff; a channel's webhook gets a 503 and sends again later.
        app.logger.error("channel secrets: %s", exc)
        if request.path.startswith("/api/"):
            return {"error": "channel secrets can't be read on this server now; retry later"}, 503
        title, message = ERROR_TEXT[503]
        if request.blueprint == "console":
            message = str(exc)
        return render_template("errors.html", code=503, title=title, message=message), 503

    app.register_error_handler(EncryptionKeyMissing, secrets_unreadable)
    app.register_error_handler(UndecryptableSecret, secrets_unreadable)

    def handle(exc: HTTPException) -> Any:
        if exc.code is None:
            return exc
        if is_api_request():
            return {"error": exc.description or exc.name}, exc.code, _allow_header(exc)
        title, message = ERROR_TEXT.get(exc.code, (exc.name, exc.description))
        if exc.code == 400 and exc.description != type(exc).description:
            message = exc.description  # a 400 we raised says exactly what was wrong
        if isinstance(exc, CSRFError):
            message = (
                "This form has expired or was not sent from our site. Go back, reload the page and try again."
            )
        return (
            render_template("errors.html", code=exc.code, title=title, message=message),
            exc.code,
            (_allow_header(exc)),
        )

    app.register_error_handler(HTTPException, handle)

    def internal_error(exc: InternalServerError) -> Any:
        # Reached when an exception escapes a view (outside tests, which let it propagate): no traceback
        # to the client, JSON under /api, our error page elsewhere; the log has the traceback.
        if is_api_request():
            return {"error": "internal error; nothing was changed"}, 500
        title, message = ERROR_TEXT[500]
        return render_template("errors.html", code=500, title=title, message=message), 500

    app.register_error_handler(InternalServerError, internal_error)


def is_api_request() -> bool:
    """Whether this request is for the machine API (its errors are JSON, whatever went wrong)."""
    return request.path == "/api" or request.path.startswith("/api/")


def _allow_header(exc: HTTPException) -> dict[str, str]:
    """The Allow header a 405 carries (kept when the answer is our own page or JSON)."""
    allow = getattr(exc, "valid_methods", None)
    return {"Allow": ", ".join(allow)} if allow else {}


def healthz() -> tuple[dict[str, Any], int]:
    """Database reachable and writable, migrations current, worker heartbeat age, outbox backlog; 503 when
    not ready."""
    report = health_report(g.db, now=utcnow())
    return report, (200 if report["ok"] else 503)


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name, "").strip()
    return int(value) if value.isdigit() and int(value) > 0 else default


def _env_list(name: str, default: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in os.environ.get(name, default).split(",") if part.strip())


def _init_login(app: Flask) -> None:
    """flask-login over server-side sessions: both cookies carry the session's random token (User.get_id),
    the loader finds the live session row; signing out deletes the row, so a copied cookie stops working."""
    if "REMEMBER_COOKIE_SECURE" not in app.config:
        app.config["REMEMBER_COOKIE_SECURE"] = app.config["SESSION_COOKIE_SECURE"]
    app.config["SESSION_POLICY"] = auth_sessions.SessionPolicy(
        staff_idle=timedelta(minutes=app.config["STAFF_SESSION_IDLE_MINUTES"]),
        customer_idle=timedelta(minutes=app.config["CUSTOMER_SESSION_IDLE_MINUTES"]),
        remember=app.config["REMEMBER_COOKIE_DURATION"],
    )
    login = LoginManager(app)
    login.session_protection = "strong"

    @login.user_loader
    def load_user(token: str) -> User | None:
        resumed = auth_sessions.resume_session(g.db, token, policy=app.config["SESSION_POLICY"], now=utcnow())
        if resumed is None:
            return None
        g.auth_session = resumed.record
        if resumed.needs_touch:
            g.auth_session_touch = token
        return resumed.user

    @app.after_request
    def touch_auth_session(response: Response) -> Response:
        # last_seen_at, written at most once a minute in a short transaction of its own after the request's
        # work (a GET holds no write lock for it; the request's own transaction has ended).
        token = g.pop("auth_session_touch", None)
        if token and "db" in g:
            try:
                g.db.rollback()
                begin_write(g.db)
                auth_sessions.touch_session(g.db, token, now=utcnow())
                g.db.commit()
            except OperationalError as exc:  # busy: the next request notes it instead
                g.db.rollback()
                app.logger.warning("session last-seen not updated: %s", exc)
        return response

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
        add_security_headers(response)
        return response


# No inline script, no plug-ins, no framing, forms post only here. Styles come from our stylesheet only;
# the one exception is the console's view of a caught email, whose HTML part (with the style attributes
# every email client needs) is shown in a sandboxed frame that runs no script.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; object-src 'none';"
    " base-uri 'self'; frame-ancestors 'none'; form-action 'self'"
)
INLINE_STYLE_ENDPOINTS = frozenset({"console.sent_mail_message"})
HSTS = "max-age=31536000; includeSubDomains"
# Pages anyone may cache: the stylesheet, scripts and the API description. Every other answer may carry a
# signed-in person's data (or a guest's order, or a form's CSRF token) and is not stored by any cache.
CACHEABLE_ENDPOINTS = frozenset({"static", "api.openapi", "healthz"})


def add_security_headers(response: Response) -> None:
    """The headers every answer carries (HTML, JSON, files, errors); a directive a view adds (sandbox)
    is kept beside ours."""
    headers = response.headers
    policy = CONTENT_SECURITY_POLICY
    if request.endpoint in INLINE_STYLE_ENDPOINTS:
        policy = policy.replace("style-src 'self'", "style-src 'self' 'unsafe-inline'")
    own = headers.get("Content-Security-Policy")  # e.g. "sandbox" on a customer's file
    headers["Content-Security-Policy"] = (
        f"{policy}; {own}" if own and "default-src" not in own else own or policy
    )
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("Referrer-Policy", "same-origin")
    if request.is_secure:
        headers.setdefault("Strict-Transport-Security", HSTS)
    if request.endpoint not in CACHEABLE_ENDPOINTS:
        headers["Cache-Control"] = "no-store"
        headers.pop("Expires", None)


def _init_templates(app: Flask) -> None:
    app.jinja_env.filters["money"] = format_money
    app.jinja_env.globals["display_tz"] = app.config["DISPLAY_TZ"]
    app.jinja_env.globals["returns_address"] = app.config["RETURNS_ADDRESS"]

    zone = ZoneInfo(app.config["DISPLAY_TZ"])

    def local_time(value: Any, fmt: str = "%d %b %Y %H:%M") -> str:
        return "" if value is None else value.astimezone(zone).strftime(fmt)

    app.jinja_env.filters["local"] = local_time
