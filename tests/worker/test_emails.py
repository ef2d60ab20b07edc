"""Every customer email, sent through a real SMTP server and read back: MIME structure, headers, the
channel's name, signed links; queueing once per event; opt-out of optional emails; the demo's mail catcher."""

from __future__ import annotations

import re
import smtplib
from collections.abc import Callable, Iterator
from datetime import date, timedelta
from email import policy as email_policy
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import formataddr
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.customers.models import Customer
from core.errors import DomainError, NotFound
from core.fulfillment.models import Shipment, ShipmentLine, TrackingEvent
from core.notifications import services
from core.notifications.catcher import list_caught_mail, read_caught_mail, start_catcher
from core.notifications.models import OutboxMessage
from core.notifications.rendering import message_id_for, mime_alternative, render_email
from core.notifications.services import OPTIONAL_KINDS, notify_shipment_status, unsubscribe_customer
from core.notifications.smtp import SmtpSettings, dispatch_email_outbox
from core.orders.models import Order
from core.returns.models import Refund, ReturnLine, ReturnRequest
from core.security import accounts
from core.security.tokens import (
    InvalidToken,
    make_tracking_token,
    make_unsubscribe_token,
    read_tracking_token,
    read_unsubscribe_token,
)
from core.support.models import Conversation, Message
from tests.factories import NOW, make_channel, make_customer, make_order
from tests.worker.smtp_server import SmtpServer, free_port, running_smtp_server

MAIL_FROM = "orders@crossdock.test"
SECRET = "emails-test-secret"
PORTAL = "https://portal.example.test"
TRACK_LINK = re.compile(re.escape(PORTAL) + r"/track/([A-Za-z0-9_.-]+)")


@pytest.fixture(scope="module")
def smtp() -> Iterator[SmtpServer]:
    with running_smtp_server() as server:
        yield server


def settings(port: int) -> SmtpSettings:
    return SmtpSettings(port=port, mail_from=MAIL_FROM, portal_base_url=PORTAL, secret_key=SECRET)


def customer_order(db: Session, **overrides) -> Order:
    channel = make_channel(
        db,
        name="Acme Outdoor on Amazon",
        sender_name="Acme Outdoor",
        return_window_days=30,
        return_instructions="Print the prepaid label from your account and drop the parcel at any UPS point.",
    )
    customer = make_customer(db, name="Jane Doe")
    fields = {
        "channel_id": channel.id,
        "customer_id": customer.id,
        "email": customer.email,
        "buyer_name": "Jane Doe",
    }
    return make_order(db, lines=2, **(fields | overrides))


def ship(db: Session, order: Order, **overrides) -> Shipment:
    fields = {
        "order_id": order.id,
        "carrier": "UPS",
        "tracking_number": "1Z999AA10123456784",
        "status": "in_transit",
        "shipped_at": NOW,
        "estimated_from": NOW + timedelta(days=3),
        "estimated_to": NOW + timedelta(days=4),
    }
    shipment = Shipment(**(fields | overrides))
    db.add(shipment)
    db.flush()
    db.add(ShipmentLine(shipment_id=shipment.id, order_line_id=order.lines[0].id, quantity=1))
    db.flush()
    return shipment


def rma(db: Session, order: Order, status: str = "approved") -> ReturnRequest:
    request = ReturnRequest(
        rma_number="RMA-4242",
        order_id=order.id,
        customer_id=order.customer_id,
        reason="wrong_size",
        status=status,
    )
    db.add(request)
    db.flush()
    db.add(ReturnLine(return_id=request.id, order_line_id=order.lines[1].id, quantity=1, quantity_received=1))
    db.flush()
    return request


# kind -> (queue it for a fresh order, snippets the text and HTML bodies must both contain)
def _confirmed(db: Session, order: Order) -> OutboxMessage | None:
    return services.queue_order_confirmed(db, order, now=NOW)


def _shipped(db: Session, order: Order) -> OutboxMessage | None:
    return notify_shipment_status(db, ship(db, order), "in_transit", now=NOW)


