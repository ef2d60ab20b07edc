"""POST /api/tracking/webhooks/<source>: signed by the service, stored raw, recorded on the shipment."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json

import pytest
from sqlalchemy import select

from core.fulfillment.models import Shipment, TrackingEvent
from core.orders.models import InboundPayload
from tests.factories import make_order
from tests.fixtures import tracking_file

SECRET = "track-secret"
EASYPOST = tracking_file("easypost", "tracker.json").read_bytes()


@pytest.fixture
def app(session_factory):
    from app import create_app

    return create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "t",
            "SESSION_FACTORY": session_factory,
            "TRACKING_WEBHOOK_SECRET": SECRET,
        }
    )


def easypost_signature(body: bytes) -> str:
    return "hmac-sha256-hex=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()


def test_easypost_webhook_records_events_on_our_shipment(client, db) -> None:
    sample = json.loads(EASYPOST)
    order = make_order(db, status="shipped")
    shipment = Shipment(
        order_id=order.id,
        carrier=sample["carrier"],
        tracking_number=sample["tracking_code"],
        status="in_transit",
    )
    db.add(shipment)
    db.commit()
    response = client.post(
        "/api/tracking/webhooks/easypost",
        data=EASYPOST,
        headers={"X-Hmac-Signature": easypost_signature(EASYPOST), "Content-Type": "application/json"},
    )
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["recorded"] == len(sample["tracking_details"])
    stored = db.scalars(select(TrackingEvent).where(TrackingEvent.shipment_id == shipment.id)).all()
    assert len(stored) == len(sample["tracking_details"])
    payload = db.get(InboundPayload, response.get_json()["payload_id"])
    assert payload.body == EASYPOST.decode() and payload.status == "processed"


def test_tracking_webhook_for_unknown_number_is_kept_for_ops(client, db) -> None:
    response = client.post(
        "/api/tracking/webhooks/easypost",
        data=EASYPOST,
        headers={"X-Hmac-Signature": easypost_signature(EASYPOST)},
    )
    assert response.status_code == 200 and response.get_json()["status"] == "needs_attention"


@pytest.mark.parametrize("headers", [{}, {"X-Hmac-Signature": "hmac-sha256-hex=00"}])
def test_tracking_webhook_bad_signature_is_401(client, db, headers) -> None:
    response = client.post("/api/tracking/webhooks/easypost", data=EASYPOST, headers=headers)
    assert response.status_code == 401
    assert db.scalar(select(InboundPayload.id)) is None


def test_tracking_webhook_unknown_source_is_404(client) -> None:
    assert client.post("/api/tracking/webhooks/pigeon", data=b"{}").status_code == 404


def test_tracking_webhook_unreadable_body_is_400_and_kept(client, db) -> None:
    body = b'{"hello": "world"}'
    response = client.post(
        "/api/tracking/webhooks/generic",
        data=body,
        headers={
            "X-Crossdock-Signature": base64.b64encode(
                hmac.new(SECRET.encode(), body, hashlib.sha256).digest()
            ).decode()
        },
    )
    assert response.status_code == 400 and response.get_json()["error"]
    assert db.scalar(select(InboundPayload.status)) == "rejected"
