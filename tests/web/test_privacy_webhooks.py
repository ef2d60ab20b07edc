"""Shopify's compliance webhooks: HMAC-verified, stored before processing, then acted on."""

from __future__ import annotations

import json

from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.channels.signatures import sign
from core.customers.models import Customer
from core.db import utcnow
from core.orders.models import InboundPayload
from core.privacy.erasure import is_erased
from core.privacy.models import PrivacyRequest
from core.privacy.shopify import channel_erasure_job
from tests.factories import make_channel, make_customer, make_order
from tests.privacy_factories import EMAIL, NEEDLES, PHONE, make_person, places_holding

URL = "/api/channels/shopify-privacy/webhooks/privacy"


def _post(
    client: FlaskClient,
    db: Session,
    topic: str,
    document: dict,
    *,
    secret: str = "s3cret",
    url: str = URL,
    delivery: str = "d1",
):
    """Post a signed webhook; the test's session then reads what the request's session committed."""
    body = json.dumps(document).encode()
    headers = {
        "X-Shopify-Hmac-Sha256": sign(secret, body),
        "X-Shopify-Topic": topic,
        "X-Shopify-Webhook-Id": delivery,
        "X-Shopify-Shop-Domain": "privacy-test.myshopify.com",
        "Content-Type": "application/json",
    }
    response = client.post(url, data=body, headers=headers)
    db.expire_all()
    return response


def _redact(order_ids: list[int]) -> dict:
    return {
        "shop_id": 954889,
        "shop_domain": "privacy-test.myshopify.com",
        "customer": {"id": 7011122233, "email": EMAIL, "phone": PHONE},
        "orders_to_redact": order_ids,
    }


def test_customers_redact_erases_the_matching_customer(client: FlaskClient, db: Session) -> None:
    person = make_person(db)
    response = _post(client, db, "customers/redact", _redact([5001]))
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["customers_erased"] == 1
    assert is_erased(db.get(Customer, person.customer.id))
    assert not is_erased(db.get(Customer, person.other_customer.id))
    # The stored webhook body named the person too: nothing of them is left anywhere.
    assert places_holding(db, NEEDLES) == []
    request = db.scalar(select(PrivacyRequest).where(PrivacyRequest.source == "shopify"))
    assert (request.kind, request.status, request.reference["channel_customer_id"]) == (
        "erasure",
        "done",
        7011122233,
    )


def test_customers_redact_with_a_bad_signature_is_401_and_changes_nothing(
    client: FlaskClient, db: Session
) -> None:
    person = make_person(db)
    response = _post(client, db, "customers/redact", _redact([]), secret="wrong")
    assert response.status_code == 401
    assert not is_erased(db.get(Customer, person.customer.id))
    assert db.scalar(select(InboundPayload).where(InboundPayload.topic == "customers/redact")) is None


def test_data_request_records_an_export_request_for_staff(client: FlaskClient, db: Session) -> None:
    person = make_person(db)
    document = {
        "shop_id": 954889,
        "shop_domain": "privacy-test.myshopify.com",
        "orders_requested": [5001],
        "customer": {"id": 7011122233, "email": EMAIL, "phone": PHONE},
        "data_request": {"id": 9999},
    }
    response = _post(client, db, "customers/data_request", document)
    assert response.status_code == 200
    request = db.scalar(select(PrivacyRequest).where(PrivacyRequest.kind == "export"))
    assert (request.status, request.customer_id, request.reference["data_request_id"]) == (
        "open",
        person.customer.id,
        9999,
    )
    payload = db.get(InboundPayload, request.payload_id)
    assert (payload.topic, payload.status) == ("customers/data_request", "processed")
    again = _post(client, db, "customers/data_request", document)
    assert again.get_json()["status"] == "duplicate"


def test_shop_redact_erases_that_channels_customers_only(client: FlaskClient, db: Session) -> None:
    person = make_person(db)
    elsewhere = make_channel(db, kind="webshop")
    both = make_customer(db, name="Cordelia Fairweather", email="cf@example.com")
    make_order(
        db,
        channel_id=elsewhere.id,
        customer_id=both.id,
        email="cf@example.com",
        buyer_name="Cordelia Fairweather",
    )
    shopify_order = make_order(
        db,
        channel_id=person.orders[0].channel_id,
        customer_id=both.id,
        email="cf@example.com",
        buyer_name="Cordelia Fairweather",
        shipping_address={"line1": "2 Elm Row", "country": "FR"},
    )
    response = _post(
        client, db, "shop/redact", {"shop_id": 954889, "shop_domain": "privacy-test.myshopify.com"}
    )
    assert response.status_code == 200, response.get_json()
    request = db.get(PrivacyRequest, response.get_json()["queued"])
    assert request.status == "open" and not is_erased(db.get(Customer, person.customer.id))
    assert channel_erasure_job(db, utcnow()) == {"requests": [request.id]}
    # The person and Bartholomew buy only on this channel; Cordelia buys elsewhere too.
    assert request.status == "done" and request.outcome["customers_erased"] == 2
    assert channel_erasure_job(db, utcnow()) == {"requests": []}
    assert is_erased(db.get(Customer, person.customer.id))
    assert is_erased(db.get(Customer, person.other_customer.id))
    kept = db.get(Customer, both.id)
    assert (kept.name, kept.email) == ("Cordelia Fairweather", "cf@example.com")
    assert (shopify_order.buyer_name, shopify_order.shipping_address) == ("", {"country": "FR"})


def test_compliance_topic_sent_to_the_order_webhook_address_is_handled(
    client: FlaskClient, db: Session
) -> None:
    person = make_person(db)
    response = _post(
        client, db, "customers/redact", _redact([]), url="/api/channels/shopify-privacy/webhooks/orders"
    )
    assert response.status_code == 200, response.get_json()
    assert is_erased(db.get(Customer, person.customer.id))


def test_compliance_webhook_with_a_body_of_the_wrong_shape_is_kept_rejected(
    client: FlaskClient, db: Session
) -> None:
    make_person(db)
    response = _post(client, db, "customers/redact", {"shop_id": 1, "customer": "nobody"})
    assert response.status_code == 400
    assert "customer object" in response.get_json()["error"]
    payload = db.scalar(select(InboundPayload).where(InboundPayload.topic == "customers/redact"))
    assert payload.status == "rejected"


def test_openapi_documents_the_privacy_webhook(client: FlaskClient) -> None:
    paths = client.get("/api/openapi.json").get_json()["paths"]
    assert "customers/redact" in paths["/api/channels/{channel}/webhooks/privacy"]["post"]["description"]