def _out_for_delivery(db: Session, order: Order) -> OutboxMessage | None:
    return notify_shipment_status(db, ship(db, order, status="out_for_delivery"), "out_for_delivery", now=NOW)


def _delivered(db: Session, order: Order) -> OutboxMessage | None:
    shipment = ship(db, order, status="delivered", delivered_at=NOW)
    return notify_shipment_status(db, shipment, "delivered", now=NOW)


def _delayed(db: Session, order: Order) -> OutboxMessage | None:
    return services.queue_shipment_delayed(db, ship(db, order), new_estimate=date(2026, 11, 26), now=NOW)


def _warehouse_delay(db: Session, order: Order) -> OutboxMessage | None:
    return services.queue_warehouse_delay(
        db, order, new_dispatch=date(2026, 11, 23), new_delivery=date(2026, 11, 27), now=NOW
    )


def _exception(db: Session, order: Order) -> OutboxMessage | None:
    shipment = ship(db, order, status="failed_attempt")
    event = TrackingEvent(
        shipment_id=shipment.id,
        status="failed_attempt",
        description="Receiver not available, second attempt tomorrow",
        location="Portland, OR",
        occurred_at=NOW,
        dedup_key="e1",
    )
    db.add(event)
    db.flush()
    return notify_shipment_status(db, shipment, "failed_attempt", now=NOW, event_id=event.id)


def _available_for_pickup(db: Session, order: Order) -> OutboxMessage | None:
    shipment = ship(db, order, status="available_for_pickup")
    event = TrackingEvent(
        shipment_id=shipment.id,
        status="available_for_pickup",
        description="Held at the UPS Access Point for 7 days",
        location="Corner Shop, 5 Elm St, Portland, OR",
        occurred_at=NOW,
        dedup_key="p1",
    )
    db.add(event)
    db.flush()
    return notify_shipment_status(db, shipment, "available_for_pickup", now=NOW, event_id=event.id)


def _backordered(db: Session, order: Order) -> OutboxMessage | None:
    return services.queue_order_backordered(db, order, now=NOW)


def _return_approved(db: Session, order: Order) -> OutboxMessage | None:
    return services.queue_return_approved(db, rma(db, order), now=NOW)


def _return_received(db: Session, order: Order) -> OutboxMessage | None:
    return services.queue_return_received(db, rma(db, order, "received"), now=NOW)


def _return_refunded(db: Session, order: Order) -> OutboxMessage | None:
    request = rma(db, order, "refunded")
    refund = Refund(order_id=order.id, return_id=request.id, amount=1999, shipping_amount=500, currency="USD")
    db.add(refund)
    db.flush()
    return services.queue_return_refunded(db, request, refund, now=NOW)


def _order_cancelled(db: Session, order: Order) -> OutboxMessage | None:
    return services.queue_order_cancelled(db, order, now=NOW)


def _order_refunded(db: Session, order: Order) -> OutboxMessage | None:
    refund = Refund(
        order_id=order.id, amount=1999, shipping_amount=500, currency="USD", reason="Parcel arrived late"
    )
    db.add(refund)
    db.flush()
    return services.queue_order_refunded(db, order, refund, now=NOW)


def _conversation_reply(db: Session, order: Order) -> OutboxMessage | None:
    conversation = Conversation(customer_id=order.customer_id, order_id=order.id, subject="Where is my tent?")
    db.add(conversation)
    db.flush()
    reply = Message(
        conversation_id=conversation.id,
        author_kind="agent",
        body="Your <b>tent</b> ships on Monday & arrives soon.",
    )
    db.add(reply)
    db.flush()
    return services.queue_conversation_reply(db, reply, now=NOW)


def _guest_code(db: Session, order: Order) -> OutboxMessage | None:
    return services.queue_guest_code(db, order, now=NOW)


