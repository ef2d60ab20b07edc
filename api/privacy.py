"""Shopify's mandatory compliance webhooks (customers/data_request, customers/redact, shop/redact):
`POST /api/channels/<channel code>/webhooks/privacy`, signed like the channel's order webhooks; the body is
stored before it is acted on. The order webhook address passes these topics here too, so one address serves
both when the app is set up that way."""

from __future__ import annotations

import json
from typing import Any

from flask import g, jsonify, request

from api.webhooks import bp
from core.channels.signatures import verify_signature, webhook_scheme
from core.db import begin_write, utcnow
from core.errors import DomainError, NotFound
from core.orders import intake
from core.privacy.erasure import delete_return_photos
from core.privacy.shopify import COMPLIANCE_TOPICS, process_compliance_webhook
from core.returns.photos import UPLOADS_DIR


def _error(status: int, message: str) -> Any:
    return jsonify(error=message), status


@bp.post("/channels/<channel_code>/webhooks/privacy")
def privacy_webhook(channel_code: str) -> Any:
    """A Shopify compliance webhook: verify the HMAC, store the body, then export-request or erase."""
    try:
        channel = intake.get_channel(g.db, channel_code)
    except NotFound:
        return _error(404, f"unknown channel {channel_code!r}")
    scheme = webhook_scheme(channel.kind)
    if channel.kind != "shopify" or scheme is None:
        return _error(404, f"channel {channel_code!r} ({channel.kind}) sends no compliance webhooks")
    body = request.get_data(cache=True)
    if len(body) > intake.MAX_PAYLOAD_BYTES:
        return _error(413, f"body larger than {intake.MAX_PAYLOAD_BYTES} bytes")
    problem = verify_signature(channel.kind, channel.webhook_secret, body, request.headers)
    if problem:
        return _error(401, problem)
    topic = request.headers.get(scheme.topic_header or "", "")
    if topic not in COMPLIANCE_TOPICS:
        return _error(400, f"{scheme.topic_header} must be one of {', '.join(COMPLIANCE_TOPICS)}")
    try:
        text = body.decode("utf-8-sig")
        json.loads(text)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        return _error(400, f"invalid JSON: {exc}")
    now = utcnow()
    headers = {k: v for k, v in request.headers.items() if k.lower().startswith(("x-", "content-type"))}
    begin_write(g.db)
    payload, is_new = intake.store_payload(
        g.db,
        channel,
        text,
        source="webhook",
        now=now,
        delivery_id=request.headers.get(scheme.delivery_header) if scheme.delivery_header else None,
        topic=topic,
        headers=headers,
    )
    g.db.commit()
    if not is_new:
        return jsonify(status="duplicate", payload_id=payload.id), 200
    begin_write(g.db)
    try:
        outcome, photo_paths = process_compliance_webhook(g.db, channel, payload, now=now)
    except DomainError as exc:
        g.db.rollback()
        begin_write(g.db)
        payload = g.db.merge(payload)
        payload.status, payload.error, payload.processed_at = "rejected", str(exc)[:4000], now
        g.db.commit()
        return _error(400, str(exc))
    g.db.commit()
    delete_return_photos(photo_paths, UPLOADS_DIR)
    return jsonify(status="processed", payload_id=payload.id, **outcome), 200
