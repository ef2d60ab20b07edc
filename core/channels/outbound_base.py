"""What the adapters' push hooks share: the error they raise, the request shape and the payload readers.

An adapter module whose channel takes pushes defines, beside KIND/extract/adapt, any of these hooks, which
`core.channel_sync.pushes` looks up through the registry (a missing hook: the channel takes no such push):
- `auth_headers(credentials) -> dict[str, str]`: the headers that authenticate a request, from the channel's
  credentials; raises base.MissingCredentials naming what is missing. Without it, no such headers are sent.
- `send_stock(client, headers, credentials, push) -> HttpResponse`: set one listing's stock level. `push` is
  {"channel_sku", "channel_listing_id", "quantity", "occurred_at" (the dispatch time, ISO 8601 UTC)}; the
  adapter adds the ids it needs from the credentials (or looks them up through the client) and returns the
  channel's answer, raising OutboundError when the channel refused the update inside a 2xx answer.
- `send_shipment(client, headers, credentials, shipment) -> str`: confirm a shipment; `shipment` is the
  queued payload {"order_external_id", "carrier", "tracking_number", "tracking_url", "shipping_method",
  "shipped_at" (ISO 8601 UTC), "shipment_id", "lines": [{"line_item_id", "channel_sku", "quantity"}]}; the
  result is the channel's id for the confirmation it created (kept as the outbox row's message_id).
HTTP failures are raised by the client as ChannelHttpError; OutboundError (permanent when trying again
cannot help) for a push that cannot be made as asked.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from core.channels.base import MissingCredentials
from core.channels.http import HttpClient, HttpResponse

Request = tuple[str, str, dict[str, Any]]  # (method, path with any query, JSON body)

CARRIERS = {"ups": "UPS", "usps": "USPS", "fedex": "FedEx", "dhl": "DHL"}

# Fields the queued row itself carries: when one is missing, trying again cannot help. The rest (ids from
# the channel's credentials and listings) can be fixed by ops, so those failures are retried.
_ROW_FIELDS = frozenset({"quantity", "order_external_id", "shipment_id", "shipped_at", "tracking_number"})


class OutboundError(Exception):
    """A push that cannot be made as asked; `permanent` when trying again will not help."""

    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


def access_token(credentials: Mapping[str, Any]) -> Any:
    """credentials["access_token"], the token of every channel with one; MissingCredentials without it."""
    token = credentials.get("access_token")
    if not token:
        raise MissingCredentials("credentials['access_token']")
    return token


def need(payload: Mapping[str, Any], key: str) -> Any:
    """payload[key]; OutboundError saying which when it is missing or empty."""
    value = payload.get(key)
    if value is None or value == "":
        raise OutboundError(f"missing {key!r} for this channel", permanent=key in _ROW_FIELDS)
    return value


def stock_quantity(payload: Mapping[str, Any]) -> int:
    """The quantity to push, never below 0."""
    return max(0, int(need(payload, "quantity")))


def carrier_name(name: Any) -> str | None:
    """The carrier as the channels spell the well-known ones (CARRIERS), else as given; None when blank."""
    text = str(name or "").strip()
    return CARRIERS.get(text.lower().replace(" ", "").replace("-", ""), text or None)


def shipped_lines(payload: Mapping[str, Any]) -> list[tuple[str, int]]:
    """(channel line item id, quantity) of each shipped line; a permanent OutboundError when there is none."""
    lines = [
        (str(line["line_item_id"]), int(line["quantity"]))
        for line in payload.get("lines") or []
        if line.get("line_item_id") and int(line.get("quantity") or 0) > 0
    ]
    if not lines:
        raise OutboundError("the shipment has no lines with the channel's line item ids", permanent=True)
    return lines


def shipped_at(payload: Mapping[str, Any]) -> datetime:
    """The shipment's shipped_at, in UTC."""
    return datetime.fromisoformat(str(need(payload, "shipped_at"))).astimezone(UTC)


def send(client: HttpClient, request: Request, headers: dict[str, str]) -> HttpResponse:
    """Send a built request with its JSON body."""
    method, path, body = request
    return client.request(method, path, json=body, headers=headers)


def created_reference(response: HttpResponse) -> str:
    """The id of what a request created, from the Location header; else the status ("HTTP 204")."""
    location = response.headers.get("location")
    if location:
        return location.rsplit("/", 1)[-1]
    return f"HTTP {response.status}"
