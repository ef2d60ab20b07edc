"""The portal chat in a real browser, on a phone-sized screen: a customer opens the widget, asks where their
order is (with a typo, by its number), gets the real tracking answer, asks for a person; an agent (a second
browser) finds the handed-off ticket in the queue with the transcript and the order, replies, and the reply
appears in the customer's chat without a reload. A guest proves an order with a code emailed to it and moves
its delivery to a new address, read back and confirmed with a tap."""

from __future__ import annotations

from datetime import timedelta

from playwright.sync_api import Browser, expect
from sqlalchemy import select

from core.db import utcnow
from core.fulfillment.models import Shipment, TrackingEvent
from core.notifications.models import OutboxMessage
from core.security.guest import guest_code
from tests.browser.conftest import OUTPUT
from tests.factories import PASSWORD, make_customer, make_order, make_user

LIVE_SECRET = "browser-test"  # the live server's SECRET_KEY (tests/browser/conftest.py)


def test_customer_chats_then_a_person_answers_in_the_same_chat(
    browser: Browser, live_server: str, live_session
) -> None:
    person = make_customer(live_session, name="Chloe Chat", email="chloe.chat@example.com")
    customer = make_user(live_session, "customer", email=person.email, customer_id=person.id)
    agent = make_user(live_session, "agent", email="chat-agent@example.com", name="Cam Agent")
    order = make_order(live_session, customer_id=person.id, email=person.email, status="shipped")
    parcel = Shipment(
        order_id=order.id,
        carrier="DHL",
        tracking_number="JD0146000055",
        tracking_url="https://www.dhl.com/track?id=JD0146000055",
        status="in_transit",
        shipped_at=utcnow() - timedelta(days=1),
    )
    live_session.add(parcel)
    live_session.flush()
    live_session.add(
        TrackingEvent(
            shipment_id=parcel.id,
            status="in_transit",
            description="Arrived at sort hub",
            location="Bristol",
            occurred_at=utcnow() - timedelta(hours=2),
            dedup_key="chat-journey-1",
        )
    )
    live_session.commit()
    digits = order.number.removeprefix("CD-")

    phone = browser.new_context(viewport={"width": 390, "height": 844})
    page = phone.new_page()
    page.goto(f"{live_server}/login")
    page.get_by_label("Email").fill(customer.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(f"{live_server}/orders")

    page.locator("#chat-widget summary").click()
    box = page.locator("#chat-widget")
    expect(box.get_by_placeholder("Type your question")).to_be_visible()
    box.get_by_placeholder("Type your question").fill(f"wheres my ordr #{digits}")
    box.get_by_role("button", name="Send").click()
    answer = box.locator(".message.from-assistant").last
    expect(answer).to_contain_text(
        f"Order {order.number}: On its way. Parcel with DHL, tracking number JD0146000055"
    )
    expect(answer).to_contain_text("Arrived at sort hub (Bristol)")
    expect(answer).to_contain_text("Track it: https://www.dhl.com/track?id=JD0146000055")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390  # no sideways scrolling on a phone
    OUTPUT.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(OUTPUT / "chat_widget_phone.png"), full_page=False)

    box.get_by_placeholder("Type your question").fill("can i talk to a real person")
    box.get_by_role("button", name="Send").click()
    expect(box.get_by_role("status")).to_contain_text("Handed to our team")

    staff = browser.new_context(viewport={"width": 1280, "height": 800})
    console = staff.new_page()
    console.goto(f"{live_server}/console/login?next=/console/tickets")
    console.get_by_label("Email").fill(agent.email)
    console.get_by_label("Password").fill(PASSWORD)
    console.get_by_role("button", name="Sign in").click()
    ticket = f"Chat: Talk to a person (order {order.number})"
    console.get_by_role("link", name=ticket).click()
    expect(console.get_by_text(f"wheres my ordr #{digits}")).to_be_visible()  # the whole transcript
    expect(console.get_by_text(f"Order: {order.number}.", exact=False).first).to_be_visible()  # the summary
    console.locator("#reply-body").fill("Hi Chloe, it arrives tomorrow morning.")
    console.get_by_role("button", name="Send", exact=True).click()
    expect(console.locator(".message.from-agent")).to_contain_text("arrives tomorrow morning")
    staff.close()

    expect(box.locator(".message.from-agent")).to_contain_text(
        "Hi Chloe, it arrives tomorrow morning.", timeout=10_000
    )
    page.screenshot(path=str(OUTPUT / "chat_widget_agent_reply.png"), full_page=False)
    phone.close()


