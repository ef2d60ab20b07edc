"""Two agents on one ticket in two browsers: each sees the other viewing, then replying, live; the agent
who sends second is warned that the first replied, keeps their draft, reads it and sends again."""

from __future__ import annotations

from playwright.sync_api import Browser, Page, expect

from tests.browser.conftest import OUTPUT
from tests.factories import PASSWORD, make_customer, make_user
from tests.support_factories import make_conversation

LIVE = 12_000  # ms: a heartbeat every 5 s, so a change shows within one or two


def open_ticket(browser: Browser, live_server: str, email: str, ticket_id: int) -> Page:
    page = browser.new_context(viewport={"width": 1280, "height": 800}).new_page()
    page.goto(f"{live_server}/console/login?next=/console/tickets/{ticket_id}")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("#reply-form")).to_be_visible()
    return page


def test_two_agents_see_each_other_and_the_second_reply_is_held_back(
    browser: Browser, live_server: str, live_session
) -> None:
    dana = make_user(live_session, "agent", name="Dana Diaz", email="dana.presence@example.com")
    sam = make_user(live_session, "agent", name="Sam Stone", email="sam.presence@example.com")
    jane = make_customer(live_session, name="Jane Doe", email="jane.presence@example.org")
    ticket = make_conversation(live_session, customer_id=jane.id, subject="Tent pole snapped")
    live_session.commit()

    dana_page = open_ticket(browser, live_server, dana.email, ticket.id)
    sam_page = open_ticket(browser, live_server, sam.email, ticket.id)
    expect(sam_page.locator("#presence")).to_contain_text("Dana Diaz is viewing", timeout=LIVE)
    expect(dana_page.locator("#presence")).to_contain_text("Sam Stone is viewing", timeout=LIVE)

    dana_page.locator("#reply-body").fill("Hi Jane, a new pole is on its way.")
    expect(sam_page.locator("#presence")).to_contain_text("Dana Diaz is replying", timeout=LIVE)
    OUTPUT.mkdir(parents=True, exist_ok=True)
    sam_page.screenshot(path=str(OUTPUT / "ticket_presence.png"), full_page=True)

    sam_page.locator("#reply-body").fill("Hi Jane, sorry about that: we'll send a replacement.")
    sam_page.get_by_role("button", name="Send").click()
    expect(sam_page.locator(".messages")).to_contain_text("we'll send a replacement")

    dana_page.get_by_role("button", name="Send").click()
    expect(dana_page.get_by_role("alert")).to_contain_text(
        "Sam Stone replied while you were writing — review and send again"
    )
    expect(dana_page.locator("#reply-body")).to_have_value("Hi Jane, a new pole is on its way.")
    expect(dana_page.locator(".messages")).to_contain_text("we'll send a replacement")
    dana_page.get_by_role("button", name="Send").click()
    expect(dana_page.locator(".messages")).to_contain_text("a new pole is on its way")
    expect(dana_page.get_by_role("alert")).to_have_count(0)
    for page in (dana_page, sam_page):
        page.context.close()
