"""Page shells: both faces render, empty states show, htmx requests get fragments with Vary."""

from __future__ import annotations

from tests.factories import PASSWORD, make_channel, make_order, make_user
from tests.helpers import sign_in


def test_portal_home_and_login_render_for_anonymous(client) -> None:
    assert "Track your orders" in client.get("/").get_data(as_text=True)
    assert client.get("/login").status_code == 200


def test_portal_orders_empty_state(client, db) -> None:
    user = make_user(db, "customer")
    sign_in(client, user.email, PASSWORD)
    assert "No orders yet" in client.get("/orders").get_data(as_text=True)


def test_portal_orders_list_shows_orders_from_several_channels_newest_first(client, db) -> None:
    user = make_user(db, "customer")
    amazon, ebay = make_channel(db, name="Amazon"), make_channel(db, name="eBay")
    older = make_order(db, customer_id=user.customer_id, channel_id=amazon.id)
    newer = make_order(
        db, customer_id=user.customer_id, channel_id=ebay.id, placed_at=older.placed_at.replace(day=21)
    )
    sign_in(client, user.email, PASSWORD)
    html = client.get("/orders").get_data(as_text=True)
    assert "Amazon" in html and "eBay" in html
    assert html.index(newer.number) < html.index(older.number)


def test_portal_orders_htmx_request_gets_fragment_and_vary(client, db) -> None:
    user = make_user(db, "customer")
    make_order(db, customer_id=user.customer_id)
    sign_in(client, user.email, PASSWORD)
    response = client.get("/orders?q=CD-", headers={"HX-Request": "true"})
    assert "<html" not in response.get_data(as_text=True)
    assert "HX-Request" in response.headers["Vary"]


def test_portal_order_search_matches_item_title(client, db) -> None:
    user = make_user(db, "customer")
    order = make_order(db, customer_id=user.customer_id)
    sign_in(client, user.email, PASSWORD)
    assert order.number in client.get("/orders?q=item 1").get_data(as_text=True)
    assert "No orders match" in client.get("/orders?q=100%_nothing").get_data(as_text=True)


def test_help_centre_empty_state(client) -> None:
    assert "No help articles" in client.get("/help").get_data(as_text=True)


def test_console_ticket_list_empty_state_and_fragment(client, db) -> None:
    agent = make_user(db, "agent")
    sign_in(client, agent.email, PASSWORD, console=True)
    assert "No open tickets" in client.get("/console/tickets").get_data(as_text=True)
    fragment = client.get("/console/tickets?status=solved", headers={"HX-Request": "true"}).get_data(
        as_text=True
    )
    assert "No solved tickets" in fragment and "<html" not in fragment


def test_console_order_page_shows_timeline(client, db) -> None:
    agent = make_user(db, "agent")
    order = make_order(db)
    sign_in(client, agent.email, PASSWORD, console=True)
    html = client.get(f"/console/orders/{order.id}").get_data(as_text=True)
    assert order.number in html and "No events." in html


def test_unknown_page_is_a_friendly_404(client) -> None:
    response = client.get("/no-such-page")
    assert response.status_code == 404 and "Not found" in response.get_data(as_text=True)


def test_api_errors_are_json(client) -> None:
    response = client.get("/api/no-such-endpoint")
    assert response.status_code == 404 and response.is_json and "error" in response.get_json()


def test_openapi_document_is_served_and_every_ref_resolves(client) -> None:
    import json
    import re

    doc = client.get("/api/openapi.json").get_json()
    assert doc["openapi"].startswith("3.")
    assert "/api/channels/{channel}/webhooks/orders" in doc["paths"]
    refs = set(re.findall(r"#/components/schemas/(\w+)", json.dumps(doc)))
    assert refs and refs <= set(doc["components"]["schemas"])
    assert {"id", "lines", "totals"} <= set(doc["components"]["schemas"]["WebshopOrder"]["required"])


def test_help_search_as_you_type_tolerates_typos(client, db) -> None:
    from core.support.models import HelpArticle

    db.add_all(
        [
            HelpArticle(
                slug="returns",
                title="Returns and refunds",
                summary="Send it back.",
                body="Para one.\n\nTwo.",
                topic="returns",
                keywords="return refund",
            ),
            HelpArticle(
                slug="where",
                title="Where is my parcel?",
                summary="Tracking.",
                body="Body.",
                topic="delivery",
                keywords="track parcel",
            ),
        ]
    )
    db.commit()
    fragment = client.get("/help?q=retrun", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert (
        "Returns and refunds" in fragment and "Where is my parcel" not in fragment and "<html" not in fragment
    )
    assert "No article matches" in client.get("/help?q=qzxv").get_data(as_text=True)
    article = client.get("/help/returns").get_data(as_text=True)
    assert "<p>Para one.</p>" in article and "<p>Two.</p>" in article
