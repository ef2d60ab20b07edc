"""The customer's main journeys in a real browser: guest lookup of an Amazon order, every channel in one list,
following a parcel, and a return end to end, with JavaScript on and off."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from playwright.sync_api import Browser, Page, expect

from core.db import utcnow
from core.fulfillment.models import TrackingEvent
from core.support.models import HelpArticle
from tests.factories import PASSWORD, make_sku, make_user
from tests.returns_factories import make_delivered_order, make_shop

ADDRESS = {
    "name": "Casey Customer",
    "line1": "9 Elm St",
    "city": "Leeds",
    "postal_code": "LS1 4AB",
    "country": "GB",
}


@pytest.fixture(scope="module")
def journeys(live_db):
    """One customer with orders on three channels: a delivered web-shop order, an Amazon parcel in transit
    with carrier checkpoints, a confirmed eBay order."""
    _url, factory = live_db
    now = utcnow()
    with factory() as session:
        user = make_user(session, "customer", email="casey@example.org")
        web, web_wh = make_shop(session, code="web", name="Web shop", return_window_days=30)
        amazon, amazon_wh = make_shop(session, code="amazon", name="Amazon", kind="amazon")
        ebay, ebay_wh = make_shop(session, code="ebay", name="eBay", kind="ebay")
        jacket = make_sku(session, title="Rain jacket M")
        delivered = make_delivered_order(
            session,
            web,
            web_wh,
            [(jacket, 2)],
            customer_id=user.customer_id,
            delivered_at=now - timedelta(days=2),
            shipping_address=ADDRESS,
        )
        parcel = make_delivered_order(
            session,
            amazon,
            amazon_wh,
            [(make_sku(session, title="Desk lamp"), 1)],
            customer_id=user.customer_id,
            delivered_at=None,
            shipping_address=ADDRESS,
            external_id="113-1234567-7654321",
        )
        shipment = parcel.shipments[0]
        for hours, status, text in (
            (30, "info_received", "Label created"),
            (20, "in_transit", "Departed facility"),
            (2, "out_for_delivery", "Out for delivery"),
        ):
            session.add(
                TrackingEvent(
                    shipment_id=shipment.id,
                    status=status,
                    description=text,
                    location="Leeds",
                    occurred_at=now - timedelta(hours=hours),
                    dedup_key=f"{status}-{hours}",
                )
            )
        shipment.status = "out_for_delivery"
        session.add(
            HelpArticle(
                slug="returns-and-refunds",
                title="Returns and refunds",
                topic="returns",
                summary="How to send something back and when your money arrives.",
                body="Start a return from the order page.\n\nRefunds take 3-5 days.",
                keywords="return refund send back",
            )
        )
        pending = make_delivered_order(
            session,
            ebay,
            ebay_wh,
            [(make_sku(session, title="Mug"), 2)],
            customer_id=user.customer_id,
            shipped=False,
            delivered_at=None,
        )
        session.commit()
        return {
            "email": user.email,
            "delivered": delivered.number,
            "parcel": parcel.number,
            "pending": pending.number,
        }


def sign_in(page: Page, base: str, email: str) -> None:
    page.goto(f"{base}/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="My orders")).to_be_visible()


def test_guest_finds_amazon_order_by_amazon_id_and_postcode(page: Page, live_server: str, journeys) -> None:
    page.goto(f"{live_server}/track")
    page.get_by_label("Order number").fill("113-1234567-7654321")
    page.get_by_label("Email address or delivery postcode").fill("ls1 4ab")
    page.get_by_role("button", name="Find my order").click()
    expect(page.get_by_role("heading", name=f"Order {journeys['parcel']}")).to_be_visible()
    expect(page.get_by_text("Out for delivery today.").first).to_be_visible()


def test_signed_in_customer_sees_orders_from_three_channels(page: Page, live_server: str, journeys) -> None:
    sign_in(page, live_server, journeys["email"])
    orders = page.locator(".order-list")
    for channel in ("Web shop", "Amazon", "eBay"):
        expect(orders.get_by_text(channel, exact=True)).to_be_visible()


def test_customer_follows_a_parcels_checkpoints(page: Page, live_server: str, journeys) -> None:
    sign_in(page, live_server, journeys["email"])
    page.get_by_role("link", name=re.compile(journeys["parcel"])).click()
    expect(page.locator(".progress [aria-current=step]")).to_have_text("Out for delivery")
    updates = page.get_by_text("Carrier updates (3)")
    expect(updates).to_be_visible()
    expect(page.get_by_text("Departed facility")).to_be_visible()


def request_return(page: Page, live_server: str, journeys) -> str:
    page.goto(f"{live_server}/orders/{journeys['delivered']}")
    page.get_by_role("link", name="Return items").click()
    page.get_by_label("Quantity of Rain jacket M").select_option("1")
    page.get_by_label("Why are you returning it?").select_option("wrong_size")
    page.get_by_role("button", name="Request return").click()
    heading = page.get_by_role("heading", name=re.compile(r"Return RMA-"))
    expect(heading).to_be_visible()
    rma = re.search(r"RMA-[A-Z0-9]+", heading.inner_text()).group(0)
    page.get_by_role("link", name="Returns").first.click()
    expect(page.get_by_text(rma)).to_be_visible()
    return rma


def test_return_requested_end_to_end(page: Page, live_server: str, journeys) -> None:
    sign_in(page, live_server, journeys["email"])
    request_return(page, live_server, journeys)


def test_return_flow_works_without_javascript(browser: Browser, live_server: str, journeys, request) -> None:
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    try:
        sign_in(page, live_server, journeys["email"])
        rma = request_return(page, live_server, journeys)
        page.goto(f"{live_server}/returns/{rma}")
        expect(page.get_by_role("link", name="Print the return slip")).to_be_visible()
    finally:
        from tests.browser.conftest import OUTPUT

        OUTPUT.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(OUTPUT / f"{request.node.name}.png"), full_page=True)
        context.close()


def test_help_search_as_you_type_forgives_a_typo(page: Page, live_server: str, journeys) -> None:
    page.goto(f"{live_server}/help")
    page.get_by_label("Search help").fill("retrun")
    result = page.locator("#help-results").get_by_role("link", name="Returns and refunds")
    expect(result).to_be_visible()
    result.click()
    expect(page.get_by_role("heading", name="Returns and refunds")).to_be_visible()
