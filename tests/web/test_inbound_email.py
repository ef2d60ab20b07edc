"""POST /api/support/inbound-email: shared-secret auth, raw RFC 5322 bodies and SendGrid Inbound Parse's
`email` field, JSON answers."""

from __future__ import annotations

import base64
import io

import pytest
from flask import Flask
from sqlalchemy import select

from core.support.models import Conversation, Message
from core.support.tokens import reply_address
from tests.factories import make_customer
from tests.support_factories import make_conversation, make_email

URL = "/api/support/inbound-email"
INBOUND_SECRET = "inbound-s3cret"
HEADERS = {"X-Crossdock-Inbound-Secret": INBOUND_SECRET, "Content-Type": "message/rfc822"}


@pytest.fixture
def inbound_app(app: Flask) -> Flask:
    app.config["INBOUND_EMAIL_SECRET"] = INBOUND_SECRET
    return app


def test_inbound_email_is_off_until_a_secret_is_configured(client) -> None:
    response = client.post(URL, data=make_email(), headers=HEADERS)
    assert response.status_code == 503 and "INBOUND_EMAIL_SECRET" in response.get_json()["error"]


@pytest.mark.parametrize("given", [None, "wrong"])
def test_inbound_email_without_the_secret_is_refused(inbound_app, given: str | None) -> None:
    headers = {"Content-Type": "message/rfc822"} | ({"X-Crossdock-Inbound-Secret": given} if given else {})
    response = inbound_app.test_client().post(URL, data=make_email(), headers=headers)
    assert response.status_code == 401 and "error" in response.get_json()


def test_inbound_raw_message_opens_a_ticket(inbound_app, db) -> None:
    customer = make_customer(db, email="jane@example.org")
    response = inbound_app.test_client().post(URL, data=make_email(body="Where is it?"), headers=HEADERS)
    assert response.status_code == 200
    answer = response.get_json()
    assert answer["status"] == "created"
    conversation = db.get(Conversation, answer["conversation_id"])
    assert (conversation.customer_id, conversation.source) == (customer.id, "email")


def test_inbound_reply_to_our_address_threads_into_the_conversation(inbound_app, db) -> None:
    conversation = make_conversation(db, customer_id=make_customer(db).id, status="pending")
    raw = make_email(
        to=reply_address("test-secret", conversation.id, "shop.example"), body="Here's the photo"
    )
    answer = inbound_app.test_client().post(URL, data=raw, headers=HEADERS).get_json()
    assert (answer["status"], answer["conversation_id"]) == ("threaded", conversation.id)
    db.refresh(conversation)
    assert conversation.status == "open"


def test_inbound_sendgrid_parse_email_field_with_basic_auth(inbound_app, db) -> None:
    raw = make_email(message_id="<sg@mail.example.org>", attachments=[("a.txt", "text/plain", b"hello")])
    credentials = base64.b64encode(f"sendgrid:{INBOUND_SECRET}".encode()).decode()
    response = inbound_app.test_client().post(
        URL,
        data={"email": (io.BytesIO(raw), "email.eml"), "to": "support@shop.example", "charsets": "{}"},
        headers={"Authorization": f"Basic {credentials}"},
        content_type="multipart/form-data",
    )
    assert response.status_code == 200 and response.get_json()["status"] == "created"
    message = db.scalars(select(Message).where(Message.email_message_id == "sg@mail.example.org")).one()
    assert [a.filename for a in message.attachments] == ["a.txt"]
    again = inbound_app.test_client().post(
        URL, data={"email": raw.decode()}, headers={"Authorization": f"Basic {credentials}"}
    )
    assert again.get_json()["status"] == "duplicate"


def test_inbound_message_without_sender_is_a_400(inbound_app) -> None:
    response = inbound_app.test_client().post(URL, data=b"Subject: x\r\n\r\nhi\r\n", headers=HEADERS)
    assert response.status_code == 400 and "no sender" in response.get_json()["error"]
    empty = inbound_app.test_client().post(URL, data=b"", headers=HEADERS)
    assert empty.status_code == 400


def test_openapi_documents_the_inbound_email_endpoint(client) -> None:
    paths = client.get("/api/openapi.json").get_json()["paths"]
    assert "post" in paths[URL]


def test_inbound_email_is_stored_raw_before_it_is_read(inbound_app, db) -> None:
    from core.orders.models import InboundPayload
    from core.support.inbound import stored_email_bytes

    raw = make_email(subject="Parcel late", message_id="<stored-1@mail.example.org>")
    answer = inbound_app.test_client().post(URL, data=raw, headers=HEADERS)
    assert answer.status_code == 200
    payload = db.get(InboundPayload, answer.get_json()["payload_id"])
    assert (payload.channel_code, payload.status) == ("email", "processed")
    assert stored_email_bytes(payload) == raw


def test_inbound_email_refused_or_failing_is_kept_with_the_reason(inbound_app, db, monkeypatch) -> None:
    from core.orders.models import InboundPayload
    from core.support import inbound

    refused = inbound_app.test_client().post(URL, data=b"Subject: hi\r\n\r\nno sender\r\n", headers=HEADERS)
    assert refused.status_code == 400
    kept = db.get(InboundPayload, refused.get_json()["payload_id"])
    assert kept.status == "rejected" and "no sender address" in kept.error

    def explode(*_args, **_kwargs):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(inbound, "receive_email", explode)
    raw = make_email(message_id="<boom@mail.example.org>")
    failed = inbound_app.test_client().post(URL, data=raw, headers=HEADERS)
    assert failed.status_code == 500 and "kept" in failed.get_json()["error"]
    payload = db.get(InboundPayload, failed.get_json()["payload_id"])
    assert payload.status == "rejected" and payload.body.encode() == raw


def test_an_eight_bit_message_in_another_charset_is_kept_byte_for_byte(db) -> None:
    from core.support.inbound import store_inbound_email, stored_email_bytes
    from tests.factories import NOW

    raw = (
        b"From: a@example.org\r\nSubject: caf\xe9\r\n"
        b"Content-Type: text/plain; charset=latin-1\r\n\r\ncaf\xe9\r\n"
    )
    payload = store_inbound_email(db, raw, source="webhook", now=NOW)
    assert payload.headers == {"encoding": "base64"} and stored_email_bytes(payload) == raw
