"""Console access: every route needs a signed-in staff user; some need a higher role (403 otherwise)."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import abort, redirect, request, url_for
from flask_login import current_user

from core.security.roles import Actor, Role, is_staff, role_at_least

# Routes reachable without signing in; every other console route is guarded in `require_staff`.
PUBLIC_ENDPOINTS = frozenset({"console.login", "console.accept_invite"})


def require_staff() -> Any:
    """Blueprint-wide guard: anonymous -> sign-in page, customers -> 403."""
    if request.endpoint in PUBLIC_ENDPOINTS:
        return None
    if not current_user.is_authenticated:
        return redirect(url_for("console.login", next=request.full_path.rstrip("?")))
    if not is_staff(current_user.role):
        abort(403)
    return None


def role_required(role: Role) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Restrict a console route to `role` and above (agent < manager < admin)."""

    def decorator(view: Callable[..., Any]) -> Callable[..., Any]:
        @wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            if not current_user.is_authenticated or not role_at_least(current_user.role, role):
                abort(403)
            return view(*args, **kwargs)

        wrapped.required_role = role  # type: ignore[attr-defined]
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
