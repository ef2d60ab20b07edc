"""Every /api error is JSON {"error": "..."} with the right status, whatever raised it: our routes,
routing (404, 405), the request size limit (413), an abort anywhere (401, 403, 429) or an exception that
escaped (500, no traceback)."""

from __future__ import annotations

import pytest
from flask import abort

from core.channels.signatures import sign
from tests.factories import make_channel


@pytest.fixture
def api_app(app):
    app.config["PROPAGATE_EXCEPTIONS"] = False  # as in production: an escaped exception becomes a 500

    def aborts(code: int):
        abort(code)

    def fails():
        raise RuntimeError("secret internals")

    app.add_url_rule("/api/_probe/abort/<int:code>", "probe_abort", aborts)
    app.add_url_rule("/api/_probe/fail", "probe_fail", fails)
    return app


def assert_json_error(response, status: int) -> dict:
    assert response.status_code == status
    assert response.mimetype == "application/json", response.get_data(as_text=True)[:200]
    body = response.get_json()
    assert isinstance(body["error"], str) and body["error"]
    return body


def test_api_routing_errors_are_json(api_app) -> None:
    client = api_app.test_client()
    assert_json_error(client.get("/api/no/such/thing"), 404)
    response = client.get("/api/channels/x/webhooks/orders")
    assert_json_error(response, 405)
    assert "POST" in response.headers["Allow"]
    assert_json_error(client.delete("/api/openapi.json"), 405)


@pytest.mark.parametrize("code", [400, 401, 403, 404, 405, 413, 429])
def test_api_abort_of_any_status_is_json(api_app, code: int) -> None:
    assert_json_error(api_app.test_client().get(f"/api/_probe/abort/{code}"), code)


def test_api_escaped_exception_is_json_500_without_internals(api_app) -> None:
    body = assert_json_error(api_app.test_client().get("/api/_probe/fail"), 500)
    assert "secret internals" not in body["error"] and "Traceback" not in body["error"]


def test_api_body_over_the_limit_is_json_413(api_app, db) -> None:
    make_channel(db, code="shop", kind="webshop", webhook_secret="s")
    db.commit()
    body = b"x" * (api_app.config["MAX_CONTENT_LENGTH"] + 1)
    response = api_app.test_client().post(
        "/api/channels/shop/webhooks/orders", data=body, headers={"Content-Type": "application/json"}
    )
    assert_json_error(response, 413)


def test_api_signature_and_json_errors_are_json(api_app, db) -> None:
    make_channel(db, code="shop", kind="webshop", webhook_secret="s")
    db.commit()
    client = api_app.test_client()
    assert_json_error(client.post("/api/channels/shop/webhooks/orders", data=b"{}"), 401)
    body = b"{not json"
    signed = {"X-Crossdock-Signature": sign("s", body), "Content-Type": "application/json"}
    assert_json_error(client.post("/api/channels/shop/webhooks/orders", data=body, headers=signed), 400)


def test_html_errors_stay_pages(api_app) -> None:
    client = api_app.test_client()
    assert client.get("/no/such/page").mimetype == "text/html"
    response = client.get("/_probe_nothing", method="DELETE")
    assert response.mimetype == "text/html"
