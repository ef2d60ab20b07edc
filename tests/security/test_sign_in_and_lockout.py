"""Sign-in security through the real forms: lockouts and rate limits (429 with Retry-After), the email
confirmation link, server-side sessions (sign-out, copied cookies, sign out everywhere, inactivity, the
remember-me cookie), staff two-factor sign-in, and the audit trail of all of it."""

from __future__ import annotations

import re
from datetime import timedelta
from email.utils import parsedate_to_datetime
from pathlib import Path

import pyotp
import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select, update

from app import create_app
from core.audit.models import AuditEntry
from core.db import utcnow
from core.security import accounts
from core.security.accounts import make_verify_token
from core.security.models import AuthSession, TwoFactorCredential, User
from tests.factories import PASSWORD, make_order, make_user
from tests.helpers import csrf_token, sign_in

SECRET = "test-secret"  # the app fixture's SECRET_KEY


@pytest.fixture
def strict_app(session_factory, tmp_path: Path) -> Flask:
    """The app as deployed: managers and admins must sign in with two factors."""
    return create_app(
        {
            "TESTING": True,
            "SECRET_KEY": SECRET,
            "SESSION_FACTORY": session_factory,
            "MAIL_DIR": tmp_path / "mail",
        }
    )


def actions(db, user_id: int | None = None) -> list[str]:
    query = select(AuditEntry.action).order_by(AuditEntry.id)
    if user_id is not None:
        query = query.where(AuditEntry.entity_id == str(user_id))
    return list(db.scalars(query))


def post_login(client: FlaskClient, email: str, password: str, *, console: bool = False, **extra):
    path = "/console/login" if console else "/login"
    data = {"email": email, "password": password, "csrf_token": csrf_token(client, path)} | extra
    return client.post(path, data=data)


def cookie(client: FlaskClient, name: str) -> str:
    found = client.get_cookie(name)
    assert found is not None, f"no {name} cookie"
    return found.value


def set_cookie_header(response, name: str) -> str:
    return next(h for h in response.headers.getlist("Set-Cookie") if h.startswith(f"{name}="))


# --- lockouts and rate limits ---------------------------------------------------------------------------


@pytest.mark.parametrize(("role", "console"), [("admin", True), ("customer", False)])
def test_forty_wrong_passwords_then_the_right_one_is_refused_with_retry_after(
    client, db, role: str, console: bool
) -> None:
    user = make_user(db, role)
    statuses = [post_login(client, user.email, f"wrong-{i}", console=console).status_code for i in range(40)]
    assert statuses[:5] == [401] * 5 and set(statuses[5:]) == {429}
    response = post_login(client, user.email, PASSWORD, console=console)
    assert response.status_code == 429
    assert 0 < int(response.headers["Retry-After"]) <= 60
    assert "Too many attempts. Please wait" in response.get_data(as_text=True)
    assert client.get("/console/" if console else "/orders").status_code == 302  # not signed in
    logged = actions(db)
    assert logged.count("auth.sign_in_failed") == 5 and logged.count("auth.sign_in_locked") == 36
    assert "auth.sign_in" not in logged


def test_the_lockout_ends_and_backs_off_further_after_more_failures(client, db) -> None:
    agent = make_user(db, "agent")
    for i in range(5):
        post_login(client, agent.email, f"wrong-{i}", console=True)
    db.execute(update_locks(-1))
    assert post_login(client, agent.email, "wrong-again", console=True).status_code == 401  # 6th failure
    second = post_login(client, agent.email, PASSWORD, console=True)
    assert second.status_code == 429 and 60 < int(second.headers["Retry-After"]) <= 120  # doubled
    db.execute(update_locks(-1))
    assert post_login(client, agent.email, PASSWORD, console=True).status_code == 303
    db.execute(update(AuthSession).values(last_seen_at=utcnow()))
    assert client.get("/console/").status_code == 200


def update_locks(minutes: int):
    """Move every lockout's end `minutes` from now (negative: it has run out)."""
    from core.security.models import AuthThrottle

    return update(AuthThrottle).values(locked_until=utcnow() + timedelta(minutes=minutes))


