"""Test a channel's connection: one real, read-only request to the channel's API with the channel's own base
URL and credentials, and what it answered, for the settings page.

Each kind with an API names a cheap GET that needs the same authentication as its polls and pushes; the
headers come from the adapter's `auth_headers` hook (registry), so a test that passes means the
worker's requests will be accepted too. Kinds without an API (web shop, POS files) say how orders arrive."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from core.channels.base import MissingCredentials
from core.channels.http import ChannelHttpError, HttpClient
from core.channels.registry import hook
from core.channels.shopify import API as SHOPIFY_API

BODY_SHOWN = 300  # characters of the channel's answer shown on the page
TIMEOUT_SECONDS = 10.0

# kind -> (path, query) of a read-only request that proves the credentials work.
PROBES: dict[str, tuple[str, dict[str, Any]]] = {
    "shopify": (f"{SHOPIFY_API}/shop.json", {}),
    "amazon": ("/sellers/v1/marketplaceParticipations", {}),
    "ebay": ("/sell/fulfillment/v1/order", {"limit": 1}),
    "woocommerce": ("/wp-json/wc/v3/orders", {"per_page": 1}),
    "square": ("/v2/locations", {}),
    "walmart": ("/v3/orders", {"limit": 1}),
    "bigcommerce": ("/v2/store", {}),
}


def _bigcommerce_headers(credentials: Mapping[str, Any]) -> dict[str, str]:
    # BigCommerce is polled only, so its adapter has no auth_headers hook; its polls send this header.
    token = credentials.get("access_token")
    if not token:
        raise MissingCredentials("credentials['access_token']")
    return {"X-Auth-Token": str(token)}


HEADERS_WITHOUT_HOOK: dict[str, Callable[[Mapping[str, Any]], dict[str, str]]] = {
    "bigcommerce": _bigcommerce_headers,
}


@dataclass(frozen=True)
class ConnectionResult:
    """What testing a channel's connection found: `ok`, the request made, the HTTP status (0: no answer or no
    request), a sentence saying what it means, and the start of the channel's answer."""

    ok: bool
    message: str
    request: str = ""
    status: int = 0
    body: str = ""


def check_connection(
    kind: str,
    base_url: str | None,
    credentials: Mapping[str, Any],
    *,
    client_factory: Callable[..., HttpClient] = HttpClient,
) -> ConnectionResult:
    """Make the kind's probe request against base_url with the credentials; never raises for the channel's
    answer (a refusal, an error status or no answer is a result with ok False)."""
    if kind not in PROBES:
        return ConnectionResult(
            ok=False,
            message=f"a {kind} channel has no API to test: its orders come by webhook or `crossdock import`",
        )
    if not base_url:
        return ConnectionResult(ok=False, message="set the channel's base URL (its API address) first")
    path, params = PROBES[kind]
    request = f"GET {base_url.rstrip('/')}{path}"
    auth = hook(kind, "auth_headers") or HEADERS_WITHOUT_HOOK[kind]
    try:
        headers = auth(credentials)
    except MissingCredentials as exc:
        return ConnectionResult(
            ok=False, message=f"the channel has no {exc}: enter it first", request=request
        )
    try:
        client = client_factory(base_url, headers, timeout=TIMEOUT_SECONDS, max_attempts=1)
        response = client.get(path, params)
    except ChannelHttpError as exc:
        if exc.status == 0:
            message = f"no answer from {base_url}: {exc.body or 'connection failed'}"
        elif exc.status in (401, 403):
            message = f"the channel refused the credentials (HTTP {exc.status})"
        elif exc.status == 404:
            message = "nothing at that address (HTTP 404): check the base URL"
        else:
            message = f"the channel answered HTTP {exc.status}"
        return ConnectionResult(
            ok=False, message=message, request=request, status=exc.status, body=exc.body[:BODY_SHOWN]
        )
    except ValueError as exc:
        return ConnectionResult(ok=False, message=str(exc), request=request)
    return ConnectionResult(
        ok=True,
        message=f"connected: the channel accepted the credentials (HTTP {response.status})",
        request=request,
        status=response.status,
        body=response.text[:BODY_SHOWN],
    )
