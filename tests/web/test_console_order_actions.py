"""Console order actions through real forms: the order page and the ticket's order panel, each action's role
checks, CSRF, the htmx fragment against the 303, the agents' refund limit, and each action in the audit log
and on the timeline the customer reads on the portal."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from core.audit.models import AuditEntry
from core.notifications.models import OutboxMessage
from core.orders.models import Order, OrderEvent
from core.returns.models import Refund, ReturnRequest
from core.support.models import Conversation
from core.support.services import request_cancellation
from tests.factories import NOW, PASSWORD, make_customer, make_sku, make_user
from tests.helpers import NOT_SIGN_IN, csrf_token, sign_in
from tests.returns_factories import CUSTOMER, make_delivered_order, make_shop
from tests.support_factories import make_conversation

HX = {"HX-Request": "true"}


def signed_in(client, db, role: str = "agent", **overrides):
    user = make_user(db, role, **overrides)
    db.commit()
    sign_in(client, user.email, PASSWORD, console=role != "customer")
    return user


def fresh(db, model, ident):
    return db.scalar(select(model).where(model.id == ident).execution_options(populate_existing=True))


def audit_actions(db, user) -> list[str]:
    return list(db.scalars(select(AuditEntry.action).where(AuditEntry.actor_id == user.id, NOT_SIGN_IN)))


def kinds(db, order) -> list[str]:
    return list(
        db.scalars(select(OrderEvent.kind).where(OrderEvent.order_id == order.id).order_by(OrderEvent.id))
    )


def post(client, path: str, data: dict | None = None, *, page: str, headers: dict | None = None):
    """POST with the CSRF token of the form on `page`."""
    token = csrf_token(client, page)
    return client.post(path, data=(data or {}) | {"csrf_token": token}, headers=headers or {})


@pytest.fixture
def shop(db):
    return make_shop(db, return_window_days=30)


@pytest.fixture
def confirmed(db, shop):
    """A customer's order of two mugs (10.00 each) plus 4.00 shipping, reserved and not shipped."""
    channel, location = shop
    customer = make_customer(db, name="Ada Lovelace", email="ada@example.org")
    mug = make_sku(db, code="MUG-WEB", title="Blue mug")
    order = make_delivered_order(
        db,
        channel,
        location,
        [(mug, 2)],
        shipped=False,
        shipping_total=400,
        customer_id=customer.id,
        shipping_address={"name": "Ada", "line1": "1 Old Road", "city": "London", "country": "GB"},
        billing_address={"name": "Ada", "line1": "9 Bank Street", "city": "London", "country": "GB"},
    )
    db.commit()
    return order


@pytest.fixture
def delivered(db, shop):
    channel, location = shop
    customer = make_customer(db)
    sku = make_sku(db, code="TENT-WEB", title="Tent")
    order = make_delivered_order(db, channel, location, [(sku, 2)], unit_price=8000, customer_id=customer.id)
    db.commit()
    return order


def order_page(order) -> str:
    return f"/console/orders/{order.id}"


# --- pages -----------------------------------------------------------------------------------------------


def test_order_page_shows_addresses_payment_tickets_and_the_panel(client, db, confirmed) -> None:
    ticket = make_conversation(
        db, customer_id=confirmed.customer_id, order_id=confirmed.id, subject="Wrong colour"
    )
    db.commit()
    signed_in(client, db)
    html = client.get(order_page(confirmed)).get_data(as_text=True)
    assert "1 Old Road" in html and "9 Bank Street" in html
    assert "Refunded" in html and "24.00 USD" in html
    assert f"#{ticket.id} Wrong colour" in html
    assert 'id="order-panel"' in html and "Cancel order" in html
    assert "you can refund up to 100.00 USD" in html


def test_order_page_unknown_order_is_404(client, db) -> None:
    signed_in(client, db)
    assert client.get("/console/orders/999999").status_code == 404


