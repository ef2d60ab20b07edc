"""Carrier tracking webhooks: the raw body is stored first, then parsed and recorded on the shipments."""

from __future__ import annotations

import hashlib
import hmac
from base64 import b64encode
from collections.abc import Mapping
from datetime import datetime

from sqlalchemy.orm import Session

from core.errors import DomainError
from core.fulfillment.tracking import record_tracking_events
from core.fulfillment.tracking_formats import parse_tracking_payload
from core.orders.models import InboundPayload

TRACKING_SOURCES = ("aftership", "easypost", "shippo", "ups", "fedex", "dhl", "usps", "generic")


def verify_tracking_signature(
    source: str, secret: str, body: bytes, headers: Mapping[str, str]
) -> str | None:
    """None when the body is signed with our secret the way the service signs, else the reason it is not.

    AfterShip: base64 HMAC-SHA256 in `aftership-hmac-sha256`; EasyPost: `X-Hmac-Signature:
    hmac-sha256-hex=<hex>`; any other sender: base64 HMAC-SHA256 in `X-Crossdock-Signature`."""
    digest = hmac.new(secret.encode(), body, hashlib.sha256)
    if source == "aftership":
        header, expected = "aftership-hmac-sha256", b64encode(digest.digest()).decode()
    elif source == "easypost":
        header, expected = "X-Hmac-Signature", f"hmac-sha256-hex={digest.hexdigest()}"
    else:
        header, expected = "X-Crossdock-Signature", b64encode(digest.digest()).decode()
    given = headers.get(header)
    if not given:
        return f"missing {header} header"
    if not hmac.compare_digest(expected.encode(), given.strip().encode("ascii", "replace")):
        return f"bad signature in {header}"
    return None


def store_tracking_payload(session: Session, source: str, body: str, *, now: datetime) -> InboundPayload:
    """Keep the raw tracking webhook before anything reads it."""
    payload = InboundPayload(
        channel_code="tracking",
        source="webhook",
        topic=source,
        body=body,
        sha256=hashlib.sha256(body.encode()).hexdigest(),
        status="received",
        received_at=now,
    )
    session.add(payload)
    session.flush()
    return payload


def process_tracking_payload(session: Session, payload: InboundPayload, *, now: datetime) -> dict[str, int]:
    """Parse and record a stored tracking payload; the payload keeps the outcome (or the reason it failed)."""
    source = None if payload.topic == "generic" else payload.topic
    try:
        updates = parse_tracking_payload(payload.body, source)
    except DomainError as exc:
        payload.status, payload.error, payload.processed_at = "rejected", str(exc), now
        raise
    result = record_tracking_events(session, updates, now=now, source="webhook")
    payload.status = "needs_attention" if result.unknown else "processed"
    payload.error = (
        "; ".join(f"{u.reason} tracking number {u.tracking_number}" for u in result.unknown) or None
    )
    payload.processed_at = now
    return {
        "recorded": result.recorded,
        "duplicates": result.duplicates,
        "changes": len(result.changes),
        "unknown": len(result.unknown),
    }
