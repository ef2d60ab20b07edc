"""Console operations pages: fulfilment (pick list, packing slip, pack and ship, 3PL files, drop-ship purchase
orders, unknown tracking numbers), low-stock alerts and stock-count reconciliation, through real forms."""

from __future__ import annotations

import io
import json
import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from core.audit.models import AuditEntry
from core.db import utcnow
from core.fulfillment.models import Shipment
from core.fulfillment.tracking import parse_tracking_csv, record_tracking_events
from core.inventory.alerts import check_low_stock
from core.inventory.models import LowStockAlert
from core.notifications.models import OutboxMessage
from tests.factories import NOW, PASSWORD, make_channel, make_sku, make_user
from tests.fulfillment_factories import make_confirmed_order
from tests.helpers import NOT_SIGN_IN, csrf_token, sign_in
from tests.inventory_factories import level, link, make_location, make_order_for, make_stock

HX = {"HX-Request": "true"}
TRACKING = "1Z999AA10123456784"


def signed_in(client, db, role: str = "agent"):
    user = make_user(db, role)
    db.commit()
    sign_in(client, user.email, PASSWORD, console=True)
    return user


def _file(text: str) -> io.BytesIO:
    return io.BytesIO(text.encode())


def audit_actions(db, user) -> list[str]:
    return list(db.scalars(select(AuditEntry.action).where(AuditEntry.actor_id == user.id, NOT_SIGN_IN)))


@pytest.fixture
def warehouse(db):
    """A Shopify channel served by one warehouse, and an order for two mugs reserved there."""
    channel = make_channel(db, kind="shopify", name="Shopify Store")
    location = make_location(db, code="WH-OPS", name="Warehouse Ops")
    link(db, channel, location)
    mug = make_sku(db, code="MUG-OPS", title="Blue mug")
    make_stock(db, location, mug.id, 10)
    order = make_confirmed_order(db, channel, [(mug.id, 2)])
    db.commit()
    return location, mug, order


@pytest.fixture
def three_pl(db):
    channel = make_channel(db, name="Marketplace")
    hub = make_location(db, code="3PL-OPS", name="Fulfil Co", kind="3pl", fulfillment_method="3pl")
    link(db, channel, hub)
    cap = make_sku(db, code="CAP-OPS", title="Cap")
    make_stock(db, hub, cap.id, 5)
    order = make_confirmed_order(db, channel, [(cap.id, 1)])
    db.commit()
    return hub, cap, order


# --- pick list and packing slip -------------------------------------------------------------------------


def test_fulfilment_pick_list_shows_skus_orders_and_slips(client, db, warehouse) -> None:
    location, _mug, order = warehouse
    signed_in(client, db)
    html = client.get("/console/fulfilment?location=WH-OPS").get_data(as_text=True)
    assert "Pick list · Warehouse Ops" in html and "MUG-OPS" in html and order.number in html
    assert "1 order(s), 2 unit(s)" in html and "Print pick list" in html
    assert f"/console/orders/{order.id}/packing-slip?location={location.id}" in html


def test_fulfilment_empty_states(client, db) -> None:
    signed_in(client, db)
    assert "No active locations yet" in client.get("/console/fulfilment").get_data(as_text=True)
    make_location(db, code="WH-EMPTY", name="Empty shed")
    db.commit()
    html = client.get("/console/fulfilment").get_data(as_text=True)
    assert "Nothing to pick at Empty shed" in html
    assert client.get("/console/fulfilment?location=NOPE").status_code == 404


def test_fulfilment_htmx_tab_gets_the_fragment_and_boosted_navigation_the_page(client, db, warehouse) -> None:
    signed_in(client, db)
    fragment = client.get("/console/fulfilment?location=WH-OPS", headers=HX).get_data(as_text=True)
    assert "MUG-OPS" in fragment and "<html" not in fragment
    boosted = client.get("/console/fulfilment?location=WH-OPS", headers=HX | {"HX-Boosted": "true"})
    assert "<html" in boosted.get_data(as_text=True)
    assert "HX-Request" in boosted.headers["Vary"]