def test_the_ip_is_locked_after_failures_across_many_accounts(app, db) -> None:
    attacker = app.test_client()
    attacker.environ_base["REMOTE_ADDR"] = "203.0.113.9"
    victim = make_user(db, "customer")
    for i in range(20):
        assert post_login(attacker, f"guess{i}@example.org", "password123").status_code == 401
    refused = post_login(attacker, victim.email, PASSWORD)
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) > 0
    elsewhere = app.test_client()
    elsewhere.environ_base["REMOTE_ADDR"] = "198.51.100.7"
    assert post_login(elsewhere, victim.email, PASSWORD).status_code == 303  # the account itself is fine


def test_password_reset_requests_are_rate_limited(client, db) -> None:
    user = make_user(db, "customer")
    token = csrf_token(client, "/password/forgot")
    statuses = [
        client.post("/password/forgot", data={"csrf_token": token, "email": user.email}).status_code
        for _ in range(6)
    ]
    assert statuses == [200] * 5 + [429]
    last = client.post("/password/forgot", data={"csrf_token": token, "email": user.email})
    assert last.status_code == 429 and int(last.headers["Retry-After"]) > 0
    assert "Too many attempts" in last.get_data(as_text=True)


def test_the_password_reset_form_is_rate_limited(client) -> None:
    link = "/password/reset/not-a-real-token"
    token = csrf_token(client, link)
    statuses = [
        client.post(link, data={"csrf_token": token, "password": "brand-new-password"}).status_code
        for _ in range(11)
    ]
    assert statuses == [400] * 10 + [429]


@pytest.mark.parametrize("path", ["/track", "/track-code"])
def test_guest_lookups_are_rate_limited_with_retry_after(client, db, path: str) -> None:
    order = make_order(db)
    token = csrf_token(client, path)
    data = {"csrf_token": token, "reference": order.number, "proof": "nobody@example.org", "code": "000000"}
    statuses = [client.post(path, data=data).status_code for _ in range(6)]
    assert statuses[:5] != [429] * 5 and statuses[5] == 429
    response = client.post(path, data=data)
    assert response.status_code == 429 and int(response.headers["Retry-After"]) > 0


# --- the email confirmation link ------------------------------------------------------------------------


def unverified_customer(db) -> User:
    return accounts.sign_up_customer(db, "new@example.org", "long-enough-pw", "New Person", now=utcnow())


def test_opening_the_confirmation_link_changes_nothing_until_the_button(client, db) -> None:
    user = unverified_customer(db)
    link = f"/verify/{make_verify_token(SECRET, user)}"
    page = client.get(link)
    assert page.status_code == 200 and "Confirm my email address" in page.get_data(as_text=True)
    assert "new@example.org" in page.get_data(as_text=True)
    db.refresh(user)
    assert user.email_verified_at is None  # a mail scanner following the link confirms nothing


def test_the_confirmation_link_confirms_once_and_signs_nobody_in(client, db) -> None:
    user = unverified_customer(db)
    link = f"/verify/{make_verify_token(SECRET, user)}"
    token = csrf_token(client, link)
    response = client.post(link, data={"csrf_token": token})
    assert response.status_code == 303 and response.headers["Location"] == "/login"
    assert "sign in to see them" in client.get("/login").get_data(as_text=True)
    assert client.get("/orders").status_code == 302  # not signed in
    assert cookie(client, "session") and client.get_cookie("remember_token") is None
    db.refresh(user)
    assert user.email_verified_at is not None
    again = client.post(link, data={"csrf_token": token})
    assert again.status_code == 400 and "already been used" in again.get_data(as_text=True)
    assert client.get(link).status_code == 400
    assert "account.email_confirmed" in actions(db, user.id)


def test_a_password_reset_kills_the_confirmation_link(client, db) -> None:
    user = unverified_customer(db)
    link = f"/verify/{make_verify_token(SECRET, user)}"
    form = csrf_token(client, link)
    reset = accounts.make_reset_token(SECRET, user)
    accounts.reset_password(db, SECRET, reset, "another-long-password", now=utcnow())
    db.execute(update(User).where(User.id == user.id).values(email_verified_at=None))  # still unconfirmed
    response = client.post(link, data={"csrf_token": form})
    assert response.status_code == 400 and "password has changed" in response.get_data(as_text=True)


