"""Portal routes: parse the request, call one core query or service, render."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from datetime import timedelta
from functools import wraps
from typing import Any
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    send_file,
    session,
    url_for,
)
from flask_login import current_user, login_user, logout_user

from core.customers import queries as customer_queries
from core.customers import services as customer_services
from core.db import begin_write, utcnow
from core.errors import DomainError, NotFound
from core.fulfillment import dropship
from core.fulfillment import queries as fulfillment_queries
from core.fulfillment.calendar import holidays_from_env
from core.notifications import services as notification_services
from core.orders import actions as order_actions
from core.orders import queries as order_queries
from core.orders.models import Order
from core.pagination import id_from_text
from core.privacy import export as privacy_export
from core.privacy import services as privacy_services
from core.returns import queries as return_queries
from core.returns import services as return_services
from core.returns.photos import save_return_photo
from core.returns.queries import ReturnDetail
from core.returns.reasons import offered_reasons
from core.security import accounts, ratelimit, signin
from core.security import sessions as auth_sessions
from core.security.guest import guest_token_order, make_guest_token, redeem_guest_code
from core.security.passwords import WrongPassword
from core.security.roles import Actor, Role
from core.security.services import authenticate
from core.security.signin import SignInLocked, wait_text
from core.security.tokens import InvalidToken, read_tracking_token, read_unsubscribe_token
from core.support import queries as support_queries
from core.support import services as support_services
from core.support.help_search import TOPICS_FOR_STAGE, search_help
from core.support.models import Conversation
from core.support.tokens import read_thread_token

bp = Blueprint("portal", __name__)


def wants_fragment() -> bool:
    """An htmx request for a fragment: not a boosted link or form, nor a history restore (those want the
    whole page, which htmx swaps into the body)."""
    return bool(request.htmx) and not request.htmx.boosted and not request.htmx.history_restore_request


GUEST_LOOKUP_WINDOW = timedelta(minutes=15)
RETURN_STATUSES = frozenset({"partially_shipped", "shipped", "delivered", "partially_returned", "returned"})
GUEST_LOOKUPS_PER_IP = 20
GUEST_LOOKUPS_PER_ORDER = 5
NEW_CONVERSATIONS_PER_IP = 20  # in 15 minutes: plenty for a person, a wall for a script


def customer_required(view: Callable[..., Any]) -> Callable[..., Any]:
    """Signed-in customers only: others are sent to sign in; staff accounts get 403 here."""

    @wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if not current_user.is_authenticated:
            return redirect(url_for("portal.login", next=request.full_path.rstrip("?")))
        if current_user.role != Role.CUSTOMER or current_user.customer_id is None:
            abort(403)
        return view(*args, **kwargs)

    return wrapped


def safe_next(target: str | None, default: str) -> str:
    """Only same-site relative paths are followed after sign-in (no open redirects)."""
    if not target:
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return default
    return target


@bp.get("/")
def home() -> Any:
    """Landing page; signed-in customers go straight to their orders."""
    if current_user.is_authenticated and current_user.role == Role.CUSTOMER:
        return redirect(url_for("portal.orders"))
    return render_template("portal/home.html")


@bp.route("/login", methods=["GET", "POST"])
def login() -> Any:
    """Customer sign-in (locked out for a while after repeated failures, per account and per IP)."""
    if request.method == "GET":
        return render_template("portal/login.html", error=None)
    email, password = request.form.get("email", "")[:254], request.form.get("password", "")
    ip, now, policy = request.remote_addr, utcnow(), current_app.config["SIGN_IN_POLICY"]
    _write()
    try:
        signin.admit_sign_in(g.db, email, ip, face="portal", policy=policy, now=now)
    except SignInLocked as exc:
        g.db.commit()
        return _too_many("portal/login.html", exc.retry_after, str(exc))
    g.db.commit()
    user = authenticate(g.db, email, password)  # argon2, slow on purpose: no write lock held meanwhile
    _write()
    if user is None or user.role != Role.CUSTOMER:
        reason = "not a customer account" if user is not None else "wrong email or password"
        signin.note_failed_sign_in(
            g.db, email, ip, user, face="portal", reason=reason, policy=policy, now=now
        )
        g.db.commit()
        return render_template(
            "portal/login.html", error="That email and password don't match an account."
        ), 401
    signin.password_accepted(g.db, email, user, password)
    if user.email_verified_at is None:
        g.db.commit()
        return render_template("portal/account/check_email.html", email=user.email, unverified=True), 403
    remember = bool(request.form.get("remember"))
    signin.complete_sign_in(
        g.db,
        user,
        remember=remember,
        two_factor=None,
        ip_address=ip,
        user_agent=request.headers.get("User-Agent", ""),
        face="portal",
        policy=current_app.config["SESSION_POLICY"],
        now=now,
    )
    g.db.commit()
    login_user(user, remember=remember)
    return redirect(safe_next(request.args.get("next"), url_for("portal.orders")), code=303)


def _write() -> None:
    """End the request's read-only transaction and start a writing one (the sign-in's short writes)."""
    g.db.rollback()
    begin_write(g.db)


def _too_many(template: str, retry_after: int, message: str | None = None, **context: Any) -> Any:
    """The form again with the refusal: 429 and a Retry-After header."""
    message = message or f"Too many attempts. Please wait {wait_text(retry_after)} and try again."
    return render_template(template, error=message, **context), 429, {"Retry-After": str(retry_after)}


def _limited(action: str, limit: int = 10) -> int:
    """Count one attempt of `action` from this IP; the seconds to wait when over the limit (15-minute
    window), else 0."""
    wait = ratelimit.hit_retry_after(
        g.db, f"{action}:ip:{request.remote_addr}", limit=limit, window=GUEST_LOOKUP_WINDOW, now=utcnow()
    )
    g.db.commit()
    return wait


@bp.route("/signup", methods=["GET", "POST"])
def signup() -> Any:
    """Create a customer account; orders with the same email are linked once the address is confirmed."""
    error, status = None, 200
    if request.method == "POST":
        if wait := _limited("signup"):
            return _too_many("portal/account/signup.html", wait)
        else:
            try:
                accounts.sign_up_customer(
                    g.db,
                    request.form.get("email", ""),
                    request.form.get("password", ""),
                    request.form.get("name", ""),
                    now=utcnow(),
                )
            except DomainError as exc:
                g.db.rollback()
                error, status = str(exc), 422
            else:
                g.db.commit()
                return render_template("portal/account/check_email.html", email=request.form.get("email", ""))
    return render_template("portal/account/signup.html", error=error), status


@bp.route("/verify/<token>", methods=["GET", "POST"])
def verify(token: str) -> Any:
    """The emailed confirmation link: the page asks to confirm (a mail scanner opening the link changes
    nothing); the button confirms the address once, links its orders from every channel and sends the
    customer to sign in. It never signs anyone in."""
    secret = current_app.config["SECRET_KEY"]
    try:
        if request.method == "GET":
            user = accounts.verification_account(g.db, secret, token)
            return render_template("portal/account/confirm_email.html", email=user.email)
        if wait := _limited("verify", limit=20):
            message = f"Too many attempts. Please wait {wait_text(wait)} and try again."
            return (
                render_template("portal/account/link_problem.html", message=message),
                429,
                {"Retry-After": str(wait)},
            )
        _write()
        _user, linked = accounts.verify_email(
            g.db, secret, token, now=utcnow(), ip_address=request.remote_addr
        )
    except InvalidToken as exc:
        return render_template("portal/account/link_problem.html", message=str(exc)), 400
    g.db.commit()
    flash(
        f"Your email is confirmed. {linked} order(s) from our shops are now in your account: "
        "sign in to see them."
    )
    return redirect(url_for("portal.login"), code=303)


@bp.post("/verify/resend")
def verify_resend() -> Any:
    """Send the confirmation link again."""
    if wait := _limited("verify-resend", limit=5):
        return _too_many("portal/account/check_email.html", wait, email=request.form.get("email", ""))
    accounts.resend_verification(g.db, request.form.get("email", ""), now=utcnow())
    g.db.commit()
    return render_template("portal/account/check_email.html", email=request.form.get("email", ""))


@bp.route("/password/forgot", methods=["GET", "POST"])
def password_forgot() -> Any:
    """Ask for a password-reset link (the answer is the same whether or not the account exists)."""
    if request.method == "POST":
        if wait := _limited("password-forgot", limit=5):
            return _too_many("portal/account/forgot.html", wait)
        accounts.request_password_reset(g.db, request.form.get("email", ""), now=utcnow())
        g.db.commit()
        return render_template(
            "portal/account/check_email.html", email=request.form.get("email", ""), reset=True
        )
    return render_template("portal/account/forgot.html", error=None)


@bp.route("/password/reset/<token>", methods=["GET", "POST"])
def password_reset(token: str) -> Any:
    """Choose a new password from an emailed link."""
    error, status = None, 200
    if request.method == "POST":
        if wait := _limited("password-reset", limit=10):
            return _too_many("portal/account/reset.html", wait)
        try:
            user = accounts.reset_password(
                g.db,
                current_app.config["SECRET_KEY"],
                token,
                request.form.get("password", ""),
                now=utcnow(),
                ip_address=request.remote_addr,
            )
        except InvalidToken as exc:
            return render_template("portal/account/link_problem.html", message=str(exc)), 400
        except DomainError as exc:
            g.db.rollback()
            error, status = str(exc), 422
        else:
            g.db.commit()
            flash("Your password is changed. Sign in with the new one.")
            staff = user.role != Role.CUSTOMER  # staff sign in at the console
            return redirect(url_for("console.login" if staff else "portal.login"), code=303)
    return render_template("portal/account/reset.html", error=error), status


@bp.post("/logout")
def logout() -> Any:
    """Sign out: this browser's server-side session ends, so a copy of its cookies no longer works."""
    if current_user.is_authenticated:
        signin.sign_out(g.db, current_user.get_id(), actor=_account_actor(), now=utcnow())
        g.db.commit()
    logout_user()
    session.clear()  # the chat stays with the account, not this browser
    flash("You are signed out.")
    return redirect(url_for("portal.home"), code=303)


