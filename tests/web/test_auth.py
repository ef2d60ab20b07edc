"""Accounts and roles: argon2 hashes, sign-in on both faces, CSRF, cookie flags, role checks on every
console route, and a customer never sees another customer's order."""

from __future__ import annotations

import pytest
from flask import Flask
from sqlalchemy import select

from agent_console.auth import PUBLIC_ENDPOINTS
from core.audit.models import AuditEntry
from core.security.passwords import hash_password, verify_password
from tests.factories import PASSWORD, make_order, make_user
from tests.helpers import csrf_token, sign_in


def console_get_paths(app: Flask) -> list[tuple[str, str]]:
    """(endpoint, path) for every GET route of the console but the public ones (sign-in, the invitation's
    link), with 1 for every URL parameter."""
    paths = []
    for rule in app.url_map.iter_rules():
        if (
            rule.endpoint.startswith("console.")
            and "GET" in rule.methods
            and rule.endpoint not in PUBLIC_ENDPOINTS
        ):
            paths.append((rule.endpoint, rule.build({arg: 1 for arg in rule.arguments})[1]))
    assert len(paths) >= 6
    return sorted(paths)


def test_only_sign_in_and_the_invitation_link_are_public() -> None:
    assert PUBLIC_ENDPOINTS == {"console.login", "console.accept_invite"}


def required_role(app: Flask, endpoint: str) -> str:
    return getattr(app.view_functions[endpoint], "required_role", "agent")


def test_password_hash_is_argon2id_and_verifies() -> None:
    hashed = hash_password("correct-horse-battery")
    assert hashed.startswith("$argon2id$")
    assert verify_password(hashed, "correct-horse-battery")
    assert not verify_password(hashed, "wrong-horse-battery")
    assert not verify_password("not-a-hash", "anything")


def test_console_login_page_renders_a_csrf_protected_form(client) -> None:
    html = client.get("/console/login").get_data(as_text=True)
    assert 'name="csrf_token"' in html and 'type="password"' in html


def test_console_sign_in_with_good_password_reaches_the_shell(client, db) -> None:
    agent = make_user(db, "agent")
    response = sign_in(client, agent.email, PASSWORD, console=True)
    assert response.status_code == 303
    page = client.get("/console/").get_data(as_text=True)
    assert agent.email in page and "Tickets" in page


def test_console_sign_in_with_bad_password_is_refused(client, db) -> None:
    agent = make_user(db, "agent")
    response = sign_in(client, agent.email, "wrong-password", console=True)
    assert response.status_code == 401
    assert "match a staff account" in response.get_data(as_text=True)
    assert client.get("/console/").status_code == 302


def test_customer_cannot_sign_in_to_console(client, db) -> None:
    customer = make_user(db, "customer")
    assert sign_in(client, customer.email, PASSWORD, console=True).status_code == 401


def test_post_without_csrf_token_is_rejected(client, db) -> None:
    agent = make_user(db, "agent")
    response = client.post("/console/login", data={"email": agent.email, "password": PASSWORD})
    assert response.status_code == 400
    assert "expired" in response.get_data(as_text=True)


def test_htmx_post_with_csrf_header_is_accepted(client, db) -> None:
    agent = make_user(db, "agent")
    customer = make_user(db, "customer")
    sign_in(client, agent.email, PASSWORD, console=True)
    token = csrf_token(client, f"/console/customers/{customer.customer_id}")
    response = client.post(
        f"/console/customers/{customer.customer_id}/notes",
        data={"body": "Prefers email"},
        headers={"HX-Request": "true", "X-CSRFToken": token},
    )
    assert response.status_code == 200
    assert "Prefers email" in response.get_data(as_text=True)
    assert "<html" not in response.get_data(as_text=True)


def test_htmx_post_without_csrf_header_is_rejected(client, db) -> None:
    agent = make_user(db, "agent")
    customer = make_user(db, "customer")
    sign_in(client, agent.email, PASSWORD, console=True)
    response = client.post(
        f"/console/customers/{customer.customer_id}/notes", data={"body": "x"}, headers={"HX-Request": "true"}
    )
    assert response.status_code == 400


