"""Channel order webhooks: verify the signature, store the raw body, then process it."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, g, jsonify, request

from core import safe_json
from core.channels.signatures import verify_signature, webhook_scheme
from core.db import begin_write, utcnow
from core.errors import DomainError, NotFound
from core.fulfillment.inbound import (
    TRACKING_SOURCES,
    process_tracking_payload,
    store_tracking_payload,
    verify_tracking_signature,
)
from core.orders import intake
from core.orders.upsert import REJECTED
from core.privacy.shopify import COMPLIANCE_TOPICS
from core.safe_json import JsonTextError

bp = Blueprint("webhooks", __name__)


def _error(status: int, message: str) -> Any:
    return jsonify(error=message), status


@bp.post("/channels/<channel_code>/webhooks/orders")
def order_webhook(channel_code: str) -> Any:
    """Receive an order (create/update) from a channel that pushes them."""
    try:
        channel = intake.get_channel(g.db, channel_code)
    except NotFound:
        return _error(404, f"unknown channel {channel_code!r}")
    scheme = webhook_scheme(channel.kind)
    if scheme is None:
        return _error(
            404, f"channel {channel_code!r} ({channel.kind}) delivers orders by polling, not webhooks"
        )
    if (request.content_length or 0) > intake.MAX_PAYLOAD_BYTES:
        return _error(413, f"body larger than {intake.MAX_PAYLOAD_BYTES} bytes")
    body = request.get_data(cache=True)
    if len(body) > intake.MAX_PAYLOAD_BYTES:
        return _error(413, f"body larger than {intake.MAX_PAYLOAD_BYTES} bytes")
    url = channel.credentials.get("notification_url") or request.url
    problem = verify_signature(channel.kind, channel.webhook_secret, body, request.headers, url=url)
    if problem:
        return _error(401, problem)
    if scheme.topic_header and request.headers.get(scheme.topic_header) in COMPLIANCE_TOPICS:
        return current_app.view_functions["webhooks.privacy_webhook"](channel_code=channel_code)
    try:
        safe_json.loads(body)
    except JsonTextError as exc:
        if exc.encoding:
            return _error(400, "body is not UTF-8 text")
        if channel.kind == "woocommerce" and body.startswith(b"webhook_id="):
            return jsonify(status="ping"), 200  # WooCommerce's form-encoded ping when a webhook is created
        return _error(400, f"invalid JSON: {exc.reason}")
    text = body.decode("utf-8-sig")

    now = utcnow()
    delivery_id = request.headers.get(scheme.delivery_header) if scheme.delivery_header else None
    headers = {k: v for k, v in request.headers.items() if k.lower().startswith(("x-", "content-type"))}
    begin_write(g.db)
    received = intake.receive_payload(
        g.db,
        channel,
        text,
        source="webhook",
        now=now,
        delivery_id=delivery_id,
        topic=request.headers.get(scheme.topic_header) if scheme.topic_header else None,
        headers=headers,
    )
    g.db.commit()
    payload = received.payload
    if not received.is_new:
        return jsonify(status="duplicate", payload_id=payload.id), 200
    if received.failure is not None:
        return jsonify(
            status="rejected", payload_id=payload.id, error="internal error; payload kept for retry"
        ), 500
    # Nothing in the body could be taken (each order unreadable or out of range): the channel is told why,
    # and the payload stays stored, rejected with that reason.
    code = 400 if payload.status == REJECTED else 200
    answer = {
        "status": payload.status,
        "payload_id": payload.id,
        "results": [r.__dict__ for r in received.results],
    }
    if code == 400:
        answer["error"] = payload.error or "no order found in payload"
    return jsonify(answer), code


@bp.post("/tracking/webhooks/<source>")
def tracking_webhook(source: str) -> Any:
    """Carrier / tracking-service events (AfterShip, EasyPost, Shippo, UPS, FedEx, DHL, USPS, generic)."""
    if source not in TRACKING_SOURCES:
        return _error(404, f"unknown tracking source {source!r}: use one of {', '.join(TRACKING_SOURCES)}")
    secret = current_app.config.get("TRACKING_WEBHOOK_SECRET")
    if not secret:
        return _error(503, "tracking webhooks are not configured (set TRACKING_WEBHOOK_SECRET)")
    body = request.get_data(cache=True)
    if len(body) > intake.MAX_PAYLOAD_BYTES:
        return _error(413, f"body larger than {intake.MAX_PAYLOAD_BYTES} bytes")
    problem = verify_tracking_signature(source, secret, body, request.headers)
    if problem:
        return _error(401, problem)
    try:
        safe_json.loads(body)
    except JsonTextError as exc:
        return _error(400, f"invalid JSON: {exc.reason}")
    text = body.decode("utf-8-sig")
    now = utcnow()
    begin_write(g.db)
    payload = store_tracking_payload(g.db, source, text, now=now)
    g.db.commit()
    begin_write(g.db)
    try:
        outcome = process_tracking_payload(g.db, payload, now=now)
    except DomainError as exc:
        g.db.commit()  # keeps the payload's rejected status and reason
        return jsonify(error=str(exc), payload_id=payload.id), 400
    g.db.commit()
    return jsonify(status=payload.status, payload_id=payload.id, **outcome), 200