# --- server-side sessions -------------------------------------------------------------------------------


def copy_cookies(app: Flask, source: FlaskClient, *names: str) -> FlaskClient:
    thief = app.test_client()
    for name in names:
        thief.set_cookie(name, cookie(source, name))
    return thief


def test_a_copied_session_cookie_stops_working_after_sign_out(app, client, db) -> None:
    agent = make_user(db, "agent")
    assert sign_in(client, agent.email, PASSWORD, console=True).status_code == 303
    thief = copy_cookies(app, client, "session")
    assert thief.get("/console/").status_code == 200
    token = csrf_token(client, "/console/")
    assert client.post("/console/logout", data={"csrf_token": token}).status_code == 303
    assert thief.get("/console/").status_code == 302
    assert db.scalars(select(AuthSession).where(AuthSession.user_id == agent.id)).all() == []
    assert actions(db, agent.id) == ["auth.sign_in", "auth.sign_out"]


def test_a_copied_remember_cookie_stops_working_after_sign_out(app, client, db) -> None:
    customer = make_user(db, "customer")
    assert post_login(client, customer.email, PASSWORD, remember="1").status_code == 303
    thief = copy_cookies(app, client, "remember_token")
    assert thief.get("/orders").status_code == 200  # the remember cookie alone signs in
    token = csrf_token(client, "/orders")
    client.post("/logout", data={"csrf_token": token})
    late_thief = copy_cookies(app, thief, "remember_token")
    assert late_thief.get("/orders").status_code == 302
    assert thief.get("/orders").status_code == 302


def test_sign_out_everywhere_ends_every_session(app, db) -> None:
    customer = make_user(db, "customer")
    phone, laptop = app.test_client(), app.test_client()
    laptop.environ_base["HTTP_USER_AGENT"] = "Laptop browser"
    for device in (phone, laptop):
        assert post_login(device, customer.email, PASSWORD).status_code == 303
    page = laptop.get("/account/security").get_data(as_text=True)
    assert "Laptop browser" in page and "this browser" in page and page.count("<tr>") == 3
    token = csrf_token(laptop, "/account/security")
    response = laptop.post("/account/sessions/sign-out-everywhere", data={"csrf_token": token})
    assert response.status_code == 303
    assert phone.get("/orders").status_code == 302 and laptop.get("/orders").status_code == 302
    assert "auth.sign_out_everywhere" in actions(db, customer.id)


def test_staff_can_end_one_other_session(app, db) -> None:
    agent = make_user(db, "agent")
    first, second = app.test_client(), app.test_client()
    for device in (first, second):
        sign_in(device, agent.email, PASSWORD, console=True)
    records = db.scalars(select(AuthSession).where(AuthSession.user_id == agent.id).order_by(AuthSession.id))
    other = records.first()
    token = csrf_token(second, "/console/account/security")
    second.post(f"/console/account/sessions/{other.id}/end", data={"csrf_token": token})
    assert first.get("/console/").status_code == 302 and second.get("/console/").status_code == 200


def test_sessions_end_after_inactivity(client, db) -> None:
    agent = make_user(db, "agent")
    sign_in(client, agent.email, PASSWORD, console=True)
    db.execute(update(AuthSession).values(last_seen_at=utcnow() - timedelta(minutes=29)))
    assert client.get("/console/").status_code == 200
    record = db.scalars(select(AuthSession)).one()
    db.refresh(record)
    assert utcnow() - record.last_seen_at < timedelta(minutes=1)  # the visit was noted
    db.execute(update(AuthSession).values(last_seen_at=utcnow() - timedelta(minutes=31)))
    response = client.get("/console/")
    assert response.status_code == 302 and "/console/login" in response.headers["Location"]


def test_customers_stay_longer_and_remember_me_for_two_weeks(app, db) -> None:
    customer = make_user(db, "customer")
    plain, kept = app.test_client(), app.test_client()
    post_login(plain, customer.email, PASSWORD)
    post_login(kept, customer.email, PASSWORD, remember="1")
    db.execute(update(AuthSession).values(last_seen_at=utcnow() - timedelta(minutes=90)))
    assert plain.get("/orders").status_code == 200 and kept.get("/orders").status_code == 200
    db.execute(update(AuthSession).values(last_seen_at=utcnow() - timedelta(hours=3)))
    assert plain.get("/orders").status_code == 302
    assert kept.get("/orders").status_code == 200
    db.execute(update(AuthSession).values(created_at=utcnow() - timedelta(days=15)))
    assert kept.get("/orders").status_code == 302


