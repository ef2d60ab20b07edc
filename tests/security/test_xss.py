"""A script in any field a customer or a channel controls (names, addresses, notes, messages, SKUs and
titles, subjects, return reasons, attachment names) is shown as text in the portal, the console and the
emails: escaped, never markup."""

from __future__ import annotations

import pytest

from core.notifications import services as notifications
from core.notifications.rendering import render_email
from core.support.models import Message
from tests.factories import NOW, PASSWORD, make_user
from tests.helpers import sign_in
from tests.security.world import make_owner, make_shop_for_people

PAYLOAD = "<script>alert(1)</script><img src=x onerror=alert(2)>\"'"
RAW = ("<script>alert(1)", "<img src=x onerror")
ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt;"


def assert_escaped(html: str, where: str, *, shown: bool = True) -> None:
    for raw in RAW:
        assert raw not in html, f"unescaped {raw!r} in {where}"
    if shown:
        assert ESCAPED in html, f"the payload is not shown in {where}: the check proves nothing"


@pytest.fixture
def hostile(app, db):
    owner = make_owner(db, make_shop_for_people(db), text=PAYLOAD)
    admin = make_user(db, "admin", name=f"Agent {PAYLOAD}")
    db.add(
        Message(
            conversation_id=owner.conversation.id,
            author_kind="agent",
            body=f"Reply {PAYLOAD}",
            created_at=NOW,
        )
    )
    db.commit()
    customer, staff = app.test_client(), app.test_client()
    sign_in(customer, owner.user.email, PASSWORD)
    sign_in(staff, admin.email, PASSWORD, console=True)
    return owner, customer, staff


def test_xss_portal_pages_escape_customer_and_channel_text(hostile) -> None:
    owner, customer, _staff = hostile
    number, rma, cid = owner.order.number, owner.rma.rma_number, owner.conversation.id
    for url in (
        f"/orders/{number}",
        f"/orders/{number}/return",
        f"/returns/{rma}",
        f"/returns/{rma}/slip",
        f"/support/{cid}",
        f"/support/chat/{owner.chat.id}/messages",
        "/support",
    ):
        response = customer.get(url)
        assert response.status_code == 200, url
        assert_escaped(response.get_data(as_text=True), url)
    for url in ("/orders", "/returns", "/account"):
        assert_escaped(customer.get(url).get_data(as_text=True), url, shown=False)


def test_xss_console_pages_escape_customer_and_channel_text(hostile) -> None:
    owner, _customer, staff = hostile
    for url in (
        f"/console/orders/{owner.order.id}",
        f"/console/customers/{owner.user.customer_id}",
        f"/console/tickets/{owner.conversation.id}",
        f"/console/returns/{owner.rma.id}",
        "/console/tickets?view=all",
    ):
        response = staff.get(url)
        assert response.status_code == 200, url
        assert_escaped(response.get_data(as_text=True), url)
    for url in (
        "/console/search?q=Ada",
        "/console/returns",
        "/console/intake",
        "/console/admin/users",
        "/console/fulfilment",
    ):
        assert_escaped(staff.get(url).get_data(as_text=True), url, shown=False)


@pytest.mark.parametrize("kind", ["confirmed", "cancelled", "return_approved", "conversation_reply"])
def test_xss_emails_escape_customer_and_channel_text(db, hostile, kind) -> None:
    owner, _customer, _staff = hostile
    order = owner.order
    if kind == "confirmed":
        row = notifications.queue_order_confirmed(db, order, now=NOW)
    elif kind == "cancelled":
        row = notifications.queue_order_cancelled(db, order, now=NOW)
    elif kind == "return_approved":
        row = notifications.queue_return_approved(db, owner.rma, now=NOW)
    else:
        reply = Message(
            conversation_id=owner.conversation.id, author_kind="agent", body=f"Hi {PAYLOAD}", created_at=NOW
        )
        db.add(reply)
        db.flush()
        row = notifications.queue_conversation_reply(db, reply, now=NOW)
    assert row is not None
    email = render_email(
        db, row, mail_from="shop@example.test", portal_base_url="https://p.test", secret="s", now=NOW
    )
    html = email.get_body(("html",)).get_content()
    assert_escaped(html, f"{kind} email")
