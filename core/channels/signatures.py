"""Webhook signatures: which header each channel signs with, over what, checked in constant time."""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping

from core.channels.base import WebhookScheme
from core.channels.registry import ADAPTERS, get_adapter
from core.errors import PayloadError


def webhook_scheme(kind: str) -> WebhookScheme | None:
    """The signing scheme of a channel kind that pushes orders; None for kinds that are polled."""
    try:
        return getattr(get_adapter(kind), "WEBHOOK", None)
    except PayloadError:
        return None


def sign(secret: str, body: bytes, url: str = "") -> str:
    """Base64 HMAC-SHA256 of (url +) body with the channel's secret: what the channel puts in the header."""
    digest = hmac.new(secret.encode("utf-8"), url.encode("utf-8") + body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def verify_signature(
    kind: str, secret: str | None, body: bytes, headers: Mapping[str, str], *, url: str = ""
) -> str | None:
    """None when the request is signed by the channel's secret, else the reason it is not."""
    scheme = webhook_scheme(kind)
    if scheme is None:
        return f"channels of kind {kind!r} do not send order webhooks"
    if not secret:
        return "no webhook secret is configured for this channel"
    given = headers.get(scheme.signature_header)
    if not given:
        return f"missing {scheme.signature_header} header"
    if scheme.secret_header:
        if not hmac.compare_digest(secret.encode("utf-8"), given.strip().encode("utf-8", "replace")):
            return f"wrong secret in {scheme.signature_header}"
        return None
    expected = sign(secret, body, url if scheme.signs_url else "")
    if not hmac.compare_digest(expected.encode("ascii"), given.strip().encode("ascii", "replace")):
        return f"bad signature in {scheme.signature_header}"
    return None


def webhook_kinds() -> dict[str, WebhookScheme]:
    """Every channel kind that pushes orders, with its scheme."""
    return {kind: adapter.WEBHOOK for kind, adapter in ADAPTERS.items() if getattr(adapter, "WEBHOOK", None)}
