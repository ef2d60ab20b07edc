"""An agent works the queue in a real browser: filters and views swap the list in place and keep the URL,
two tickets are ticked and taken at once, the header search finds a misspelled customer as they type, and
they mark themselves available; the queue fits a phone's width."""

from __future__ import annotations

from playwright.sync_api import Browser, expect

from tests.browser.conftest import OUTPUT
from tests.browser.test_support_journey import wait_for_htmx
from tests.factories import PASSWORD, make_customer, make_user
from tests.support_factories import make_conversation


def test_agent_filters_takes_two_tickets_and_searches(
    browser: Browser, live_server: str, live_session
) -> None:
    agent = make_user(live_session, "agent", name="Quinn Queue", email="queue-agent@example.com")
    jane = make_customer(live_session, name="Jane Doe", email="jane.queue@example.org")
    make_conversation(live_session, customer_id=jane.id, subject="Where is my tent?")
    make_conversation(live_session, subject="Refund for the stove")
    make_conversation(live_session, subject="Broken pole", priority="urgent")
    live_session.commit()

    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    page.goto(f"{live_server}/console/login?next=/console/tickets")
    page.get_by_label("Email").fill(agent.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Tickets")).to_be_visible()

    wait_for_htmx(page, "#queue-filters")
    page.get_by_label("Priority").select_option("urgent")
    expect(page).to_have_url(f"{live_server}/console/tickets?priority=urgent")
    expect(page.locator("#queue tbody tr")).to_have_count(1)
    page.get_by_role("link", name="Unassigned").click()
    expect(page).to_have_url(f"{live_server}/console/tickets?view=unassigned&priority=urgent")
    wait_for_htmx(page, "#queue-filters")
    page.get_by_label("Priority").select_option("")
    expect(page.locator("#queue tbody tr")).to_have_count(3)
    expect(page).to_have_url(f"{live_server}/console/tickets?view=unassigned")  # the view kept

    page.get_by_label("Select ticket", exact=False).nth(0).check()
    page.get_by_label("Select ticket", exact=False).nth(1).check()
    page.get_by_role("button", name="Assign to me").click()
    expect(page.get_by_role("status")).to_contain_text("2 ticket(s) updated.")
    expect(page.locator('[data-count="mine"]')).to_have_text("2")
    expect(page.locator("#queue tbody tr")).to_have_count(1)
    OUTPUT.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(OUTPUT / "queue_desktop.png"), full_page=True)

    page.get_by_role("button", name="Away").click()
    expect(page.get_by_role("button", name="Available")).to_be_visible()

    wait_for_htmx(page, "#console-search")
    page.get_by_label("Search customers and orders").press_sequentially("jnae doe", delay=30)
    page.locator("#console-search-results").get_by_role("link", name="Jane Doe").click()
    expect(page).to_have_url(f"{live_server}/console/customers/{jane.id}")

    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"{live_server}/console/tickets?view=mine")
    expect(page.locator("#queue tbody tr")).to_have_count(2)
    page.screenshot(path=str(OUTPUT / "queue_phone.png"), full_page=True)
    context.close()