KINDS: dict[str, tuple[Callable[[Session, Order], OutboxMessage | None], list[str]]] = {
    "order_confirmed": (_confirmed, ["Item 1", "Item 2", "39.98 USD"]),
    "shipment_shipped": (
        _shipped,
        [
            "UPS",
            "1Z999AA10123456784",
            "https://www.ups.com/track?tracknum=1Z999AA10123456784",
            "Tuesday 24 November",
        ],
    ),
    "shipment_out_for_delivery": (_out_for_delivery, ["should arrive today", "1Z999AA10123456784"]),
    "shipment_delivered": (_delivered, ["delivered", "Sunday 20 December 2026"]),
    "shipment_delayed": (_delayed, ["running late", "Thursday 26 November 2026", "Tuesday 24 November 2026"]),
    "warehouse_delay": (_warehouse_delay, ["Monday 23 November 2026", "Friday 27 November 2026"]),
    "shipment_exception": (_exception, ["couldn't deliver", "Receiver not available", "Portland, OR"]),
    "shipment_available_for_pickup": (_available_for_pickup, ["ready to collect", "Corner Shop, 5 Elm St"]),
    "order_backordered": (_backordered, ["out of stock", "Item 2"]),
    "return_approved": (_return_approved, ["RMA-4242", "Item 2", "prepaid label"]),
    "return_received": (_return_received, ["RMA-4242", "refund you"]),
    "return_refunded": (_return_refunded, ["RMA-4242", "24.99 USD"]),
    "order_cancelled": (_order_cancelled, ["has been cancelled", "Item 2"]),
    "order_refunded": (_order_refunded, ["24.99 USD", "5.00 USD of it for shipping", "Parcel arrived late"]),
    "conversation_reply": (_conversation_reply, ["Where is my tent?", "ships on Monday"]),
    "guest_code": (_guest_code, ["Your code for order", "/track-code?reference="]),
}


NOT_ABOUT_AN_ORDER = {
    "account_verify",
    "password_reset",
    "dropship_po",
    "low_stock_digest",
    "csat_request",  # tests/worker/test_csat_email.py
    "analytics_digest",  # tests/worker/test_analytics_digest.py
}  # tested one by one below


def test_kind_table_covers_every_email_kind() -> None:
    assert set(KINDS) | NOT_ABOUT_AN_ORDER == set(services.EMAIL_KINDS)


def send(db: Session, session_factory, smtp: SmtpServer, row: OutboxMessage) -> EmailMessage:
    """Commit, dispatch, and return the message the server received for `row`."""
    db.commit()
    before = len(smtp.messages)  # ids repeat between tests (each one is rolled back)
    result = dispatch_email_outbox(session_factory, settings(smtp.port), now=NOW)
    assert result.sent >= 1, result
    wanted = message_id_for(row.dedup_key, MAIL_FROM)
    found = [m for m in smtp.messages[before:] if m["Message-ID"] == wanted]
    assert len(found) == 1
    return found[0]


def bodies(message: EmailMessage) -> tuple[str, str]:
    return (
        message.get_body(preferencelist=("plain",)).get_content(),
        message.get_body(preferencelist=("html",)).get_content(),
    )


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_email_each_kind_is_multipart_from_the_channel_with_signed_links(
    db: Session, session_factory, smtp: SmtpServer, kind: str
) -> None:
    order = customer_order(db)
    build, snippets = KINDS[kind]
    row = build(db, order)
    assert row is not None and row.kind == kind
    message = send(db, session_factory, smtp, row)

    assert message.get_content_type() == "multipart/alternative"
    assert [part.get_content_type() for part in message.iter_parts()] == ["text/plain", "text/html"]
    assert message["From"].addresses[0].display_name == "Acme Outdoor"
    assert message["From"].addresses[0].addr_spec == MAIL_FROM
    assert str(message["To"]) == order.email
    assert str(message["Subject"]) == row.subject
    assert message["Message-ID"] == message_id_for(row.dedup_key, MAIL_FROM)
    assert message["Auto-Submitted"] == "auto-generated"

    text, html = bodies(message)
    for body in (text, html):
        assert "Acme Outdoor on Amazon" in body  # the order's channel, by name
        assert order.number in body
        assert "Hi Jane," in body
        for snippet in snippets:
            assert snippet.replace("'", "&#39;") in body or snippet in body, (snippet, body)
        tokens = TRACK_LINK.findall(body)
        assert tokens and all(read_tracking_token(SECRET, token) == order.id for token in tokens)
    assert '<html lang="en">' in html and "<img" not in html and "<link" not in html  # no external assets

    if kind in OPTIONAL_KINDS:
        link = str(message["List-Unsubscribe"]).strip().strip("<>")
        assert link.startswith(f"{PORTAL}/unsubscribe/")
        assert read_unsubscribe_token(SECRET, link.rsplit("/", 1)[1]) == (order.customer_id, kind)
        assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        assert link in text
    else:
        assert message["List-Unsubscribe"] is None
        assert "/unsubscribe/" not in text + html