@bp.get("/orders")
@customer_required
def orders() -> Any:
    """Every order from every channel, newest first."""
    search = request.args.get("q", "")[:100]
    page = order_queries.customer_orders(
        g.db,
        current_user.customer_id,
        after=request.args.get("after"),
        before=request.args.get("before"),
        search=search,
    )
    template = "portal/orders/_list.html" if wants_fragment() else "portal/orders/list.html"
    return render_template(template, page=page, search=search)


def _guest_order_ids() -> set[int]:
    """Orders this browser proved access to as a guest (tokens in the session, expired ones ignored)."""
    secret = current_app.config["SECRET_KEY"]
    return {oid for t in session.get("guest_orders", []) if (oid := guest_token_order(secret, t)) is not None}


def _viewer_customer_id() -> int | None:
    if current_user.is_authenticated and current_user.role == Role.CUSTOMER:
        return current_user.customer_id
    return None


def _viewable_order(number: str) -> Any:
    """The order for this viewer, or a sign-in redirect for strangers, or 404 for someone else's order."""
    guest_ids = _guest_order_ids()
    customer_id = _viewer_customer_id()
    if customer_id is None and not guest_ids:
        if current_user.is_authenticated:
            abort(403)
        return redirect(url_for("portal.login", next=request.path))
    try:
        return order_queries.order_for_viewer(
            g.db, number, customer_id=customer_id, guest_order_ids=guest_ids
        )
    except NotFound:
        abort(404)


