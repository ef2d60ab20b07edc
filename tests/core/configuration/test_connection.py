"""Testing a channel's connection: for each kind with an API, one GET to its cheap read-only endpoint with the
same authentication its polls and pushes use, against a real local HTTP server; what it answered, refusals and
silence included, as a result rather than an exception."""

from __future__ import annotations

import base64

import pytest

from core.channels.registry import ADAPTERS
from core.configuration.connection import PROBES, check_connection
from core.configuration.secrets import CREDENTIAL_FIELDS
from tests.httpserver import RecordingServer, Reply

# kind -> (credentials, the request header that must carry them, its expected value)
CASES = {
    "shopify": ({"access_token": "shpat_x"}, "x-shopify-access-token", "shpat_x"),
    "amazon": ({"access_token": "Atza|x"}, "x-amz-access-token", "Atza|x"),
    "ebay": ({"access_token": "v^1.1#x"}, "authorization", "Bearer v^1.1#x"),
    "woocommerce": (
        {"consumer_key": "ck_1", "consumer_secret": "cs_2"},
        "authorization",
        "Basic " + base64.b64encode(b"ck_1:cs_2").decode(),
    ),
    "square": ({"access_token": "EAAA", "square_version": "2025-01-23"}, "authorization", "Bearer EAAA"),
    "walmart": ({"access_token": "wm-token"}, "wm_sec.access_token", "wm-token"),
    "bigcommerce": ({"access_token": "bc-token"}, "x-auth-token", "bc-token"),
}


def test_every_kind_with_credentials_has_a_probe_and_every_registered_kind_is_known() -> None:
    assert set(PROBES) == set(CREDENTIAL_FIELDS) == set(CASES)
    assert set(PROBES) <= set(ADAPTERS)


@pytest.mark.parametrize("kind", sorted(CASES))
def test_connection_test_sends_the_channels_own_authentication(kind: str) -> None:
    credentials, header, value = CASES[kind]
    path, _params = PROBES[kind]
    with RecordingServer() as server:
        server.add("GET", path, Reply(200, {"ok": kind}))
        result = check_connection(kind, server.url, credentials)
        [request] = server.requests
        url = server.url
    assert result.ok and result.status == 200 and kind in result.body
    assert request.path == path and request.headers[header] == value
    assert result.request == f"GET {url}{path}"


def test_refusal_error_and_silence_are_results() -> None:
    with RecordingServer() as server:
        server.add(
            "GET", "/v2/store", Reply(403, {"title": "You don't have a required scope"}), Reply(500, "down")
        )
        refused = check_connection("bigcommerce", server.url, {"access_token": "t"})
        broken = check_connection("bigcommerce", server.url, {"access_token": "t"})
        url = server.url
    assert not refused.ok and refused.status == 403 and "refused the credentials" in refused.message
    assert "required scope" in refused.body
    assert not broken.ok and broken.message == "the channel answered HTTP 500"
    silent = check_connection("bigcommerce", url, {"access_token": "t"})  # the server is gone
    assert not silent.ok and silent.status == 0 and silent.message.startswith(f"no answer from {url}")


def test_what_is_missing_is_said_before_any_request() -> None:
    assert "base URL" in check_connection("ebay", None, {"access_token": "t"}).message
    missing = check_connection("woocommerce", "http://127.0.0.1:9", {})
    assert not missing.ok and "consumer_key/consumer_secret" in missing.message and missing.status == 0
    assert "no API to test" in check_connection("webshop", "https://shop.example", {}).message