def test_remember_cookie_lives_fourteen_days_httponly_lax(client, db) -> None:
    customer = make_user(db, "customer")
    response = post_login(client, customer.email, PASSWORD, remember="1")
    header = set_cookie_header(response, "remember_token")
    assert "HttpOnly" in header and "SameSite=Lax" in header and "Secure" not in header
    expires = parsedate_to_datetime(re.search(r"Expires=([^;]+)", header).group(1))
    assert abs(expires - (utcnow() + timedelta(days=14))) < timedelta(minutes=1)
    assert re.match(r"remember_token=[A-Za-z0-9_-]{43}\|", header)  # the session token, not the account id


def test_remember_cookie_is_secure_when_the_session_cookie_is(session_factory, db, tmp_path) -> None:
    app = create_app(
        {
            "TESTING": True,
            "SECRET_KEY": SECRET,
            "SESSION_FACTORY": session_factory,
            "MAIL_DIR": tmp_path / "mail",
            "SESSION_COOKIE_SECURE": True,
        }
    )
    client = app.test_client()
    customer = make_user(db, "customer")
    response = post_login(client, customer.email, PASSWORD, remember="1")
    assert "Secure" in set_cookie_header(response, "remember_token")
    assert "Secure" in set_cookie_header(response, "session")


def test_staff_never_get_a_remember_cookie(client, db) -> None:
    agent = make_user(db, "agent")
    response = post_login(client, agent.email, PASSWORD, console=True, remember="1")
    assert response.status_code == 303
    assert not any(h.startswith("remember_token=") for h in response.headers.getlist("Set-Cookie"))


def test_a_password_reset_ends_every_session(app, db) -> None:
    customer = make_user(db, "customer")
    signed_in = app.test_client()
    post_login(signed_in, customer.email, PASSWORD, remember="1")
    other = app.test_client()
    link = f"/password/reset/{accounts.make_reset_token(SECRET, customer)}"
    other.post(link, data={"csrf_token": csrf_token(other, link), "password": "brand-new-password"})
    assert signed_in.get("/orders").status_code == 302
    assert "auth.password_reset" in actions(db, customer.id)


# --- two-factor sign-in ---------------------------------------------------------------------------------


def enrol(client: FlaskClient, db, user: User) -> tuple[pyotp.TOTP, list[str]]:
    """Set up 2FA through the pages: read the key shown, answer with the app's code; the recovery codes."""
    page = client.get("/console/account/two-factor/setup")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "<svg" in html and re.search(r"<script(?![^>]*\bsrc=)", html) is None  # no inline script
    key = re.search(r'id="totp-key"[^>]*>([A-Z2-7 ]+)<', html).group(1).replace(" ", "")
    totp = pyotp.TOTP(key)
    token = csrf_token(client, "/console/account/two-factor/setup")
    done = client.post("/console/account/two-factor/setup", data={"csrf_token": token, "code": totp.now()})
    assert done.status_code == 200
    codes = re.findall(r"<code>([a-z2-9-]{19})</code>", done.get_data(as_text=True))
    assert len(codes) == 10
    return totp, codes


def second_step(client: FlaskClient, code: str):
    token = csrf_token(client, "/console/login")
    return client.post("/console/login", data={"csrf_token": token, "code": code})


def next_code(totp: pyotp.TOTP, steps: int = 1) -> str:
    return totp.at(utcnow() + timedelta(seconds=30 * steps))


