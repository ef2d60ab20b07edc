"""Console access: every route needs a signed-in staff user and declares the permissions it needs with
`permission_required` (403 without them); a test walks the URL map so no route goes undeclared."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import abort, g, redirect, request, url_for
from flask_login import current_user

from core.security.permissions import RoleGrant, minimal_builtin_role, role_grant
from core.security.roles import Actor, is_staff

# Routes reachable without signing in; every other console route is guarded in `require_staff`.
PUBLIC_ENDPOINTS = frozenset({"console.login", "console.accept_invite"})
# Signed-in routes that need no permission beyond being staff (signing out).
STAFF_ONLY_ENDPOINTS = frozenset({"console.logout"})


def require_staff() -> Any:
    """Blueprint-wide guard: anonymous -> sign-in page, customers -> 403."""
    if request.endpoint in PUBLIC_ENDPOINTS:
        return None
    if not current_user.is_authenticated:
        return redirect(url_for("console.login", next=request.full_path.rstrip("?")))
    if not is_staff(current_user.role) or current_grant() is None:
        abort(403)
    return None


def current_grant() -> RoleGrant | None:
    """The signed-in user's role as permissions (once per request); None for anyone who is not staff."""
    if not current_user.is_authenticated:
        return None
    if "role_grant" not in g:
        g.role_grant = role_grant(g.db, current_user.role) if is_staff(current_user.role) else None
    return g.role_grant


def can(*permissions: str) -> bool:
    """True when the signed-in staff member holds every one of `permissions` (templates use it too)."""
    grant = current_grant()
    return grant is not None and grant.allows(*permissions)


def permission_required(*permissions: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Restrict a console route to roles holding every one of `permissions` (403 otherwise). With none, any
    signed-in staff member may use it. The view keeps `required_permissions` (and `required_role`, the
    lowest built-in role allowed) for the route tests."""

    def decorator(view: Callable[..., Any]) -> Callable[..., Any]:
        @wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            if not can(*permissions):
                abort(403)
            return view(*args, **kwargs)

        wrapped.required_permissions = frozenset(permissions)  # type: ignore[attr-defined]
        wrapped.required_role = minimal_builtin_role(permissions)  # type: ignore[attr-defined]
        return wrapped

    return decorator


def current_actor() -> Actor:
    """The signed-in staff member as an Actor for services and the audit log."""
    return Actor(
        label=current_user.email,
        user_id=current_user.id,
        role=current_user.role,
        ip_address=request.remote_addr,
    )