@bp.get("/orders/<number>")
def order_detail(number: str) -> Any:
    """One order: lines, totals, addresses, shipments with checkpoints, estimates and its timeline."""
    order = _viewable_order(number)
    if not isinstance(order, Order):
        return order
    timeline = order_queries.customer_timeline(g.db, order)
    tracking = order_queries.order_tracking(g.db, order)
    help_links = support_queries.articles_for_topics(g.db, TOPICS_FOR_STAGE.get(tracking.stage, ()))
    cancel_request = order_actions.cancellation_request(g.db, order.id)
    return render_template(
        "portal/orders/detail.html",
        order=order,
        timeline=timeline,
        cancel_request=cancel_request,
        cancellation=order_actions.cancellation_state(order, cancel_request),
        tracking=tracking,
        help_links=help_links,
        conversations=support_queries.order_conversations(g.db, order.id),
        # Only an order that has left us can have returns: skip the query for the others.
        order_returns=return_queries.order_returns(g.db, order.id) if order.status in RETURN_STATUSES else [],
    )


@bp.get("/orders/<number>/status")
def order_status(number: str) -> Any:
    """The self-refreshing status widget of an order page (htmx polls it while the order is on its way)."""
    order = _viewable_order(number)
    if not isinstance(order, Order):
        return order
    tracking = order_queries.order_tracking(g.db, order)
    return render_template("portal/orders/_status.html", order=order, tracking=tracking)