def test_ticket_page_shows_the_order_panel_and_another_order_on_request(
    client, db, confirmed, delivered
) -> None:
    ticket = make_conversation(db, customer_id=confirmed.customer_id, order_id=confirmed.id)
    other = make_delivered_order(db, *make_shop(db), [(make_sku(db), 1)], customer_id=confirmed.customer_id)
    db.commit()
    signed_in(client, db)
    html = client.get(f"/console/tickets/{ticket.id}").get_data(as_text=True)
    assert (
        'id="order-panel"' in html
        and f'Order <a href="/console/orders/{confirmed.id}">{confirmed.number}' in html
    )
    chosen = client.get(f"/console/tickets/{ticket.id}?order={other.id}").get_data(as_text=True)
    assert f'Order <a href="/console/orders/{other.id}">{other.number}' in chosen
    assert f'name="next" value="/console/tickets/{ticket.id}?order={other.id}"' in chosen


# --- guards ----------------------------------------------------------------------------------------------

ACTIONS = [
    "cancel",
    "refund",
    "return",
    "replacement",
    "address",
    "release",
    "map-sku",
    "currency",
    "emails/1/resend",
]


def test_emails_list_needs_staff(client, db, confirmed) -> None:
    assert client.get(f"{order_page(confirmed)}/emails").status_code in (302, 303)
    signed_in(client, db, "customer")
    assert client.get(f"{order_page(confirmed)}/emails").status_code == 403


@pytest.mark.parametrize("action", ACTIONS)
def test_order_actions_need_a_staff_sign_in(client, db, confirmed, action) -> None:
    token = csrf_token(client, "/console/login")
    response = client.post(f"{order_page(confirmed)}/{action}", data={"csrf_token": token})
    assert response.status_code in (302, 303) and "/console/login" in response.headers["Location"]


@pytest.mark.parametrize("action", ACTIONS)
def test_order_actions_refuse_customers(client, db, confirmed, action) -> None:
    signed_in(client, db, "customer")
    token = csrf_token(client, "/account")
    assert client.post(f"{order_page(confirmed)}/{action}", data={"csrf_token": token}).status_code == 403


@pytest.mark.parametrize("action", ACTIONS)
def test_order_actions_refuse_a_post_without_csrf_token(client, db, confirmed, action) -> None:
    signed_in(client, db)
    assert client.post(f"{order_page(confirmed)}/{action}", data={"reason": "x"}).status_code == 400
    assert fresh(db, Order, confirmed.id).status == "confirmed"


@pytest.mark.parametrize("role", ["agent", "manager", "admin"])
def test_every_staff_role_can_cancel(client, db, confirmed, role) -> None:
    user = signed_in(client, db, role)
    response = post(
        client, f"{order_page(confirmed)}/cancel", {"reason": "ordered twice"}, page=order_page(confirmed)
    )
    assert response.status_code == 303 and response.headers["Location"].endswith(order_page(confirmed))
    assert fresh(db, Order, confirmed.id).status == "cancelled"
    assert audit_actions(db, user) == ["order.cancel"]


# --- cancel ----------------------------------------------------------------------------------------------


