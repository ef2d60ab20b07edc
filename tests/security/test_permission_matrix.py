"""Console permissions: every console route declares what it needs, and a matrix of roles (the three
built-ins and a custom role with few permissions) x every console route and method gets 403 exactly when
the role lacks a permission; a refused POST changes nothing in the database."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from agent_console.auth import PUBLIC_ENDPOINTS, STAFF_ONLY_ENDPOINTS
from app import create_app
from core.db import utcnow
from core.models import Base
from core.security.permissions import (
    ADMIN_PERMISSIONS,
    AGENT_PERMISSIONS,
    MANAGER_PERMISSIONS,
    Permission,
    create_staff_role,
)
from core.security.roles import SYSTEM
from tests.factories import PASSWORD, make_order, make_user
from tests.helpers import CSRF_RE, sign_in

# A custom role that may look at stock and orders and count stock, nothing else.
STOCKIST = frozenset({Permission.VIEW_STOCK, Permission.COUNT_STOCK, Permission.VIEW_ORDERS})
ROLES = {
    "agent": AGENT_PERMISSIONS,
    "manager": MANAGER_PERMISSIONS,
    "admin": ADMIN_PERMISSIONS,
    "stockist": STOCKIST,
}
# Sample values for URL arguments that are not ids.
ARGUMENTS = {
    "code": "web",
    "location_code": "main",
    "sku_code": "SKU-1",
    "name": "agent",
    "day": "2026-12-25",
    "token": "x",
}


def _console_routes() -> list[tuple[str, str, str]]:
    """(endpoint, method, path) of every console route and method but the public ones."""
    app = create_app({"TESTING": True, "SECRET_KEY": "routes", "DATABASE_URL": "sqlite://"})
    routes = []
    with app.test_request_context():
        for rule in app.url_map.iter_rules():
            if not rule.endpoint.startswith("console.") or rule.endpoint in PUBLIC_ENDPOINTS:
                continue
            values = {arg: ARGUMENTS.get(arg, 1) for arg in rule.arguments}
            path = app.url_for(rule.endpoint, **values)
            for method in sorted((rule.methods or set()) & {"GET", "POST"}):
                routes.append((rule.endpoint, method, path))
    return sorted(routes)


ROUTES = _console_routes()


def required(app: Flask, endpoint: str) -> frozenset[str]:
    if endpoint in STAFF_ONLY_ENDPOINTS:  # signing out, in the sign-in views
        return frozenset()
    return app.view_functions[endpoint].required_permissions


def test_every_console_route_declares_its_permissions(app: Flask) -> None:
    undeclared = [
        rule.endpoint
        for rule in app.url_map.iter_rules()
        if rule.endpoint.startswith("console.")
        and rule.endpoint not in PUBLIC_ENDPOINTS | STAFF_ONLY_ENDPOINTS
        and not hasattr(app.view_functions[rule.endpoint], "required_permissions")
    ]
    assert undeclared == []
    assert len(ROUTES) > 90


# A staff member's own account: sign-in security, sessions, password, two-factor set-up.
OWN_ACCOUNT = {
    "console.account_security",
    "console.account_sign_out_everywhere",
    "console.account_end_session",
    "console.two_factor_setup",
    "console.account_change_password",
    "console.two_factor_disable",
    "console.two_factor_recovery_codes",
}


def test_only_signing_out_the_home_page_and_ones_own_account_need_no_permission(app: Flask) -> None:
    open_to_all_staff = {
        rule.endpoint
        for rule in app.url_map.iter_rules()
        if rule.endpoint.startswith("console.")
        and rule.endpoint not in PUBLIC_ENDPOINTS
        and not required(app, rule.endpoint)
    }
    assert open_to_all_staff == {"console.dashboard", "console.logout"} | OWN_ACCOUNT
    assert STAFF_ONLY_ENDPOINTS == {"console.logout"}


def test_builtin_roles_nest_and_admin_holds_every_permission() -> None:
    assert AGENT_PERMISSIONS < MANAGER_PERMISSIONS < ADMIN_PERMISSIONS == frozenset(Permission)


def test_builtin_roles_keep_the_old_rank_of_each_page(app: Flask) -> None:
    assert app.view_functions["console.analytics"].required_role == "manager"
    assert app.view_functions["console.admin_users"].required_role == "admin"
    assert app.view_functions["console.audit_log"].required_role == "admin"
    assert app.view_functions["console.order_refund"].required_role == "agent"
    assert app.view_functions["console.return_refund"].required_role == "manager"


def _fingerprint(db: Session) -> str:
    """A digest of every row of every table: equal digests, nothing written."""
    digest = hashlib.sha256()
    db.expire_all()
    for table in Base.metadata.sorted_tables:
        for row in db.execute(select(table).order_by(*table.primary_key.columns)):
            digest.update(repr(tuple(row)).encode())
    return digest.hexdigest()


def _signed_in(client: Any, db: Session, role: str) -> str:
    """Sign in a staff member with `role` (creating the custom role first); returns a CSRF token."""
    if role not in ("agent", "manager", "admin"):
        create_staff_role(
            db, role, permissions=ROLES[role], refund_limit="", description="", actor=SYSTEM, now=utcnow()
        )
    user = make_user(db, role)
    assert sign_in(client, user.email, PASSWORD, console=True).status_code == 303
    html = client.get("/console/").get_data(as_text=True)
    return CSRF_RE.search(html).group(1)


@pytest.mark.parametrize("role", sorted(ROLES))
@pytest.mark.parametrize(("endpoint", "method", "path"), ROUTES, ids=[f"{m} {e}" for e, m, _ in ROUTES])
def test_role_route_matrix(app, client, db, role: str, endpoint: str, method: str, path: str) -> None:
    token = _signed_in(client, db, role)
    allowed = required(app, endpoint) <= ROLES[role]
    if method == "GET":
        status = client.get(path).status_code
    else:
        before = None if allowed else _fingerprint(db)
        status = client.post(path, data={"csrf_token": token}).status_code
        if not allowed:
            assert _fingerprint(db) == before, f"a refused POST to {endpoint} changed the database"
    if allowed:
        assert status != 403, (role, endpoint, status)
        assert status < 500, (role, endpoint, status)
    else:
        assert status == 403, (role, endpoint, status)


def test_the_nav_shows_only_what_the_role_may_open(client, db) -> None:
    _signed_in(client, db, "stockist")
    html = client.get("/console/").get_data(as_text=True)
    assert "/console/stock" in html and "/console/alerts" in html
    for hidden in ("/console/tickets", "/console/analytics", "/console/admin/users", "/console/audit"):
        assert f'href="{hidden}"' not in html, hidden


def test_the_home_page_shows_only_the_queues_the_role_works(client, db) -> None:
    _signed_in(client, db, "stockist")
    html = client.get("/console/").get_data(as_text=True)
    assert "open tickets" not in html and "has no queues" in html


def test_the_order_page_offers_only_the_actions_the_role_may_take(client, db) -> None:
    order = make_order(db, lines=1)
    _signed_in(client, db, "stockist")
    html = client.get(f"/console/orders/{order.id}").get_data(as_text=True)
    assert order.number in html
    for action in ("cancel", "refund", "return", "replacement", "address"):
        assert f'action="/console/orders/{order.id}/{action}"' not in html, action