def test_packing_slip_shows_ship_to_lines_and_the_pack_forms(client, db, warehouse) -> None:
    location, _mug, order = warehouse
    signed_in(client, db)
    html = client.get(f"/console/orders/{order.id}/packing-slip?location={location.id}").get_data(
        as_text=True
    )
    assert "Ada Lovelace" in html and "12 Analytical Row" in html and "MUG-OPS" in html
    assert "Print packing slip" in html and "Mark packed" in html
    assert client.get(f"/console/orders/{order.id}/packing-slip").status_code == 404
    other = make_location(db, code="WH-OTHER", name="Other shed")
    db.commit()
    nothing = client.get(f"/console/orders/{order.id}/packing-slip?location={other.id}")
    assert nothing.status_code == 404 and "nothing to pack at Other shed" in nothing.get_data(as_text=True)


# --- shipments panel, pack, ship --------------------------------------------------------------------------


def test_shipments_panel_is_a_fragment_for_htmx_and_a_page_otherwise(client, db, warehouse) -> None:
    _location, _mug, order = warehouse
    signed_in(client, db)
    fragment = client.get(f"/console/orders/{order.id}/shipments", headers=HX).get_data(as_text=True)
    assert f'id="shipments-{order.id}"' in fragment and "<html" not in fragment
    assert "2 unit(s) reserved at Warehouse Ops" in fragment and "No parcels yet" in fragment
    page = client.get(f"/console/orders/{order.id}/shipments").get_data(as_text=True)
    assert "<html" in page and "Mark packed" in page
    assert client.get("/console/orders/999999/shipments").status_code == 404


def test_agent_packs_and_ships_an_order_with_audit_and_channel_confirmation(client, db, warehouse) -> None:
    location, mug, order = warehouse
    agent = signed_in(client, db)
    token = csrf_token(client, f"/console/orders/{order.id}/shipments")
    packed = client.post(
        f"/console/orders/{order.id}/pack", data={"csrf_token": token, "location_id": location.id}
    )
    assert packed.status_code == 303
    shipped = client.post(
        f"/console/orders/{order.id}/ship",
        data={"csrf_token": token, "location_id": location.id, "carrier": "ups", "tracking_number": TRACKING},
    )
    assert shipped.status_code == 303
    assert shipped.headers["Location"] == f"/console/orders/{order.id}"
    db.expire_all()
    shipment = db.scalars(select(Shipment).where(Shipment.order_id == order.id)).one()
    assert (shipment.carrier, shipment.tracking_number, shipment.status) == ("UPS", TRACKING, "in_transit")
    assert level(db, location.id, mug.id) == (8, 0)
    kinds = db.scalars(
        select(OutboxMessage.kind).where(OutboxMessage.dedup_key == f"shipconfirm:{shipment.id}")
    )
    assert list(kinds) == ["shipment_confirmation"]
    assert {"order.packed", "order.shipped"} <= set(audit_actions(db, agent))
    page = client.get(f"/console/orders/{order.id}/shipments").get_data(as_text=True)
    assert f"Shipped with UPS {TRACKING}" in page and "reserved at" not in page


