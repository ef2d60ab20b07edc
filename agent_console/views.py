"""Console routes: parse the request, call one core query or service, commit, render."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    g,
    make_response,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_login import current_user, login_user, logout_user

from agent_console.auth import can, current_actor, permission_required, require_staff
from core.analytics import export as analytics_export
from core.analytics import queries as analytics_queries
from core.analytics import rules as analytics_rules
from core.customers import queries as customer_queries
from core.customers import services as customer_services
from core.db import begin_write, utcnow
from core.errors import DomainError, NotFound
from core.inventory import queries as inventory_queries
from core.notifications import services as notification_services
from core.notifications.catcher import list_caught_mail, read_caught_mail
from core.orders import intake
from core.orders import queries as order_queries
from core.orders.models import InboundPayload
from core.pagination import clamp_page, id_from_text
from core.privacy import queries as privacy_queries
from core.security import signin, twofactor
from core.security.models import User
from core.security.permissions import Permission as P
from core.security.roles import is_staff
from core.security.services import authenticate
from core.security.signin import SignInLocked
from core.security.twofactor import InvalidCode
from core.support import queries as support_queries

bp = Blueprint("console", __name__)


def wants_fragment() -> bool:
    """An htmx request for a fragment: not a boosted link or form, nor a history restore (those want the
    whole page, which htmx swaps into the body)."""
    return bool(request.htmx) and not request.htmx.boosted and not request.htmx.history_restore_request


bp.before_request(require_staff)
# `has_permission('orders.refund')` in templates: show only what the signed-in role may use.
bp.add_app_template_global(can, "has_permission")


def _safe_next(target: str | None) -> str:
    default = url_for("console.dashboard")
    if not target or not target.startswith("/") or target.startswith("//") or urlsplit(target).netloc:
        return default
    return target


def _render(template: str, fragment: str, **context: Any) -> str:
    """The full page, or only its fragment for an htmx request (same markup either way)."""
    return render_template(fragment if wants_fragment() else template, **context)


PENDING_SECOND_STEP = "console_second_step"
SECOND_STEP_SECONDS = 300  # the password step is good for five minutes while the code is asked for


@bp.route("/login", methods=["GET", "POST"])
def login() -> Any:
    """Staff sign-in: email and password, then the authenticator's code when two-factor sign-in is on."""
    pending = _pending_second_step()
    if request.method == "GET":
        if request.args.get("restart"):
            session.pop(PENDING_SECOND_STEP, None)
            pending = None
        return _login_page(pending)
    if pending is not None and "code" in request.form:
        return _second_step(pending)
    session.pop(PENDING_SECOND_STEP, None)
    return _password_step()


def _login_page(pending: dict[str, Any] | None, error: str | None = None, status: int = 200) -> Any:
    return render_template("console/login.html", error=error, second_step=pending is not None), status


def _locked(exc: SignInLocked, pending: dict[str, Any] | None = None) -> Any:
    page, status = _login_page(pending, str(exc), 429)
    return page, status, {"Retry-After": str(exc.retry_after)}


def _write() -> None:
    """End the read-only transaction and start a writing one (the sign-in's short writes)."""
    g.db.rollback()
    begin_write(g.db)


def _password_step() -> Any:
    email, password = request.form.get("email", "")[:254], request.form.get("password", "")
    ip, now, policy = request.remote_addr, utcnow(), current_app.config["SIGN_IN_POLICY"]
    _write()
    try:
        signin.admit_sign_in(g.db, email, ip, face="console", policy=policy, now=now)
    except SignInLocked as exc:
        g.db.commit()
        return _locked(exc)
    g.db.commit()
    user = authenticate(g.db, email, password)  # argon2, slow on purpose: no write lock held meanwhile
    _write()
    if user is None or not is_staff(user.role):
        reason = "not staff" if user is not None else "wrong email or password"
        signin.note_failed_sign_in(
            g.db, email, ip, user, face="console", reason=reason, policy=policy, now=now
        )
        g.db.commit()
        return _login_page(None, "That email and password don't match a staff account.", 401)
    signin.password_accepted(g.db, email, user, password)
    if twofactor.has_two_factor(g.db, user.id):
        g.db.commit()
        session[PENDING_SECOND_STEP] = {
            "user": user.id,
            "version": user.session_version,
            "at": int(now.timestamp()),
            "next": request.args.get("next", "")[:500],
        }
        return redirect(url_for("console.login"), code=303)
    return _signed_in(user, None, request.args.get("next"))