def test_an_agent_sets_up_two_factor_and_signs_in_with_a_code(app, client, db) -> None:
    agent = make_user(db, "agent")
    sign_in(client, agent.email, PASSWORD, console=True)
    totp, _codes = enrol(client, db, agent)
    assert db.get(TwoFactorCredential, agent.id).confirmed_at is not None
    client.post("/console/logout", data={"csrf_token": csrf_token(client, "/console/")})

    response = sign_in(client, agent.email, PASSWORD, console=True)
    assert response.status_code == 303 and response.headers["Location"] == "/console/login"
    page = client.get("/console/login").get_data(as_text=True)
    assert "Authentication code" in page
    assert client.get("/console/").status_code == 302  # the password alone signs nobody in
    assert second_step(client, next_code(totp)).status_code == 303
    assert client.get("/console/").status_code == 200
    assert db.scalars(select(AuthSession.two_factor).where(AuthSession.user_id == agent.id)).one() is True
    signed = db.scalars(
        select(AuditEntry).where(AuditEntry.action == "auth.sign_in", AuditEntry.entity_id == str(agent.id))
    ).all()
    assert signed[-1].after["two_factor"] == "totp"
    assert "auth.two_factor_enabled" in actions(db, agent.id)


def test_a_wrong_code_is_refused_and_five_lock_the_second_step(client, db) -> None:
    agent = make_user(db, "agent")
    sign_in(client, agent.email, PASSWORD, console=True)
    totp, _ = enrol(client, db, agent)
    client.post("/console/logout", data={"csrf_token": csrf_token(client, "/console/")})
    sign_in(client, agent.email, PASSWORD, console=True)
    wrong = str((int(next_code(totp)) + 1) % 1_000_000).zfill(6)
    first = second_step(client, wrong)
    assert first.status_code == 401 and "not right" in first.get_data(as_text=True)
    statuses = [second_step(client, wrong).status_code for _ in range(4)]
    assert statuses[-1] == 429
    locked = second_step(client, next_code(totp))  # the right code, during the lockout
    assert locked.status_code == 429 and int(locked.headers["Retry-After"]) > 0
    assert client.get("/console/").status_code == 302
    assert actions(db, agent.id).count("auth.two_factor_failed") == 5


def test_a_code_cannot_be_replayed(app, db) -> None:
    agent = make_user(db, "agent")
    first = app.test_client()
    sign_in(first, agent.email, PASSWORD, console=True)
    totp, _ = enrol(first, db, agent)
    code = next_code(totp)
    other = app.test_client()
    sign_in(other, agent.email, PASSWORD, console=True)
    assert second_step(other, code).status_code == 303
    eavesdropper = app.test_client()
    sign_in(eavesdropper, agent.email, PASSWORD, console=True)
    replay = second_step(eavesdropper, code)
    assert replay.status_code == 401 and "already been used" in replay.get_data(as_text=True)


def test_a_recovery_code_works_once(app, db) -> None:
    agent = make_user(db, "agent")
    client = app.test_client()
    sign_in(client, agent.email, PASSWORD, console=True)
    _totp, codes = enrol(client, db, agent)
    client.post("/console/logout", data={"csrf_token": csrf_token(client, "/console/")})
    sign_in(client, agent.email, PASSWORD, console=True)
    assert second_step(client, codes[0].upper()).status_code == 303
    assert "9 left" in client.get("/console/").get_data(as_text=True)
    again = app.test_client()
    sign_in(again, agent.email, PASSWORD, console=True)
    reused = second_step(again, codes[0])
    assert reused.status_code == 401 and "has been used" in reused.get_data(as_text=True)
    assert "auth.two_factor_recovery_used" in actions(db, agent.id)


def test_turning_off_and_renewing_codes_need_the_password(client, db) -> None:
    agent = make_user(db, "agent")
    sign_in(client, agent.email, PASSWORD, console=True)
    _totp, codes = enrol(client, db, agent)
    token = csrf_token(client, "/console/account/security")
    wrong = client.post("/console/account/two-factor/disable", data={"csrf_token": token, "password": "nope"})
    assert wrong.status_code == 422 and db.get(TwoFactorCredential, agent.id) is not None
    renewed = client.post(
        "/console/account/two-factor/recovery-codes", data={"csrf_token": token, "password": PASSWORD}
    )
    fresh = re.findall(r"<code>([a-z2-9-]{19})</code>", renewed.get_data(as_text=True))
    assert len(fresh) == 10 and not set(fresh) & set(codes)
    assert renewed.headers["Cache-Control"] == "no-store"
    off = client.post("/console/account/two-factor/disable", data={"csrf_token": token, "password": PASSWORD})
    assert off.status_code == 303 and db.get(TwoFactorCredential, agent.id) is None
    logged = actions(db, agent.id)
    assert "auth.two_factor_disabled" in logged and "auth.two_factor_recovery_codes_renewed" in logged