def test_email_resent_by_staff_goes_again_as_its_own_message(
    db: Session, session_factory, smtp: SmtpServer
) -> None:
    from core.orders.actions import resend_notification
    from core.security.roles import Actor

    order = customer_order(db)
    first = send(db, session_factory, smtp, services.queue_order_confirmed(db, order, now=NOW))
    original = db.scalar(select(OutboxMessage).where(OutboxMessage.kind == "order_confirmed"))
    again = resend_notification(
        db, order.id, original.id, actor=Actor("agent@example.org", role="agent"), now=NOW
    )
    message = send(db, session_factory, smtp, again)
    assert message["Message-ID"] != first["Message-ID"]
    assert str(message["Subject"]) == str(first["Subject"]) and str(message["To"]) == order.email
    assert bodies(message)[0] == bodies(first)[0]


def test_email_conversation_reply_escapes_the_agents_text_in_html(
    db: Session, session_factory, smtp: SmtpServer
) -> None:
    row = _conversation_reply(db, customer_order(db))
    text, html = bodies(send(db, session_factory, smtp, row))
    assert "Your <b>tent</b> ships on Monday & arrives soon." in text
    assert "Your &lt;b&gt;tent&lt;/b&gt; ships on Monday &amp; arrives soon." in html


def test_email_reply_with_dotted_long_and_non_ascii_lines_arrives_intact(
    db: Session, session_factory, smtp: SmtpServer
) -> None:
    row = _conversation_reply(db, customer_order(db))
    reply = db.get(Message, row.payload["message_id"])
    lines = [".", "..two dots", ".leading dot", "Größe 42 passt – ✓", "x" * 200, "a = b; trailing space "]
    reply.body = "\n".join(lines)
    text, html = bodies(send(db, session_factory, smtp, row))
    for line in lines:
        assert line in text.splitlines() or line.strip() in text.splitlines(), line
    assert "Größe 42 passt – ✓" in html and "x" * 200 in html


def test_mime_alternative_encodes_folds_and_round_trips() -> None:
    subject = "Ihre Bestellung ist unterwegs – Größe 42 " + "und noch mehr Text " * 6
    long_ascii = "<https://portal.example.org/unsubscribe/" + "a" * 120 + ">"
    headers = [
        ("Subject", subject),
        ("From", formataddr(("Zoë's Outdoor Café", "orders@example.org"), charset="utf-8")),
        ("To", "jane@example.org"),
        ("List-Unsubscribe", long_ascii),
    ]
    text = "Hello Zoë,\n.\n.dot first\n" + "y" * 300 + "\nend =3D not an escape\t\n"
    html = "<p>Größe</p>\r\n<p>" + "z" * 150 + "</p>"
    wire = mime_alternative(headers, text, html, "==cd-boundary==")

    assert b"\n" not in wire.replace(b"\r\n", b"")  # every line ends in CRLF
    # Lines are folded to 78 characters; only a header with no space to fold at (a long link) may be longer,
    # within the hard limit of 998.
    lines = wire.split(b"\r\n")
    assert wire.isascii() and max(len(line) for line in lines) <= 998
    assert [line[:29] for line in lines if len(line) > 78] == [b" <https://portal.example.org/"]
    parsed = BytesParser(policy=email_policy.default).parsebytes(wire)
    assert str(parsed["Subject"]) == subject
    assert parsed["From"].addresses[0].display_name == "Zoë's Outdoor Café"
    assert parsed["From"].addresses[0].addr_spec == "orders@example.org"
    assert str(parsed["List-Unsubscribe"]).replace(" ", "") == long_ascii
    assert parsed.get_content_type() == "multipart/alternative"
    plain = parsed.get_body(preferencelist=("plain",)).get_content()
    rich = parsed.get_body(preferencelist=("html",)).get_content()
    assert plain.replace("\r\n", "\n") == text
    assert rich.replace("\r\n", "\n") == html.replace("\r\n", "\n") + "\n"
    with pytest.raises(ValueError, match="line break"):
        mime_alternative([("Subject", "two\r\nBcc: x@example.org")], "", "", "b")


