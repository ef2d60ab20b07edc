"""Set-up pages beside channels and staff: the stock locations (admins: add one; its kind, fulfilment method,
regions, priority, address and business hours), return reasons and each channel's return policy, and the
customer emails' texts (managers: subject, intro and outro per kind, previewed from a sample order)."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from flask import abort, current_app, flash, g, redirect, render_template, request, url_for

from agent_console.auth import current_actor, permission_required
from agent_console.views import bp
from core.configuration import channels as channel_setup
from core.configuration import email_texts as texts_setup
from core.configuration import locations as location_setup
from core.configuration import return_reasons as reason_setup
from core.configuration.email_preview import preview_email
from core.db import utcnow
from core.errors import DomainError, NotFound
from core.inventory.locations import LOCATION_KINDS
from core.security.permissions import Permission as P

DAY_NAMES = dict(
    zip(
        location_setup.WEEKDAYS,
        ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"),
        strict=True,
    )
)


def _regions(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def _whole(form: Any, field: str, label: str) -> int:
    value = form.get(field, "").strip()
    if not value.isdigit():
        raise DomainError(f"{label} must be a whole number")
    return int(value)


@bp.get("/admin/locations")
@permission_required(P.MANAGE_CHANNELS)
def admin_locations() -> Any:
    """Every location, and the form to add one."""
    return _locations_page({}, None)


def _locations_page(form: dict[str, Any], error: str | None, status: int = 200) -> Any:
    return render_template(
        "console/admin/locations.html",
        locations=location_setup.locations_list(g.db),
        kinds=list(LOCATION_KINDS),
        form=form,
        error=error,
    ), status


@bp.post("/admin/locations")
@permission_required(P.MANAGE_CHANNELS)
def admin_location_add() -> Any:
    """Add a location (audited); its page then takes the address and business hours."""
    form = request.form
    try:
        location = location_setup.create_location(
            g.db,
            form.get("code", ""),
            name=form.get("name", ""),
            kind=form.get("kind", ""),
            regions=_regions(form.get("regions", "")),
            priority=_whole(form, "priority", "priority"),
            email=form.get("email", "").strip() or None,
            actor=current_actor(),
            now=utcnow(),
        )
    except DomainError as exc:
        g.db.rollback()
        return _locations_page(form.to_dict(), str(exc), 422)
    g.db.commit()
    flash(f"Location {location.code} added.")
    return redirect(url_for("console.admin_location", code=location.code), code=303)


@bp.get("/admin/locations/<code>")
@permission_required(P.MANAGE_CHANNELS)
def admin_location(code: str) -> Any:
    """One location's settings."""
    return _location_page(code, None, None)


def _location_page(code: str, form: dict[str, Any] | None, error: str | None, status: int = 200) -> Any:
    try:
        location = location_setup.location_settings(g.db, code)
    except NotFound:
        abort(404)
    return render_template(
        "console/admin/location.html",
        location=location,
        hours=location_setup.location_hours(location),
        kinds=list(LOCATION_KINDS),
        methods=location_setup.FULFILLMENT_METHODS,
        days=DAY_NAMES,
        form=form,
        error=error,
    ), status


@bp.post("/admin/locations/<code>")
@permission_required(P.MANAGE_CHANNELS)
def admin_location_change(code: str) -> Any:
    """Save a location's settings, address and business hours (audited; only what changed is recorded)."""
    form = request.form
    try:
        changes = {
            "name": form.get("name", ""),
            "kind": form.get("kind", ""),
            "fulfillment_method": form.get("fulfillment_method", ""),
            "regions": _regions(form.get("regions", "")),
            "priority": _whole(form, "priority", "priority"),
            "email": form.get("email", ""),
            "active": form.get("active") == "on",
            "address": {key: form.get(f"address_{key}", "") for key in location_setup.ADDRESS_FIELDS},
            "hours": {
                day: (form.get(f"{day}_opens", ""), form.get(f"{day}_closes", ""))
                for day in location_setup.WEEKDAYS
                if form.get(f"{day}_open") == "on"
            },
        }
        location = location_setup.change_location(g.db, code, changes, actor=current_actor(), now=utcnow())
    except NotFound:
        abort(404)
    except DomainError as exc:
        g.db.rollback()
        return _location_page(code, form.to_dict(), str(exc), 422)
    g.db.commit()
    flash("Location saved.")
    return redirect(url_for("console.admin_location", code=location.code), code=303)