def test_guest_proves_an_amazon_order_is_offered_a_return_and_gets_a_person(
    browser: Browser, live_server: str, live_session
) -> None:
    agent = make_user(live_session, "agent", email="chat-agent-2@example.com", name="Gus Agent")
    order = make_order(
        live_session,
        customer_id=None,
        email="guest.buyer@example.com",
        status="shipped",
        external_id="112-4455667-7788990",
    )
    live_session.add(
        Shipment(
            order_id=order.id,
            carrier="Royal Mail",
            tracking_number="RM123456785GB",
            tracking_url="https://www.royalmail.com/track-your-item#/tracking-results/RM123456785GB",
            status="in_transit",
            shipped_at=utcnow() - timedelta(days=1),
        )
    )
    live_session.commit()

    guest = browser.new_context(viewport={"width": 390, "height": 844})
    page = guest.new_page()
    page.goto(f"{live_server}/help")
    page.locator("#chat-widget summary").click()
    box = page.locator("#chat-widget")

    def ask(text: str) -> None:
        box.get_by_placeholder("Type your question").fill(text)
        box.get_by_role("button", name="Send").click()

    ask("where's my stuff?? order 112-4455667-7788990")
    last = box.locator(".message.from-assistant").last
    expect(last).to_contain_text("please also tell me the email address or the postcode")
    expect(box).not_to_contain_text("Royal Mail")  # nothing about the order before proof
    ask("guest.buyer@example.com")
    expect(last).to_contain_text(f"Order {order.number}: On its way. Parcel with Royal Mail")
    ask("cancel it")
    expect(last).to_contain_text("has already shipped, so it can't be cancelled")
    expect(box.get_by_role("button", name="Return an item")).to_be_visible()
    ask("i want a human")
    expect(box.get_by_role("status")).to_contain_text("Handed to our team")

    staff = browser.new_context(viewport={"width": 1280, "height": 800})
    console = staff.new_page()
    console.goto(f"{live_server}/console/login?next=/console/tickets")
    console.get_by_label("Email").fill(agent.email)
    console.get_by_label("Password").fill(PASSWORD)
    console.get_by_role("button", name="Sign in").click()
    console.get_by_role("link", name=f"Chat: Talk to a person (order {order.number})").click()
    expect(console.get_by_text("where's my stuff?? order 112-4455667-7788990")).to_be_visible()
    console.locator("#reply-body").fill("We'll check with Royal Mail today.")
    console.get_by_role("button", name="Send", exact=True).click()
    expect(console.locator(".message.from-agent")).to_contain_text("check with Royal Mail")
    staff.close()

    expect(box.locator(".message.from-agent")).to_contain_text(
        "We'll check with Royal Mail today.", timeout=10_000
    )
    guest.close()


def test_without_javascript_the_widget_links_to_a_chat_page_that_posts_and_reloads(
    browser: Browser, live_server: str
) -> None:
    context = browser.new_context(viewport={"width": 390, "height": 844}, java_script_enabled=False)
    page = context.new_page()
    page.goto(f"{live_server}/help")
    page.locator("#chat-widget summary").click()
    page.get_by_role("link", name="Open the chat").click()
    expect(page).to_have_url(f"{live_server}/support/chat")
    page.get_by_placeholder("Type your question").fill("what delivery options do you have")
    page.get_by_role("button", name="Send").click()
    expect(page).to_have_url(f"{live_server}/support/chat")
    expect(page.locator(".message.from-customer")).to_contain_text("what delivery options do you have")
    expect(page.locator(".message.from-assistant").last).to_contain_text("delivery")
    context.close()


def test_guest_proves_an_order_by_emailed_code_and_changes_its_address(
    browser: Browser, live_server: str, live_session
) -> None:
    order = make_order(
        live_session,
        customer_id=None,
        email="code.guest@example.com",
        status="confirmed",
        shipping_address={
            "name": "Dana Guest",
            "line1": "1 Old Road",
            "city": "York",
            "postal_code": "YO1 7HH",
            "country": "GB",
        },
    )
    live_session.commit()

    guest = browser.new_context(viewport={"width": 390, "height": 844})
    page = guest.new_page()
    page.goto(f"{live_server}/help")
    page.locator("#chat-widget summary").click()
    box = page.locator("#chat-widget")
    last = box.locator(".message.from-assistant").last

    def ask(text: str) -> None:
        box.get_by_placeholder("Type your question").fill(text)
        box.get_by_role("button", name="Send").click()

    ask(f"I need to change the delivery address of {order.number}")
    expect(last).to_contain_text("or I can email you a code")
    box.get_by_role("button", name="Email me a code").click()
    expect(last).to_contain_text("Type the code here")
    live_session.expire_all()
    [email] = live_session.scalars(
        select(OutboxMessage).where(
            OutboxMessage.kind == "guest_code", OutboxMessage.recipient == "code.guest@example.com"
        )
    ).all()
    code = guest_code(LIVE_SECRET, order.id, email.payload["window"])  # what the email says
    ask(code)
    expect(last).to_contain_text(f"Order {order.number} hasn't shipped yet, so I can change where it goes.")
    ask("12 High Street, Flat 2")
    expect(last).to_contain_text("I still need the town or city and the postcode")
    ask("London SW1A 1AA")
    expect(last).to_contain_text(
        f"I'll change the delivery address of order {order.number} to: Dana Guest, 12 High Street, Flat 2, "
        "London, SW1A 1AA, GB"
    )
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    OUTPUT.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(OUTPUT / "chat_address_read_back_phone.png"), full_page=False)
    box.get_by_role("button", name="Yes, change it").click()
    expect(last).to_contain_text(f"Done: order {order.number} will now be delivered to Dana Guest")

    page.goto(f"{live_server}/orders/{order.number}")  # the code proved it like a /track lookup
    expect(page.locator("address").first).to_contain_text("12 High Street")
    guest.close()