def test_email_delivered_names_the_channel_when_it_handles_returns(
    db: Session, session_factory, smtp: SmtpServer
) -> None:
    order = customer_order(db)
    order.channel.returns_handled_by_channel = True
    row = _delivered(db, order)
    text, _ = bodies(send(db, session_factory, smtp, row))
    assert "Returns for this order are handled by Acme Outdoor on Amazon" in text
    assert "December" not in text


def test_render_email_message_id_depends_only_on_the_dedup_key(db: Session) -> None:
    row = _confirmed(db, customer_order(db))
    first = render_email(db, row, mail_from=MAIL_FROM, portal_base_url=PORTAL, secret=SECRET, now=NOW)
    later = render_email(
        db, row, mail_from=MAIL_FROM, portal_base_url=PORTAL, secret=SECRET, now=NOW + timedelta(hours=5)
    )
    assert first["Message-ID"] == later["Message-ID"] == message_id_for(row.dedup_key, MAIL_FROM)
    assert re.fullmatch(r"<[0-9a-f]{32}@crossdock\.test>", first["Message-ID"])
    assert message_id_for("shipment:1:delivered", MAIL_FROM) != message_id_for(
        "shipment:1:shipped", MAIL_FROM
    )


def test_email_returned_to_sender_says_it_is_coming_back(
    db: Session, session_factory, smtp: SmtpServer
) -> None:
    order = customer_order(db)
    shipment = ship(db, order, status="returned_to_sender")
    row = notify_shipment_status(db, shipment, "returned_to_sender", now=NOW)
    text, html = bodies(send(db, session_factory, smtp, row))
    assert "Your parcel is coming back to us" in text and "send it again or refund you" in html


def test_email_account_verify_and_password_reset_carry_working_links(
    db: Session, session_factory, smtp: SmtpServer
) -> None:
    user = accounts.sign_up_customer(db, "ada@example.org", "correct-horse-battery", "Ada Lovelace", now=NOW)
    accounts.request_password_reset(db, "ada@example.org", now=NOW)
    verify_row, reset_row = db.scalars(select(OutboxMessage).order_by(OutboxMessage.id)).all()
    verify = send(db, session_factory, smtp, verify_row)
    text, html = bodies(verify)
    assert verify["From"].addresses[0].display_name == "Crossdock" and "Hi Ada," in text
    [token] = set(re.findall(re.escape(PORTAL) + r"/verify/([A-Za-z0-9_.-]+)", text + html))
    assert accounts.verify_email(db, SECRET, token, now=NOW)[0].id == user.id
    assert verify["List-Unsubscribe"] is None

    [reset] = [m for m in smtp.messages if m["Message-ID"] == message_id_for(reset_row.dedup_key, MAIL_FROM)]
    reset_text, _ = bodies(reset)
    [reset_token] = re.findall(re.escape(PORTAL) + r"/password/reset/([A-Za-z0-9_.-]+)", reset_text)
    accounts.reset_password(db, SECRET, reset_token, "another-long-password", now=NOW)
    with pytest.raises(InvalidToken):  # single use: the password it was made for has changed
        accounts.reset_password(db, SECRET, reset_token, "third-long-password!", now=NOW)