# --- email texts --------------------------------------------------------------------------------------


@bp.get("/admin/emails")
@permission_required(P.MANAGE_SETTINGS)
def admin_emails() -> Any:
    """The customer emails whose texts can be changed, and which are changed."""
    return render_template("console/admin/emails.html", kinds=texts_setup.email_text_list(g.db))


def _email_page(kind: str, form: dict[str, Any] | None, error: str | None, status: int = 200) -> Any:
    try:
        texts = texts_setup.email_texts(g.db, kind)
    except DomainError:
        abort(404)
    preview = preview_email(
        g.db,
        kind,
        portal_base_url=current_app.config["PORTAL_BASE_URL"],
        secret=current_app.config["SECRET_KEY"],
        now=utcnow(),
        tz=ZoneInfo(current_app.config["DISPLAY_TZ"]),
    )
    return render_template(
        "console/admin/email.html",
        texts=texts,
        form=form,
        error=error,
        preview=preview,
        previewing=bool(form),
    ), status


@bp.get("/admin/emails/<kind>")
@permission_required(P.MANAGE_SETTINGS)
def admin_email(kind: str) -> Any:
    """One email's texts beside a preview rendered from a sample order."""
    return _email_page(kind, None, None)


@bp.post("/admin/emails/<kind>")
@permission_required(P.MANAGE_SETTINGS)
def admin_email_change(kind: str) -> Any:
    """Save the texts (audited), or preview them unsaved: applied, rendered, then rolled back."""
    form = request.form
    try:
        texts_setup.set_email_texts(
            g.db,
            kind,
            subject=form.get("subject", ""),
            intro=form.get("intro", ""),
            outro=form.get("outro", ""),
            actor=current_actor(),
            now=utcnow(),
        )
    except DomainError as exc:
        g.db.rollback()
        if kind not in texts_setup.DEFAULT_SUBJECTS:
            abort(404)
        return _email_page(kind, form.to_dict(), str(exc), 422)
    if form.get("action") == "preview":
        page = _email_page(kind, form.to_dict(), None)
        g.db.rollback()
        return page
    g.db.commit()
    flash("Email texts saved.")
    return redirect(url_for("console.admin_email", kind=kind), code=303)


# --- returns ------------------------------------------------------------------------------------------


def _returns_page(
    add_form: dict[str, Any], error: str | None, status: int = 200, *, typed: dict[str, Any] | None = None
) -> Any:
    return render_template(
        "console/admin/returns.html",
        reasons=reason_setup.return_reason_rows(g.db),
        channels=channel_setup.channel_summaries(g.db),
        add_form=add_form,
        typed=typed or {},
        error=error,
    ), status


@bp.get("/admin/returns")
@permission_required(P.MANAGE_SETTINGS)
def admin_returns() -> Any:
    """Return reasons (add, reword, reorder, retire) and each channel's return policy."""
    return _returns_page({}, None)


@bp.post("/admin/returns/reasons")
@permission_required(P.MANAGE_SETTINGS)
def admin_return_reason_add() -> Any:
    """Add a return reason at the end of the list (audited)."""
    try:
        reason = reason_setup.add_return_reason(
            g.db, request.form.get("label", ""), actor=current_actor(), now=utcnow()
        )
    except DomainError as exc:
        g.db.rollback()
        return _returns_page(request.form.to_dict(), str(exc), 422)
    g.db.commit()
    flash(f"Return reason “{reason.label}” added.")
    return redirect(url_for("console.admin_returns"), code=303)


@bp.post("/admin/returns/reasons/<code>")
@permission_required(P.MANAGE_SETTINGS)
def admin_return_reason_change(code: str) -> Any:
    """Reword, reorder, retire or offer again one return reason (audited)."""
    form = request.form
    try:
        reason_setup.change_return_reason(
            g.db,
            code,
            label=form.get("label", ""),
            active=form.get("active") == "on",
            position=_whole(form, "position", "the position"),
            actor=current_actor(),
            now=utcnow(),
        )
    except NotFound:
        abort(404)
    except DomainError as exc:
        g.db.rollback()
        return _returns_page({}, str(exc), 422, typed={code: form.to_dict()})
    g.db.commit()
    flash("Return reason saved.")
    return redirect(url_for("console.admin_returns"), code=303)