def test_crm_note_by_staff_lands_in_audit_log(client, db) -> None:
    agent = make_user(db, "agent")
    customer = make_user(db, "customer")
    sign_in(client, agent.email, PASSWORD, console=True)
    token = csrf_token(client, f"/console/customers/{customer.customer_id}")
    client.post(f"/console/customers/{customer.customer_id}/notes", data={"body": "VIP", "csrf_token": token})
    entry = db.scalars(select(AuditEntry).where(AuditEntry.action == "crm_note.added")).one()
    assert (entry.actor_id, entry.entity_type, entry.entity_id) == (
        agent.id,
        "customer",
        str(customer.customer_id),
    )


def test_session_cookie_is_httponly_and_samesite_lax(client, db) -> None:
    agent = make_user(db, "agent")
    response = sign_in(client, agent.email, PASSWORD, console=True)
    cookie = next(h for h in response.headers.getlist("Set-Cookie") if h.startswith("session="))
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_every_console_route_sends_anonymous_users_to_sign_in(app, client) -> None:
    for endpoint, path in console_get_paths(app):
        response = client.get(path)
        assert response.status_code == 302, endpoint
        assert "/console/login" in response.headers["Location"], endpoint


def test_every_console_route_forbids_customers(app, client, db) -> None:
    customer = make_user(db, "customer")
    sign_in(client, customer.email, PASSWORD)
    for endpoint, path in console_get_paths(app):
        assert client.get(path).status_code == 403, endpoint


@pytest.mark.parametrize("role", ["agent", "manager", "admin"])
def test_console_routes_enforce_role_rank(app, client, db, role: str) -> None:
    rank = {"agent": 1, "manager": 2, "admin": 3}
    user = make_user(db, role)
    sign_in(client, user.email, PASSWORD, console=True)
    for endpoint, path in console_get_paths(app):
        status = client.get(path).status_code
        if rank[role] >= rank[required_role(app, endpoint)]:
            assert status in (200, 404), (endpoint, status)
        else:
            assert status == 403, (endpoint, status)


def test_manager_pages_are_marked_with_their_role(app) -> None:
    assert required_role(app, "console.analytics") == "manager"
    assert required_role(app, "console.admin_users") == "admin"


def test_customer_sees_own_order(client, db) -> None:
    user = make_user(db, "customer")
    order = make_order(db, customer_id=user.customer_id, lines=2)
    sign_in(client, user.email, PASSWORD)
    response = client.get(f"/orders/{order.number}")
    assert response.status_code == 200
    assert order.number in response.get_data(as_text=True)


def test_customer_asking_for_another_customers_order_gets_404(client, db) -> None:
    me = make_user(db, "customer")
    other = make_user(db, "customer")
    theirs = make_order(db, customer_id=other.customer_id)
    sign_in(client, me.email, PASSWORD)
    assert client.get(f"/orders/{theirs.number}").status_code == 404
    assert theirs.number not in client.get("/orders").get_data(as_text=True)


def test_portal_orders_require_sign_in(client) -> None:
    response = client.get("/orders")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_staff_account_gets_403_on_customer_pages(client, db) -> None:
    agent = make_user(db, "agent")
    sign_in(client, agent.email, PASSWORD, console=True)
    assert client.get("/orders").status_code == 403


def test_sign_in_does_not_redirect_off_site(client, db) -> None:
    user = make_user(db, "customer")
    token = csrf_token(client, "/login")
    response = client.post(
        "/login?next=https://evil.example/",
        data={"email": user.email, "password": PASSWORD, "csrf_token": token},
    )
    assert response.headers["Location"] == "/orders"


def test_bumping_session_version_signs_out(client, db) -> None:
    agent = make_user(db, "agent")
    sign_in(client, agent.email, PASSWORD, console=True)
    assert client.get("/console/").status_code == 200
    agent.session_version += 1
    db.flush()
    assert client.get("/console/").status_code == 302