def _pending_second_step() -> dict[str, Any] | None:
    """The password step passed in this browser less than five minutes ago, waiting for the code."""
    pending = session.get(PENDING_SECOND_STEP)
    if not isinstance(pending, dict) or not isinstance(pending.get("at"), int):
        return None
    if utcnow().timestamp() - pending["at"] > SECOND_STEP_SECONDS:
        session.pop(PENDING_SECOND_STEP, None)
        return None
    return pending


def _second_step(pending: dict[str, Any]) -> Any:
    ip, now, policy = request.remote_addr, utcnow(), current_app.config["SIGN_IN_POLICY"]
    _write()
    user = g.db.get(User, pending.get("user"))
    if user is None or not user.active or user.session_version != pending.get("version"):
        session.pop(PENDING_SECOND_STEP, None)
        return _login_page(None, "Please sign in again.", 401)
    try:
        signin.admit_second_step(g.db, user.id, ip, policy=policy, now=now)
    except SignInLocked as exc:
        g.db.commit()
        return _locked(exc, pending)
    code = request.form.get("code", "")[:40]
    try:
        method = twofactor.verify_second_factor(
            g.db, user, code, actor=signin.visitor(user.email, ip, user), now=now
        )
    except InvalidCode as exc:  # nothing was written by the check: count the failure
        locked = signin.note_failed_second_step(g.db, user, ip, reason=str(exc), policy=policy, now=now)
        g.db.commit()
        if locked:
            return _locked(SignInLocked(locked), pending)
        return _login_page(pending, str(exc)[:1].upper() + str(exc)[1:] + ".", 401)
    signin.second_step_accepted(g.db, user.id)
    session.pop(PENDING_SECOND_STEP, None)
    if method == "recovery":
        flash(
            f"You signed in with a recovery code: {twofactor.unused_recovery_codes(g.db, user.id)} left. "
            "Make new ones on your security page if you are running low."
        )
    return _signed_in(user, method, pending.get("next"))


def _signed_in(user: User, two_factor: str | None, next_path: str | None) -> Any:
    """Start the server-side session (in the open write transaction), commit, set the cookie, go on."""
    signin.complete_sign_in(
        g.db,
        user,
        remember=False,  # staff sessions end when idle; the console offers no remember-me
        two_factor=two_factor,
        ip_address=request.remote_addr,
        user_agent=request.headers.get("User-Agent", ""),
        face="console",
        policy=current_app.config["SESSION_POLICY"],
        now=utcnow(),
    )
    g.db.commit()
    login_user(user, remember=False)
    return redirect(_safe_next(next_path), code=303)


@bp.post("/logout")
def logout() -> Any:
    """Sign out: this browser's server-side session ends, so a copy of its cookie no longer works."""
    if current_user.is_authenticated:
        signin.sign_out(g.db, current_user.get_id(), actor=current_actor(), now=utcnow())
        g.db.commit()
    logout_user()
    session.clear()
    return redirect(url_for("console.login"), code=303)


@bp.get("/")
@permission_required()
def dashboard() -> Any:
    """The agent's start page: work waiting, by queue."""
    return render_template("console/dashboard.html", summary=support_queries.console_summary(g.db))


