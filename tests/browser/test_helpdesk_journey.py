"""The helpdesk end to end, both ways: a customer writes about an order in the portal; an agent finds
the ticket under "Unassigned", takes it, sees the customer's orders from three channels and a pinned CRM
note beside it, answers with a canned reply and refunds one line; the customer sees the reply and the
refund in the portal and gets both emails (over real SMTP); the customer answers the reply email, and the
ticket reopens."""

from __future__ import annotations

import json
import threading
import urllib.request
from collections.abc import Iterator

import pytest
import waitress
from playwright.sync_api import Browser, Page, expect

from app import create_app
from core.customers.models import CrmNote
from core.db import utcnow
from core.notifications.smtp import SmtpSettings, dispatch_email_outbox
from core.support.models import Conversation, Macro
from tests.browser.conftest import OUTPUT
from tests.browser.test_support_journey import wait_for_htmx
from tests.factories import PASSWORD, make_channel, make_customer, make_order, make_user
from tests.support_factories import make_email
from tests.worker.smtp_server import SmtpServer, running_smtp_server

SECRET_KEY = "browser-helpdesk"
INBOUND_SECRET = "inbound-journey-secret"
MAIL_FROM = "support@crossdock.test"


@pytest.fixture(scope="module")
def live_server(live_db) -> Iterator[str]:
    """The browser tests' live server, with inbound email switched on."""
    url, _factory = live_db
    app = create_app({"DATABASE_URL": url, "SECRET_KEY": SECRET_KEY, "INBOUND_EMAIL_SECRET": INBOUND_SECRET})
    server = waitress.create_server(app, host="127.0.0.1", port=0, threads=4)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.effective_port}"
    server.close()
    thread.join(timeout=5)


@pytest.fixture(scope="module")
def smtp() -> Iterator[SmtpServer]:
    with running_smtp_server() as server:
        yield server