def _customer_actor(order: Order) -> Actor:
    """The customer (or guest) acting on their own order, for the timeline and the audit log."""
    if _viewer_customer_id() is not None:
        return Actor(
            label=f"customer:{current_user.customer_id}",
            user_id=current_user.id,
            role="customer",
            ip_address=request.remote_addr,
        )
    return Actor(label=f"guest:{order.number}", role="customer", ip_address=request.remote_addr)


def _return_lines(form: Any, eligibility: Any) -> list[tuple[int, int]]:
    """(order line id, quantity) chosen in the form; quantities are whole numbers or the line is skipped."""
    chosen = []
    for line in eligibility.lines:
        raw = form.get(f"qty_{line.order_line_id}", "0").strip() or "0"
        if not raw.isdigit():
            raise DomainError(f"the quantity for {line.title} must be a whole number")
        if int(raw) > 0:
            chosen.append((line.order_line_id, int(raw)))
    return chosen


@bp.route("/orders/<number>/return", methods=["GET", "POST"])
def request_return(number: str) -> Any:
    """Choose lines, quantities, a reason and a resolution; or see why this order can't be returned."""
    order = _viewable_order(number)
    if not isinstance(order, Order):
        return order
    now = utcnow()
    eligibility = return_services.return_eligibility(g.db, order, now=now)
    error, status = None, 200
    if request.method == "POST" and eligibility.eligible:
        try:
            lines = _return_lines(request.form, eligibility)
            photo = request.files.get("photo")
            photo_path = save_return_photo(photo.read()) if photo and photo.filename else None
            begin_write(g.db)
            rma = return_services.request_return(
                g.db,
                order,
                lines,
                reason=request.form.get("reason", ""),
                reason_text=request.form.get("reason_text", ""),
                resolution=request.form.get("resolution", "refund"),
                exchange_sku_id=_int_or_none(request.form.get("exchange_sku")),
                photo_path=photo_path,
                actor=_customer_actor(order),
                now=now,
            )
        except DomainError as exc:
            g.db.rollback()
            error, status = str(exc), 422
        else:
            g.db.commit()
            return redirect(url_for("portal.return_detail", rma=rma.rma_number), code=303)
    return render_template(
        "portal/returns/request.html",
        order=order,
        eligibility=eligibility,
        error=error,
        reasons=offered_reasons(g.db),
        resolutions=return_services.RESOLUTIONS,
        exchange_options=return_queries.exchange_options(g.db, order),
    ), status


def _int_or_none(value: str | None) -> int | None:
    return id_from_text(value)


@bp.post("/orders/<number>/cancel")
def request_cancellation(number: str) -> Any:
    """Ask us to cancel an order that has not shipped yet (support picks it up at once)."""
    order = _viewable_order(number)
    if not isinstance(order, Order):
        return order
    try:
        support_services.request_cancellation(
            g.db, order, request.form.get("note", "")[:1000], actor=_customer_actor(order), now=utcnow()
        )
    except DomainError as exc:
        flash(str(exc), "error")
    else:
        g.db.commit()
        flash("We've asked our team to cancel this order. We'll email you as soon as it's done.")
    return redirect(url_for("portal.order_detail", number=order.number), code=303)


@bp.get("/returns")
@customer_required
def returns() -> Any:
    """My returns, newest first."""
    return render_template(
        "portal/returns/list.html", returns=return_queries.customer_returns(g.db, current_user.customer_id)
    )


def _viewable_return(rma: str) -> Any:
    customer_id = _viewer_customer_id()
    try:
        if customer_id is not None:
            return return_queries.customer_return(g.db, customer_id, rma)
        detail = return_queries.return_by_rma(g.db, rma)
    except NotFound:
        abort(404)
    if detail.order_id not in _guest_order_ids():
        if not current_user.is_authenticated:
            return redirect(url_for("portal.login", next=request.path))
        abort(404)
    return detail


@bp.get("/returns/<rma>")
def return_detail(rma: str) -> Any:
    """A return's progress, what to do next, and the slip."""
    detail = _viewable_return(rma)
    if not isinstance(detail, ReturnDetail):
        return detail
    return render_template("portal/returns/detail.html", rma=detail)


@bp.get("/returns/<rma>/slip")
def return_slip(rma: str) -> Any:
    """A printable return slip with the RMA number, the items and the instructions."""
    detail = _viewable_return(rma)
    if not isinstance(detail, ReturnDetail):
        return detail
    return render_template("portal/returns/slip.html", rma=detail)


