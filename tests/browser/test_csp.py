"""Under our Content-Security-Policy (scripts from our own files only, no eval, no inline style), the portal
and console pages load and their htmx interactions work with no violation: every securitypolicyviolation
event and every console message about the policy fails the test."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.factories import PASSWORD, make_user
from tests.security.world import make_owner, make_shop_for_people

pytestmark = pytest.mark.browser

RECORD_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (e) => {
  const where = `${e.sourceFile}:${e.lineNumber}`;
  window.__cspViolations.push(`${e.violatedDirective} blocked ${e.blockedURI || "inline"} at ${where}`);
});
"""


class Watch:
    """Policy violations seen by a page: its console and the securitypolicyviolation events."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.console: list[str] = []
        page.add_init_script(RECORD_VIOLATIONS)
        page.on("console", self._console)

    def _console(self, message) -> None:
        text = message.text
        if "Content Security Policy" in text or "Refused to" in text or "unsafe-eval" in text:
            self.console.append(text)

    def visit(self, url: str) -> None:
        response = self.page.goto(url)
        assert response is not None and response.status < 500, url
        self.page.wait_for_load_state("networkidle")
        self.check(url)

    def check(self, where: str) -> None:
        events = self.page.evaluate("window.__cspViolations || []")
        assert (events, self.console) == ([], []), where
        # htmx's own indicator <style> is switched off (our stylesheet has the rules)
        assert self.page.evaluate("document.querySelectorAll('style').length") == 0, where


@pytest.fixture
def people(live_session):
    owner = make_owner(live_session, make_shop_for_people(live_session))
    admin = make_user(live_session, "admin")
    live_session.commit()
    return owner, admin


def sign_in(page: Page, base: str, email: str, *, console: bool) -> None:
    page.goto(f"{base}{'/console/login' if console else '/login'}")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state("networkidle")


def test_portal_pages_and_htmx_run_without_csp_violations(page: Page, live_server: str, people) -> None:
    owner, _admin = people
    watch = Watch(page)
    watch.visit(f"{live_server}/")
    watch.visit(f"{live_server}/help")
    sign_in(page, live_server, owner.user.email, console=False)
    watch.check("sign-in")
    number, rma = owner.order.number, owner.rma.rma_number
    for path in (
        "/orders",
        f"/orders/{number}",
        f"/orders/{number}/return",
        "/returns",
        f"/returns/{rma}",
        f"/returns/{rma}/slip",
        "/support",
        f"/support/{owner.conversation.id}",
        "/account",
    ):
        watch.visit(f"{live_server}{path}")
    # an htmx round trip: the chat answers in place
    watch.visit(f"{live_server}/support/chat")
    page.locator("#chat-body").fill("where is my order")
    page.locator("#chat-body").press("Enter")
    expect(page.locator("#chat-panel")).to_contain_text("where is my order")
    watch.check("chat")
    # boosted navigation (hx-boost swaps the body) keeps the policy too
    page.get_by_role("link", name="My orders").first.click()
    expect(page).to_have_url(f"{live_server}/orders")
    page.wait_for_load_state("networkidle")
    watch.check("boosted navigation")


def test_console_pages_and_htmx_run_without_csp_violations(page: Page, live_server: str, people) -> None:
    owner, admin = people
    watch = Watch(page)
    watch.visit(f"{live_server}/console/login")
    sign_in(page, live_server, admin.email, console=True)
    watch.check("console sign-in")
    for path in (
        "/console/",
        "/console/tickets",
        f"/console/tickets/{owner.conversation.id}",
        f"/console/orders/{owner.order.id}",
        f"/console/orders/{owner.order.id}/packing-slip",
        f"/console/returns/{owner.rma.id}",
        "/console/returns",
        "/console/stock",
        "/console/stock/counts",
        "/console/fulfilment",
        "/console/alerts",
        "/console/intake",
        "/console/analytics",
        "/console/mail",
        "/console/macros",
        "/console/search?q=Ada",
        "/console/admin/users",
        "/console/admin/channels",
        "/console/admin/sla",
    ):
        watch.visit(f"{live_server}{path}")
    # an htmx form that clears itself once saved (data-reset-on-success, no inline handler)
    watch.visit(f"{live_server}/console/customers/{owner.user.customer_id}")
    page.locator("#note-body").fill("Prefers morning deliveries")
    page.get_by_role("button", name="Save note").click()
    expect(page.locator("#notes")).to_contain_text("Prefers morning deliveries")
    expect(page.locator("#note-body")).to_have_value("")
    watch.check("customer note")
