"""Admin pages: the merchant's channels (add one, its webhook address and secret, its settings) and the staff
(invite, change role, deactivate, send a password reset); the invitation's landing page."""

from __future__ import annotations

from typing import Any

from flask import abort, current_app, flash, g, redirect, render_template, request, url_for

from agent_console.auth import current_actor, permission_required
from agent_console.views import bp, wants_fragment
from core.channels.registry import ADAPTERS
from core.configuration import channels as channel_setup
from core.configuration import secrets as channel_secrets
from core.configuration.connection import ConnectionResult, check_connection
from core.configuration.sync_log import channel_sync_log
from core.db import utcnow
from core.errors import DomainError, NotFound
from core.security import permissions, staff
from core.security import queries as security_queries
from core.security.permissions import Permission as P
from core.security.tokens import InvalidToken

NUMBERS = ("return_window_days", "stock_buffer_units", "stock_buffer_percent", "stock_floor")
FLAGS = ("active", "returns_handled_by_channel")
TEXTS = ("name", "sender_name", "base_url", "return_instructions")


def _webhook_url(code: str) -> str:
    """Where the channel posts its orders: the public address (PORTAL_BASE_URL), not the one staff use."""
    path = url_for("webhooks.order_webhook", channel_code=code)
    return current_app.config["PORTAL_BASE_URL"].rstrip("/") + path


def _list_page(form: dict[str, Any], error: str | None, status: int = 200) -> Any:
    return render_template(
        "console/admin/channels.html",
        channels=channel_setup.channel_summaries(g.db),
        kinds=sorted(ADAPTERS),
        locations=channel_setup.location_choices(g.db),
        form=form,
        error=error,
    ), status


@bp.get("/admin/channels")
@permission_required(P.MANAGE_CHANNELS)
def admin_channels() -> Any:
    """Every channel, and the form to add one."""
    return _list_page({}, None)


@bp.post("/admin/channels")
@permission_required(P.MANAGE_CHANNELS)
def admin_channel_add() -> Any:
    """Add a channel of a registered kind (audited); its page then shows where to send webhooks."""
    form = request.form
    try:
        channel = channel_setup.add_channel(
            g.db,
            form.get("code", ""),
            kind=form.get("kind", ""),
            name=form.get("name", ""),
            base_url=form.get("base_url") or None,
            location_codes=form.getlist("locations"),
            actor=current_actor(),
            now=utcnow(),
        )
    except DomainError as exc:
        g.db.rollback()
        return _list_page({**form.to_dict(), "locations": form.getlist("locations")}, str(exc), 422)
    g.db.commit()
    flash(f"Channel {channel.code} added.")
    return redirect(url_for("console.admin_channel", code=channel.code), code=303)


@bp.get("/admin/channels/<code>")
@permission_required(P.MANAGE_CHANNELS)
def admin_channel(code: str) -> Any:
    """One channel: webhook address and secret, settings, locations served."""
    return _channel_page(code, None)


def _channel_page(
    code: str,
    error: str | None,
    status: int = 200,
    *,
    form: dict[str, Any] | None = None,
    credentials_error: str | None = None,
    connection: ConnectionResult | None = None,
    secret_error: str | None = None,
    typed_secret: str = "",
) -> Any:
    try:
        channel = channel_setup.channel_settings(g.db, code)
    except NotFound:
        abort(404)
    takes_webhooks = getattr(ADAPTERS.get(channel.kind), "WEBHOOK", None) is not None
    stored = channel.credentials or {}
    return render_template(
        "console/admin/channel.html",
        channel=channel,
        served=set(form.get("locations", [])) if form else {loc.code for loc in channel.locations},
        locations=channel_setup.location_choices(g.db),
        webhook_url=_webhook_url(channel.code) if takes_webhooks else None,
        error=error,
        form=form,
        credentials=[
            (name, name in channel_secrets.SECRET_FIELDS, stored.get(name))
            for name in channel_secrets.credential_fields(channel.kind)
        ],
        credentials_error=credentials_error,
        can_test=channel.kind in channel_secrets.CREDENTIAL_FIELDS,
        connection=connection,
        secret_error=secret_error,
        typed_secret=typed_secret,
        sync=channel_sync_log(g.db, channel),
    ), status


@bp.post("/admin/channels/<code>")
@permission_required(P.MANAGE_CHANNELS)
def admin_channel_change(code: str) -> Any:
    """Save a channel's settings and locations (audited; only what changed is recorded)."""
    form = request.form
    changes: dict[str, Any] = {field: form.get(field, "") for field in TEXTS}
    changes |= {field: form.get(field) == "on" for field in FLAGS}
    try:
        for field in NUMBERS:
            value = form.get(field, "").strip()
            if not value.isdigit():
                raise DomainError(f"{field.replace('_', ' ')} must be a whole number")
            changes[field] = int(value)
        channel_setup.change_channel(
            g.db, code, changes, location_codes=form.getlist("locations"), actor=current_actor(), now=utcnow()
        )
    except NotFound:
        abort(404)
    except DomainError as exc:
        g.db.rollback()
        typed = {**form.to_dict(), "locations": form.getlist("locations")}
        typed |= {field: form.get(field) == "on" for field in FLAGS}
        return _channel_page(code, str(exc), 422, form=typed)
    g.db.commit()
    flash("Channel settings saved.")
    return redirect(url_for("console.admin_channel", code=code.strip().lower()), code=303)


