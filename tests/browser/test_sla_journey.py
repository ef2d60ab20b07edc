"""SLA in a real browser: the countdown in the queue ticks by itself and turns overdue without a reload; a
manager opens the SLA page from the navigation on a phone, opens Saturdays and adds a holiday, and the page
fits 390 px."""

from __future__ import annotations

from datetime import timedelta

from playwright.sync_api import Browser, expect

from core.db import utcnow
from tests.browser.conftest import OUTPUT
from tests.factories import PASSWORD, make_user
from tests.support_factories import make_conversation


def sign_in(page, live_server: str, email: str, next_path: str) -> None:
    page.goto(f"{live_server}/console/login?next={next_path}")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()


def test_the_queue_countdown_turns_overdue_without_a_reload(
    browser: Browser, live_server: str, live_session
) -> None:
    agent = make_user(live_session, "agent", email="sla-agent@example.com")
    now = utcnow()
    closing = make_conversation(
        live_session,
        subject="Due any second",
        created_at=now,
        first_response_due_at=now + timedelta(seconds=3),
    )
    make_conversation(
        live_session, subject="Due later", created_at=now, first_response_due_at=now + timedelta(hours=5)
    )
    live_session.commit()

    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    sign_in(page, live_server, agent.email, "/console/tickets")
    row = page.locator("#queue tbody tr", has_text="Due any second")
    clock = row.locator("[data-sla-due]")
    expect(clock).to_have_attribute("data-sla-state", "overdue", timeout=10_000)
    expect(clock).to_have_class("sla sla-overdue")
    expect(clock).to_have_text("0 min overdue")
    later = page.locator("#queue tbody tr", has_text="Due later").locator("[data-sla-due]")
    expect(later).to_have_text("due in 4 h 59 min")
    expect(later).to_have_attribute("data-sla-state", "ok")

    page.goto(f"{live_server}/console/tickets/{closing.id}")
    expect(page.locator(".sla-targets")).to_contain_text("overdue")
    page.set_viewport_size({"width": 390, "height": 844})
    OUTPUT.mkdir(parents=True, exist_ok=True)
    page.locator(".sla-targets").screenshot(path=str(OUTPUT / "sla_ticket_phone.png"))
    context.close()


def test_a_manager_sets_business_hours_on_a_phone(browser: Browser, live_server: str, live_session) -> None:
    manager = make_user(live_session, "manager", email="sla-manager@example.com")
    live_session.commit()

    context = browser.new_context(viewport={"width": 390, "height": 844})
    page = context.new_page()
    sign_in(page, live_server, manager.email, "/console/")
    page.get_by_role("link", name="SLA", exact=True).click()
    expect(page.get_by_role("heading", name="SLA and business hours")).to_be_visible()

    page.get_by_label("Time zone").fill("Europe/London")
    page.get_by_label("Saturday", exact=True).check()
    page.get_by_label("Saturday opens").fill("10:00")
    page.get_by_label("Saturday closes").fill("14:00")
    page.get_by_role("button", name="Save business hours").click()
    expect(page.get_by_role("status")).to_contain_text("Business hours saved.")
    expect(page.get_by_label("Saturday closes")).to_have_value("14:00")

    page.get_by_label("Date", exact=True).fill("2026-12-26")
    page.get_by_label("Name", exact=True).fill("Boxing Day")
    page.get_by_role("button", name="Add holiday").click()
    expect(page.get_by_text("Boxing Day")).to_be_visible()

    page.get_by_label("First response").first.fill("soon")
    page.get_by_role("button", name="Save targets").click()
    expect(page.get_by_role("alert")).to_contain_text("Urgent first response")

    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the SLA page is {width} px wide on a phone"
    OUTPUT.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(OUTPUT / "sla_settings_phone.png"), full_page=True)
    context.close()
