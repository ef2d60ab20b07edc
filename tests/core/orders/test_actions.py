"""Staff actions on an order: cancel (stock released, customer emailed, requests solved), refunds (whole, per
line, shipping, marketplace, the agents' limit), address changes, resending emails, releasing holds and
returns opened for the customer. Each one audited and on the order's timeline."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from core.audit.models import AuditEntry
from core.errors import DomainError, NotFound, PermissionDenied
from core.notifications.models import OutboxMessage
from core.orders import actions
from core.orders.models import Order, OrderEvent
from core.orders.queries import customer_timeline
from core.orders.seller_steps import cancel_steps, refund_steps
from core.returns.models import Refund
from core.returns.refunds import agent_refund_limit, refund_order
from core.security.roles import Actor
from core.support.services import request_cancellation
from tests.factories import NOW, make_customer, make_sku
from tests.inventory_factories import level
from tests.returns_factories import AGENT, CUSTOMER, make_delivered_order, make_shop

MANAGER = Actor(label="manager@example.org", role="manager")


def audit(db, action: str) -> list[AuditEntry]:
    return list(db.scalars(select(AuditEntry).where(AuditEntry.action == action)))


def timeline(db, order: Order, kind: str) -> list[OrderEvent]:
    return list(
        db.scalars(select(OrderEvent).where(OrderEvent.order_id == order.id, OrderEvent.kind == kind))
    )


def emails(db, kind: str) -> list[OutboxMessage]:
    return list(db.scalars(select(OutboxMessage).where(OutboxMessage.kind == kind)))


@pytest.fixture
def confirmed(db):
    """Two blue mugs reserved at the warehouse, not shipped: paid 10.00 each plus 4.00 shipping."""
    channel, location = make_shop(db)
    customer = make_customer(db)
    mug = make_sku(db, code="MUG-ACT", title="Blue mug")
    order = make_delivered_order(
        db, channel, location, [(mug, 2)], shipped=False, shipping_total=400, customer_id=customer.id
    )
    return order, location, mug


@pytest.fixture
def delivered(db):
    channel, location = make_shop(db, return_window_days=30)
    mug = make_sku(db, code="MUG-DLV", title="Green mug")
    tent = make_sku(db, code="TENT-DLV", title="Tent")
    address = {"name": "Jo", "line1": "3 Quay", "city": "Hull", "country": "GB"}
    order = make_delivered_order(
        db, channel, location, [(mug, 2), (tent, 1)], shipping_total=500, shipping_address=address
    )
    return order


# --- cancel ----------------------------------------------------------------------------------------------


def test_cancel_order_releases_stock_emails_and_is_audited(db, confirmed) -> None:
    order, location, mug = confirmed
    assert level(db, location.id, mug.id) == (2, 2)
    actions.cancel_order(db, order.id, reason="customer changed their mind", actor=AGENT, now=NOW)
    assert order.status == "cancelled"
    assert level(db, location.id, mug.id) == (2, 0)
    assert [line.quantity_cancelled for line in order.lines] == [2]
    assert [m.recipient for m in emails(db, "order_cancelled")] == ["buyer@example.org"]
    [entry] = audit(db, "order.cancel")
    assert entry.actor_label == AGENT.label and entry.after["status"] == "cancelled"
    assert entry.after["channel_told"] is False
    visible = [e.message for e in customer_timeline(db, order)]
    assert "Cancelled: customer changed their mind" in visible


def test_cancel_order_refuses_a_shipped_order(db, delivered) -> None:
    with pytest.raises(DomainError, match="create a return instead"):
        actions.cancel_order(db, delivered.id, reason="", actor=AGENT, now=NOW)
    assert audit(db, "order.cancel") == []


def test_cancel_order_refuses_a_packed_parcel(db, confirmed) -> None:
    from core.fulfillment.models import Shipment

    order, *_ = confirmed
    db.add(Shipment(order_id=order.id, carrier="UPS", status="packed"))
    db.flush()
    with pytest.raises(DomainError, match="packed"):
        actions.cancel_order(db, order.id, reason="", actor=AGENT, now=NOW)


def test_cancel_order_refuses_a_customer(db, confirmed) -> None:
    order, *_ = confirmed
    with pytest.raises(PermissionDenied):
        actions.cancel_order(db, order.id, reason="", actor=CUSTOMER, now=NOW)


def test_cancel_order_solves_the_customers_cancellation_request(db, confirmed) -> None:
    order, *_ = confirmed
    ticket = request_cancellation(db, order, "ordered twice", actor=CUSTOMER, now=NOW)
    assert actions.cancellation_request(db, order.id).id == ticket.id
    actions.cancel_order(db, order.id, reason="", actor=AGENT, now=NOW + timedelta(minutes=5))
    assert ticket.status == "solved" and ticket.solved_at == NOW + timedelta(minutes=5)
    assert "was cancelled" in ticket.messages[-1].body
    kinds = [e.kind for e in customer_timeline(db, order)]
    assert "cancellation_requested" in kinds


# --- refunds ---------------------------------------------------------------------------------------------


def test_refund_order_per_line_quantity_and_shipping(db, delivered) -> None:
    mug_line = delivered.lines[0]
    refund = refund_order(
        db,
        delivered.id,
        quantities={mug_line.id: 1},
        shipping=True,
        reason="one mug chipped",
        actor=AGENT,
        now=NOW,
    )
    assert (refund.amount, refund.shipping_amount) == (1000, 500)
    assert refund.line_amounts == {str(mug_line.id): 1000}
    assert delivered.refunded_total == 1500
    assert [m.payload["refund_id"] for m in emails(db, "order_refunded")] == [refund.id]
    [entry] = audit(db, "refund.create")
    assert entry.after["reason"] == "one mug chipped" and entry.before == {"refunded_total": 0}
    [event] = timeline(db, delivered, "refunded")
    assert event.visible_to_customer and "1 × Green mug" in event.message and "shipping" in event.message


def test_refund_order_full_gives_back_what_is_left(db, delivered) -> None:
    refund_order(
        db, delivered.id, quantities={delivered.lines[1].id: 1}, reason="late", actor=MANAGER, now=NOW
    )
    refund = refund_order(db, delivered.id, full=True, reason="all of it", actor=MANAGER, now=NOW)
    assert refund.amount + refund.shipping_amount == delivered.total - 1000
    assert delivered.refunded_total == delivered.total
    with pytest.raises(DomainError, match="nothing to refund"):
        refund_order(db, delivered.id, full=True, reason="again", actor=MANAGER, now=NOW)


@pytest.mark.parametrize(
    ("quantities", "shipping", "reason", "message"),
    [
        ({}, False, "x", "nothing to refund"),
        (None, False, "", "give a reason"),
        ({"line": 3}, False, "x", "the order has 2"),
        ({"line": -1}, False, "x", "whole numbers"),
        ({999999: 1}, False, "x", "is not on order"),
    ],
)
def test_refund_order_refuses_bad_requests(db, delivered, quantities, shipping, reason, message) -> None:
    if quantities and "line" in quantities:
        quantities = {delivered.lines[0].id: quantities["line"]}
    with pytest.raises(DomainError, match=message):
        refund_order(
            db, delivered.id, quantities=quantities, shipping=shipping, reason=reason, actor=AGENT, now=NOW
        )
    assert db.scalars(select(Refund)).all() == []


def test_refund_order_agent_limit_applies_to_the_order_and_managers_pass(db, delivered, monkeypatch) -> None:
    monkeypatch.setenv("CROSSDOCK_AGENT_REFUND_LIMIT", "24.00")
    mug = delivered.lines[0]
    refund_order(db, delivered.id, quantities={mug.id: 2}, reason="broken", actor=AGENT, now=NOW)
    with pytest.raises(PermissionDenied, match=r"up to 24\.00 USD.*ask a manager"):
        refund_order(db, delivered.id, shipping=True, quantities={}, reason="late", actor=AGENT, now=NOW)
    refund_order(db, delivered.id, shipping=True, quantities={}, reason="late", actor=MANAGER, now=NOW)
    assert delivered.refunded_total == 2500


@pytest.mark.parametrize(("raw", "minor"), [("", 10000), ("250", 25000), ("12.5", 1250), ("lots", 10000)])
def test_agent_refund_limit_reads_the_environment(raw, minor) -> None:
    assert agent_refund_limit("USD", {"CROSSDOCK_AGENT_REFUND_LIMIT": raw}) == minor


def test_refund_order_on_a_marketplace_is_recorded_not_emailed(db) -> None:
    channel, location = make_shop(db, kind="amazon", name="Amazon", is_marketplace=True)
    sku = make_sku(db)
    order = make_delivered_order(db, channel, location, [(sku, 1)])
    refund = refund_order(db, order.id, full=True, reason="Item lost", actor=AGENT, now=NOW)
    assert refund.method == "marketplace"
    assert emails(db, "order_refunded") == []
    [event] = timeline(db, order, "refunded")
    assert "paid back through Amazon" in event.message
    steps = refund_steps("amazon", order.external_id, "10.00 USD", "Mug", refund.reason, marketplace=True)
    assert any("Seller Central" in s for s in steps) and any(order.external_id in s for s in steps)
    assert any("10.00 USD (Mug)" in s and "'Item lost'" in s for s in steps)


@pytest.mark.parametrize(
    ("kind", "marketplace", "words"),
    [
        ("shopify", False, "Shopify admin"),
        ("woocommerce", False, "Refund via"),
        ("other", True, "marketplace"),
    ],
)
def test_refund_steps_per_channel_kind(kind, marketplace, words) -> None:
    steps = refund_steps(kind, "R-1", "5.00 USD", "shipping", "late", marketplace=marketplace)
    assert any(words in s for s in steps) and any("R-1" in s for s in steps)


def test_refund_steps_none_for_our_own_shop() -> None:
    assert refund_steps("webshop", "W-1", "5.00 USD", "shipping", "late", marketplace=False) == []


def test_cancel_steps_name_the_channel_order_or_nothing_for_our_shop() -> None:
    assert any("AMZ-1" in step for step in cancel_steps("amazon", "AMZ-1"))
    assert cancel_steps("webshop", "W-1") == []


# --- address ---------------------------------------------------------------------------------------------

NEW_ADDRESS = {
    "name": "Jo Doe",
    "line1": "1 New Street",
    "city": "Leeds",
    "postal_code": "LS1 1AA",
    "country": "GB",
}


def test_change_shipping_address_before_shipping(db, confirmed) -> None:
    order, *_ = confirmed
    actions.change_shipping_address(
        db, order.id, NEW_ADDRESS | {"country": "United Kingdom"}, actor=AGENT, now=NOW
    )
    assert order.shipping_address["line1"] == "1 New Street" and order.shipping_address["country"] == "GB"
    [entry] = audit(db, "order.address_change")
    assert entry.after["shipping_address"]["city"] == "Leeds"
    [event] = timeline(db, order, "address_changed")
    assert event.visible_to_customer and "1 New Street" in event.message


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"line1": ""}, "a street line"),
        ({"country": "Narnia"}, "unknown country"),
        ({"city": "x" * 201}, "too long"),
    ],
)
def test_change_shipping_address_checks_the_address(db, confirmed, change, message) -> None:
    order, *_ = confirmed
    with pytest.raises(DomainError, match=message):
        actions.change_shipping_address(db, order.id, NEW_ADDRESS | change, actor=AGENT, now=NOW)


def test_change_shipping_address_refused_once_shipped(db, delivered) -> None:
    with pytest.raises(DomainError, match="can't be changed"):
        actions.change_shipping_address(db, delivered.id, NEW_ADDRESS, actor=AGENT, now=NOW)


def held_order(db, warnings: list[str], **overrides) -> Order:
    channel, location = make_shop(db)
    sku = make_sku(db)
    from tests.inventory_factories import make_order_for, make_stock

    make_stock(db, location, sku.id, 5)
    order = make_order_for(
        db,
        channel,
        [(sku.id, 1)],
        status="on_hold",
        channel_state="paid",
        hold_reason="; ".join(warnings),
        hold_warnings=warnings,
        email="held@example.org",
        **overrides,
    )
    for line in order.lines:
        line.channel_sku = f"CH-{line.id}"
    db.flush()
    return order


def test_change_shipping_address_releases_an_address_hold_and_allocates(db) -> None:
    order = held_order(db, ["unknown country 'Atlantis'"])
    actions.change_shipping_address(db, order.id, NEW_ADDRESS, actor=AGENT, now=NOW)
    assert order.status == "confirmed" and order.hold_reason is None
    [cleared] = timeline(db, order, "hold_warning_cleared")
    assert AGENT.label in cleared.message
    assert audit(db, "order.address_change")[0].after["hold_released"] is True


# --- holds -----------------------------------------------------------------------------------------------


def test_release_hold_after_a_payment_check(db) -> None:
    order = held_order(db, ["payment failed"])
    assert actions.hold_problems(order) == [("check", "payment failed")]
    actions.release_hold(db, order.id, note="payment went through on retry", actor=AGENT, now=NOW)
    assert order.status == "confirmed"
    [entry] = audit(db, "order.hold_released")
    assert entry.actor_label == AGENT.label and entry.after["cleared"] == ["payment failed"]
    assert entry.after["note"] == "payment went through on retry"


def test_release_hold_keeps_an_order_held_for_something_else(db) -> None:
    order = held_order(db, ["possible fraud", "missing shipping address"])
    actions.release_hold(db, order.id, note="called the buyer", actor=AGENT, now=NOW)
    assert order.status == "on_hold" and order.hold_reason == "missing shipping address"
    assert actions.hold_problems(order) == [("address", "missing shipping address")]


@pytest.mark.parametrize(
    ("warnings", "chosen", "note", "message"),
    [
        (["payment failed"], None, "", "say what you checked"),
        (["missing shipping address"], ["missing shipping address"], "ok", "fix the shipping address"),
        (["payment failed"], ["fraud"], "ok", "is not holding"),
        (["missing shipping address"], None, "ok", "nothing to release"),
    ],
)
def test_release_hold_refusals(db, warnings, chosen, note, message) -> None:
    order = held_order(db, warnings)
    with pytest.raises(DomainError, match=message):
        actions.release_hold(db, order.id, warnings=chosen, note=note, actor=AGENT, now=NOW)
    assert order.status == "on_hold"


def test_release_hold_points_unmapped_skus_to_intake(db) -> None:
    order = held_order(db, [])
    order.hold_reason = "unmapped channel SKU: ABC"
    assert actions.hold_problems(order) == [("catalog", "unmapped channel SKU: ABC")]
    with pytest.raises(DomainError, match="Intake"):
        actions.release_hold(db, order.id, note="x", actor=AGENT, now=NOW)


# --- resend ----------------------------------------------------------------------------------------------


def test_resend_notification_adds_a_new_outbox_row(db, confirmed) -> None:
    order, *_ = confirmed
    actions.cancel_order(db, order.id, reason="", actor=AGENT, now=NOW)
    [original] = emails(db, "order_cancelled")
    with pytest.raises(DomainError, match="not been sent yet"):
        actions.resend_notification(db, order.id, original.id, actor=AGENT, now=NOW)
    original.status = "sent"
    first = actions.resend_notification(db, order.id, original.id, actor=AGENT, now=NOW)
    second = actions.resend_notification(db, order.id, original.id, actor=AGENT, now=NOW)
    assert (first.status, first.kind, first.recipient) == ("pending", "order_cancelled", original.recipient)
    assert first.dedup_key != second.dedup_key and first.payload["resend_of"] == original.id
    assert original.status == "sent"
    assert [e.id for e in actions.order_emails(db, order.id)] == [original.id, first.id, second.id]
    assert len(audit(db, "outbox.resend")) == 2 and len(timeline(db, order, "notification_resent")) == 2


def test_resend_notification_only_for_the_orders_emails(db, confirmed, delivered) -> None:
    order, *_ = confirmed
    actions.cancel_order(db, order.id, reason="", actor=AGENT, now=NOW)
    [original] = emails(db, "order_cancelled")
    with pytest.raises(NotFound):
        actions.resend_notification(db, delivered.id, original.id, actor=AGENT, now=NOW)


# --- returns ---------------------------------------------------------------------------------------------


def test_create_return_for_customer_approved_at_once(db, delivered) -> None:
    rma = actions.create_return_for_customer(
        db, delivered.id, [(delivered.lines[0].id, 1)], reason="damaged", approve=True, actor=AGENT, now=NOW
    )
    assert rma.status == "approved"
    assert [e.actor_label for e in audit(db, "return.request")] == [AGENT.label]
    assert len(emails(db, "return_approved")) == 1


def test_cancel_order_refuses_an_order_the_channel_fulfils(db) -> None:
    channel, location = make_shop(db, name="Amazon FBA")
    order = make_delivered_order(db, channel, location, [(make_sku(db), 1)], shipped=False)
    order.fulfilled_by_channel = True
    with pytest.raises(DomainError, match="Amazon FBA fulfils it"):
        actions.cancel_order(db, order.id, reason="", actor=AGENT, now=NOW)


# --- replacement -----------------------------------------------------------------------------------------


def test_create_replacement_order_allocates_stock_at_no_charge(db, delivered) -> None:
    from core.channel_sync.pushes import queue_shipment_confirmation
    from core.fulfillment.models import Shipment
    from core.inventory.models import Location
    from tests.inventory_factories import make_stock

    mug_line = delivered.lines[0]
    location_id = db.scalar(select(Shipment.location_id).where(Shipment.order_id == delivered.id))
    make_stock(db, db.get(Location, location_id), mug_line.sku_id, 3)
    replacement = actions.create_replacement_order(
        db, delivered.id, {mug_line.id: 1}, reason="arrived broken", actor=AGENT, now=NOW
    )
    assert replacement.status == "confirmed" and replacement.total == 0
    assert [(line.sku_id, line.quantity, line.unit_price) for line in replacement.lines] == [
        (mug_line.sku_id, 1, 0)
    ]
    assert (
        replacement.customer_id == delivered.customer_id
        and replacement.shipping_address == delivered.shipping_address
    )
    assert (
        replacement.external_id == f"replacement:{delivered.number}:1" and replacement.source == "replacement"
    )
    assert level(db, location_id, mug_line.sku_id) == (3, 1)
    [entry] = audit(db, "order.replace")
    assert entry.after["number"] == replacement.number
    [event] = timeline(db, delivered, "replacement_created")
    assert event.visible_to_customer and replacement.number in event.message
    assert [m.payload["order_id"] for m in emails(db, "order_confirmed")] == [replacement.id]
    shipment = Shipment(order_id=replacement.id, carrier="UPS", tracking_number="1Z1", status="in_transit")
    db.add(shipment)
    db.flush()
    assert queue_shipment_confirmation(db, shipment, now=NOW) is None  # the channel never heard of it


def test_create_replacement_order_backorders_when_out_of_stock(db, delivered) -> None:
    second = actions.create_replacement_order(
        db, delivered.id, {delivered.lines[1].id: 1}, reason="lost", actor=AGENT, now=NOW
    )
    assert second.status == "backordered"
    third = actions.create_replacement_order(
        db, delivered.id, {delivered.lines[1].id: 1}, reason="lost again", actor=AGENT, now=NOW
    )
    assert third.external_id.endswith(":2")


@pytest.mark.parametrize(
    ("quantities", "reason", "message"),
    [({}, "x", "at least one"), ({"line": 9}, "x", "between 0 and 2"), ({"line": 1}, "", "say why")],
)
def test_create_replacement_order_refusals(db, delivered, quantities, reason, message) -> None:
    quantities = {delivered.lines[0].id: q for q in quantities.values()}
    with pytest.raises(DomainError, match=message):
        actions.create_replacement_order(db, delivered.id, quantities, reason=reason, actor=AGENT, now=NOW)


def test_create_replacement_order_refused_for_a_cancelled_order(db, confirmed) -> None:
    order, *_ = confirmed
    actions.cancel_order(db, order.id, reason="", actor=AGENT, now=NOW)
    with pytest.raises(DomainError, match="is cancelled"):
        actions.create_replacement_order(
            db, order.id, {order.lines[0].id: 1}, reason="x", actor=AGENT, now=NOW
        )
