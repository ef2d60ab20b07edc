"""Guest access to one order: number (ours or the channel's) plus email or postcode; rate limited; bound."""

from __future__ import annotations

import pytest

from core.security.guest import guest_token_order, make_guest_token
from tests.factories import make_channel, make_order
from tests.helpers import csrf_token

ADDRESS = {
    "name": "Ann Lee",
    "line1": "1 Main St",
    "city": "Leeds",
    "postal_code": "LS1 4AB",
    "country": "GB",
}


@pytest.fixture
def amazon_order(db):
    amazon = make_channel(db, code="amazon", name="Amazon", kind="amazon")
    order = make_order(
        db,
        channel_id=amazon.id,
        external_id="113-1234567-7654321",
        email="ann@example.org",
        shipping_address=ADDRESS,
    )
    db.commit()
    return order


def lookup(client, reference: str, proof: str):
    token = csrf_token(client, "/track")
    return client.post("/track", data={"csrf_token": token, "reference": reference, "proof": proof})


@pytest.mark.parametrize("proof", ["ls14ab", "LS1 4AB", "Ann@Example.org"])
def test_guest_finds_amazon_order_by_amazon_id_and_postcode_or_email(client, amazon_order, proof) -> None:
    response = lookup(client, "113-1234567-7654321", proof)
    assert response.status_code == 303
    assert response.headers["Location"] == f"/orders/{amazon_order.number}"
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert amazon_order.number in page and "Find another order" in page


def test_guest_finds_order_by_our_number(client, amazon_order) -> None:
    assert lookup(client, amazon_order.number.lower(), "ann@example.org").status_code == 303


def test_wrong_answer_and_unknown_order_get_the_same_reply(client, amazon_order) -> None:
    wrong = lookup(client, "113-1234567-7654321", "SW1A 1AA")
    unknown = lookup(client, "999-0000000-0000000", "SW1A 1AA")
    assert wrong.status_code == unknown.status_code == 404
    assert wrong.get_data(as_text=True).count("couldn&#39;t find an order") == 1
    assert unknown.get_data(as_text=True).count("couldn&#39;t find an order") == 1
    assert client.get(f"/orders/{amazon_order.number}").status_code == 302


def test_guest_lookups_are_rate_limited_per_order(client, amazon_order) -> None:
    for _ in range(5):
        assert lookup(client, "113-1234567-7654321", "nope").status_code == 404
    limited = lookup(client, "113-1234567-7654321", "ls14ab")
    assert limited.status_code == 429 and "Too many attempts" in limited.get_data(as_text=True)


def test_guest_token_is_bound_to_one_order(client, db, amazon_order) -> None:
    other = make_order(db, email="ann@example.org", shipping_address=ADDRESS)
    db.commit()
    lookup(client, "113-1234567-7654321", "ls14ab")
    assert client.get(f"/orders/{amazon_order.number}").status_code == 200
    assert client.get(f"/orders/{other.number}").status_code == 404


def test_guest_token_expires() -> None:
    token = make_guest_token("secret", 42)
    assert guest_token_order("secret", token) == 42
    assert guest_token_order("secret", token, max_age=-1) is None
    assert guest_token_order("other-secret", token) is None
    assert guest_token_order("secret", token + "x") is None


def test_order_status_widget_polls_while_on_its_way(client, amazon_order) -> None:
    lookup(client, "113-1234567-7654321", "ls14ab")
    widget = client.get(f"/orders/{amazon_order.number}/status").get_data(as_text=True)
    assert 'hx-trigger="every 60s"' in widget and "<html" not in widget


def test_guest_gets_a_code_by_email_and_opens_the_order(client, db, amazon_order) -> None:
    from sqlalchemy import select

    from core.db import utcnow
    from core.notifications.models import OutboxMessage
    from core.security.guest import code_window, guest_code

    token = csrf_token(client, "/track-code")
    asked = client.post("/track-code", data={"csrf_token": token, "reference": "113-1234567-7654321"})
    assert asked.status_code == 200 and "emailed a six-digit code" in asked.get_data(as_text=True)
    queued = db.scalars(select(OutboxMessage).where(OutboxMessage.kind == "guest_code")).one()
    assert queued.recipient == "ann@example.org" and queued.payload["order_id"] == amazon_order.id
    unknown = client.post("/track-code", data={"csrf_token": token, "reference": "999-nope"})
    assert unknown.get_data(as_text=True).count("emailed a six-digit code") == 1  # same answer, nothing sent
    wrong = client.post(
        "/track-code",
        data={
            "csrf_token": token,
            "reference": "113-1234567-7654321",
            "code": "000000"
            if guest_code("test-secret", amazon_order.id, code_window(utcnow())) != "000000"
            else "111111",
        },
    )
    assert wrong.status_code == 400
    code = guest_code("test-secret", amazon_order.id, code_window(utcnow()))
    opened = client.post(
        "/track-code", data={"csrf_token": token, "reference": "113-1234567-7654321", "code": code}
    )
    assert opened.status_code == 303 and opened.headers["Location"] == f"/orders/{amazon_order.number}"
    again = client.post(
        "/track-code", data={"csrf_token": token, "reference": "113-1234567-7654321", "code": code}
    )
    assert again.status_code == 400  # a code opens the order once


def test_guest_code_expires_after_its_windows() -> None:
    from datetime import UTC, datetime, timedelta

    from core.security.guest import check_guest_code, code_window, guest_code

    now = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
    code = guest_code("s", 7, code_window(now))
    assert check_guest_code("s", 7, code, now=now + timedelta(minutes=15))
    assert not check_guest_code("s", 7, code, now=now + timedelta(minutes=40))
    assert not check_guest_code("s", 8, code, now=now)


def test_portal_forms_refuse_a_post_without_csrf_token(client, amazon_order) -> None:
    response = client.post("/track", data={"reference": "113-1234567-7654321", "proof": "ls14ab"})
    assert response.status_code == 400
    assert client.get(f"/orders/{amazon_order.number}").status_code == 302  # no access was granted