@bp.route("/dropship/confirm/<token>", methods=["GET", "POST"])
def dropship_confirm(token: str) -> Any:
    """A drop-ship supplier confirms shipment with carrier and tracking number, through the signed link in
    the purchase order (no login)."""
    secret = current_app.config["SECRET_KEY"]
    now = utcnow()
    try:
        order_id, location_id = dropship.read_dropship_token(secret, token, now=now)
        slip = fulfillment_queries.packing_slip(g.db, order_id, location_id)
    except (dropship.InvalidLink, NotFound) as exc:
        return render_template("portal/account/link_problem.html", message=str(exc)), 400
    error, status, shipment = None, 200, None
    if request.method == "POST":
        try:
            begin_write(g.db)
            shipment = dropship.confirm_dropship_shipment(
                g.db,
                token,
                secret=secret,
                carrier=request.form.get("carrier", ""),
                tracking_number=request.form.get("tracking_number", ""),
                now=now,
                holidays=holidays_from_env(),
            )
        except DomainError as exc:
            g.db.rollback()
            error, status = str(exc), 422
        else:
            g.db.commit()
    return render_template("portal/dropship_confirm.html", slip=slip, error=error, shipment=shipment), status


@bp.route("/track-code", methods=["GET", "POST"])
def track_code() -> Any:
    """Guest access by a one-time code emailed to the order's address: ask for it, then enter it."""
    reference = (request.form.get("reference") or request.args.get("reference") or "")[:100].strip()
    error, status, sent = None, 200, False
    if request.method == "POST":
        now = utcnow()
        wait = max(
            _limited("guest-code", limit=GUEST_LOOKUPS_PER_IP),
            ratelimit.hit_retry_after(
                g.db,
                f"guest-code:ref:{reference.upper()}",
                limit=GUEST_LOOKUPS_PER_ORDER,
                window=GUEST_LOOKUP_WINDOW,
                now=now,
            ),
        )
        g.db.commit()
        if wait:
            return _too_many("portal/track_code.html", wait, reference=reference, sent=False)
        if request.form.get("code"):
            order = order_queries.find_order_by_reference(g.db, reference)
            secret = current_app.config["SECRET_KEY"]
            redeemed = order is not None and redeem_guest_code(
                g.db, secret, order.id, request.form["code"], now=now
            )
            g.db.commit()
            if redeemed:
                session["guest_orders"] = [
                    *session.get("guest_orders", [])[-4:],
                    make_guest_token(secret, order.id),
                ]
                return redirect(url_for("portal.order_detail", number=order.number), code=303)
            error, status, sent = (
                "That code isn't right or has expired. Check the email or ask for a new code.",
                400,
                True,
            )
        else:
            order = order_queries.find_order_by_reference(g.db, reference)
            if order is not None:
                notification_services.queue_guest_code(g.db, order, now=now)
            g.db.commit()
            sent = True
    return render_template("portal/track_code.html", reference=reference, error=error, sent=sent), status


@bp.get("/track/<token>")
def track_link(token: str) -> Any:
    """The tracking link in our emails: opens that one order, no sign-in needed."""
    secret = current_app.config["SECRET_KEY"]
    try:
        order_id = read_tracking_token(secret, token)
    except InvalidToken as exc:
        return render_template("portal/account/link_problem.html", message=str(exc)), 400
    order = g.db.get(Order, order_id)
    if order is None:
        abort(404)
    session["guest_orders"] = [*session.get("guest_orders", [])[-4:], make_guest_token(secret, order.id)]
    return redirect(url_for("portal.order_detail", number=order.number), code=303)


@bp.route("/unsubscribe/<token>", methods=["GET", "POST"])
def unsubscribe(token: str) -> Any:
    """Turn off one kind of optional email from the link in it (POST is the one-click unsubscribe)."""
    secret = current_app.config["SECRET_KEY"]
    if request.method == "GET":
        try:
            read_unsubscribe_token(secret, token)
        except InvalidToken as exc:
            return render_template("portal/account/link_problem.html", message=str(exc)), 400
        return render_template("portal/unsubscribe.html", done=False)
    try:
        _customer, kind = notification_services.unsubscribe_customer(g.db, secret, token, now=utcnow())
    except InvalidToken as exc:
        return render_template("portal/account/link_problem.html", message=str(exc)), 400
    g.db.commit()
    return render_template("portal/unsubscribe.html", done=True, label=OPTIONAL_EMAILS.get(kind, kind))


