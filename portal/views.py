"""Portal routes: parse the request, call one core query or service, render."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for
from flask_login import current_user, login_user, logout_user

from core.db import utcnow
from core.errors import NotFound
from core.orders import queries as order_queries
from core.pagination import clamp_page
from core.security.roles import Role
from core.security.services import authenticate
from core.support import queries as support_queries

bp = Blueprint("portal", __name__)


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
    """Customer sign-in."""
    error = None
    if request.method == "POST":
        user = authenticate(
            g.db, request.form.get("email", ""), request.form.get("password", ""), now=utcnow()
        )
        if user is not None and user.role == Role.CUSTOMER:
            g.db.commit()
            login_user(user, remember=bool(request.form.get("remember")))
            return redirect(safe_next(request.args.get("next"), url_for("portal.orders")), code=303)
        error = "That email and password don't match an account."
    return render_template("portal/login.html", error=error), (401 if error else 200)


@bp.post("/logout")
def logout() -> Any:
    """Sign out."""
    logout_user()
    flash("You are signed out.")
    return redirect(url_for("portal.home"), code=303)


@bp.get("/orders")
@customer_required
def orders() -> Any:
    """Every order from every channel, newest first."""
    search = request.args.get("q", "")[:100]
    page = order_queries.customer_orders(
        g.db, current_user.customer_id, page=clamp_page(request.args.get("page")), search=search
    )
    template = "portal/orders/_list.html" if request.headers.get("HX-Request") else "portal/orders/list.html"
    return render_template(template, page=page, search=search)


@bp.get("/orders/<number>")
@customer_required
def order_detail(number: str) -> Any:
    """One order: lines, totals, addresses, shipments and its timeline."""
    try:
        order = order_queries.customer_order(g.db, current_user.customer_id, number)
    except NotFound:
        abort(404)
    timeline = order_queries.customer_timeline(g.db, order)
    return render_template("portal/orders/detail.html", order=order, timeline=timeline)


@bp.get("/help")
def help_index() -> Any:
    """Help-centre articles."""
    return render_template("portal/help/index.html", articles=support_queries.published_articles(g.db))


@bp.get("/help/<slug>")
def help_article(slug: str) -> Any:
    """One help article."""
    try:
        article = support_queries.article_by_slug(g.db, slug)
    except NotFound:
        abort(404)
    return render_template("portal/help/article.html", article=article)


@bp.get("/support")
@customer_required
def support() -> Any:
    """The customer's support conversations."""
    conversations = support_queries.customer_conversations(g.db, current_user.customer_id)
    return render_template("portal/support/index.html", conversations=conversations)
