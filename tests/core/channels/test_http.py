"""The JSON HTTP client: requests as sent, retries with back-off on 429 and 5xx, bounded, errors as raised."""

from __future__ import annotations

import logging
import socket
from datetime import UTC, datetime

import pytest

from core.channels.http import ChannelHttpError, HttpClient, parse_retry_after
from tests.httpserver import RecordingServer, Reply


class Sleeps(list):
    """A sleep function that records what it was asked to wait, and does not wait."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def server():
    with RecordingServer() as running:
        yield running


def test_http_client_get_sends_params_and_headers_and_parses_json(server) -> None:
    server.add("GET", "/things", Reply(200, {"items": [1, 2]}, {"X-Request-Id": "r-1"}))
    client = HttpClient(server.url, headers={"x-api-key": "k"})

    status, headers, data = client.get("/things", {"a": "1", "when": "2026-11-20T12:00:00Z", "skip": None})

    assert (status, data, headers["x-request-id"]) == (200, {"items": [1, 2]}, "r-1")
    [request] = server.requests
    assert request.query == {"a": ["1"], "when": ["2026-11-20T12:00:00Z"]}
    assert request.headers["x-api-key"] == "k"
    assert request.headers["accept"] == "application/json"


def test_http_client_post_put_patch_send_json_bodies(server) -> None:
    for method in ("POST", "PUT", "PATCH"):
        server.add(method, "/write", Reply(201, {"ok": method}))
    client = HttpClient(server.url + "/")

    assert client.post("/write", {"n": 1}).data == {"ok": "POST"}
    assert client.put("write", {"n": 2}).data == {"ok": "PUT"}
    assert client.patch("/write", [3], headers={"If-Match": "e"}).data == {"ok": "PATCH"}

    assert [(r.method, r.path, r.json) for r in server.requests] == [
        ("POST", "/write", {"n": 1}),
        ("PUT", "/write", {"n": 2}),
        ("PATCH", "/write", [3]),
    ]
    assert server.requests[0].headers["content-type"] == "application/json"
    assert server.requests[2].headers["if-match"] == "e"


def test_http_client_returns_text_and_empty_bodies_as_they_are(server) -> None:
    server.add("GET", "/text", Reply(200, "plain words"))
    server.add("POST", "/empty", Reply(204))
    client = HttpClient(server.url)

    text = client.get("/text")
    empty = client.post("/empty", {"a": 1})

    assert (text.data, text.text) == ("plain words", "plain words")
    assert (empty.status, empty.data, empty.text) == (204, None, "")


def test_http_client_waits_out_429_as_retry_after_says(server) -> None:
    server.add("GET", "/limited", Reply(429, {"errors": []}, {"Retry-After": "3"}), Reply(200, {"ok": True}))
    sleeps = Sleeps()

    response = HttpClient(server.url, sleep=sleeps).get("/limited")

    assert response.data == {"ok": True}
    assert sleeps == [3.0]
    assert len(server.requests) == 2


def test_http_client_backs_off_exponentially_on_server_errors(server) -> None:
    server.add(
        "POST", "/flaky", Reply(500, "oops"), Reply(502, "bad gateway"), Reply(503, ""), Reply(200, {})
    )
    sleeps = Sleeps()

    HttpClient(server.url, sleep=sleeps, backoff=0.5).post("/flaky", {})

    assert sleeps == [0.5, 1.0, 2.0]


def test_http_client_gives_up_after_its_attempts_with_the_last_error(server) -> None:
    server.add("GET", "/down", Reply(503, {"message": "maintenance"}, {"Retry-After": "1"}))
    sleeps = Sleeps()

    with pytest.raises(ChannelHttpError) as caught:
        HttpClient(server.url, sleep=sleeps, max_attempts=3).get("/down")

    assert caught.value.status == 503
    assert caught.value.retry_after == 1.0
    assert caught.value.retryable
    assert str(caught.value) == 'HTTP 503 from GET /down: {"message": "maintenance"}'
    assert len(server.requests) == 3
    assert sleeps == [1.0, 1.0]


def test_http_client_gives_up_rather_than_wait_past_its_bound(server) -> None:
    server.add("GET", "/later", Reply(429, "", {"Retry-After": "120"}))
    sleeps = Sleeps()

    with pytest.raises(ChannelHttpError) as caught:
        HttpClient(server.url, sleep=sleeps, max_wait=60).get("/later")

    assert (caught.value.status, caught.value.retry_after, sleeps) == (429, 120.0, [])


def test_http_client_does_not_retry_a_client_error(server) -> None:
    server.add("PUT", "/bad", Reply(400, {"errors": [{"message": "quantity must be >= 0"}]}))
    sleeps = Sleeps()

    with pytest.raises(ChannelHttpError) as caught:
        HttpClient(server.url, sleep=sleeps).put("/bad", {"quantity": -1})

    assert caught.value.status == 400
    assert not caught.value.retryable
    assert "quantity must be >= 0" in caught.value.body
    assert (len(server.requests), sleeps) == (1, [])


def test_http_client_reports_no_response_as_status_0() -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    sleeps = Sleeps()

    with pytest.raises(ChannelHttpError) as caught:
        HttpClient(f"http://127.0.0.1:{port}", sleep=sleeps, max_attempts=2, timeout=2).get("/x")

    assert caught.value.status == 0
    assert caught.value.retryable
    assert sleeps == [1.0]


def test_http_client_never_logs_credentials(server, caplog) -> None:
    server.add("GET", "/secret", Reply(500, "no"), Reply(200, {}))
    caplog.set_level(logging.DEBUG, logger="crossdock.channels")

    HttpClient(server.url, headers={"x-amz-access-token": "Atza|TOPSECRET"}, sleep=Sleeps()).get(
        "/secret", headers={"Authorization": "Bearer ALSOSECRET"}
    )

    assert server.requests[0].headers["authorization"] == "Bearer ALSOSECRET"
    assert caplog.records
    assert not any("SECRET" in record.getMessage() for record in caplog.records)


@pytest.mark.parametrize("base_url", ["", "ftp://example.com", "file:///etc/passwd", "example.com"])
def test_http_client_refuses_a_base_url_that_is_not_http(base_url: str) -> None:
    with pytest.raises(ValueError, match="http"):
        HttpClient(base_url)


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        ("7", 7.0),
        ("0", 0.0),
        ("Fri, 20 Nov 2026 12:00:30 GMT", 30.0),
        ("Fri, 20 Nov 2026 11:00:00 GMT", 0.0),
        ("soon", None),
        (None, None),
    ],
)
def test_parse_retry_after_reads_seconds_and_http_dates(header: str | None, seconds: float | None) -> None:
    assert parse_retry_after(header, now=datetime(2026, 11, 20, 12, 0, tzinfo=UTC)) == seconds