@bp.route("/track", methods=["GET", "POST"])
def track() -> Any:
    """Guest access to one order: its number (ours or the channel's) plus its email or shipping postcode."""
    error, status = None, 200
    if request.method == "POST":
        reference = request.form.get("reference", "")[:100].strip()
        proof = request.form.get("proof", "")[:200]
        now = utcnow()
        wait = max(
            ratelimit.hit_retry_after(
                g.db,
                f"guest-lookup:ip:{request.remote_addr}",
                limit=GUEST_LOOKUPS_PER_IP,
                window=GUEST_LOOKUP_WINDOW,
                now=now,
            ),
            ratelimit.hit_retry_after(
                g.db,
                f"guest-lookup:ref:{reference.upper()}",
                limit=GUEST_LOOKUPS_PER_ORDER,
                window=GUEST_LOOKUP_WINDOW,
                now=now,
            ),
        )
        g.db.commit()
        if wait:
            return _too_many("portal/track.html", wait)
        else:
            order = order_queries.find_order_for_guest(g.db, reference, proof)
            if order is not None:
                token = make_guest_token(current_app.config["SECRET_KEY"], order.id)
                session["guest_orders"] = [*session.get("guest_orders", [])[-4:], token]
                return redirect(url_for("portal.order_detail", number=order.number), code=303)
            error, status = (
                "We couldn't find an order with those details. Check the order number and try "
                "the email address or postcode the order was placed with.",
                404,
            )
    return render_template("portal/track.html", error=error), status


@bp.get("/help")
def help_index() -> Any:
    """Help-centre articles, searched as you type (typos tolerated)."""
    query = request.args.get("q", "")[:100]
    results = search_help(support_queries.help_docs(g.db), query) if query.strip() else None
    context = {"articles": support_queries.published_articles(g.db), "results": results, "query": query}
    if wants_fragment():
        return render_template("portal/help/_results.html", **context)
    return render_template("portal/help/index.html", **context)


@bp.get("/help/<slug>")
def help_article(slug: str) -> Any:
    """One help article."""
    try:
        article = support_queries.article_by_slug(g.db, slug)
    except NotFound:
        abort(404)
    return render_template("portal/help/article.html", article=article)


OPTIONAL_EMAILS = {
    "shipment_out_for_delivery": "Out for delivery today",
    "shipment_delivered": "Delivered, with the last day to return",
}


@bp.route("/account", methods=["GET", "POST"])
@customer_required
def account() -> Any:
    """Profile and email preferences."""
    customer = customer_queries.customer_record(g.db, current_user.customer_id)
    error = None
    if request.method == "POST":
        now = utcnow()
        try:
            customer_services.update_profile(
                g.db,
                customer.id,
                name=request.form.get("name", ""),
                phone=request.form.get("phone", ""),
                now=now,
            )
            opted_out = [kind for kind in OPTIONAL_EMAILS if not request.form.get(f"email_{kind}")]
            customer_services.set_email_opt_outs(
                g.db, customer.id, opted_out, optional=OPTIONAL_EMAILS, now=now
            )
        except DomainError as exc:
            g.db.rollback()
            error = str(exc)
        else:
            g.db.commit()
            flash("Your details are saved.")
            return redirect(url_for("portal.account"), code=303)
    opted_out = set((customer.notification_prefs or {}).get("email_opt_out", []))
    return render_template(
        "portal/account.html", customer=customer, optional=OPTIONAL_EMAILS, opted_out=opted_out, error=error
    ), (422 if error else 200)


def _account_actor() -> Actor:
    """The signed-in account acting on itself (sign-out, sessions), for the audit log."""
    return Actor(
        label=current_user.email,
        user_id=current_user.id,
        role=current_user.role,
        ip_address=request.remote_addr,
    )


@bp.get("/account/security")
@customer_required
def account_security() -> Any:
    """Where I'm signed in, with sign out everywhere; changing my password."""
    return _security_page()


def _security_page(error: str | None = None, status: int = 200) -> Any:
    record = g.get("auth_session")
    return render_template(
        "portal/account/security.html",
        sessions=auth_sessions.active_sessions(
            g.db, current_user, policy=current_app.config["SESSION_POLICY"], now=utcnow()
        ),
        current_session_id=record.id if record is not None else None,
        error=error,
    ), status


