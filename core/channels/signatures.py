"""Webhook signatures: which header each channel signs with, over what, checked in constant time."""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class WebhookScheme:
    signature_header: str
    delivery_header: str | None  # the header carrying a unique delivery id, for de-duplication
    topic_header: str | None
    signs_url: bool = False  # Square signs notification URL + body


# Channel kinds that push orders by webhook; the others (Amazon, eBay) are polled.
WEBHOOK_SCHEMES: dict[str, WebhookScheme] = {
    "shopify": WebhookScheme("X-Shopify-Hmac-Sha256", "X-Shopify-Webhook-Id", "X-Shopify-Topic"),
    "woocommerce": WebhookScheme("X-WC-Webhook-Signature", "X-WC-Webhook-Delivery-ID", "X-WC-Webhook-Topic"),
    "square": WebhookScheme("X-Square-Hmacsha256-Signature", None, None, signs_url=True),
    "webshop": WebhookScheme("X-Crossdock-Signature", "X-Crossdock-Delivery", "X-Crossdock-Topic"),
}


def sign(secret: str, body: bytes, url: str = "") -> str:
    """Base64 HMAC-SHA256 of (url +) body with the channel's secret: what the channel puts in the header."""
    digest = hmac.new(secret.encode("utf-8"), url.encode("utf-8") + body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def verify_signature(
    kind: str, secret: str | None, body: bytes, headers: Mapping[str, str], *, url: str = ""
) -> str | None:
    """None when the request is signed by the channel's secret, else the reason it is not."""
    scheme = WEBHOOK_SCHEMES.get(kind)
    if scheme is None:
        return f"channels of kind {kind!r} do not send order webhooks"
    if not secret:
        return "no webhook secret is configured for this channel"
    given = headers.get(scheme.signature_header)
    if not given:
        return f"missing {scheme.signature_header} header"
    expected = sign(secret, body, url if scheme.signs_url else "")
    if not hmac.compare_digest(expected.encode("ascii"), given.strip().encode("ascii", "replace")):
        return f"bad signature in {scheme.signature_header}"
    return None
