"""Portal returns: request from a delivered order, see it move, print the slip; marketplace orders and
unshipped orders get the right alternative; nobody sees another customer's return."""

from __future__ import annotations

import io
import re

import pytest
from sqlalchemy import select

from core.returns.models import ReturnRequest
from core.support.models import Conversation
from tests.factories import PASSWORD, make_sku, make_user
from tests.helpers import csrf_token, sign_in
from tests.returns_factories import make_delivered_order, make_shop

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


@pytest.fixture
def delivered(client, db):
    user = make_user(db, "customer")
    channel, location = make_shop(db, name="Web shop", return_window_days=30)
    shirt = make_sku(db, title="Blue shirt M")
    order = make_delivered_order(db, channel, location, [(shirt, 2)], customer_id=user.customer_id)
    db.commit()
    sign_in(client, user.email, PASSWORD)
    return order


def post_return(client, order, **fields):
    path = f"/orders/{order.number}/return"
    data = {"csrf_token": csrf_token(client, path), "reason": "wrong_size", "resolution": "refund"} | fields
    return client.post(path, data=data, content_type="multipart/form-data")


def test_return_requested_end_to_end_with_slip(client, db, delivered) -> None:
    line = delivered.lines[0]
    form = client.get(f"/orders/{delivered.number}/return").get_data(as_text=True)
    assert f'name="qty_{line.id}"' in form and "Wrong size" in form
    response = post_return(client, delivered, **{f"qty_{line.id}": "1", "photo": (io.BytesIO(PNG), "p.png")})
    assert response.status_code == 303
    rma = re.search(r"/returns/(RMA-[A-Z0-9]+)", response.headers["Location"]).group(1)
    detail = client.get(f"/returns/{rma}").get_data(as_text=True)
    assert rma in detail and "Print the return slip" in detail
    slip = client.get(f"/returns/{rma}/slip").get_data(as_text=True)
    assert rma in slip and "Blue shirt M" in slip and "Logistics Way" in slip
    assert rma in client.get("/returns").get_data(as_text=True)
    stored = db.scalar(select(ReturnRequest).where(ReturnRequest.rma_number == rma))
    assert stored.photo_path.startswith("returns/") and stored.photo_path.endswith(".png")


def test_return_request_without_items_says_so(client, delivered) -> None:
    response = post_return(client, delivered)
    assert response.status_code == 422 and "choose" in response.get_data(as_text=True).lower()


def test_return_request_other_reason_needs_text(client, delivered) -> None:
    response = post_return(client, delivered, reason="other", **{f"qty_{delivered.lines[0].id}": "1"})
    assert response.status_code == 422 and "other" in response.get_data(as_text=True).lower()


def test_return_photo_must_be_an_image(client, delivered) -> None:
    fields = {f"qty_{delivered.lines[0].id}": "1", "photo": (io.BytesIO(b"hello"), "notes.txt")}
    response = post_return(client, delivered, **fields)
    assert response.status_code == 422 and "JPEG, PNG or WebP" in response.get_data(as_text=True)


def test_marketplace_order_shows_the_marketplace_instructions(client, db) -> None:
    user = make_user(db, "customer")
    channel, location = make_shop(
        db,
        name="Amazon",
        returns_handled_by_channel=True,
        return_instructions="Start your return from Your Orders on Amazon.",
    )
    order = make_delivered_order(db, channel, location, [(make_sku(db), 1)], customer_id=user.customer_id)
    db.commit()
    sign_in(client, user.email, PASSWORD)
    page = client.get(f"/orders/{order.number}/return").get_data(as_text=True)
    assert "Start your return from Your Orders on Amazon." in page and "Request return" not in page


def test_unshipped_order_offers_cancellation_instead(client, db) -> None:
    user = make_user(db, "customer")
    channel, location = make_shop(db)
    order = make_delivered_order(
        db,
        channel,
        location,
        [(make_sku(db), 1)],
        customer_id=user.customer_id,
        shipped=False,
        delivered_at=None,
    )
    db.commit()
    sign_in(client, user.email, PASSWORD)
    page = client.get(f"/orders/{order.number}/return").get_data(as_text=True)
    assert "Ask to cancel this order" in page
    token = csrf_token(client, f"/orders/{order.number}/return")
    response = client.post(
        f"/orders/{order.number}/cancel", data={"csrf_token": token, "note": "Ordered twice"}
    )
    assert response.status_code == 303
    ticket = db.scalar(select(Conversation).where(Conversation.order_id == order.id))
    assert ticket.category == "cancel" and ticket.priority == "high"


def test_another_customers_return_and_order_are_404(client, db, delivered) -> None:
    line = delivered.lines[0]
    rma = re.search(
        r"(RMA-[A-Z0-9]+)", post_return(client, delivered, **{f"qty_{line.id}": "1"}).headers["Location"]
    ).group(1)
    client.post("/logout", data={"csrf_token": csrf_token(client, "/orders")})
    intruder = make_user(db, "customer")
    db.commit()
    sign_in(client, intruder.email, PASSWORD)
    for path in (
        f"/returns/{rma}",
        f"/returns/{rma}/slip",
        f"/orders/{delivered.number}/return",
        f"/orders/{delivered.number}",
        f"/orders/{delivered.number}/status",
    ):
        assert client.get(path).status_code == 404, path
    token = csrf_token(client, "/orders")
    assert client.post(f"/orders/{delivered.number}/cancel", data={"csrf_token": token}).status_code == 404
