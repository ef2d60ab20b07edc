"""A manager's first sign-in in a real browser goes to two-factor set-up: they add the key shown on the page
to an authenticator (pyotp plays the app), keep the recovery codes, sign out, and sign in again with the
app's code; a wrong code is refused with a clear message. The app runs as deployed: managers must use two
factors."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta

import pyotp
import pytest
import waitress
from playwright.sync_api import Browser, expect

from app import create_app
from core.db import utcnow
from tests.browser.conftest import OUTPUT
from tests.factories import PASSWORD, make_user

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def strict_server(live_db) -> Iterator[str]:
    url, _factory = live_db
    app = create_app({"DATABASE_URL": url, "SECRET_KEY": "browser-two-factor"})
    assert app.config["TWO_FACTOR_ROLES"] == ("manager", "admin")
    server = waitress.create_server(app, host="127.0.0.1", port=0, threads=4)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.effective_port}"
    server.close()
    thread.join(timeout=5)


def sign_in_with_password(page, base: str, email: str) -> None:
    page.goto(f"{base}/console/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()


def test_a_manager_sets_up_two_factor_and_signs_in_with_it(
    browser: Browser, strict_server: str, live_session
) -> None:
    manager = make_user(live_session, "manager", email="twofactor-manager@example.com")
    live_session.commit()
    context = browser.new_context(viewport={"width": 390, "height": 844})
    page = context.new_page()

    sign_in_with_password(page, strict_server, manager.email)
    expect(page).to_have_url(f"{strict_server}/console/account/two-factor/setup")
    expect(page.get_by_role("heading", name="Set up two-factor sign-in")).to_be_visible()
    expect(page.get_by_role("status")).to_contain_text("needs two-factor sign-in")
    expect(page.locator(".qr-code svg")).to_be_visible()
    OUTPUT.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(OUTPUT / "two_factor_setup_phone.png"), full_page=True)
    key = page.locator("#totp-key").inner_text().replace(" ", "")
    app = pyotp.TOTP(key)

    page.get_by_label("Code from the app").fill(app.now())
    page.get_by_role("button", name="Turn on two-factor sign-in").click()
    expect(page.get_by_role("heading", name="Your recovery codes")).to_be_visible()
    expect(page.locator(".recovery-codes li")).to_have_count(10)
    expect(page.get_by_text("Two-factor sign-in is on")).to_be_visible()
    page.get_by_role("link", name="Home").click()
    expect(page.get_by_text("open tickets")).to_be_visible()  # the console is open now
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", name="Staff sign-in")).to_be_visible()  # signed out before going on

    sign_in_with_password(page, strict_server, manager.email)
    expect(page.get_by_label("Authentication code")).to_be_visible()
    page.get_by_label("Authentication code").fill("000000" if app.now() != "000000" else "111111")
    page.get_by_role("button", name="Verify").click()
    expect(page.get_by_role("alert")).to_contain_text("not right or has expired")
    # The app's next code: the one used to set up was accepted once and can't be used again.
    page.get_by_label("Authentication code").fill(app.at(utcnow() + timedelta(seconds=30)))
    page.get_by_role("button", name="Verify").click()
    expect(page.get_by_role("navigation", name="Console")).to_contain_text(manager.email)
    page.goto(f"{strict_server}/console/account/security")
    expect(page.get_by_text("10 recovery codes left")).to_be_visible()
    expect(page.get_by_text("this browser")).to_be_visible()
    context.close()
