"""Charges (fees, tips, gift wrap, ...) and units a channel removed show where the order's totals are shown:
the console order page and the customer's portal order page."""

from __future__ import annotations

from tests.factories import PASSWORD, make_customer, make_sku, make_user
from tests.helpers import sign_in
from tests.returns_factories import make_delivered_order, make_shop


def _order_with_charges(db):
    channel, location = make_shop(db, return_window_days=30)
    customer = make_customer(db, name="Grace Hopper", email="grace@example.org")
    mug = make_sku(db, code="MUG-CHG", title="Green mug")
    order = make_delivered_order(
        db,
        channel,
        location,
        [(mug, 2)],
        shipped=False,
        shipping_total=400,
        customer_id=customer.id,
        charges=[
            {"kind": "gift_wrap", "title": "Gift wrap", "amount": 350, "tax": 0},
            {"kind": "tip", "title": "Tip for the courier", "amount": 125, "tax": 0},
        ],
        taxes_included=True,
    )
    order.total += 475
    order.lines[0].quantity_removed = 1
    db.commit()
    return order, customer


def test_console_order_page_lists_each_charge_and_removed_units(client, db) -> None:
    order, _customer = _order_with_charges(db)
    user = make_user(db, "agent")
    db.commit()
    sign_in(client, user.email, PASSWORD, console=True)
    html = client.get(f"/console/orders/{order.id}").get_data(as_text=True)
    assert "Gift wrap" in html and "3.50 USD" in html and "(gift wrap)" in html
    assert "Tip for the courier" in html and "1.25 USD" in html
    assert "included in prices" in html
    assert "1 removed by" in html
    assert "28.75 USD" in html


def test_portal_order_page_lists_each_charge_for_the_customer(client, db) -> None:
    order, customer = _order_with_charges(db)
    user = make_user(db, "customer", customer_id=customer.id)
    db.commit()
    sign_in(client, user.email, PASSWORD)
    html = client.get(f"/orders/{order.number}").get_data(as_text=True)
    assert "Gift wrap" in html and "3.50 USD" in html
    assert "Tip for the courier" in html and "1.25 USD" in html
    assert "Tax (included)" in html and "(1 removed)" in html