@bp.get("/customers/<int:customer_id>")
@permission_required(P.VIEW_CUSTOMERS)
def customer_detail(customer_id: int) -> Any:
    """The customer 360: identities per channel, every order's timeline, CRM notes, conversations, KPIs,
    merges in and out; `?orders=N` shows the latest N orders (more than the default 50)."""
    shown = request.args.get("orders", "")
    step = customer_queries.TIMELINE_ORDERS
    try:
        profile = customer_queries.customer_profile(
            g.db, customer_id, recent_orders=id_from_text(shown) or step
        )
    except NotFound:
        abort(404)
    merges = customer_queries.customer_merges(g.db, customer_id)
    privacy_requests = privacy_queries.customer_privacy_requests(g.db, customer_id)
    return render_template(
        "console/customers/detail.html",
        profile=profile,
        merges=merges,
        timeline_step=step,
        privacy_requests=privacy_requests,
    )


@bp.post("/customers/<int:customer_id>/notes")
@permission_required(P.VIEW_CUSTOMERS, P.WRITE_NOTES)
def add_customer_note(customer_id: int) -> Any:
    """Add a CRM note to a customer (audited)."""
    try:
        note = customer_services.add_crm_note(
            g.db, customer_id, request.form.get("body", ""), actor=current_actor(), now=utcnow()
        )
    except NotFound:
        abort(404)
    except DomainError as exc:
        if wants_fragment():
            return render_template(
                "console/customers/_note_form.html", customer_id=customer_id, error=str(exc)
            ), 422
        flash(str(exc), "error")
        return redirect(url_for("console.customer_detail", customer_id=customer_id), code=303)
    g.db.commit()
    if wants_fragment():
        return render_template("console/customers/_note.html", note=note, fresh=True)
    return redirect(url_for("console.customer_detail", customer_id=customer_id), code=303)


@bp.get("/intake")
@permission_required(P.VIEW_INTAKE)
def intake_overview() -> Any:
    """Orders on hold with their reasons, and inbound payloads by processing status."""
    status = request.args.get("status") or None
    payloads = order_queries.inbound_payloads(
        g.db, status=status, after=request.args.get("after"), before=request.args.get("before")
    )
    return _render(
        "console/intake/index.html",
        "console/intake/_payloads.html",
        held=order_queries.held_orders(g.db),
        payloads=payloads,
        counts=order_queries.payload_status_counts(g.db),
        status=status,
    )


@bp.get("/intake/payloads/<int:payload_id>")
@permission_required(P.VIEW_INTAKE)
def intake_payload(payload_id: int) -> Any:
    """One inbound payload: headers, raw body, processing result."""
    payload = g.db.get(InboundPayload, payload_id)
    if payload is None:
        abort(404)
    return render_template("console/intake/payload.html", payload=payload)


@bp.post("/intake/listings")
@permission_required(P.MANAGE_INTAKE)
def intake_map_sku() -> Any:
    """Map a channel SKU to one of ours; orders held for it are released (audited)."""
    try:
        channel_id = int(request.form.get("channel_id", ""))
        released = intake.map_channel_sku(
            g.db,
            channel_id,
            request.form.get("channel_sku", ""),
            request.form.get("sku", "").strip(),
            actor=current_actor(),
            now=utcnow(),
        )
    except ValueError:
        flash("Choose a channel.", "error")
    except DomainError as exc:
        flash(str(exc), "error")
    else:
        g.db.commit()
        flash(f"Mapped. {len(released)} order(s) released from hold.")
    return redirect(url_for("console.intake_overview"), code=303)


@bp.get("/stock")
@permission_required(P.VIEW_STOCK)
def stock_list() -> Any:
    """Every SKU with its stock summed over locations; searchable."""
    search = request.args.get("q", "")[:100]
    page = inventory_queries.sku_stock_list(g.db, search=search, page=clamp_page(request.args.get("page")))
    return _render("console/stock/list.html", "console/stock/_list.html", page=page, search=search)