def test_email_dropship_po_lists_lines_address_and_confirm_link(
    db: Session, session_factory, smtp: SmtpServer
) -> None:
    order = customer_order(db)
    row = OutboxMessage(
        kind="dropship_po",
        transport="email",
        dedup_key=f"po:{order.id}:7",
        recipient="po@teaco.example",
        subject=f"Purchase order {order.number}",
        payload={
            "order_id": order.id,
            "order_number": order.number,
            "placed_at": NOW.isoformat(),
            "supplier": {"code": "DS-TEA", "name": "Tea Co"},
            "ship_to": {
                "name": "Ada Lovelace",
                "company": "",
                "line1": "12 Analytical Row",
                "line2": "",
                "city": "Springfield",
                "region": "IL",
                "postal_code": "62701",
                "country": "US",
                "phone": "+1 555 0100",
            },
            "shipping_method": "Standard",
            "note": "Gift wrap, please",
            "dispatch_by": (NOW + timedelta(days=1)).isoformat(),
            "lines": [{"sku": "TEAPOT-1", "title": "Teapot <large>", "quantity": 2}],
            "confirm_url": "https://portal.example.test/dropship/confirm/TOKEN123",
            "link_expires_at": (NOW + timedelta(days=30)).isoformat(),
        },
        next_attempt_at=NOW,
        created_at=NOW,
    )
    db.add(row)
    message = send(db, session_factory, smtp, row)
    text, html = bodies(message)
    assert str(message["To"]) == "po@teaco.example"
    assert message["From"].addresses[0].display_name == "Acme Outdoor"
    for body in (text, html):
        assert "TEAPOT-1" in body and "Springfield, IL 62701" in body and "Gift wrap, please" in body
        assert "https://portal.example.test/dropship/confirm/TOKEN123" in body
        assert "Saturday 21 November 2026" in body and "Sunday 20 December 2026" in body
        assert "/track/" not in body and "Hi Jane" not in body  # nothing of the customer's own emails
    assert "Teapot <large> x 2" in text and "Teapot &lt;large&gt;" in html


# --- queueing: once per event, the right kind, opt-outs ---


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        ("shipped", "shipment_shipped"),
        ("in_transit", "shipment_shipped"),
        ("out_for_delivery", "shipment_out_for_delivery"),
        ("delivered", "shipment_delivered"),
        ("available_for_pickup", "shipment_available_for_pickup"),
        ("failed_attempt", "shipment_exception"),
        ("exception", "shipment_exception"),
        ("returned_to_sender", "shipment_exception"),
        ("info_received", None),
        ("packed", None),
        ("pending", None),
    ],
)
def test_notify_shipment_status_maps_carrier_status_to_email(
    db: Session, status: str, kind: str | None
) -> None:
    row = notify_shipment_status(db, ship(db, customer_order(db), status=status), status, now=NOW)
    assert (row.kind if row else None) == kind


def test_notify_shipment_status_queues_once_per_status(db: Session) -> None:
    shipment = ship(db, customer_order(db))
    assert notify_shipment_status(db, shipment, "shipped", now=NOW) is not None
    assert notify_shipment_status(db, shipment, "in_transit", now=NOW + timedelta(hours=1)) is None
    assert notify_shipment_status(db, shipment, "delivered", now=NOW + timedelta(days=2)) is not None
    assert notify_shipment_status(db, shipment, "delivered", now=NOW + timedelta(days=2)) is None
    keys = db.scalars(select(OutboxMessage.dedup_key).order_by(OutboxMessage.id)).all()
    assert keys == [f"shipment:{shipment.id}:shipped", f"shipment:{shipment.id}:delivered"]


def test_notify_shipment_status_exception_once_per_tracking_event(db: Session) -> None:
    shipment = ship(db, customer_order(db))
    assert notify_shipment_status(db, shipment, "failed_attempt", now=NOW, event_id=1) is not None
    assert notify_shipment_status(db, shipment, "failed_attempt", now=NOW, event_id=1) is None
    assert notify_shipment_status(db, shipment, "exception", now=NOW, event_id=2) is not None


def test_notify_shipment_status_sends_nothing_without_a_real_carrier_event(db: Session) -> None:
    order = customer_order(db)
    assert notify_shipment_status(db, ship(db, order, tracking_number=None), "shipped", now=NOW) is None
    stale = NOW - timedelta(days=10)
    assert notify_shipment_status(db, ship(db, order), "delivered", now=NOW, occurred_at=stale) is None
    by_channel = customer_order(db, fulfilled_by_channel=True)
    assert notify_shipment_status(db, ship(db, by_channel), "in_transit", now=NOW) is None
    assert db.scalar(select(func.count()).select_from(OutboxMessage)) == 0


