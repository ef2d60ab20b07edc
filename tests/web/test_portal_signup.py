"""Sign up, confirm the email (orders from every channel get linked), reset a forgotten password."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from core.notifications.models import OutboxMessage
from core.security.accounts import make_reset_token, make_verify_token
from core.security.models import User
from tests.factories import PASSWORD, make_channel, make_order, make_user
from tests.helpers import csrf_token, sign_in

SECRET = "test-secret"  # the app fixture's SECRET_KEY


def signup(client, email="new@example.org", password="long-enough-pw", name="New Person"):
    token = csrf_token(client, "/signup")
    return client.post(
        "/signup", data={"csrf_token": token, "email": email, "password": password, "name": name}
    )


def test_signup_queues_verification_and_blocks_sign_in_until_confirmed(client, db) -> None:
    response = signup(client)
    assert response.status_code == 200 and "Check your email" in response.get_data(as_text=True)
    user = db.scalar(select(User).where(User.email == "new@example.org"))
    assert user.role == "customer" and user.email_verified_at is None and user.customer_id is None
    outbox = db.scalars(select(OutboxMessage).where(OutboxMessage.kind == "account_verify")).all()
    assert [m.recipient for m in outbox] == ["new@example.org"]
    assert sign_in(client, "new@example.org", "long-enough-pw").status_code == 403


def test_verification_links_orders_from_every_channel_with_that_email(client, db) -> None:
    amazon, ebay = make_channel(db, kind="amazon"), make_channel(db, kind="ebay")
    orders = [
        make_order(db, channel_id=amazon.id, email="new@example.org"),
        make_order(db, channel_id=ebay.id, email="new@example.org"),
    ]
    stranger = make_order(db, email="someone@else.org")
    signup(client)
    user = db.scalar(select(User).where(User.email == "new@example.org"))
    link = f"/verify/{make_verify_token(SECRET, user)}"
    response = client.post(link, data={"csrf_token": csrf_token(client, link)})
    assert response.status_code == 303 and response.headers["Location"] == "/login"
    assert "2 order(s) from our shops are now in your account" in client.get("/login").get_data(as_text=True)
    assert sign_in(client, "new@example.org", "long-enough-pw").status_code == 303
    page = client.get("/orders").get_data(as_text=True)
    assert all(o.number in page for o in orders) and stranger.number not in page


def test_verification_with_a_forged_token_fails_clearly(client) -> None:
    response = client.get("/verify/not-a-token")
    assert response.status_code == 400 and "not valid" in response.get_data(as_text=True)


@pytest.mark.parametrize(
    ("email", "password", "message"),
    [
        ("bad-email", "long-enough-pw", "valid email"),
        ("ok@example.org", "short", "at least 10"),
    ],
)
def test_signup_rejects_bad_input_with_a_reason(client, email, password, message) -> None:
    response = signup(client, email=email, password=password)
    assert response.status_code == 422 and message in response.get_data(as_text=True)


def test_signup_with_an_existing_email_is_refused(client, db) -> None:
    existing = make_user(db, "customer")
    assert signup(client, email=existing.email).status_code == 422


def test_password_reset_flow_is_single_use_and_signs_out_sessions(client, db) -> None:
    user = make_user(db, "customer")
    token = csrf_token(client, "/password/forgot")
    reply = client.post("/password/forgot", data={"csrf_token": token, "email": user.email})
    unknown = client.post("/password/forgot", data={"csrf_token": token, "email": "nobody@example.org"})
    assert "Check your email" in reply.get_data(as_text=True) and unknown.status_code == reply.status_code
    assert (
        db.scalar(select(OutboxMessage.recipient).where(OutboxMessage.kind == "password_reset")) == user.email
    )
    link = f"/password/reset/{make_reset_token(SECRET, user)}"
    form = csrf_token(client, link)
    assert client.post(link, data={"csrf_token": form, "password": "brand-new-password"}).status_code == 303
    assert sign_in(client, user.email, "brand-new-password").status_code == 303
    assert sign_in(client, user.email, PASSWORD).status_code == 401
    reused = client.post(link, data={"csrf_token": form, "password": "another-password-1"})
    assert reused.status_code == 400 and "already been used" in reused.get_data(as_text=True)
