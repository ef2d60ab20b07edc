"""SLA settings for managers and admins, on the `console` blueprint: business hours and time zone, holidays,
the targets of each priority, and sales channels' overrides. Each form posts to its own route, which calls
one core service (validated, audited), commits and redirects; a refused form comes back with its error and
what was typed."""

from __future__ import annotations

from typing import Any

from flask import abort, flash, g, redirect, render_template, request, url_for

from agent_console.auth import current_actor, permission_required
from agent_console.views import bp
from core.db import utcnow
from core.errors import DomainError, NotFound
from core.security.permissions import Permission as P
from core.support import sla_settings


def _page(section: str | None = None, error: str | None = None, status: int = 200) -> Any:
    """The settings page; `section` names the form that was refused (it keeps what was typed)."""
    return render_template(
        "console/admin/sla.html",
        settings=sla_settings.sla_settings(g.db),
        section=section,
        error=error,
        form=request.form if section else {},
    ), status


def _saved(message: str) -> Any:
    g.db.commit()
    flash(message)
    return redirect(url_for("console.admin_sla"), code=303)


@bp.get("/admin/sla")
@permission_required(P.MANAGE_SETTINGS)
def admin_sla() -> Any:
    """Business hours, holidays, SLA targets per priority and channel overrides."""
    return _page()


@bp.post("/admin/sla/hours")
@permission_required(P.MANAGE_SETTINGS)
def admin_sla_hours() -> Any:
    """Save the time zone and the weekly opening hours."""
    form = request.form
    week = {
        d: (form.get(f"opens_{d}", ""), form.get(f"closes_{d}", ""))
        for d in range(7)
        if form.get(f"open_{d}") == "on"
    }
    try:
        sla_settings.save_business_hours(
            g.db, form.get("timezone", ""), week, actor=current_actor(), now=utcnow()
        )
    except DomainError as exc:
        g.db.rollback()
        return _page("hours", str(exc), 422)
    return _saved("Business hours saved.")


@bp.post("/admin/sla/holidays")
@permission_required(P.MANAGE_SETTINGS)
def admin_sla_holiday_add() -> Any:
    """Add a holiday (a date the business is closed)."""
    try:
        holiday = sla_settings.add_holiday(
            g.db,
            request.form.get("day", ""),
            request.form.get("name", ""),
            actor=current_actor(),
            now=utcnow(),
        )
    except DomainError as exc:
        g.db.rollback()
        return _page("holiday", str(exc), 422)
    return _saved(f"{holiday.day.isoformat()} is a holiday.")


@bp.post("/admin/sla/holidays/<day>/delete")
@permission_required(P.MANAGE_SETTINGS)
def admin_sla_holiday_remove(day: str) -> Any:
    """Remove a holiday."""
    try:
        sla_settings.remove_holiday(g.db, day, actor=current_actor(), now=utcnow())
    except NotFound:
        abort(404)
    return _saved(f"{day} is a working day again.")


@bp.post("/admin/sla/policies")
@permission_required(P.MANAGE_SETTINGS)
def admin_sla_policies() -> Any:
    """Save the first-response and resolution targets of every priority."""
    form = request.form
    policies = {
        p: (form.get(f"first_{p}", ""), form.get(f"resolution_{p}", ""), form.get(f"clock_{p}") == "on")
        for p in sla_settings.PRIORITIES
    }
    try:
        sla_settings.save_sla_policies(g.db, policies, actor=current_actor(), now=utcnow())
    except DomainError as exc:
        g.db.rollback()
        return _page("policies", str(exc), 422)
    return _saved("SLA targets saved.")


@bp.post("/admin/sla/overrides")
@permission_required(P.MANAGE_SETTINGS)
def admin_sla_override_set() -> Any:
    """Add or replace a sales channel's override."""
    form = request.form
    try:
        sla_settings.save_channel_override(
            g.db,
            form.get("channel", ""),
            form.get("first", ""),
            form.get("resolution", ""),
            form.get("round_the_clock") == "on",
            actor=current_actor(),
            now=utcnow(),
        )
    except DomainError as exc:
        g.db.rollback()
        return _page("override", str(exc), 422)
    return _saved("Channel override saved.")


@bp.post("/admin/sla/overrides/<code>/delete")
@permission_required(P.MANAGE_SETTINGS)
def admin_sla_override_remove(code: str) -> Any:
    """Remove a channel's override."""
    try:
        sla_settings.remove_channel_override(g.db, code, actor=current_actor(), now=utcnow())
    except NotFound:
        abort(404)
    return _saved("Channel override removed.")