def test_queue_email_without_any_address_queues_nothing(db: Session) -> None:
    order = customer_order(db, email=None)
    db.get(Customer, order.customer_id).email = None
    assert services.queue_order_confirmed(db, order, now=NOW) is None


def test_queue_email_uses_the_rows_intake_writes(db: Session) -> None:
    order = customer_order(db)
    row = services.queue_order_confirmed(db, order, now=NOW)
    assert (row.dedup_key, row.payload, row.subject) == (
        f"order:{order.id}:confirmed",
        {"order_id": order.id},
        f"Your order {order.number} is confirmed",
    )
    assert services.queue_order_confirmed(db, order, now=NOW) is None


def test_queue_conversation_reply_only_for_agents_public_replies(db: Session) -> None:
    order = customer_order(db)
    conversation = Conversation(customer_id=order.customer_id, subject="Hi")
    db.add(conversation)
    db.flush()
    note = Message(conversation_id=conversation.id, author_kind="agent", body="internal", internal=True)
    bot = Message(conversation_id=conversation.id, author_kind="assistant", body="auto")
    db.add_all([note, bot])
    db.flush()
    assert services.queue_conversation_reply(db, note, now=NOW) is None
    assert services.queue_conversation_reply(db, bot, now=NOW) is None


@pytest.mark.parametrize(
    ("prefs", "sent"),
    [
        ({}, True),
        ({"email": True, "sms": False}, True),
        ({"email_opt_out": ["shipment_out_for_delivery"]}, False),
        ({"email_opt_out": ["shipment_delivered"]}, True),
        ({"email": False}, False),
    ],
)
def test_queue_optional_email_honours_customer_prefs(db: Session, prefs: dict, sent: bool) -> None:
    order = customer_order(db)
    db.get(Customer, order.customer_id).notification_prefs = prefs
    shipment = ship(db, order)
    assert (notify_shipment_status(db, shipment, "out_for_delivery", now=NOW) is not None) is sent
    assert notify_shipment_status(db, shipment, "failed_attempt", now=NOW) is not None  # essential: always


def test_unsubscribe_customer_from_the_emails_link(db: Session, session_factory, smtp: SmtpServer) -> None:
    order = customer_order(db)
    message = send(db, session_factory, smtp, _delivered(db, order))
    token = str(message["List-Unsubscribe"]).strip().strip("<>").rsplit("/", 1)[1]

    customer, kind = unsubscribe_customer(db, SECRET, token, now=NOW)
    unsubscribe_customer(db, SECRET, token, now=NOW)  # a second click changes nothing
    assert (customer.id, kind) == (order.customer_id, "shipment_delivered")
    assert customer.notification_prefs["email_opt_out"] == ["shipment_delivered"]
    again = ship(db, order, tracking_number="1Z2")
    assert notify_shipment_status(db, again, "delivered", now=NOW) is None
    assert notify_shipment_status(db, again, "out_for_delivery", now=NOW) is not None


def test_unsubscribe_customer_refuses_essential_kinds_and_bad_tokens(db: Session) -> None:
    customer = make_customer(db)
    with pytest.raises(DomainError, match="cannot be turned off"):
        unsubscribe_customer(
            db, SECRET, make_unsubscribe_token(SECRET, customer.id, "order_confirmed"), now=NOW
        )
    with pytest.raises(InvalidToken):
        unsubscribe_customer(db, "another-secret", make_unsubscribe_token(SECRET, customer.id, "x"), now=NOW)
    with pytest.raises(NotFound):
        unsubscribe_customer(
            db, SECRET, make_unsubscribe_token(SECRET, 987654, "shipment_delivered"), now=NOW
        )


# --- tokens ---


def test_read_tracking_token_round_trip() -> None:
    assert read_tracking_token(SECRET, make_tracking_token(SECRET, 42)) == 42


