"""Admin pages for staff roles: the built-in ones (read only) and custom ones admins define, each a set of
permissions and a refund limit, on the `console` blueprint."""

from __future__ import annotations

from typing import Any

from flask import abort, flash, g, redirect, render_template, request, url_for

from agent_console.auth import current_actor, permission_required
from agent_console.views import bp
from core.db import utcnow
from core.errors import DomainError, NotFound
from core.security import permissions
from core.security.permissions import PERMISSION_LABELS
from core.security.permissions import Permission as P


def _form_values() -> dict[str, Any]:
    form = request.form
    return {
        "name": form.get("name", ""),
        "description": form.get("description", ""),
        "permissions": form.getlist("permissions"),
        "refund_limit": form.get("refund_limit", ""),
    }


def _roles_page(form: dict[str, Any], error: str | None, status: int = 200) -> Any:
    return render_template(
        "console/admin/roles.html",
        roles=permissions.staff_roles(g.db),
        labels=PERMISSION_LABELS,
        form=form,
        error=error,
    ), status


@bp.get("/admin/roles")
@permission_required(P.MANAGE_USERS)
def admin_roles() -> Any:
    """Every staff role with its permissions and holders, and the form to define a new one."""
    return _roles_page({"permissions": []}, None)


@bp.post("/admin/roles")
@permission_required(P.MANAGE_USERS)
def admin_role_create() -> Any:
    """Define a custom role (audited)."""
    values = _form_values()
    try:
        role = permissions.create_staff_role(
            g.db,
            values["name"],
            permissions=values["permissions"],
            refund_limit=values["refund_limit"],
            description=values["description"],
            actor=current_actor(),
            now=utcnow(),
        )
    except DomainError as exc:
        g.db.rollback()
        return _roles_page(values, str(exc), 422)
    g.db.commit()
    flash(f"Role {role.name} created: give it to staff on the Users page.")
    return redirect(url_for("console.admin_roles"), code=303)


def _role_page(name: str, form: dict[str, Any] | None, error: str | None, status: int = 200) -> Any:
    grant = permissions.role_grant(g.db, name)
    if grant is None:
        abort(404)
    if form is None:
        form = {
            "description": grant.description,
            "permissions": sorted(grant.permissions),
            "refund_limit": grant.refund_limit or "",
        }
    return render_template(
        "console/admin/role.html", grant=grant, labels=PERMISSION_LABELS, form=form, error=error
    ), status


@bp.get("/admin/roles/<name>")
@permission_required(P.MANAGE_USERS)
def admin_role(name: str) -> Any:
    """One role: a built-in's permissions, or the form to change a custom role and the button to delete it."""
    return _role_page(name, None, None)


@bp.post("/admin/roles/<name>")
@permission_required(P.MANAGE_USERS)
def admin_role_change(name: str) -> Any:
    """Change a custom role's permissions, refund limit or description (audited)."""
    values = _form_values()
    try:
        permissions.update_staff_role(
            g.db,
            name,
            permissions=values["permissions"],
            refund_limit=values["refund_limit"],
            description=values["description"],
            actor=current_actor(),
            now=utcnow(),
        )
    except NotFound:
        abort(404)
    except DomainError as exc:
        g.db.rollback()
        return _role_page(name, values, str(exc), 422)
    g.db.commit()
    flash(f"Role {name} saved: its holders have the new permissions from their next page.")
    return redirect(url_for("console.admin_role", name=name), code=303)


@bp.post("/admin/roles/<name>/delete")
@permission_required(P.MANAGE_USERS)
def admin_role_delete(name: str) -> Any:
    """Delete a custom role nobody holds (audited)."""
    try:
        permissions.delete_staff_role(g.db, name, actor=current_actor(), now=utcnow())
    except NotFound:
        abort(404)
    except DomainError as exc:
        g.db.rollback()
        return _role_page(name, None, str(exc), 422)
    g.db.commit()
    flash(f"Role {name} deleted.")
    return redirect(url_for("console.admin_roles"), code=303)
