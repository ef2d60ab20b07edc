"""A manager works the customer match suggestions in a real browser: the nav badge counts them, Dismiss and
Merge remove a pair in place, and Undo merge on the customer page splits the customers again."""

from __future__ import annotations

from playwright.sync_api import Browser, expect

from tests.browser.test_support_journey import wait_for_htmx
from tests.factories import PASSWORD, make_user
from tests.web.test_console_identity import person, suggest


def test_manager_dismisses_merges_and_undoes_a_merge(
    browser: Browser, live_server: str, live_session
) -> None:
    manager = make_user(live_session, "manager", email="identity-manager@example.com")
    ada = person(live_session, "Ada Lovelace", "ada.journey@example.org", age_days=30)
    ada_again = person(live_session, "Ada Lovelase", "ada.j@example.net", age_days=2)
    bob = person(live_session, "Bob Stone", "bob.journey@example.org", age_days=20)
    rob = person(live_session, "Rob Stone", "rob.journey@example.org", age_days=1)
    merge_me = suggest(live_session, ada, ada_again, 0.93)
    dismiss_me = suggest(live_session, bob, rob, 0.81)
    live_session.commit()

    page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    page.goto(f"{live_server}/console/login?next=/console/customers/suggestions")
    page.get_by_label("Email").fill(manager.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Customer match suggestions")).to_be_visible()
    expect(page.locator('[data-count="suggestions"]')).to_have_text("2")

    wait_for_htmx(page, f"#suggestion-{dismiss_me.id} form")
    page.locator(f"#suggestion-{dismiss_me.id}").get_by_role("button", name="Dismiss").click()
    expect(page.locator(f"#suggestion-{dismiss_me.id}")).to_have_count(0)
    wait_for_htmx(page, f"#suggestion-{merge_me.id} form")
    page.locator(f"#suggestion-{merge_me.id}").get_by_role("button", name="Merge").click()
    expect(page.locator(f"#suggestion-{merge_me.id}")).to_have_count(0)

    page.goto(f"{live_server}/console/customers/{ada.id}")
    expect(page.get_by_text(f"#{ada_again.id}", exact=True)).to_be_visible()
    page.get_by_role("button", name="Undo merge").click()
    expect(page.get_by_role("status")).to_contain_text(f"customer {ada_again.id} stands alone again")
    expect(page.get_by_role("button", name="Undo merge")).to_have_count(0)