@bp.post("/admin/channels/<code>/credentials")
@permission_required(P.MANAGE_CHANNELS)
def admin_channel_credentials(code: str) -> Any:
    """Enter or clear a channel's credentials (stored encrypted; audited by name, never by value)."""
    form = request.form
    try:
        channel = channel_setup.channel_settings(g.db, code)
        names = channel_secrets.credential_fields(channel.kind)
        channel_secrets.set_channel_credentials(
            g.db,
            code,
            {name: form.get(f"credential_{name}", "") for name in names},
            clear=frozenset(form.getlist("clear")),
            actor=current_actor(),
            now=utcnow(),
        )
    except NotFound:
        abort(404)
    except DomainError as exc:
        g.db.rollback()
        return _channel_page(code, None, 422, credentials_error=str(exc))
    g.db.commit()
    flash("Credentials saved.")
    return redirect(url_for("console.admin_channel", code=channel.code, _anchor="credentials"), code=303)


@bp.post("/admin/channels/<code>/webhook-secret")
@permission_required(P.MANAGE_CHANNELS)
def admin_channel_webhook_secret(code: str) -> Any:
    """Replace the webhook signing secret: the channel's own (pasted) or a new random one (audited)."""
    given = request.form.get("webhook_secret", "").strip()
    secret = given if request.form.get("action") != "generate" else channel_setup.new_webhook_secret()
    try:
        channel_setup.change_channel(
            g.db, code, {"webhook_secret": secret}, actor=current_actor(), now=utcnow()
        )
    except NotFound:
        abort(404)
    except DomainError as exc:
        g.db.rollback()
        return _channel_page(code, None, 422, secret_error=str(exc), typed_secret=given)
    g.db.commit()
    flash("Webhook secret replaced: give the channel the new one.")
    return redirect(url_for("console.admin_channel", code=code.strip().lower(), _anchor="webhook"), code=303)


@bp.post("/admin/channels/<code>/test")
@permission_required(P.MANAGE_CHANNELS)
def admin_channel_test(code: str) -> Any:
    """Test the connection: one real request to the channel's API with its credentials, and its answer."""
    try:
        channel = channel_setup.channel_settings(g.db, code)
    except NotFound:
        abort(404)
    result = check_connection(channel.kind, channel.base_url, dict(channel.credentials or {}))
    if wants_fragment():
        return render_template("console/admin/_connection.html", connection=result, channel=channel)
    return _channel_page(code, None, connection=result)


# --- staff --------------------------------------------------------------------------------------------


def _users_page(form: dict[str, Any], error: str | None, status: int = 200) -> Any:
    return render_template(
        "console/admin/users.html",
        users=security_queries.staff_users(g.db),
        roles=permissions.staff_role_names(g.db),
        form=form,
        error=error,
    ), status


@bp.get("/admin/users")
@permission_required(P.MANAGE_USERS)
def admin_users() -> Any:
    """Staff accounts, their roles and state, and the form to invite someone."""
    return _users_page({}, None)


@bp.post("/admin/users")
@permission_required(P.MANAGE_USERS)
def admin_user_invite() -> Any:
    """Invite a staff member by email (a single-use link to choose a password; audited)."""
    form = request.form
    try:
        user = staff.invite_staff(
            g.db,
            form.get("email", ""),
            form.get("name", ""),
            form.get("role", ""),
            actor=current_actor(),
            now=utcnow(),
        )
    except DomainError as exc:
        g.db.rollback()
        return _users_page(form.to_dict(), str(exc), 422)
    g.db.commit()
    flash(f"Invitation sent to {user.email}.")
    return redirect(url_for("console.admin_users"), code=303)


@bp.post("/admin/users/<int:user_id>")
@permission_required(P.MANAGE_USERS)
def admin_user_change(user_id: int) -> Any:
    """One change to a staff account: role, deactivate/reactivate, password reset, invitation again."""
    action, actor, now = request.form.get("action", ""), current_actor(), utcnow()
    try:
        if action == "role":
            user = staff.change_staff_role(g.db, user_id, request.form.get("role", ""), actor=actor, now=now)
            message = f"{user.email} is now {user.role}."
        elif action in ("deactivate", "reactivate"):
            user = staff.set_staff_active(g.db, user_id, action == "reactivate", actor=actor, now=now)
            message = f"{user.email} is {'active' if user.active else 'deactivated and signed out'}."
        elif action == "reset":
            user = staff.send_staff_password_reset(g.db, user_id, actor=actor, now=now)
            message = f"A password-reset link is on its way to {user.email}."
        elif action == "resend":
            user = staff.resend_invite(g.db, user_id, actor=actor, now=now)
            message = f"Invitation sent again to {user.email}."
        else:
            abort(400)
    except NotFound:
        abort(404)
    except DomainError as exc:
        g.db.rollback()
        return _users_page({}, str(exc), 422)
    g.db.commit()
    flash(message)
    return redirect(url_for("console.admin_users"), code=303)


@bp.route("/invite/<token>", methods=["GET", "POST"])
def accept_invite(token: str) -> Any:
    """The invitation link: choose a password, then sign in."""
    error, status = None, 200
    if request.method == "POST":
        try:
            staff.accept_invite(
                g.db,
                current_app.config["SECRET_KEY"],
                token,
                request.form.get("password", ""),
                now=utcnow(),
                ip_address=request.remote_addr,
            )
        except InvalidToken as exc:
            return render_template("console/admin/invite.html", problem=str(exc), error=None), 400
        except DomainError as exc:
            g.db.rollback()
            error, status = str(exc), 422
        else:
            g.db.commit()
            flash("Your password is set. Sign in to start.")
            return redirect(url_for("console.login"), code=303)
    return render_template("console/admin/invite.html", problem=None, error=error), status
