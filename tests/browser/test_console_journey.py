"""A staff member signs in to the console in a real browser and sees the shell."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.factories import PASSWORD, make_user


def test_agent_signs_in_and_sees_console_shell(page: Page, live_server: str, live_session) -> None:
    agent = make_user(live_session, "agent", email="browser-agent@example.com")
    live_session.commit()
    page.goto(f"{live_server}/console/tickets")
    expect(page).to_have_url(f"{live_server}/console/login?next=/console/tickets")
    page.get_by_label("Email").fill(agent.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Tickets")).to_be_visible()
    expect(page.get_by_role("navigation", name="Console")).to_contain_text(agent.email)
    expect(page.get_by_text("No open tickets")).to_be_visible()
    page.get_by_role("link", name="Home").click()
    expect(page.get_by_text("open tickets")).to_be_visible()


def test_wrong_password_shows_a_clear_error(page: Page, live_server: str) -> None:
    page.goto(f"{live_server}/console/login")
    page.get_by_label("Email").fill("nobody@example.com")
    page.get_by_label("Password").fill("not-the-password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_contain_text("match a staff account")
