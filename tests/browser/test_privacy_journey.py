"""A customer downloads their data and asks to be forgotten; a manager finds the request, confirms and erases
them; the customer can no longer sign in. In a real browser against a live server."""

from __future__ import annotations

import json

from playwright.sync_api import Browser, expect

from tests.factories import PASSWORD, make_user
from tests.privacy_factories import EMAIL, NAME, make_person


def test_customer_asks_to_be_forgotten_and_a_manager_erases_them(
    browser: Browser, live_server: str, live_session
) -> None:
    person = make_person(live_session)
    manager = make_user(live_session, "manager", email="privacy-manager@example.com")
    live_session.commit()

    customer_page = browser.new_context(viewport={"width": 390, "height": 844}).new_page()
    customer_page.goto(f"{live_server}/login?next=/account")
    customer_page.get_by_label("Email").fill(EMAIL)
    customer_page.get_by_label("Password").fill(PASSWORD)
    customer_page.get_by_role("button", name="Sign in").click()
    expect(customer_page.get_by_role("heading", name="My details")).to_be_visible()
    with customer_page.expect_download() as download_info:
        customer_page.get_by_role("link", name="Download all my data (JSON)").click()
    data = json.loads(open(download_info.value.path(), encoding="utf-8").read())
    assert data["customer"]["name"] == NAME and len(data["orders"]) == 2
    customer_page.get_by_label("I want my account and personal data deleted").check()
    customer_page.get_by_role("button", name="Request deletion").click()
    expect(customer_page.get_by_text("asked for your account to be deleted")).to_be_visible()

    page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    page.goto(f"{live_server}/console/login")
    page.get_by_label("Email").fill(manager.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()
    page.get_by_role("navigation", name="Console").get_by_role("link", name="Privacy", exact=True).click()
    page.goto(f"{live_server}/console/customers/{person.customer.id}")
    with page.expect_download() as staff_download:
        page.get_by_role("button", name="Download their data (JSON)").click()
    assert staff_download.value.suggested_filename == f"customer-{person.customer.id}-data.json"
    page.get_by_role("navigation", name="Console").get_by_role("link", name="Privacy", exact=True).click()
    page.get_by_role("link", name="Review and erase").click()
    expect(page.get_by_role("heading", name=f"Erase customer #{person.customer.id}")).to_be_visible()
    page.get_by_label("Type the customer number").fill(str(person.customer.id))
    page.get_by_role("button", name="Erase personal data").click()
    expect(page.get_by_text(f"Customer #{person.customer.id} erased")).to_be_visible()
    expect(page.get_by_role("heading", name="Erased customer")).to_be_visible()
    page.goto(f"{live_server}/console/privacy/requests?status=done")
    expect(page.locator("table").get_by_text("privacy-manager@example.com")).to_be_visible()

    customer_page.goto(f"{live_server}/account")
    expect(customer_page.get_by_role("button", name="Sign in")).to_be_visible()  # signed out
    customer_page.get_by_label("Email").fill(EMAIL)
    customer_page.get_by_label("Password").fill(PASSWORD)
    customer_page.get_by_role("button", name="Sign in").click()
    expect(customer_page.get_by_text("match an account")).to_be_visible()