def test_customer_writes_agent_works_the_ticket_and_the_customer_answers_by_email(
    page: Page, browser: Browser, live_server: str, live_db, live_session, smtp: SmtpServer
) -> None:
    _url, factory = live_db
    person = make_customer(live_session, name="Ada Lovelace", email="ada.helpdesk@example.com")
    customer = make_user(live_session, "customer", email=person.email, customer_id=person.id)
    channels = {
        name: make_channel(live_session, name=name, kind=kind)
        for name, kind in (
            ("Journey Amazon", "amazon"),
            ("Journey eBay", "ebay"),
            ("Journey Shopify", "shopify"),
        )
    }
    asked = make_order(
        live_session,
        lines=2,
        customer_id=person.id,
        email=person.email,
        status="delivered",
        channel_id=channels["Journey Shopify"].id,
    )
    for name in ("Journey Amazon", "Journey eBay"):
        make_order(
            live_session,
            customer_id=person.id,
            email=person.email,
            status="shipped",
            channel_id=channels[name].id,
        )
    live_session.add(CrmNote(customer_id=person.id, body="Prefers email, never calls.", pinned=True))
    live_session.add(
        Macro(name="Helpdesk: sorry", body="Hi {{ customer.first_name }}, sorry about {{ order.number }}.")
    )
    agent = make_user(live_session, "agent", email="helpdesk-agent@example.com", name="Hal Agent")
    live_session.commit()

    # The customer writes about the order.
    page.goto(f"{live_server}/login")
    page.get_by_label("Email").fill(customer.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(f"{live_server}/orders")
    page.goto(f"{live_server}/orders/{asked.number}")
    page.get_by_role("link", name="Ask us about this order").click()
    page.get_by_label("Your message").fill("One of the two items came broken.")
    page.get_by_role("button", name="Send").click()
    subject = f"Question about order {asked.number}"
    expect(page.get_by_role("heading", name=subject)).to_be_visible()
    thread_url = page.url

    # The agent finds it under Unassigned and takes it.
    staff = browser.new_context(viewport={"width": 1280, "height": 900})
    console = staff.new_page()
    console.goto(f"{live_server}/console/login")
    console.get_by_label("Email").fill(agent.email)
    console.get_by_label("Password").fill(PASSWORD)
    console.get_by_role("button", name="Sign in").click()
    expect(console.get_by_role("navigation", name="Console")).to_contain_text(agent.email)
    console.goto(f"{live_server}/console/tickets")
    console.get_by_role("navigation", name="Ticket views").get_by_role("link", name="Unassigned").click()
    expect(console).to_have_url(f"{live_server}/console/tickets?view=unassigned")
    console.get_by_role("link", name=subject).click()
    expect(console.get_by_role("heading", name=subject)).to_be_visible()
    console.get_by_role("button", name="Take it").click()
    expect(console.get_by_text("Assigned to Hal Agent")).to_be_visible()

    # Beside the conversation: orders from three channels and the pinned note.
    for name in channels:
        expect(console.locator(".c360-order", has_text=name)).to_be_visible()
    pinned = console.locator(".note.pinned")
    expect(pinned).to_contain_text("Prefers email, never calls.")
    expect(pinned.locator(".badge.pin")).to_have_text("Pinned")

    # A canned reply, then a refund of one line.
    wait_for_htmx(console, "#ticket form[role=search]")
    console.get_by_label("Canned replies").fill("helpdsk sory")
    console.get_by_role("link", name="Helpdesk: sorry").click()
    expect(console.locator("#reply-body")).to_have_value(f"Hi Ada, sorry about {asked.number}.")
    console.get_by_role("button", name="Send", exact=True).click()
    expect(console.locator(".message.from-agent")).to_contain_text(f"sorry about {asked.number}")
    panel = console.locator("#order-panel")
    expect(panel).to_contain_text(asked.number)
    panel.locator("summary", has_text="Refund").click()
    panel.get_by_label("Units of Item 1 to refund").fill("1")
    panel.get_by_label("Reason (the customer sees it)").fill("Arrived broken")
    panel.get_by_role("button", name="Refund selected").click()
    expect(console.locator("#order-panel")).to_contain_text("Refund recorded.")
    OUTPUT.mkdir(parents=True, exist_ok=True)
    console.screenshot(path=str(OUTPUT / "helpdesk_journey_ticket.png"), full_page=True)

    # The customer sees the reply and the refund in the portal...
    page.goto(thread_url)
    expect(page.locator(".message.from-agent")).to_contain_text(f"Hi Ada, sorry about {asked.number}.")
    page.goto(f"{live_server}/orders/{asked.number}")
    expect(page.locator(".timeline")).to_contain_text("Arrived broken")

    # ...and gets both emails, through the outbox and a real SMTP server.
    settings = SmtpSettings(
        port=smtp.port, mail_from=MAIL_FROM, portal_base_url=live_server, secret_key=SECRET_KEY
    )
    before = len(smtp.messages)
    dispatch_email_outbox(factory, settings, now=utcnow())
    received = [m for m in smtp.messages[before:] if str(m["To"]) == person.email]
    [reply_email] = [m for m in received if str(m["Subject"]) == f"Re: {subject}"]
    assert any(f"Your refund for order {asked.number}" in str(m["Subject"]) for m in received)
    assert f"sorry about {asked.number}" in reply_email.get_body(preferencelist=("plain",)).get_content()

    # The customer answers the email; the pending ticket reopens with the answer in it.
    answer = make_email(
        sender=f"Ada Lovelace <{person.email}>",
        to=str(reply_email["Reply-To"]),
        subject=f"Re: {reply_email['Subject']}",
        body="Thank you, that is fine.\n\nOn Friday, support wrote:\n> sorry",
        message_id="<ada-answer@mail.example.com>",
        in_reply_to=str(reply_email["Message-ID"]),
    )
    request = urllib.request.Request(
        f"{live_server}/api/support/inbound-email",
        data=answer,
        headers={"X-Crossdock-Inbound-Secret": INBOUND_SECRET, "Content-Type": "message/rfc822"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        assert response.status == 200
        result = json.load(response)
    assert result["status"] == "threaded", result
    conversation_id = result["conversation_id"]
    live_session.expire_all()
    assert live_session.get(Conversation, conversation_id).subject == subject
    console.reload()
    expect(console.locator("#conv-h")).to_contain_text("Open")
    expect(console.locator(".message.from-customer").last).to_contain_text("Thank you, that is fine.")
    staff.close()
