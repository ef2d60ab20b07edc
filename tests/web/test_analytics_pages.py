"""The managers' dashboard over HTTP: manager only, the page and its htmx fragment, charts with their data and
tables, bad filters refused with the reason, CSV exports, and the queue link of a trend alert."""

from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy.orm import Session

from core.db import utcnow
from core.orders.models import OrderLine
from core.support.models import Conversation
from tests.factories import PASSWORD, make_channel, make_order, make_sku, make_user
from tests.helpers import sign_in


def manager(client, db: Session) -> None:
    user = make_user(db, "manager")
    assert sign_in(client, user.email, PASSWORD, console=True).status_code == 303


def damaged_wave(db: Session, count: int = 6) -> tuple[str, list[int]]:
    """`count` damaged tickets this week about orders of one SKU: a trend the dashboard alerts on."""
    channel = make_channel(db, code="wave", name="Wave Shop")
    sku = make_sku(db, code="MUG-1", title="Mug")
    ids = []
    now = utcnow()
    for n in range(count):
        order = make_order(db, channel_id=channel.id, placed_at=now - timedelta(days=10))
        db.add(
            OrderLine(
                order_id=order.id, line_no=2, sku_id=sku.id, title="Mug", quantity=1, unit_price=1, total=1
            )
        )
        ticket = Conversation(
            order_id=order.id,
            subject=f"Broken mug {n}",
            category="damaged",
            created_at=now - timedelta(hours=n + 1),
            updated_at=now - timedelta(hours=n + 1),
        )
        db.add(ticket)
        db.flush()
        ids.append(ticket.id)
    return sku.code, ids


def test_an_agent_may_not_see_analytics(client, db: Session) -> None:
    agent = make_user(db, "agent")
    sign_in(client, agent.email, PASSWORD, console=True)
    assert client.get("/console/analytics").status_code == 403
    assert client.get("/console/analytics/channel_kpis.csv").status_code == 403


def test_the_dashboard_shows_charts_with_their_data_tables_and_no_inline_script(client, db: Session) -> None:
    manager(client, db)
    make_order(db, status="delivered")
    response = client.get("/console/analytics")
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and "HX-Request" in response.headers["Vary"]
    for key in (
        "tickets_by_category_week",
        "response_times_week",
        "sla_week",
        "backlog_day",
        "channel_orders",
    ):
        assert f'data-chart="chart-data-{key}"' in html and f'id="chart-data-{key}"' in html
        assert f"/console/analytics/{key}.csv" in html
    for script in re.findall(r"<script[^>]*>", html):
        assert "src=" in script or 'type="application/json"' in script, script
    assert 'role="img"' in html and "<details><summary>Table</summary>" in html
    assert "Customer acquisition cost" in html and "Marketing spend imported for the channel" in html
    assert "19.99" in html  # the order's value, formatted as money
    assert "No trend alerts" in html


def test_the_filter_answers_htmx_with_the_fragment_only(client, db: Session) -> None:
    manager(client, db)
    channel = make_channel(db, code="north", name="North Shop")
    make_order(db, channel_id=channel.id, status="delivered")
    response = client.get(
        "/console/analytics?start=2026-01-01&end=2026-12-31&channel=north", headers={"HX-Request": "true"}
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "<html" not in html and "analytics-filters" not in html
    assert "2026-01-01 to 2026-12-31" in html and "North Shop only" in html


def test_a_bad_period_is_refused_with_the_reason(client, db: Session) -> None:
    manager(client, db)
    response = client.get("/console/analytics?start=2026-05-01&end=2026-04-01")
    assert response.status_code == 400
    assert "The end date is before the start date." in response.get_data(as_text=True)
    assert client.get("/console/analytics/channel_kpis.csv?start=tomorrow").status_code == 400


def test_csv_export_is_one_table_with_formulas_neutralised(client, db: Session) -> None:
    manager(client, db)
    channel = make_channel(db, code="eq", name="=cmd|' /C calc'!A0")
    make_order(db, channel_id=channel.id, status="delivered")
    response = client.get("/console/analytics/channel_orders.csv?start=2026-01-01&end=2026-12-31")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert 'filename="channel_orders-2026-01-01-2026-12-31.csv"' in response.headers["Content-Disposition"]
    lines = response.get_data(as_text=True).splitlines()
    assert lines[0] == "Channel,Orders,Orders before,Change,Average order value,Average order value before"
    assert lines[1] == "'=cmd|' /C calc'!A0,1,0,,19.99 USD,"
    assert client.get("/console/analytics/nothing.csv").status_code == 404


def test_a_trend_alert_links_to_its_tickets_in_the_queue(client, db: Session) -> None:
    manager(client, db)
    _sku, ids = damaged_wave(db)
    html = client.get("/console/analytics").get_data(as_text=True)
    assert "Damaged tickets about SKU MUG-1" in html
    link = re.search(r'href="(/console/tickets\?[^"]*sku=MUG-1[^"]*)"', html).group(1).replace("&amp;", "&")
    assert "category=damaged" in link
    queue = client.get(link).get_data(as_text=True)
    assert all(f"Broken mug {n}" in queue for n in range(len(ids)))
    assert "Tickets about orders of SKU" in queue
