"""A drop-ship supplier confirms a shipment through the signed purchase-order link, without logging in."""

from __future__ import annotations

from core.db import utcnow
from core.fulfillment.dropship import make_dropship_token
from tests.factories import make_channel, make_sku
from tests.fulfillment_factories import make_confirmed_order
from tests.helpers import csrf_token
from tests.inventory_factories import link, make_location, make_stock


def test_supplier_confirms_once_through_the_signed_link(client, db) -> None:
    channel = make_channel(db)
    supplier = make_location(db, name="Acme Supplies", kind="dropship", fulfillment_method="dropship")
    link(db, channel, supplier)
    sku = make_sku(db, dropship_location_id=supplier.id, title="Garden chair")
    make_stock(db, supplier, sku.id, 10)
    order = make_confirmed_order(db, channel, [(sku.id, 2)])
    db.commit()
    path = f"/dropship/confirm/{make_dropship_token('test-secret', order.id, supplier.id, now=utcnow())}"
    page = client.get(path).get_data(as_text=True)
    assert order.number in page and "Garden chair" in page and "Ada Lovelace" in page
    token = csrf_token(client, path)
    missing = client.post(path, data={"csrf_token": token, "carrier": "UPS", "tracking_number": ""})
    assert missing.status_code == 422
    done = client.post(
        path, data={"csrf_token": token, "carrier": "UPS", "tracking_number": "1Z999AA10123456784"}
    )
    assert done.status_code == 200 and "shipment is confirmed" in done.get_data(as_text=True)
    db.refresh(order)
    assert order.status == "shipped"
    again = client.get(path).get_data(as_text=True)
    assert "shipment is confirmed" in again


def test_tampered_link_is_refused(client) -> None:
    response = client.get("/dropship/confirm/not-a-real-token")
    assert response.status_code == 400 and "not valid" in response.get_data(as_text=True)
