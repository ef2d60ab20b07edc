"""Inbound email for the helpdesk, on the webhooks blueprint: a mail provider posts each message it receives
for our reply addresses, as raw RFC 5322 bytes."""

from __future__ import annotations

import hmac
import logging
from typing import Any

from flask import current_app, g, jsonify, request

from api.webhooks import bp
from core.db import begin_write, utcnow
from core.errors import DomainError
from core.orders import intake
from core.support.inbound import process_inbound_email, store_inbound_email

AUTH_HEADER = "X-Crossdock-Inbound-Secret"
log = logging.getLogger(__name__)


def _authenticated(secret: str) -> bool:
    """The shared secret in our header, or as the password of HTTP Basic auth (for providers such as
    SendGrid that can only post to a URL with credentials in it)."""
    given = request.headers.get(AUTH_HEADER) or (
        request.authorization.password if request.authorization else None
    )
    return bool(given) and hmac.compare_digest(given.encode(), secret.encode())


def _raw_message() -> bytes:
    """The message: SendGrid Inbound Parse's `email` field (raw MIME, "POST the raw, full MIME message"),
    as a file or a form field, else the whole body (`message/rfc822`)."""
    if request.mimetype in ("multipart/form-data", "application/x-www-form-urlencoded"):
        upload = request.files.get("email")
        if upload is not None:
            return upload.read()
        return request.form.get("email", "").encode("utf-8")
    return request.get_data(cache=False)


@bp.post("/support/inbound-email")
def inbound_email() -> Any:
    """One received email into the helpdesk: threaded into its conversation, or a new ticket."""
    secret = current_app.config.get("INBOUND_EMAIL_SECRET")
    if not secret:
        return jsonify(error="inbound email is not configured (set INBOUND_EMAIL_SECRET)"), 503
    if not _authenticated(secret):
        return jsonify(error=f"missing or wrong {AUTH_HEADER}"), 401
    raw = _raw_message()
    if not raw.strip():
        return jsonify(error="no message: post the raw RFC 5322 message, or SendGrid's `email` field"), 400
    now = utcnow()
    begin_write(g.db)
    payload = store_inbound_email(g.db, raw, source="webhook", now=now)
    g.db.commit()  # kept, whatever happens next
    begin_write(g.db)
    try:
        result = process_inbound_email(g.db, payload, secret=current_app.config["SECRET_KEY"], now=now)
    except DomainError as exc:
        g.db.commit()  # keeps the payload's rejected status and reason
        return jsonify(error=str(exc), payload_id=payload.id), 400
    except Exception:
        log.exception("inbound email %s failed", payload.id)
        g.db.rollback()
        begin_write(g.db)
        intake.mark_payload_failed(g.db, payload.id, "internal error; message kept", now=now)
        g.db.commit()
        return jsonify(error="internal error; the message is kept for a retry", payload_id=payload.id), 500
    g.db.commit()
    return jsonify(
        status=result.status,
        conversation_id=result.conversation_id,
        message_id=result.message_id,
        reason=result.reason,
        payload_id=payload.id,
    ), 200
