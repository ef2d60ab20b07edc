"""A customer asks to cancel an order in the portal; an agent opens the ticket, cancels it with one click
from the order panel, and refunds one line of another of the customer's orders from the same ticket; the
customer sees the cancellation done and the refund on their order pages."""

from __future__ import annotations

from playwright.sync_api import Browser, Page, expect

from tests.browser.conftest import OUTPUT
from tests.factories import PASSWORD, make_customer, make_order, make_user


def test_customer_asks_to_cancel_agent_cancels_and_refunds_a_line(
    page: Page, browser: Browser, live_server: str, live_session
) -> None:
    person = make_customer(live_session, name="Grace Hopper", email="grace.journey@example.com")
    customer = make_user(live_session, "customer", email=person.email, customer_id=person.id)
    to_cancel = make_order(live_session, customer_id=person.id, email=person.email, status="confirmed")
    delivered = make_order(
        live_session, lines=2, customer_id=person.id, email=person.email, status="delivered"
    )
    agent = make_user(live_session, "agent", email="actions-agent@example.com")
    live_session.commit()

    page.goto(f"{live_server}/login")
    page.get_by_label("Email").fill(customer.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(f"{live_server}/orders")
    page.goto(f"{live_server}/orders/{to_cancel.number}")
    page.get_by_role("link", name="Cancel this order").click()
    page.get_by_role("button", name="Ask to cancel this order").click()
    expect(page.locator("#cancellation")).to_contain_text("Our team is on it")

    staff = browser.new_context(viewport={"width": 1280, "height": 900})
    console = staff.new_page()
    console.goto(f"{live_server}/console/login")
    console.get_by_label("Email").fill(agent.email)
    console.get_by_label("Password").fill(PASSWORD)
    console.get_by_role("button", name="Sign in").click()
    expect(console.get_by_role("navigation", name="Console")).to_contain_text(agent.email)
    console.goto(f"{live_server}/console/tickets")
    console.get_by_role("link", name=f"Cancel order {to_cancel.number}").click()
    console.get_by_role("button", name=f"Cancel order {to_cancel.number} now").click()
    expect(console.locator("#order-panel")).to_contain_text("Order cancelled")

    console.get_by_label("Order", exact=True).select_option(str(delivered.id))
    console.get_by_role("button", name="Show").click()
    panel = console.locator("#order-panel")
    expect(panel).to_contain_text(delivered.number)
    panel.locator("summary", has_text="Refund").click()
    panel.get_by_label("Units of Item 1 to refund").fill("1")
    panel.get_by_label("Reason (the customer sees it)").fill("Arrived scratched")
    panel.get_by_role("button", name="Refund selected").click()
    expect(console.locator("#order-panel")).to_contain_text("Refund recorded.")
    console.locator("#order-panel summary", has_text="Emails to the customer").click()
    expect(console.locator("#order-panel .emails")).to_contain_text(
        f"Your refund for order {delivered.number}"
    )
    OUTPUT.mkdir(parents=True, exist_ok=True)
    console.screenshot(path=str(OUTPUT / "order_actions_ticket.png"), full_page=True)
    console.set_viewport_size({"width": 390, "height": 844})
    console.goto(f"{live_server}/console/orders/{delivered.id}")
    expect(console.locator("#order-panel")).to_contain_text("Arrived scratched")
    assert console.evaluate("document.documentElement.scrollWidth") <= 390  # no sideways scrolling
    console.screenshot(path=str(OUTPUT / "order_actions_order_page_phone.png"), full_page=True)
    staff.close()

    page.goto(f"{live_server}/orders/{to_cancel.number}")
    expect(page.locator("#cancellation")).to_contain_text("Done: this order is cancelled")
    page.goto(f"{live_server}/orders/{delivered.number}")
    expect(page.locator(".timeline")).to_contain_text("Arrived scratched")
    expect(page.get_by_text("Refunded", exact=True)).to_be_visible()
