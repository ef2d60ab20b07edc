"""A customer writes about an order in the portal; an agent takes the ticket, answers with a canned reply
found as they type; the customer sees the reply in the thread."""

from __future__ import annotations

from playwright.sync_api import Browser, Page, expect

from core.support.models import Macro
from tests.browser.conftest import OUTPUT
from tests.factories import PASSWORD, make_customer, make_order, make_user


def wait_for_htmx(page: Page, selector: str) -> None:
    """Wait until htmx has processed the element (its triggers are listening)."""
    page.wait_for_function(
        "s => { const e = document.querySelector(s); return !!(e && e['htmx-internal-data']?.initHash); }",
        arg=selector,
    )


def test_customer_writes_agent_replies_with_a_canned_reply(
    page: Page, browser: Browser, live_server: str, live_session
) -> None:
    person = make_customer(live_session, name="Jane Doe", email="jane.journey@example.com")
    customer = make_user(live_session, "customer", email="jane.journey@example.com", customer_id=person.id)
    order = make_order(live_session, customer_id=person.id, email=person.email)
    agent = make_user(live_session, "agent", email="journey-agent@example.com", name="Alex Agent")
    live_session.add(
        Macro(
            name="Journey: order on its way",
            body="Hi {{ customer.first_name }}, {{ order.number }} ships today.",
        )
    )
    live_session.commit()

    page.goto(f"{live_server}/login")
    page.get_by_label("Email").fill(customer.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(f"{live_server}/orders")
    page.goto(f"{live_server}/orders/{order.number}")
    page.get_by_role("link", name="Ask us about this order").click()
    page.get_by_label("Your message").fill("Can it arrive before Friday?")
    page.get_by_role("button", name="Send").click()
    expect(page.get_by_role("heading", name=f"Question about order {order.number}")).to_be_visible()
    expect(page.get_by_text("Can it arrive before Friday?")).to_be_visible()
    thread_url = page.url

    staff = browser.new_context(viewport={"width": 1280, "height": 800})
    console = staff.new_page()
    console.goto(f"{live_server}/console/login")
    console.get_by_label("Email").fill(agent.email)
    console.get_by_label("Password").fill(PASSWORD)
    console.get_by_role("button", name="Sign in").click()
    expect(console.get_by_role("navigation", name="Console")).to_contain_text(agent.email)
    console.goto(f"{live_server}/console/tickets")
    console.get_by_role("link", name=f"Question about order {order.number}").click()
    console.get_by_role("button", name="Take it").click()
    expect(console.get_by_text("Assigned to Alex Agent")).to_be_visible()
    wait_for_htmx(console, "#ticket form[role=search]")  # the swapped-in search must listen before we type
    console.get_by_label("Canned replies").fill("jurney")
    console.get_by_role("link", name="Journey: order on its way").click()
    expect(console.locator("#reply-body")).to_have_value(f"Hi Jane, {order.number} ships today.")
    console.get_by_role("button", name="Send", exact=True).click()
    expect(console.locator(".message.from-agent")).to_contain_text("ships today")
    expect(console.locator("#conv-h")).to_contain_text("Pending")
    OUTPUT.mkdir(parents=True, exist_ok=True)
    console.screenshot(path=str(OUTPUT / "support_journey_console_ticket.png"), full_page=True)
    staff.close()

    page.goto(thread_url)
    expect(page.locator(".message.from-agent")).to_contain_text(f"Hi Jane, {order.number} ships today.")
    expect(page.get_by_text("Assigned to")).to_have_count(0)  # staff history never reaches the customer
