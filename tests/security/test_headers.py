"""Security headers on every answer: HTML pages of both faces, htmx fragments, JSON, files, static assets
and error pages, for visitors, customers and staff. Personal pages and downloads are never cached; HSTS is
sent over HTTPS only."""

from __future__ import annotations

import re

import pytest

from tests.factories import PASSWORD, make_user
from tests.helpers import sign_in
from tests.security.world import make_owner, make_shop_for_people

CSP_DIRECTIVES = {
    "default-src 'self'",
    "script-src 'self'",
    "object-src 'none'",
    "base-uri 'self'",
    "frame-ancestors 'none'",
    "form-action 'self'",
}


def csp_directives(response) -> set[str]:
    return {part.strip() for part in response.headers.get("Content-Security-Policy", "").split(";")}


def assert_secure_headers(response, url: str) -> None:
    policy = csp_directives(response)
    assert CSP_DIRECTIVES <= policy, (url, policy)
    assert not any("'unsafe-eval'" in d or ("script-src" in d and "unsafe-inline" in d) for d in policy), url
    assert response.headers.get("X-Frame-Options") == "DENY", url
    assert response.headers.get("X-Content-Type-Options") == "nosniff", url
    assert response.headers.get("Referrer-Policy") == "same-origin", url
    assert "Strict-Transport-Security" not in response.headers, url  # plain HTTP here


@pytest.fixture
def signed_in(app, db):
    shop = make_shop_for_people(db)
    owner = make_owner(db, shop)
    admin = make_user(db, "admin")
    db.commit()
    customer, staff = app.test_client(), app.test_client()
    sign_in(customer, owner.user.email, PASSWORD)
    sign_in(staff, admin.email, PASSWORD, console=True)
    ids = {
        "number": owner.order.number,
        "order_id": owner.order.id,
        "conversation_id": owner.conversation.id,
        "customer_id": owner.user.customer_id,
        "return_id": owner.rma.id,
        "rma": owner.rma.rma_number,
        "attachment_id": owner.attachment_id,
        "user_id": admin.id,
        "code": owner.order.channel.code,
        "sku_code": owner.order.lines[0].channel_sku,
        "location_code": "x",
        "slug": "x",
        "token": "x",
        "name": "x",
        "payload_id": 1,
        "filename": "css/app.css",
    }
    return owner, customer, staff, ids


def get_urls(app, ids: dict[str, object], blueprint: str) -> list[str]:
    urls = []
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods or not rule.endpoint.startswith(blueprint):
            continue
        path = rule.rule
        for name in rule.arguments:
            path = re.sub(rf"<(?:[a-z]+:)?{name}>", str(ids.get(name, 1)), path)
        urls.append(path)
    return sorted(urls)


def test_headers_on_every_get_page_of_portal_console_and_api(app, signed_in) -> None:
    _owner, customer, staff, ids = signed_in
    anonymous = app.test_client()
    walked = 0
    for blueprint, clients in (
        ("portal.", (anonymous, customer)),
        ("console.", (anonymous, staff)),
        ("api.", (anonymous,)),
        ("healthz", (anonymous,)),
        ("static", (anonymous,)),
    ):
        for url in get_urls(app, ids, blueprint):
            for client in clients:
                response = client.get(url)
                assert response.status_code < 500, url
                assert_secure_headers(response, url)
                response.close()  # a streamed download holds its request context until closed
                walked += 1
    assert walked > 80


def test_headers_on_htmx_fragments_errors_and_json(client, signed_in) -> None:
    _owner, _customer, staff, _ids = signed_in
    responses = {
        "fragment": staff.get("/console/tickets", headers={"HX-Request": "true"}),
        "portal 404": client.get("/no/such/page"),
        "api 404": client.get("/api/no/such/thing"),
        "api 405": client.get("/api/channels/x/webhooks/orders"),
        "csrf 400": client.post("/login", data={}),
        "static css": client.get("/static/css/app.css"),
        "static js": client.get("/static/js/behaviours.js"),
    }
    for name, response in responses.items():
        assert_secure_headers(response, name)


def test_personal_pages_and_downloads_are_never_cached(signed_in) -> None:
    owner, customer, staff, _ids = signed_in
    personal = {
        customer: ["/account", "/account/data.json", "/orders", f"/orders/{owner.order.number}", "/support"],
        staff: [
            "/console/",
            "/console/tickets",
            f"/console/customers/{owner.user.customer_id}",
            "/console/mail",
        ],
    }
    for client, urls in personal.items():
        for url in urls:
            response = client.get(url)
            assert response.status_code == 200, url
            assert response.headers.get("Cache-Control") == "no-store", url
    download = customer.get(f"/support/{owner.conversation.id}/attachments/{owner.attachment_id}")
    assert download.headers["Cache-Control"] == "no-store"
    assert download.headers["Content-Disposition"].startswith("attachment")
    assert download.headers["X-Content-Type-Options"] == "nosniff"


def test_static_files_may_be_cached(client) -> None:
    assert client.get("/static/css/app.css").headers.get("Cache-Control") != "no-store"


def test_hsts_only_over_https(client) -> None:
    assert "Strict-Transport-Security" not in client.get("/login").headers
    secure = client.get("/login", base_url="https://shop.example")
    assert secure.headers["Strict-Transport-Security"].startswith("max-age=31536000")


def test_pages_allow_no_inline_style(signed_in) -> None:
    _owner, customer, staff, _ids = signed_in
    for response in (customer.get("/account"), staff.get("/console/tickets")):
        assert "style-src 'self'" in csp_directives(response)
        assert "'unsafe-inline'" not in response.headers["Content-Security-Policy"]