@pytest.mark.parametrize(
    "token",
    [
        make_tracking_token("another-secret", 42),  # forged
        make_tracking_token(SECRET, 42)[:-2] + "xx",  # damaged
        make_unsubscribe_token(SECRET, 42, "shipment_delivered"),  # made for another purpose
        "not-a-token",
    ],
)
def test_read_tracking_token_refuses_bad_tokens(token: str) -> None:
    with pytest.raises(InvalidToken, match="not valid"):
        read_tracking_token(SECRET, token)


def test_read_tracking_token_refuses_expired_tokens() -> None:
    with pytest.raises(InvalidToken, match="expired"):
        read_tracking_token(SECRET, make_tracking_token(SECRET, 42), max_age=-1)


# --- the demo's catcher ---


def test_start_catcher_keeps_each_message_for_the_sent_mail_page(
    db: Session, session_factory, tmp_path: Path
) -> None:
    maildir = tmp_path / "mail"
    catcher = start_catcher("127.0.0.1", free_port(), maildir)
    try:
        rows = [_confirmed(db, customer_order(db)), _delayed(db, customer_order(db))]
        db.commit()
        result = dispatch_email_outbox(session_factory, settings(catcher.port), now=NOW)
    finally:
        catcher.stop()
    assert result.sent == 2
    caught = list_caught_mail(maildir, limit=10)
    assert {mail.message_id for mail in caught} == {message_id_for(row.dedup_key, MAIL_FROM) for row in rows}
    assert list_caught_mail(maildir, limit=1) == caught[:1]  # newest first
    mail = read_caught_mail(maildir, caught[0].name)
    assert mail.subject in {row.subject for row in rows}
    assert mail.sender == f"Acme Outdoor <{MAIL_FROM}>"
    assert "Acme Outdoor on Amazon" in mail.text and "<html" in mail.html
    assert mail.date is not None and mail.as_dict()["from"] == mail.sender


def test_read_caught_mail_refuses_unknown_names_and_path_tricks(tmp_path: Path) -> None:
    (tmp_path / "secret.txt").write_text("no")
    for name in ("../secret.txt", "secret.txt", "20261120T120000000000Z-000000000000.eml"):
        with pytest.raises(NotFound):
            read_caught_mail(tmp_path, name)
    assert list_caught_mail(tmp_path / "missing") == []


def test_start_catcher_accepts_plain_smtplib(tmp_path: Path) -> None:
    catcher = start_catcher("127.0.0.1", free_port(), tmp_path)
    try:
        with smtplib.SMTP("127.0.0.1", catcher.port, timeout=5) as client:
            client.sendmail("a@example.org", ["b@example.org"], b"Subject: hi\r\n\r\nhello\r\n")
    finally:
        catcher.stop()
    [mail] = list_caught_mail(tmp_path)
    assert (mail.subject, mail.text.strip(), mail.html) == ("hi", "hello", "")


def test_low_stock_digest_goes_to_managers_once_a_day(db: Session, session_factory, smtp: SmtpServer) -> None:
    from core.inventory.allocations import receive_stock
    from core.inventory.models import Location
    from tests.factories import make_sku, make_user

    manager, admin = make_user(db, "manager"), make_user(db, "admin")
    make_user(db, "agent")
    location = Location(code="WH-D", name="Warehouse", kind="warehouse", fulfillment_method="in_house")
    db.add(location)
    db.flush()
    sku = make_sku(db, code="LOW-1", title="Tent", reorder_point=10, reorder_quantity=20)
    receive_stock(db, location.id, sku.id, 3, actor="test", now=NOW)
    result = services.low_stock_digest_job(db, NOW)
    assert result["digests"] == 2 and result["opened"] >= 1
    assert services.queue_low_stock_digest(db, now=NOW) == []  # once a day each
    rows = db.scalars(select(OutboxMessage).where(OutboxMessage.kind == "low_stock_digest")).all()
    assert sorted(r.recipient for r in rows) == sorted([manager.email, admin.email])
    message = send(db, session_factory, smtp, rows[0])
    text, html = bodies(message)
    assert "LOW-1" in text and "Tent" in html and "/console/alerts" in text