def test_a_manager_must_set_up_two_factor_before_any_other_page(strict_app, db) -> None:
    manager = make_user(db, "manager")
    client = strict_app.test_client()
    assert sign_in(client, manager.email, PASSWORD, console=True).status_code == 303
    for path in ("/console/", "/console/tickets", "/console/account/security", "/console/analytics"):
        response = client.get(path)
        assert response.status_code == 302, path
        assert response.headers["Location"] == "/console/account/two-factor/setup"
    htmx = client.get("/console/tickets", headers={"HX-Request": "true"})
    assert htmx.status_code == 204 and htmx.headers["HX-Redirect"] == "/console/account/two-factor/setup"
    on_setup = {"HX-Request": "true", "HX-Current-URL": "http://localhost/console/account/two-factor/setup"}
    quiet = client.get("/console/customers/suggestions/count", headers=on_setup)
    assert quiet.status_code == 204 and "HX-Redirect" not in quiet.headers  # no reload loop
    totp, _ = enrol(client, db, manager)
    assert client.get("/console/").status_code == 200
    client.post("/console/logout", data={"csrf_token": csrf_token(client, "/console/")})
    sign_in(client, manager.email, PASSWORD, console=True)
    assert client.get("/console/").status_code == 302  # the code is asked for now
    assert second_step(client, next_code(totp)).status_code == 303
    assert client.get("/console/analytics").status_code == 200


def test_an_admin_can_require_two_factor_of_all_staff(strict_app, db) -> None:
    agent, admin = make_user(db, "agent"), make_user(db, "admin")
    agent_client = strict_app.test_client()
    sign_in(agent_client, agent.email, PASSWORD, console=True)
    assert agent_client.get("/console/").status_code == 200  # optional for agents
    admin_client = strict_app.test_client()
    sign_in(admin_client, admin.email, PASSWORD, console=True)
    enrol(admin_client, db, admin)
    token = csrf_token(admin_client, "/console/admin/security")
    saved = admin_client.post(
        "/console/admin/security", data={"csrf_token": token, "require_two_factor_for_all_staff": "1"}
    )
    assert saved.status_code == 303
    response = agent_client.get("/console/")
    assert response.status_code == 302 and response.headers["Location"].endswith("/two-factor/setup")
    assert agent_client.get("/console/admin/security").status_code in (302, 403)
    assert "security.two_factor_policy" in actions(db)


def test_the_admin_security_page_is_for_admins_only(app, db) -> None:
    manager = make_user(db, "manager")
    client = app.test_client()
    sign_in(client, manager.email, PASSWORD, console=True)
    assert client.get("/console/admin/security").status_code == 403


@pytest.mark.parametrize(
    ("role", "page"), [("agent", "/console/account/security"), ("customer", "/account/security")]
)
def test_changing_the_password_ends_the_other_sessions_and_keeps_this_one(
    app, db, role: str, page: str
) -> None:
    user = make_user(db, role)
    console = role != "customer"
    here, elsewhere = app.test_client(), app.test_client()
    for device in (here, elsewhere):
        assert post_login(device, user.email, PASSWORD, console=console).status_code == 303
    action = page.replace("security", "password")
    token = csrf_token(here, page)
    wrong = here.post(
        action, data={"csrf_token": token, "password": "not-it", "new_password": "brand-new-pass"}
    )
    assert wrong.status_code == 422 and "not your current password" in wrong.get_data(as_text=True)
    done = here.post(
        action, data={"csrf_token": token, "password": PASSWORD, "new_password": "brand-new-pass"}
    )
    assert done.status_code == 303
    assert "1 other session signed out" in here.get(page).get_data(as_text=True)
    assert elsewhere.get(page).status_code == 302
    assert post_login(app.test_client(), user.email, "brand-new-pass", console=console).status_code == 303
    assert "auth.password_changed" in actions(db, user.id)
