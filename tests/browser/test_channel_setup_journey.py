"""Set-up in a real browser, on a database with no seed: an admin on a phone adds a location (its address and
business hours) and a Shopify channel from the navigation, enters the channel's access token, tests the
connection against the channel's API (a local HTTP server) and reads the answer in place, pastes the webhook
address and secret into "the channel" (a signed post here), and sees the order arrive in the channel's sync
log. Every form is submitted from the keyboard."""

from __future__ import annotations

import json
import urllib.request

import pytest
from playwright.sync_api import Browser, expect

from core.channels.signatures import sign
from tests.browser.conftest import OUTPUT
from tests.factories import PASSWORD, make_user
from tests.fixtures import CHANNELS
from tests.httpserver import RecordingServer, Reply

pytestmark = pytest.mark.browser


def test_an_admin_sets_up_a_shopify_channel_on_a_phone(
    browser: Browser, live_server: str, live_session
) -> None:
    admin = make_user(live_session, "admin", email="setup-admin@example.com")
    live_session.commit()

    with RecordingServer() as shopify:
        shopify.add("GET", "/admin/api/2024-10/shop.json", Reply(200, {"shop": {"name": "Lamps Test Store"}}))
        context = browser.new_context(viewport={"width": 390, "height": 844})
        page = context.new_page()
        page.goto(f"{live_server}/console/login")
        page.get_by_label("Email").fill(admin.email)
        page.get_by_label("Password").fill(PASSWORD)
        page.keyboard.press("Enter")
        page.get_by_role("link", name="Locations", exact=True).click()
        expect(page.get_by_text("No locations yet")).to_be_visible()
        page.get_by_label("Code").fill("EAST")
        page.get_by_label("Name", exact=True).fill("East warehouse")
        page.get_by_label("Kind").select_option("warehouse")
        page.get_by_label("Name", exact=True).press("Enter")
        expect(page.get_by_role("heading", name="East warehouse")).to_be_visible()
        page.get_by_label("Address line 1").fill("1 Dock Road")
        page.get_by_label("City").fill("Newark")
        page.get_by_label("Country (two letters)").fill("US")
        page.get_by_label("Saturday", exact=True).check()
        page.get_by_label("Saturday closes").fill("14:00")
        page.get_by_label("City").press("Enter")
        expect(page.get_by_text("Location saved.")).to_be_visible()
        expect(page.get_by_label("Saturday closes")).to_have_value("14:00")
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, f"the location page is {width} px wide on a phone"

        page.get_by_role("link", name="Channels", exact=True).click()
        expect(page.get_by_text("No channels yet")).to_be_visible()

        page.get_by_label("Code").fill("lamps")
        page.get_by_label("Kind").select_option("shopify")
        page.get_by_label("Name", exact=False).first.fill("Lamps & Co")
        page.get_by_label("Base URL").fill(shopify.url)
        page.get_by_label("EAST · East warehouse").check()
        page.get_by_label("Base URL").press("Enter")
        expect(page.get_by_role("heading", name="Lamps & Co")).to_be_visible()

        token = page.locator("#cred-access_token")
        token.fill("shpat_browser_token")
        token.press("Enter")
        expect(page.get_by_text("Credentials saved.")).to_be_visible()
        expect(page.get_by_role("textbox", name="Access token (set)")).to_have_value("")  # never shown back

        page.get_by_role("button", name="Test connection").focus()
        page.keyboard.press("Enter")
        result = page.locator("#connection-result")
        expect(result).to_contain_text("Connected")
        expect(result).to_contain_text("Lamps Test Store")
        assert [r.headers["x-shopify-access-token"] for r in shopify.requests] == ["shpat_browser_token"]

        address = page.locator("dt:has-text('Address') + dd code").inner_text()
        secret = page.locator("dt:has-text('Secret') + dd code").inner_text()
        assert address.endswith("/api/channels/lamps/webhooks/orders")
        body = (CHANNELS / "shopify" / "order.json").read_bytes()
        request = urllib.request.Request(
            f"{live_server}/api/channels/lamps/webhooks/orders",
            data=body,
            headers={
                "Content-Type": "application/json",
                "X-Shopify-Hmac-Sha256": sign(secret, body),
                "X-Shopify-Topic": "orders/create",
            },
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=10) as answer:
            assert answer.status == 200

        page.reload()
        log = page.locator("#sync")
        expect(log).to_contain_text("orders/create")
        expect(log).not_to_contain_text("none received yet")
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, f"the channel page is {width} px wide on a phone"
        OUTPUT.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(OUTPUT / "channel_setup_phone.png"), full_page=True)

        order_id = json.loads(body)["order"]["id"]
        page.locator("#sync a").first.click()
        expect(page.locator("body")).to_contain_text(str(order_id))
        context.close()