@bp.post("/account/password")
@customer_required
def account_change_password() -> Any:
    """Change my password (the current one again); my other sessions end. Wrong current passwords lock
    the form out for a while, with back-off."""
    now = utcnow()
    try:
        signin.admit_reauth(g.db, current_user.id, now=now)
        ended = accounts.change_password(
            g.db,
            current_user,
            request.form.get("password", ""),
            request.form.get("new_password", ""),
            keep_token=current_user.get_id(),
            actor=_account_actor(),
            now=now,
        )
    except SignInLocked as exc:
        page, status = _security_page(str(exc), 429)
        return page, status, {"Retry-After": str(exc.retry_after)}
    except WrongPassword as exc:
        g.db.rollback()
        signin.note_failed_reauth(g.db, current_user.id, policy=current_app.config["SIGN_IN_POLICY"], now=now)
        g.db.commit()
        return _security_page(str(exc), 422)
    except DomainError as exc:
        g.db.rollback()
        return _security_page(str(exc), 422)
    g.db.commit()
    flash(f"Your password is changed. {ended} other session{'s' if ended != 1 else ''} signed out.")
    return redirect(url_for("portal.account_security"), code=303)


@bp.post("/account/sessions/sign-out-everywhere")
@customer_required
def account_sign_out_everywhere() -> Any:
    """End every session of mine, this browser's too."""
    ended = signin.sign_out_everywhere(g.db, current_user, actor=_account_actor(), now=utcnow())
    g.db.commit()
    logout_user()
    session.clear()
    flash(f"Signed out everywhere ({ended} session{'s' if ended != 1 else ''} ended).")
    return redirect(url_for("portal.login"), code=303)


@bp.post("/account/sessions/<int:session_id>/end")
@customer_required
def account_end_session(session_id: int) -> Any:
    """End one of my other sessions."""
    if signin.sign_out_session(g.db, current_user, session_id, actor=_account_actor(), now=utcnow()):
        g.db.commit()
        flash("That session is signed out.")
    return redirect(url_for("portal.account_security"), code=303)


@bp.get("/account/data.json")
@customer_required
def account_export() -> Any:
    """Download everything we hold about me, as JSON (never cached: it is personal)."""
    data = privacy_export.customer_export(g.db, current_user.customer_id, now=utcnow())
    response = current_app.response_class(
        json.dumps(data, indent=2, ensure_ascii=False), mimetype="application/json"
    )
    response.headers["Content-Disposition"] = 'attachment; filename="my-crossdock-data.json"'
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.post("/account/delete")
@customer_required
def account_delete() -> Any:
    """Ask for the account and personal data to be erased: recorded for staff, who check nothing is still
    in progress (core.privacy.services says why it is not immediate)."""
    if request.form.get("confirm") != "yes":
        flash("Tick the box to confirm you want your account deleted.", "error")
        return redirect(url_for("portal.account"), code=303)
    privacy_services.request_erasure_by_customer(g.db, current_user.customer_id, now=utcnow())
    g.db.commit()
    flash("We've received your request to delete your account. We'll email you when it's done.")
    return redirect(url_for("portal.account"), code=303)


def _guest_conversation_ids() -> set[int]:
    """Conversations this browser opened from the link in our reply email."""
    return {cid for cid in session.get("guest_conversations", []) if isinstance(cid, int)}


def _support_viewer_allowed() -> Any:
    """None when this viewer can use support pages (a customer, or a guest holding an order or thread);
    otherwise the response to send: sign in, or 403 for staff."""
    if _viewer_customer_id() is not None or _guest_order_ids() or _guest_conversation_ids():
        return None
    if current_user.is_authenticated:
        abort(403)
    return redirect(url_for("portal.login", next=request.full_path.rstrip("?")))


def _viewable_conversation(conversation_id: int) -> Any:
    """The conversation for this viewer; 404 for anyone else's (whether or not it exists)."""
    refused = _support_viewer_allowed()
    if refused is not None:
        return refused
    try:
        return support_queries.conversation_for_viewer(
            g.db,
            conversation_id,
            customer_id=_viewer_customer_id(),
            guest_order_ids=_guest_order_ids(),
            guest_conversation_ids=_guest_conversation_ids(),
        )
    except NotFound:
        abort(404)


@bp.get("/support")
@customer_required
def support() -> Any:
    """The customer's conversations, and a form to start a new one."""
    conversations = support_queries.customer_conversations(g.db, current_user.customer_id)
    return render_template(
        "portal/support/index.html",
        conversations=conversations,
        orders=support_queries.customer_order_choices(g.db, current_user.customer_id),
        form={},
        error=None,
    )


def _new_conversation_order(number: str) -> Order | None:
    """The order a new conversation is about (None: a general question); 404 when it isn't the viewer's."""
    if not number:
        return None
    try:
        return order_queries.order_for_viewer(
            g.db, number, customer_id=_viewer_customer_id(), guest_order_ids=_guest_order_ids()
        )
    except NotFound:
        abort(404)