@bp.get("/stock/<sku_code>")
@permission_required(P.VIEW_STOCK)
def stock_detail(sku_code: str) -> Any:
    """One SKU: stock per location, available to sell per channel (with the formula), the ledger."""
    try:
        sku = inventory_queries.sku_by_code(g.db, sku_code)
    except NotFound:
        abort(404)
    return render_template(
        "console/stock/detail.html",
        stock=inventory_queries.stock_by_sku(g.db, sku.id),
        ledger=inventory_queries.ledger_for_sku(g.db, sku.id, limit=100),
    )


@bp.get("/mail")
@permission_required(P.VIEW_MAIL)
def sent_mail() -> Any:
    """What the system sent on this database (its folder of the demo's catcher) and the emails that failed."""
    maildir = current_app.config.get("MAIL_DIR")
    caught = list_caught_mail(maildir, limit=100) if maildir else []
    failed = notification_services.outbox_messages(g.db, status="failed", limit=100)
    counts = notification_services.outbox_counts(g.db)
    return render_template("console/mail/index.html", caught=caught, failed=failed, counts=counts)


@bp.get("/mail/<name>")
@permission_required(P.VIEW_MAIL)
def sent_mail_message(name: str) -> Any:
    """One caught email: headers, the text part, and the HTML part in a sandboxed frame."""
    try:
        mail = read_caught_mail(current_app.config.get("MAIL_DIR"), name)
    except (NotFound, TypeError):
        abort(404)
    return render_template("console/mail/message.html", mail=mail)


@bp.post("/outbox/<int:message_id>/retry")
@permission_required(P.RETRY_MAIL)
def outbox_retry(message_id: int) -> Any:
    """Queue a failed email again."""
    now = utcnow()
    try:
        message = notification_services.retry_outbox_message(g.db, message_id, actor=current_actor(), now=now)
    except NotFound:
        abort(404)
    except DomainError as exc:
        flash(str(exc), "error")
    else:
        g.db.commit()
        flash(f"The {message.kind.replace('_', ' ')} email to {message.recipient} will be sent again.")
    return redirect(url_for("console.sent_mail"), code=303)


def _analytics_filters() -> tuple[analytics_queries.Filters, str | None]:
    """The dashboard's filters from the query string, or the default period with the reason it was refused."""
    today = utcnow().date()
    error = None
    try:
        period = analytics_rules.parse_period(request.args.get("start"), request.args.get("end"), today=today)
    except analytics_rules.BadPeriod as exc:
        period, error = analytics_rules.default_period(today), str(exc)
    return analytics_queries.resolve_filters(g.db, period, request.args.get("channel", "")), error


@bp.get("/analytics")
@permission_required(P.VIEW_ANALYTICS)
def analytics() -> Any:
    """Manager dashboard: issue trends and alerts, service, returns and channel KPIs for a period and
    channel."""
    filters, error = _analytics_filters()
    board = analytics_queries.dashboard(g.db, filters, now=utcnow())
    context = {
        "board": board,
        "error": error,
        "kpi_definitions": analytics_rules.KPI_DEFINITIONS,
        "alert_rule": analytics_rules.ALERT_RULE,
    }
    response = make_response(
        _render("console/analytics.html", "console/_analytics.html", **context), 400 if error else 200
    )
    response.vary.add("HX-Request")
    return response


@bp.get("/analytics/<key>.csv")
@permission_required(P.VIEW_ANALYTICS)
def analytics_csv(key: str) -> Any:
    """One dashboard table as CSV, for the same filters."""
    filters, error = _analytics_filters()
    if error:
        abort(400, error)
    table = analytics_queries.export_table(g.db, filters, key, now=utcnow())
    if table is None:
        abort(404)
    period = filters.period
    channel = f"-{filters.channel_code}" if filters.channel_code else ""
    filename = f"{key}-{period.start}-{period.end}{channel}.csv"
    return Response(
        analytics_export.table_csv(table),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
