"""The managers' dashboard in a real browser: Chart.js draws every chart from the page's JSON, the channel
filter swaps the dashboard through htmx and the charts are drawn again with the filtered data, and the page
fits a 390 px phone."""

from __future__ import annotations

from datetime import timedelta

import pytest
from playwright.sync_api import Browser, expect

from core.db import utcnow
from core.support.models import Conversation
from tests.browser.conftest import OUTPUT
from tests.factories import PASSWORD, make_channel, make_order, make_user

pytestmark = pytest.mark.browser


def chart_labels(page, key: str) -> list[str]:
    """The x labels of the Chart.js chart drawn on the canvas of `key`."""
    return page.evaluate(
        """key => {
            const canvas = document.querySelector(`canvas[data-chart="chart-data-${key}"]`);
            const chart = window.Chart.getChart(canvas);
            return chart ? chart.data.labels : null;
        }""",
        key,
    )


def test_the_dashboard_draws_charts_and_the_channel_filter_redraws_them(
    browser: Browser, live_server: str, live_session
) -> None:
    manager = make_user(live_session, "manager", email="analytics-manager@example.com")
    now = utcnow()
    north = make_channel(live_session, code="north", name="North Shop")
    south = make_channel(live_session, code="south", name="South Shop")
    for channel, count in ((north, 3), (south, 2)):
        for n in range(count):
            order = make_order(
                live_session, channel_id=channel.id, status="delivered", placed_at=now - timedelta(days=n + 1)
            )
            live_session.add(
                Conversation(
                    order_id=order.id,
                    category="damaged" if n % 2 else "where_is_my_order",
                    subject="About my order",
                    created_at=now - timedelta(days=n + 1),
                    updated_at=now - timedelta(days=n + 1),
                )
            )
    live_session.commit()

    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.goto(f"{live_server}/console/login?next=/console/analytics")
    page.get_by_label("Email").fill(manager.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Analytics", exact=True)).to_be_visible()
    canvases = page.locator("canvas[data-chart]")
    expect(canvases.first).to_have_attribute("data-drawn", "true")
    drawn = page.evaluate("document.querySelectorAll('canvas[data-chart][data-drawn]').length")
    assert drawn == canvases.count() >= 8
    assert chart_labels(page, "channel_orders") == ["North Shop", "South Shop"]
    assert chart_labels(page, "tickets_by_channel") == ["North Shop", "South Shop"]

    page.get_by_label("Channel", exact=True).select_option("south")
    page.wait_for_function(
        """() => {
            const canvas = document.querySelector('canvas[data-chart="chart-data-channel_orders"]');
            const chart = canvas && window.Chart.getChart(canvas);
            return chart && chart.data.labels.length === 1;
        }"""
    )
    assert chart_labels(page, "channel_orders") == ["South Shop"]
    assert chart_labels(page, "tickets_by_channel") == ["South Shop"]
    assert "channel=south" in page.url
    # the old charts were destroyed with their canvases: only the ones on the page are alive
    alive = page.evaluate("window.crossdockAnalytics.charts().length")
    assert alive == page.locator("canvas[data-chart]").count()

    page.set_viewport_size({"width": 390, "height": 844})
    page.wait_for_timeout(200)
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, width
    OUTPUT.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(OUTPUT / "analytics_phone.png"), full_page=False)
    context.close()
