"""The console's intake page: held orders with reasons, payload statuses, mapping a SKU releases holds."""

from __future__ import annotations

import json

from sqlalchemy import select

from core.audit.models import AuditEntry
from core.orders import intake
from tests.factories import NOW, PASSWORD, make_channel, make_sku, make_user
from tests.fixtures import channel_text
from tests.helpers import csrf_token, sign_in


def held_shopify_order(db):
    channel = make_channel(db, kind="shopify", name="Shopify Store")
    body = channel_text("shopify", "order.json")
    payload, _ = intake.store_payload(db, channel, body, source="import", now=NOW)
    [(_p, [result])] = intake.process_payloads(db, channel, [payload], now=NOW)
    db.commit()
    return channel, result


def test_intake_page_lists_held_orders_and_payload_statuses(client, db) -> None:
    _channel, _result = held_shopify_order(db)
    sign_in(client, make_user(db, "agent").email, PASSWORD, console=True)
    html = client.get("/console/intake").get_data(as_text=True)
    assert "unmapped channel SKU: KETTLE-CU-17" in html
    assert "Needs attention (1)" in html
    fragment = client.get("/console/intake?status=rejected", headers={"HX-Request": "true"}).get_data(
        as_text=True
    )
    assert "No payloads with status rejected" in fragment and "<html" not in fragment


def test_intake_payload_page_shows_raw_body(client, db) -> None:
    channel = make_channel(db, kind="shopify")
    payload, _ = intake.store_payload(db, channel, json.dumps({"x": "<b>raw</b>"}), source="webhook", now=NOW)
    db.commit()
    sign_in(client, make_user(db, "agent").email, PASSWORD, console=True)
    html = client.get(f"/console/intake/payloads/{payload.id}").get_data(as_text=True)
    assert "&lt;b&gt;raw&lt;/b&gt;" in html and "<b>raw</b>" not in html


def test_manager_maps_sku_and_order_is_released_with_audit(client, db) -> None:
    channel, _result = held_shopify_order(db)
    manager = make_user(db, "manager")
    sign_in(client, manager.email, PASSWORD, console=True)
    for variant in ("KETTLE-CU-17", "MUG-ENAMEL-TEAL", "TOWEL-LIGHTHOUSE"):
        sku = make_sku(db, code=f"OUR-{variant}")
        token = csrf_token(client, "/console/intake")
        response = client.post(
            "/console/intake/listings",
            data={"csrf_token": token, "channel_id": channel.id, "channel_sku": variant, "sku": sku.code},
        )
        assert response.status_code == 303
    page = client.get("/console/intake").get_data(as_text=True)
    assert "1 order(s) released from hold" in page and "No orders on hold" in page
    actions = db.scalars(select(AuditEntry.action).where(AuditEntry.actor_id == manager.id)).all()
    assert actions.count("listing.mapped") == 3 and "order.hold_released" in actions


def test_mapping_to_unknown_sku_shows_error(client, db) -> None:
    channel, _ = held_shopify_order(db)
    sign_in(client, make_user(db, "manager").email, PASSWORD, console=True)
    token = csrf_token(client, "/console/intake")
    client.post(
        "/console/intake/listings",
        data={"csrf_token": token, "channel_id": channel.id, "channel_sku": "MUG-ENAMEL-TEAL", "sku": "NOPE"},
    )
    assert "unknown SKU &#39;NOPE&#39;" in client.get("/console/intake").get_data(as_text=True)


def test_agent_cannot_map_skus(client, db) -> None:
    channel, _ = held_shopify_order(db)
    sign_in(client, make_user(db, "agent").email, PASSWORD, console=True)
    token = csrf_token(client, "/console/intake")
    response = client.post(
        "/console/intake/listings",
        data={"csrf_token": token, "channel_id": channel.id, "channel_sku": "MUG-ENAMEL-TEAL", "sku": "X"},
    )
    assert response.status_code == 403