def test_htmx_ship_answers_the_updated_panel(client, db, warehouse) -> None:
    location, _mug, order = warehouse
    signed_in(client, db)
    token = csrf_token(client, f"/console/orders/{order.id}/shipments")
    response = client.post(
        f"/console/orders/{order.id}/ship",
        data={"location_id": location.id, "carrier": "UPS", "tracking_number": TRACKING},
        headers=HX | {"X-CSRFToken": token},
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and "<html" not in html
    assert TRACKING in html and "In transit" in html


def test_ship_without_carrier_says_so_and_changes_nothing(client, db, warehouse) -> None:
    location, mug, order = warehouse
    agent = signed_in(client, db)
    token = csrf_token(client, f"/console/orders/{order.id}/shipments")
    data = {"location_id": location.id, "carrier": "", "tracking_number": TRACKING}
    htmx = client.post(f"/console/orders/{order.id}/ship", data=data, headers=HX | {"X-CSRFToken": token})
    assert htmx.status_code == 422
    assert "a carrier is required to ship" in htmx.get_data(as_text=True)
    assert f'value="{TRACKING}"' in htmx.get_data(as_text=True)  # what was typed is kept
    plain = client.post(f"/console/orders/{order.id}/ship", data=data | {"csrf_token": token})
    assert plain.status_code == 303
    assert "a carrier is required to ship" in client.get(plain.headers["Location"]).get_data(as_text=True)
    db.expire_all()
    assert db.scalars(select(Shipment).where(Shipment.order_id == order.id)).all() == []
    assert level(db, location.id, mug.id) == (10, 2) and order.status == "confirmed"
    assert audit_actions(db, agent) == []


def test_pack_without_location_or_with_nothing_reserved_is_refused(client, db, warehouse) -> None:
    _location, _mug, order = warehouse
    signed_in(client, db)
    token = csrf_token(client, f"/console/orders/{order.id}/shipments")
    response = client.post(f"/console/orders/{order.id}/pack", data={}, headers=HX | {"X-CSRFToken": token})
    assert response.status_code == 422 and "Choose the location" in response.get_data(as_text=True)
    other = make_location(db, code="WH-NONE", name="Nothing here")
    db.commit()
    response = client.post(
        f"/console/orders/{order.id}/pack",
        data={"location_id": other.id},
        headers=HX | {"X-CSRFToken": token},
    )
    assert response.status_code == 422 and "nothing reserved at Nothing here" in response.get_data(
        as_text=True
    )


# --- 3PL files ------------------------------------------------------------------------------------------


def test_3pl_exports_download_as_csv_and_json(client, db, three_pl) -> None:
    _hub, _cap, order = three_pl
    signed_in(client, db)
    as_csv = client.get("/console/fulfilment/3PL-OPS/export.csv")
    assert as_csv.mimetype == "text/csv" and "attachment" in as_csv.headers["Content-Disposition"]
    assert f"{order.number}," in as_csv.get_data(as_text=True)
    as_json = client.get("/console/fulfilment/3PL-OPS/export.json")
    assert as_json.mimetype == "application/json"
    assert [r["order_number"] for r in json.loads(as_json.get_data(as_text=True))["requests"]] == [
        order.number
    ]
    assert client.get("/console/fulfilment/NOPE/export.csv").status_code == 404


def test_3pl_confirmations_with_bad_rows_list_every_line_and_apply_nothing(client, db, three_pl) -> None:
    hub, cap, order = three_pl
    manager = signed_in(client, db, "manager")
    page = client.get("/console/fulfilment?location=3PL-OPS").get_data(as_text=True)
    assert "Import confirmations" in page and "Download requests (CSV)" in page
    token = csrf_token(client, "/console/fulfilment?location=3PL-OPS")
    text = (
        "order_number,sku,quantity,carrier,tracking_number,shipped_at\n"
        f"{order.number},CAP-OPS,two,UPS,{TRACKING},2026-11-20\n"
        f"CD-NOPE,CAP-OPS,1,UPS,{TRACKING},2026-11-20\n"
    )
    response = client.post(
        "/console/fulfilment/3PL-OPS/confirmations",
        data={"csrf_token": token, "file": (_file(text), "confirmations.csv")},
        content_type="multipart/form-data",
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 422 and "Nothing was applied" in html
    assert "line 2: quantity &#39;two&#39; is not a positive whole number" in html
    assert "line 3: unknown order &#39;CD-NOPE&#39;" in html
    db.expire_all()
    assert level(db, hub.id, cap.id) == (5, 1) and audit_actions(db, manager) == []


def test_3pl_confirmations_ship_the_orders_with_audit(client, db, three_pl) -> None:
    hub, cap, order = three_pl
    manager = signed_in(client, db, "manager")
    token = csrf_token(client, "/console/fulfilment?location=3PL-OPS")
    shipped_on = (utcnow() - timedelta(days=1)).date().isoformat()
    text = (
        "order_number,sku,quantity,carrier,tracking_number,shipped_at\n"
        f"{order.number},CAP-OPS,1,UPS,{TRACKING},{shipped_on}\n"
    )
    response = client.post(
        "/console/fulfilment/3PL-OPS/confirmations",
        data={"csrf_token": token, "file": (_file(text), "confirmations.csv")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 303
    assert "1 parcel(s) shipped from 1 row(s)" in client.get(response.headers["Location"]).get_data(
        as_text=True
    )
    db.expire_all()
    assert level(db, hub.id, cap.id) == (4, 0)
    entry = db.scalars(select(AuditEntry).where(AuditEntry.actor_id == manager.id, NOT_SIGN_IN)).one()
    assert (entry.action, entry.entity_type, entry.entity_id) == ("order.shipped", "order", str(order.id))


def test_3pl_confirmations_without_a_file_say_so(client, db, three_pl) -> None:
    signed_in(client, db, "manager")
    token = csrf_token(client, "/console/fulfilment?location=3PL-OPS")
    response = client.post("/console/fulfilment/3PL-OPS/confirmations", data={"csrf_token": token})
    assert response.status_code == 422 and "Choose the 3PL" in response.get_data(as_text=True)


def test_agent_cannot_import_3pl_confirmations(client, db, three_pl) -> None:
    signed_in(client, db)
    page = client.get("/console/fulfilment?location=3PL-OPS").get_data(as_text=True)
    assert "A manager imports" in page
    token = csrf_token(client, "/console/fulfilment?location=3PL-OPS")
    response = client.post("/console/fulfilment/3PL-OPS/confirmations", data={"csrf_token": token})
    assert response.status_code == 403


# --- drop-ship purchase orders ----------------------------------------------------------------------------


@pytest.fixture
def dropship(db):
    channel = make_channel(db, name="Web shop")
    supplier = make_location(
        db,
        code="DS-OPS",
        name="Tea Co",
        kind="dropship",
        fulfillment_method="dropship",
        email="po@tea.example",
    )
    link(db, channel, supplier)
    teapot = make_sku(db, code="TEAPOT-OPS", title="Teapot", dropship_location_id=supplier.id)
    make_stock(db, supplier, teapot.id, 50)
    order = make_confirmed_order(db, channel, [(teapot.id, 1)])
    db.commit()
    return supplier, order


def test_manager_emails_a_purchase_order_with_a_confirm_link(client, db, dropship) -> None:
    supplier, order = dropship
    manager = signed_in(client, db, "manager")
    panel = client.get(f"/console/orders/{order.id}/shipments").get_data(as_text=True)
    assert "Email purchase order to Tea Co" in panel
    token = csrf_token(client, f"/console/orders/{order.id}/shipments")
    response = client.post(
        f"/console/orders/{order.id}/purchase-order?location={supplier.id}", data={"csrf_token": token}
    )
    assert response.status_code == 303
    message = db.scalars(select(OutboxMessage).where(OutboxMessage.kind == "dropship_po")).one()
    assert message.recipient == "po@tea.example"
    assert message.payload["confirm_url"].startswith("http://127.0.0.1:5000/dropship/confirm/")
    assert audit_actions(db, manager) == ["order.purchase_order_sent"]
    again = client.post(
        f"/console/orders/{order.id}/purchase-order?location={supplier.id}", data={"csrf_token": token}
    )
    assert "already sent to po@tea.example" in client.get(again.headers["Location"]).get_data(as_text=True)


def test_agent_cannot_send_purchase_orders(client, db, dropship) -> None:
    supplier, order = dropship
    signed_in(client, db)
    assert "Email purchase order" not in client.get(f"/console/orders/{order.id}/shipments").get_data(
        as_text=True
    )
    token = csrf_token(client, f"/console/orders/{order.id}/shipments")
    response = client.post(
        f"/console/orders/{order.id}/purchase-order?location={supplier.id}", data={"csrf_token": token}
    )
    assert response.status_code == 403
    assert db.scalars(select(OutboxMessage).where(OutboxMessage.kind == "dropship_po")).all() == []


# --- unknown tracking numbers ---------------------------------------------------------------------------


def test_unknown_tracking_report_lists_numbers_no_shipment_has(client, db) -> None:
    signed_in(client, db)
    assert "No unknown tracking numbers" in client.get("/console/tracking/unknown").get_data(as_text=True)
    updates = parse_tracking_csv(
        "tracking_number,carrier,status,occurred_at\n1ZUNKNOWN0000001,UPS,in transit,2026-11-19T10:00:00Z\n"
    )
    record_tracking_events(db, updates, now=NOW, source="import")
    db.commit()
    html = client.get("/console/tracking/unknown").get_data(as_text=True)
    assert "1ZUNKNOWN0000001" in html and "no shipment has it" in html


# --- low-stock alerts -----------------------------------------------------------------------------------


@pytest.fixture
def low_mug(db):
    location = make_location(db, code="WH-LOW", name="Low shed")
    mug = make_sku(db, code="MUG-LOW", title="Low mug", reorder_point=5, reorder_quantity=24)
    make_stock(db, location, mug.id, 2)
    check_low_stock(db, {mug.id}, now=NOW)
    db.commit()
    return db.scalars(select(LowStockAlert).where(LowStockAlert.sku_id == mug.id)).one()


def test_alerts_page_empty_states(client, db) -> None:
    signed_in(client, db)
    html = client.get("/console/alerts").get_data(as_text=True)
    assert "No low-stock alerts" in html and "No SKU is selling unusually fast" in html


def test_alerts_page_shows_suggested_quantity_reason_and_fast_movers(client, db, low_mug) -> None:
    channel = make_channel(db, name="Busy shop")
    hot = make_sku(db, code="HOT-OPS", title="Hot item")
    make_order_for(db, channel, [(hot.id, 6)], placed_at=utcnow() - timedelta(days=1))
    db.commit()
    signed_in(client, db)
    html = client.get("/console/alerts").get_data(as_text=True)
    assert "MUG-LOW" in html and f"<strong>{low_mug.suggested_quantity}</strong>" in html
    assert low_mug.reason.split(":")[0] in html
    assert "HOT-OPS" in html and channel.code in html
    assert "Mark ordered" not in html  # agents see, managers act


def test_manager_marks_an_alert_ordered_with_audit(client, db, low_mug) -> None:
    manager = signed_in(client, db, "manager")
    token = csrf_token(client, "/console/alerts")
    response = client.post(f"/console/alerts/{low_mug.id}/ordered", data={"csrf_token": token})
    assert response.status_code == 303
    db.refresh(low_mug)
    assert low_mug.status == "ordered"
    assert audit_actions(db, manager) == ["stock.alert_ordered"]
    again = client.post(f"/console/alerts/{low_mug.id}/ordered", headers=HX | {"X-CSRFToken": token})
    html = again.get_data(as_text=True)
    assert again.status_code == 422 and "<html" not in html and "only an open alert" in html


def test_htmx_mark_ordered_answers_the_alerts_fragment(client, db, low_mug) -> None:
    signed_in(client, db, "manager")
    token = csrf_token(client, "/console/alerts")
    response = client.post(f"/console/alerts/{low_mug.id}/ordered", headers=HX | {"X-CSRFToken": token})
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and 'id="alerts"' in html and "<html" not in html
    assert "Ordered" in html and "Mark ordered" not in html


def test_agent_cannot_mark_alerts_ordered(client, db, low_mug) -> None:
    signed_in(client, db)
    token = csrf_token(client, "/console/alerts")
    assert client.post(f"/console/alerts/{low_mug.id}/ordered", data={"csrf_token": token}).status_code == 403
    db.refresh(low_mug)
    assert low_mug.status == "open"


# --- stock counts ---------------------------------------------------------------------------------------


@pytest.fixture
def counted(db):
    location = make_location(db, code="WH-CNT", name="Count shed")
    mug = make_sku(db, code="MUG-CNT", title="Counted mug", cost=250, currency="USD")
    make_stock(db, location, mug.id, 10)
    db.commit()
    return location, mug


def upload_count(client, text: str):
    token = csrf_token(client, "/console/stock/counts")
    return client.post(
        "/console/stock/counts",
        data={"csrf_token": token, "file": (_file(text), "count.csv")},
        content_type="multipart/form-data",
    )


def test_stock_count_form_renders(client, db) -> None:
    signed_in(client, db)
    html = client.get("/console/stock/counts").get_data(as_text=True)
    assert 'type="file"' in html and "location, sku, counted" in html


def test_stock_count_with_malformed_lines_lists_them_and_changes_nothing(client, db, counted) -> None:
    location, mug = counted
    signed_in(client, db, "manager")
    response = upload_count(client, "location,sku,counted\nWH-CNT,MUG-CNT,-3\nWH-CNT,NOPE,1\nWH-CNT\n")
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "line 2: counted must be a whole number" in html
    assert "line 3: unknown SKU &#39;NOPE&#39;" in html and "line 4: expected 3 fields, found 1" in html
    assert "Apply" not in html and level(db, location.id, mug.id) == (10, 0)


def test_stock_count_without_a_file_says_so(client, db) -> None:
    signed_in(client, db)
    token = csrf_token(client, "/console/stock/counts")
    response = client.post("/console/stock/counts", data={"csrf_token": token})
    assert response.status_code == 422 and "Choose a CSV file" in response.get_data(as_text=True)


def test_manager_applies_a_stock_count_with_audit(client, db, counted) -> None:
    location, mug = counted
    manager = signed_in(client, db, "manager")
    html = upload_count(client, "location,sku,counted,note\nWH-CNT,MUG-CNT,7,shelf B\n").get_data(
        as_text=True
    )
    assert "MUG-CNT" in html and ">10<" in html and ">7<" in html and ">-3<" in html
    assert "-7.50 USD" in html and "Apply 1 adjustment(s)" in html
    rows = re.search(r'name="rows" value="([^"]+)"', html).group(1)
    token = csrf_token(client, "/console/stock/counts")
    response = client.post("/console/stock/counts/approve", data={"csrf_token": token, "rows": rows})
    assert response.status_code == 303 and response.headers["Location"] == "/console/stock"
    assert "1 adjustment(s)" in client.get("/console/stock").get_data(as_text=True)
    assert level(db, location.id, mug.id) == (7, 0)
    assert audit_actions(db, manager) == ["stock.count_adjusted"]


def test_stock_count_is_refused_when_stock_moved_since_the_report(client, db, counted) -> None:
    location, mug = counted
    manager = signed_in(client, db, "manager")
    html = upload_count(client, "location,sku,counted\nWH-CNT,MUG-CNT,7\n").get_data(as_text=True)
    rows = re.search(r'name="rows" value="([^"]+)"', html).group(1)
    make_stock(db, location, mug.id, 1)
    db.commit()
    token = csrf_token(client, "/console/stock/counts")
    response = client.post("/console/stock/counts/approve", data={"csrf_token": token, "rows": rows})
    assert response.status_code == 303
    assert "stock moved since this report was made" in client.get(response.headers["Location"]).get_data(
        as_text=True
    )
    assert level(db, location.id, mug.id) == (11, 0) and audit_actions(db, manager) == []


def test_stock_count_rows_that_were_edited_are_refused(client, db, counted) -> None:
    location, mug = counted
    signed_in(client, db, "manager")
    token = csrf_token(client, "/console/stock/counts")
    response = client.post("/console/stock/counts/approve", data={"csrf_token": token, "rows": "forged"})
    assert "could not be read" in client.get(response.headers["Location"]).get_data(as_text=True)
    assert level(db, location.id, mug.id) == (10, 0)


def test_agent_sees_the_report_but_cannot_apply_it(client, db, counted) -> None:
    signed_in(client, db)
    html = upload_count(client, "location,sku,counted\nWH-CNT,MUG-CNT,7\n").get_data(as_text=True)
    assert "A manager can apply this count" in html and 'name="rows"' not in html
    token = csrf_token(client, "/console/stock/counts")
    assert (
        client.post("/console/stock/counts/approve", data={"csrf_token": token, "rows": "x"}).status_code
        == 403
    )


def test_channel_stock_report_is_compared_but_never_applied(client, db, counted) -> None:
    signed_in(client, db, "manager")
    channel = make_channel(db, code="shop-cnt", name="Count shop")
    db.commit()
    html = upload_count(client, f"channel,channel_sku,quantity\n{channel.code},UNMAPPED-1,4\n").get_data(
        as_text=True
    )
    assert "Channel stock report" in html and "is not mapped to a SKU of ours" in html
    assert 'name="rows"' not in html