@bp.route("/support/new", methods=["GET", "POST"])
def support_new() -> Any:
    """Start a conversation about one of my orders or in general (a guest: about the order they proved)."""
    refused = _support_viewer_allowed()
    if refused is not None:
        return refused
    customer_id = _viewer_customer_id()
    form = request.form if request.method == "POST" else request.args
    order = _new_conversation_order(form.get("order", "").strip())
    if customer_id is None and order is None:
        if request.method == "GET" and not form.get("order"):
            return redirect(url_for("portal.track"))
        abort(404)
    error, status = None, 200
    if request.method == "POST" and _limited("support-new", limit=NEW_CONVERSATIONS_PER_IP):
        error, status = "You've started a lot of conversations. Please wait 15 minutes and try again.", 429
    elif request.method == "POST":
        try:
            conversation = support_services.open_conversation(
                g.db,
                customer_id=customer_id,
                order=order,
                subject=form.get("subject", ""),
                body=form.get("body", ""),
                source="portal",
                now=utcnow(),
            )
        except DomainError as exc:
            g.db.rollback()
            error, status = str(exc), 422
        else:
            g.db.commit()
            return redirect(url_for("portal.support_thread", conversation_id=conversation.id), code=303)
    orders = support_queries.customer_order_choices(g.db, customer_id) if customer_id is not None else []
    context = {"orders": orders, "order": order, "form": form, "error": error}
    if wants_fragment():
        return render_template("portal/support/_new_form.html", **context), status
    return render_template("portal/support/new.html", **context), status


@bp.get("/support/<int:conversation_id>")
def support_thread(conversation_id: int) -> Any:
    """One conversation as a thread (our replies included, internal notes never), with a reply box."""
    conversation = _viewable_conversation(conversation_id)
    if not isinstance(conversation, Conversation):
        return conversation
    thread = support_queries.customer_thread(g.db, conversation)
    template = "portal/support/_thread.html" if wants_fragment() else "portal/support/thread.html"
    return render_template(template, thread=thread, error=None, body="")


@bp.post("/support/<int:conversation_id>/messages")
def support_reply(conversation_id: int) -> Any:
    """The customer answers in the thread; a pending or solved conversation comes back to our team."""
    conversation = _viewable_conversation(conversation_id)
    if not isinstance(conversation, Conversation):
        return conversation
    body = request.form.get("body", "")
    try:
        support_services.add_customer_message(g.db, conversation.id, body, now=utcnow())
    except DomainError as exc:
        g.db.rollback()
        thread = support_queries.customer_thread(g.db, conversation)
        template = "portal/support/_thread.html" if wants_fragment() else "portal/support/thread.html"
        return render_template(template, thread=thread, error=str(exc), body=body[:10_000]), 422
    g.db.commit()
    if wants_fragment():
        thread = support_queries.customer_thread(g.db, conversation)
        return render_template("portal/support/_thread.html", thread=thread, error=None, body="")
    return redirect(url_for("portal.support_thread", conversation_id=conversation.id), code=303)


@bp.get("/support/c/<token>")
def support_link(token: str) -> Any:
    """The link in our reply email: opens that one conversation, no sign-in needed."""
    conversation_id = read_thread_token(current_app.config["SECRET_KEY"], token)
    if conversation_id is None:
        return render_template(
            "portal/account/link_problem.html", message="this link is not valid or has expired"
        ), 400
    session["guest_conversations"] = [*session.get("guest_conversations", [])[-9:], conversation_id]
    return redirect(url_for("portal.support_thread", conversation_id=conversation_id), code=303)


@bp.get("/support/<int:conversation_id>/attachments/<int:attachment_id>")
def support_attachment(conversation_id: int, attachment_id: int) -> Any:
    """A file that came with a message in my conversation, as a download."""
    conversation = _viewable_conversation(conversation_id)
    if not isinstance(conversation, Conversation):
        return conversation
    try:
        attachment = support_queries.attachment_for_viewer(g.db, attachment_id, conversation)
    except NotFound:
        abort(404)
    response = send_file(
        io.BytesIO(attachment.content),
        mimetype=attachment.content_type,
        as_attachment=True,
        download_name=attachment.filename,
    )
    # A customer's file: never sniffed into something else, never run as a page even if opened inline.
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = "sandbox"
    return response