def test_cancel_htmx_answers_the_fresh_panel_and_the_customer_sees_it(client, db, confirmed) -> None:
    signed_in(client, db)
    response = post(
        client,
        f"{order_page(confirmed)}/cancel",
        {"reason": "ordered twice"},
        headers=HX,
        page=order_page(confirmed),
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and "<html" not in html and 'id="order-panel"' in html
    assert "Order cancelled" in html and "Can't be cancelled: it is already cancelled" in html
    assert response.headers.get("Vary", "").find("HX-Request") >= 0
    assert "status_changed" in kinds(db, confirmed)
    assert (
        db.scalar(select(OutboxMessage.kind).where(OutboxMessage.kind == "order_cancelled"))
        == "order_cancelled"
    )


def test_cancel_refused_when_shipped_says_why(client, db, delivered) -> None:
    signed_in(client, db)
    response = post(client, f"{order_page(delivered)}/cancel", {}, headers=HX, page=order_page(delivered))
    assert response.status_code == 422
    assert "create a return instead" in response.get_data(as_text=True)


def test_cancel_request_from_the_portal_lands_as_a_ticket_with_a_one_click_cancel(
    client, db, confirmed
) -> None:
    ticket = request_cancellation(db, confirmed, "bought it twice", actor=CUSTOMER, now=NOW)
    db.commit()
    signed_in(client, db)
    page = f"/console/tickets/{ticket.id}"
    html = client.get(page).get_data(as_text=True)
    assert f"Cancel order {confirmed.number} now" in html
    response = post(client, f"{order_page(confirmed)}/cancel", {"next": page}, page=page)
    assert response.status_code == 303 and response.headers["Location"] == page
    assert fresh(db, Conversation, ticket.id).status == "solved"
    assert fresh(db, Order, confirmed.id).status == "cancelled"


@pytest.mark.parametrize(
    ("state", "words"),
    [
        ("requested", "Our team is on it"),
        ("cancelled", "Done: this order is cancelled"),
        ("declined", "couldn"),
    ],
)
def test_portal_order_page_shows_the_cancellation_request_state(client, db, confirmed, state, words) -> None:
    from core.customers.models import Customer

    customer = db.get(Customer, confirmed.customer_id)
    user = make_user(db, "customer", customer_id=customer.id)
    ticket = request_cancellation(db, confirmed, "", actor=CUSTOMER, now=NOW)
    if state == "cancelled":
        from core.orders.actions import cancel_order
        from tests.returns_factories import AGENT

        cancel_order(db, confirmed.id, reason="", actor=AGENT, now=NOW)
    elif state == "declined":
        ticket.status = "solved"
    db.commit()
    sign_in(client, user.email, PASSWORD)
    html = client.get(f"/orders/{confirmed.number}").get_data(as_text=True)
    assert "Your cancellation request" in html and words in html
    assert "You asked us to cancel this order" in html
    assert ("Cancel this order</a>" in html) is (state == "declined")


# --- refunds ---------------------------------------------------------------------------------------------


def test_refund_per_line_by_an_agent_is_audited_and_shown_to_the_customer(client, db, confirmed) -> None:
    user = signed_in(client, db)
    line = confirmed.lines[0]
    response = post(
        client,
        f"{order_page(confirmed)}/refund",
        {f"refund-{line.id}": "1", "shipping": "1", "reason": "one mug chipped"},
        headers=HX,
        page=order_page(confirmed),
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    html = response.get_data(as_text=True)
    assert "Refund recorded." in html and "14.00 USD" in html and "one mug chipped" in html
    assert audit_actions(db, user) == ["refund.create"]
    event = db.scalar(
        select(OrderEvent).where(OrderEvent.order_id == confirmed.id, OrderEvent.kind == "refunded")
    )
    assert event.visible_to_customer and "one mug chipped" in event.message


def test_refund_above_the_agent_limit_is_refused_and_a_manager_may(
    client, db, delivered, monkeypatch
) -> None:
    monkeypatch.setenv("CROSSDOCK_AGENT_REFUND_LIMIT", "100.00")
    signed_in(client, db)
    data = {"full": "1", "reason": "never arrived"}
    refused = post(client, f"{order_page(delivered)}/refund", data, headers=HX, page=order_page(delivered))
    assert refused.status_code == 403
    assert "agents can refund up to 100.00 USD" in refused.get_data(as_text=True)
    assert db.scalars(select(Refund)).all() == []
    client.post("/console/logout", data={"csrf_token": csrf_token(client, "/console/")})
    signed_in(client, db, "manager")
    done = post(client, f"{order_page(delivered)}/refund", data, page=order_page(delivered))
    assert done.status_code == 303
    assert fresh(db, Order, delivered.id).refunded_total == 16000


def test_refund_refusal_without_htmx_flashes_and_redirects(client, db, confirmed) -> None:
    signed_in(client, db)
    response = post(client, f"{order_page(confirmed)}/refund", {"reason": "x"}, page=order_page(confirmed))
    assert response.status_code == 303
    assert "nothing to refund" in client.get(order_page(confirmed)).get_data(as_text=True)


def test_marketplace_refund_shows_the_seller_ui_steps(client, db) -> None:
    channel, location = make_shop(db, kind="ebay", name="eBay", is_marketplace=True)
    order = make_delivered_order(db, channel, location, [(make_sku(db), 1)])
    db.commit()
    signed_in(client, db)
    response = post(
        client,
        f"{order_page(order)}/refund",
        {"full": "1", "reason": "lost"},
        headers=HX,
        page=order_page(order),
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and "Pay it out in eBay" in html and "Seller Hub" in html
    assert fresh(db, Refund, db.scalar(select(Refund.id))).method == "marketplace"


# --- return, address, resend, release --------------------------------------------------------------------


def test_return_for_the_customer(client, db, delivered) -> None:
    user = signed_in(client, db)
    line = delivered.lines[0]
    response = post(
        client,
        f"{order_page(delivered)}/return",
        {f"return-{line.id}": "1", "reason": "damaged", "resolution": "refund", "approve": "1"},
        headers=HX,
        page=order_page(delivered),
    )
    assert response.status_code == 200 and "Return created" in response.get_data(as_text=True)
    assert db.scalar(select(ReturnRequest.status)) == "approved"
    assert audit_actions(db, user) == ["return.request", "return.approve"]


def test_address_change_before_shipping(client, db, confirmed) -> None:
    user = signed_in(client, db)
    data = {"name": "Ada", "line1": "2 New Road", "city": "Bath", "postal_code": "BA1 1AA", "country": "GB"}
    response = post(client, f"{order_page(confirmed)}/address", data, headers=HX, page=order_page(confirmed))
    assert response.status_code == 200 and "2 New Road" in response.get_data(as_text=True)
    assert audit_actions(db, user) == ["order.address_change"]
    assert "address_changed" in kinds(db, confirmed)


def test_resend_an_email(client, db, confirmed) -> None:
    from core.notifications.services import queue_order_confirmed

    original = queue_order_confirmed(db, confirmed, now=NOW)
    original.status = "sent"
    db.commit()
    user = signed_in(client, db)
    assert "Send again" not in client.get(order_page(confirmed)).get_data(as_text=True)  # loaded when opened
    fragment = client.get(f"{order_page(confirmed)}/emails", headers=HX).get_data(as_text=True)
    assert "Send again" in fragment and "Your order" in fragment and "<html" not in fragment
    emails_page = f"{order_page(confirmed)}/emails"
    assert "Send again" in client.get(emails_page).get_data(as_text=True)
    response = post(client, f"{order_page(confirmed)}/emails/{original.id}/resend", page=emails_page)
    assert response.status_code == 303
    assert (
        db.scalar(select(OutboxMessage.status).where(OutboxMessage.dedup_key == f"resend:{original.id}:1"))
        == "pending"
    )
    assert audit_actions(db, user) == ["outbox.resend"]


def test_release_a_held_order(client, db, confirmed) -> None:
    order = fresh(db, Order, confirmed.id)
    from core.inventory.allocations import release_order

    release_order(db, order, actor="test", now=NOW)
    order.status, order.hold_warnings, order.hold_reason = "on_hold", ["possible fraud"], "possible fraud"
    for line in order.lines:
        line.channel_sku = f"CH-{line.id}"
    db.commit()
    user = signed_in(client, db)
    html = client.get(order_page(order)).get_data(as_text=True)
    assert "Release from hold" in html and "possible fraud" in html
    response = post(
        client,
        f"{order_page(order)}/release",
        {"warning": "possible fraud", "note": "called the buyer"},
        headers=HX,
        page=order_page(order),
    )
    assert response.status_code == 200 and "Hold cleared." in response.get_data(as_text=True)
    assert fresh(db, Order, order.id).status != "on_hold"
    assert audit_actions(db, user) == ["order.hold_released"]


def test_order_page_queries_do_not_grow_with_refunds_emails_and_tickets(
    client, db, engine, delivered
) -> None:
    from core.returns.refunds import refund_order
    from core.security.roles import Actor
    from tests.web.test_portal_quality import QueryCounter

    manager = Actor(label="manager@example.org", role="manager")

    signed_in(client, db)
    refund_order(db, delivered.id, quantities={delivered.lines[0].id: 1}, reason="a", actor=manager, now=NOW)
    db.commit()
    with QueryCounter(engine) as few:
        assert client.get(order_page(delivered)).status_code == 200
    for n in range(4):
        make_conversation(db, customer_id=delivered.customer_id, order_id=delivered.id, subject=f"Q{n}")
    refund_order(db, delivered.id, quantities={delivered.lines[0].id: 1}, reason="b", actor=manager, now=NOW)
    db.commit()
    with QueryCounter(engine) as many:
        assert client.get(order_page(delivered)).status_code == 200
    assert many.count == few.count


def test_intake_page_sends_warning_holds_to_the_order_page(client, db, confirmed) -> None:
    order = fresh(db, Order, confirmed.id)
    order.status, order.hold_warnings, order.hold_reason = "on_hold", ["payment failed"], "payment failed"
    db.commit()
    signed_in(client, db, "manager")
    html = client.get("/console/intake").get_data(as_text=True)
    assert f'<a href="/console/orders/{order.id}">Fix the address, or check and release or cancel' in html


def test_portal_order_page_shows_the_refund_and_the_new_address(client, db, confirmed) -> None:
    from core.orders.actions import change_shipping_address
    from core.returns.refunds import refund_order
    from tests.returns_factories import AGENT

    address = {"name": "Ada", "line1": "7 Harbour Lane", "city": "Bristol", "country": "GB"}
    change_shipping_address(db, confirmed.id, address, actor=AGENT, now=NOW)
    refund_order(db, confirmed.id, shipping=True, reason="shipping was slow", actor=AGENT, now=NOW)
    user = make_user(db, "customer", customer_id=confirmed.customer_id)
    db.commit()
    sign_in(client, user.email, PASSWORD)
    html = client.get(f"/orders/{confirmed.number}").get_data(as_text=True)
    assert "Shipping address changed to 7 Harbour Lane, Bristol, GB" in html
    assert "Refund of 4.00 USD to your original payment method (shipping): shipping was slow" in html
    assert "Refunded" in html and "−4.00 USD" in html
    assert AGENT.label not in html  # who did it is for staff


def test_shop_refund_says_to_give_the_money_back_in_the_shop_too(client, db) -> None:
    channel, location = make_shop(db, kind="shopify", name="Shopify store")
    order = make_delivered_order(db, channel, location, [(make_sku(db, title="Lamp"), 1)], shipping_total=300)
    db.commit()
    signed_in(client, db)
    response = post(
        client,
        f"{order_page(order)}/refund",
        {f"refund-{order.lines[0].id}": "1", "reason": "flickers"},
        headers=HX,
        page=order_page(order),
    )
    html = response.get_data(as_text=True)
    assert "give the money back in Shopify store too" in html
    assert "Enter 10.00 USD (Lamp), reason &#39;flickers&#39;" in html


def test_replacement_order_from_the_panel(client, db, delivered) -> None:
    from core.fulfillment.models import Shipment
    from core.inventory.models import Location
    from tests.inventory_factories import make_stock

    order = fresh(db, Order, delivered.id)
    order.shipping_address = {"name": "Jo", "line1": "3 Quay", "city": "Hull", "country": "GB"}
    location_id = db.scalar(select(Shipment.location_id).where(Shipment.order_id == order.id))
    make_stock(db, db.get(Location, location_id), order.lines[0].sku_id, 5)
    db.commit()
    user = signed_in(client, db)
    response = post(
        client,
        f"{order_page(order)}/replacement",
        {f"replace-{order.lines[0].id}": "1", "reason": "tent pole snapped"},
        headers=HX,
        page=order_page(order),
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and "Replacement order CD-" in html and "(confirmed)" in html
    assert audit_actions(db, user) == ["order.replace"]
    refused = post(
        client, f"{order_page(order)}/replacement", {"reason": "x"}, headers=HX, page=order_page(order)
    )
    assert refused.status_code == 422 and "choose at least one item" in refused.get_data(as_text=True)
