"""Every hold is fixed where the console order page shows it: an unmapped channel SKU (map it), an unknown
currency (set it), a payload gap (the channel's full order; or cancel), checks (release or cancel). Each fix
records who did it and why on the timeline and in the audit log."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from core.audit.models import AuditEntry
from core.errors import DomainError, PermissionDenied
from core.orders import actions, intake
from core.orders.actions import release_hold, set_order_currency
from core.orders.models import Order, OrderEvent
from core.security.roles import Actor
from tests.factories import NOW, PASSWORD, make_channel, make_sku, make_user
from tests.fixtures import channel_json
from tests.helpers import csrf_token, sign_in
from tests.inventory_factories import link, make_location, make_stock

HX = {"HX-Request": "true"}


def ingest(db, channel, document) -> Order:
    payload, _ = intake.store_payload(db, channel, json.dumps(document), source="webhook", now=NOW)
    [(_stored, [result])] = intake.process_payloads(db, channel, [payload], now=NOW)
    db.commit()
    return db.get(Order, result.order_id)


def fresh(db, order_id: int) -> Order:
    return db.scalar(select(Order).where(Order.id == order_id).execution_options(populate_existing=True))


def signed_in(client, db, role: str):
    user = make_user(db, role)
    db.commit()
    sign_in(client, user.email, PASSWORD, console=True)
    return user


def post(client, order: Order, action: str, data: dict):
    page = f"/console/orders/{order.id}"
    token = csrf_token(client, page)
    return client.post(f"{page}/{action}", data=data | {"csrf_token": token}, headers=HX)


def timeline(db, order: Order) -> list[str]:
    return list(db.scalars(select(OrderEvent.message).where(OrderEvent.order_id == order.id)))


def audits(db, user) -> list[str]:
    return list(db.scalars(select(AuditEntry.action).where(AuditEntry.actor_id == user.id)))


@pytest.fixture
def woo(db):
    """A WooCommerce channel with stock for our SKUs but no listings yet."""
    channel = make_channel(db, code="woo-holds", kind="woocommerce", name="Woo Shop")
    warehouse = make_location(db, name="Warehouse Holds")
    link(db, channel, warehouse)
    for code in ("OUR-BANNETON", "OUR-STARTER"):
        make_stock(db, warehouse, make_sku(db, code=code).id, 5)
    db.commit()
    return channel


def test_unmapped_skus_are_mapped_on_the_order_page_and_release_it(client, db, woo) -> None:
    order = ingest(db, woo, channel_json("woocommerce", "order.json"))
    assert order.status == "on_hold" and "unmapped channel SKU" in order.hold_reason
    manager = signed_in(client, db, "manager")
    html = client.get(f"/console/orders/{order.id}").get_data(as_text=True)
    assert "Our SKU for BANNETON-9-RND" in html and "Our SKU for product:412" in html
    first = post(client, order, "map-sku", {"channel_sku": "BANNETON-9-RND", "sku": "OUR-BANNETON"})
    assert first.status_code == 200 and "Mapped BANNETON-9-RND to OUR-BANNETON." in first.get_data(
        as_text=True
    )
    assert fresh(db, order.id).status == "on_hold"  # the other SKU still holds it
    post(client, order, "map-sku", {"channel_sku": "product:412", "sku": "OUR-STARTER"})
    order = fresh(db, order.id)
    assert order.status != "on_hold" and order.hold_reason is None
    assert all(line.sku_id for line in order.lines)
    assert any(
        f"{manager.email} mapped channel SKU product:412 to OUR-STARTER" in m for m in timeline(db, order)
    )
    assert audits(db, manager).count("listing.mapped") == 2 and "order.hold_released" in audits(db, manager)


def test_mapping_a_sku_is_a_managers_job_and_a_bad_sku_says_why(client, db, woo) -> None:
    order = ingest(db, woo, channel_json("woocommerce", "order.json"))
    signed_in(client, db, "agent")
    refused = post(client, order, "map-sku", {"channel_sku": "BANNETON-9-RND", "sku": "OUR-BANNETON"})
    assert refused.status_code == 403
    agent = Actor(label="agent@example.com", role="agent")
    with pytest.raises(PermissionDenied, match="map channel listings to skus"):  # the service checks too
        actions.map_held_sku(db, order.id, "BANNETON-9-RND", "OUR-BANNETON", actor=agent, now=NOW)
    signed_in(client, db, "manager")
    unknown = post(client, order, "map-sku", {"channel_sku": "BANNETON-9-RND", "sku": "NO-SUCH-SKU"})
    assert unknown.status_code == 422 and "NO-SUCH-SKU" in unknown.get_data(as_text=True)
    assert fresh(db, order.id).status == "on_hold"
    other = post(client, order, "map-sku", {"channel_sku": "NOT-ON-THIS-ORDER", "sku": "OUR-BANNETON"})
    assert other.status_code == 422 and "is not an unmapped SKU" in other.get_data(as_text=True)


def _held_for_currency(db, woo) -> Order:
    for code in ("BANNETON-9-RND", "product:412"):
        from core.catalog.services import add_listing

        add_listing(db, woo, code, "OUR-BANNETON" if code.startswith("B") else "OUR-STARTER", now=NOW)
    native = channel_json("woocommerce", "order.json")
    native["currency"] = "ZZZ"
    return ingest(db, woo, native)


def test_unknown_currency_is_set_on_the_order_page_and_releases_it(client, db, woo) -> None:
    order = _held_for_currency(db, woo)
    assert order.status == "on_hold" and order.hold_reason == "unknown currency 'ZZZ'"
    agent = signed_in(client, db, "agent")
    intake_page = client.get("/console/intake").get_data(as_text=True)
    assert f'<a href="/console/orders/{order.id}">Set the currency, or cancel' in intake_page
    html = client.get(f"/console/orders/{order.id}").get_data(as_text=True)
    assert "set the currency below, or cancel" in html and 'name="currency"' in html
    bad = post(client, order, "currency", {"currency": "EURO", "note": "seller screens"})
    assert bad.status_code == 422 and "not an ISO 4217 currency code" in bad.get_data(as_text=True)
    done = post(client, order, "currency", {"currency": "usd", "note": "checked the order in WooCommerce"})
    assert done.status_code == 200 and "Currency set to USD." in done.get_data(as_text=True)
    order = fresh(db, order.id)
    assert order.currency == "USD" and order.status != "on_hold"
    assert any(
        m == f"Currency set to USD (was ZZZ) by {agent.email}: checked the order in WooCommerce"
        for m in timeline(db, order)
    )
    entry = db.scalar(select(AuditEntry).where(AuditEntry.action == "order.currency_set"))
    assert entry.actor_id == agent.id and entry.before == {"currency": "ZZZ"}


def test_currency_needs_a_note_and_a_held_order(db, woo) -> None:
    order = _held_for_currency(db, woo)
    actor = Actor("agent@example.org", role="agent")
    with pytest.raises(DomainError, match="say where you checked the currency"):
        set_order_currency(db, order.id, "USD", note=" ", actor=actor, now=NOW)
    set_order_currency(db, order.id, "USD", note="seller screens", actor=actor, now=NOW)
    with pytest.raises(DomainError, match="is not held for its currency"):
        set_order_currency(db, order.id, "EUR", note="again", actor=actor, now=NOW)


def test_release_refuses_what_only_its_own_fix_clears(db, woo) -> None:
    order = _held_for_currency(db, woo)
    order.hold_warnings = ["currency missing: currency unknown", "possible fraud"]
    db.commit()
    actor = Actor("agent@example.org", role="agent")
    with pytest.raises(DomainError, match="set the order's currency"):
        release_hold(
            db, order.id, warnings=["currency missing: currency unknown"], note="x", actor=actor, now=NOW
        )
    release_hold(db, order.id, note="called the buyer", actor=actor, now=NOW)  # every check: fraud only
    assert fresh(db, order.id).hold_warnings == ["currency missing: currency unknown"]


def test_payload_gap_hold_says_the_channel_completes_it(client, db, woo) -> None:
    order = ingest(db, woo, [{"id": 2001, "status": "processing", "currency": "USD"}])
    assert order.status == "on_hold"
    signed_in(client, db, "agent")
    html = client.get(f"/console/orders/{order.id}").get_data(as_text=True)
    assert "order lines not in the payload" in html
    assert "the channel's full order clears it" in html
    refused = post(client, order, "release", {"warning": order.hold_warnings[0], "note": "looked"})
    assert refused.status_code == 422 and "full order clears this" in refused.get_data(as_text=True)
