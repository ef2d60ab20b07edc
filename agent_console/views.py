"""Console routes: parse the request, call one core query or service, commit, render."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, abort, current_app, flash, g, redirect, render_template, request, url_for
from flask_login import login_user, logout_user

from agent_console.auth import current_actor, require_staff, role_required
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
from core.security.roles import Role, is_staff
from core.security.services import authenticate, record_sign_in
from core.support import queries as support_queries

bp = Blueprint("console", __name__)


def wants_fragment() -> bool:
    """An htmx request for a fragment: not a boosted link or form, nor a history restore (those want the
    whole page, which htmx swaps into the body)."""
    return bool(request.htmx) and not request.htmx.boosted and not request.htmx.history_restore_request


bp.before_request(require_staff)


def _safe_next(target: str | None) -> str:
    default = url_for("console.dashboard")
    if not target or not target.startswith("/") or target.startswith("//") or urlsplit(target).netloc:
        return default
    return target


def _render(template: str, fragment: str, **context: Any) -> str:
    """The full page, or only its fragment for an htmx request (same markup either way)."""
    return render_template(fragment if wants_fragment() else template, **context)


@bp.route("/login", methods=["GET", "POST"])
def login() -> Any:
    """Staff sign-in."""
    error = None
    if request.method == "POST":
        password = request.form.get("password", "")
        user = authenticate(g.db, request.form.get("email", ""), password)
        if user is not None and is_staff(user.role):
            user_id = user.id
            g.db.rollback()  # the check only read: the sign-in's write goes in its own short transaction
            begin_write(g.db)
            user = record_sign_in(g.db, user_id, password, now=utcnow())
            g.db.commit()
            login_user(user)
            return redirect(_safe_next(request.args.get("next")), code=303)
        error = "That email and password don't match a staff account."
    return render_template("console/login.html", error=error), (401 if error else 200)


@bp.post("/logout")
def logout() -> Any:
    """Sign out."""
    logout_user()
    return redirect(url_for("console.login"), code=303)


@bp.get("/")
def dashboard() -> Any:
    """The agent's start page: work waiting, by queue."""
    return render_template("console/dashboard.html", summary=support_queries.console_summary(g.db))


@bp.get("/customers/<int:customer_id>")
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
    return render_template(
        "console/customers/detail.html", profile=profile, merges=merges, timeline_step=step
    )


@bp.post("/customers/<int:customer_id>/notes")
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
def intake_payload(payload_id: int) -> Any:
    """One inbound payload: headers, raw body, processing result."""
    payload = g.db.get(InboundPayload, payload_id)
    if payload is None:
        abort(404)
    return render_template("console/intake/payload.html", payload=payload)


@bp.post("/intake/listings")
@role_required(Role.MANAGER)
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
def stock_list() -> Any:
    """Every SKU with its stock summed over locations; searchable."""
    search = request.args.get("q", "")[:100]
    page = inventory_queries.sku_stock_list(g.db, search=search, page=clamp_page(request.args.get("page")))
    return _render("console/stock/list.html", "console/stock/_list.html", page=page, search=search)


@bp.get("/stock/<sku_code>")
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
def sent_mail() -> Any:
    """What the system sent on this database (its folder of the demo's catcher) and the emails that failed."""
    maildir = current_app.config.get("MAIL_DIR")
    caught = list_caught_mail(maildir, limit=100) if maildir else []
    failed = notification_services.outbox_messages(g.db, status="failed", limit=100)
    counts = notification_services.outbox_counts(g.db)
    return render_template("console/mail/index.html", caught=caught, failed=failed, counts=counts)


@bp.get("/mail/<name>")
def sent_mail_message(name: str) -> Any:
    """One caught email: headers, the text part, and the HTML part in a sandboxed frame."""
    try:
        mail = read_caught_mail(current_app.config.get("MAIL_DIR"), name)
    except (NotFound, TypeError):
        abort(404)
    return render_template("console/mail/message.html", mail=mail)


@bp.post("/outbox/<int:message_id>/retry")
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


@bp.get("/analytics")
@role_required(Role.MANAGER)
def analytics() -> Any:
    """Manager dashboard: orders and tickets per channel."""
    return render_template("console/analytics.html", kpis=order_queries.channel_kpis(g.db, now=utcnow()))
