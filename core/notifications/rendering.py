"""Turning an outbox row into a MIME email: templates/emails/<kind>.html and .txt, rendered from the database.

Each email is multipart/alternative (plain text first, HTML second), comes from the order's channel by name
("Acme Outdoor <orders@crossdock.local>"), names that channel in its body, and links to the portal's tracking
page with a signed token that needs no login. Its Message-ID is derived from the dedup key, so a re-send of
the same notification carries the same Message-ID and receiving systems can recognise the duplicate.
Optional kinds carry List-Unsubscribe (RFC 2369) with one-click unsubscribe (RFC 8058).
"""

from __future__ import annotations

import binascii
import hashlib
from datetime import UTC, date, datetime, tzinfo
from email import policy as email_policy
from email.header import Header
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import format_datetime, formataddr
from functools import lru_cache
from typing import Any
from urllib.parse import quote, urlencode

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from core.channels.models import Channel
from core.configuration.email_texts import merchant_texts
from core.customers.models import Customer
from core.db import PROJECT_ROOT
from core.errors import NotFound
from core.fulfillment.models import Shipment, ShipmentLine, TrackingEvent
from core.inventory.alerts import low_stock_digest
from core.money import format_money
from core.notifications.models import OutboxMessage
from core.notifications.services import OPTIONAL_KINDS
from core.orders.models import Order, OrderLine
from core.returns.models import Refund, ReturnLine, ReturnRequest
from core.security.accounts import make_reset_token, make_verify_token
from core.security.guest import guest_code
from core.security.models import User
from core.security.staff import make_invite_token
from core.security.tokens import make_tracking_token, make_unsubscribe_token
from core.support.models import Conversation, Message
from core.support.tokens import make_rating_token, make_thread_token, reply_address

TEMPLATES_DIR = PROJECT_ROOT / "templates"

# Carrier tracking pages for shipments that came without a tracking URL.
CARRIER_TRACKING_URLS = {
    "ups": "https://www.ups.com/track?tracknum={}",
    "usps": "https://tools.usps.com/go/TrackConfirmAction?tLabels={}",
    "fedex": "https://www.fedex.com/fedextrack/?trknbr={}",
    "dhl": "https://www.dhl.com/global-en/home/tracking/tracking-express.html?submit=1&tracking-id={}",
    "amazon logistics": "https://track.amazon.com/tracking/{}",
}
ACCOUNT_KINDS = frozenset({"account_verify", "password_reset", "staff_invite"})
PROBLEM_STATUSES = ("failed_attempt", "exception", "returned_to_sender")
OPTIONAL_LABELS = {
    "shipment_out_for_delivery": "'out for delivery' emails",
    "shipment_delivered": "'delivered' emails",
}

DEFAULT_RETURN_INSTRUCTIONS = (
    "Pack the items securely with everything they came with, write the RMA number on the parcel, and send it "
    "back to us. Keep the receipt from the post office or carrier until your refund arrives."
)


@lru_cache(maxsize=1)
def email_environment() -> Environment:
    """The Jinja2 environment for emails: HTML escaped, text not, undefined names an error."""
    return Environment(
        loader=FileSystemLoader(TEMPLATES_DIR),
        autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        auto_reload=False,  # templates change with a deploy, which restarts the worker
    )


def message_id_for(dedup_key: str, mail_from: str) -> str:
    """The Message-ID of a notification: the same for every send of the same dedup key."""
    domain = mail_from.rpartition("@")[2] or "crossdock"
    return f"<{hashlib.sha256(dedup_key.encode()).hexdigest()[:32]}@{domain}>"


def format_day(value: date | datetime | None, tz: tzinfo = UTC) -> str | None:
    """'Tuesday 24 November 2026' (a datetime is read in `tz`)."""
    if value is None:
        return None
    day = value.astimezone(tz).date() if isinstance(value, datetime) else value
    return f"{day:%A} {day.day} {day:%B %Y}"


def carrier_link(shipment: Shipment) -> str | None:
    """The carrier's tracking page for the parcel."""
    if shipment.tracking_url:
        return shipment.tracking_url
    pattern = CARRIER_TRACKING_URLS.get((shipment.carrier or "").strip().lower())
    if pattern and shipment.tracking_number:
        return pattern.format(quote(shipment.tracking_number))
    return None


def render_email_bytes(
    session: Session,
    message: OutboxMessage,
    *,
    mail_from: str,
    portal_base_url: str,
    secret: str,
    now: datetime,
    tz: tzinfo = UTC,
) -> bytes:
    """The outbox row as the bytes sent over SMTP: a multipart/alternative message (text, then HTML), CRLF
    line ends; NotFound when what it is about no longer exists, ValueError for a recipient that is not one
    plain address."""
    context = email_context(session, message, portal_base_url=portal_base_url, secret=secret, tz=tz)
    context |= merchant_texts(session, message.kind, context)
    env = email_environment()
    text = env.get_template(f"emails/{message.kind}.txt").render(context)
    html = env.get_template(f"emails/{message.kind}.html").render(context)
    headers = [
        ("Subject", " ".join((context["custom_subject"] or message.subject or context["subject"]).split())),
        ("From", formataddr((" ".join(context["sender_name"].split()), mail_from), charset="utf-8")),
        ("To", _address(message.recipient)),
        ("Date", format_datetime(now.astimezone(UTC))),
        ("Message-ID", message_id_for(message.dedup_key, mail_from)),
        ("Auto-Submitted", "auto-generated"),  # RFC 3834: no vacation auto-replies to us
    ]
    if message.kind == "conversation_reply":
        # The customer answers this email: the reply-to token threads the answer into the conversation.
        domain = mail_from.rpartition("@")[2] or "crossdock.local"
        headers.append(("Reply-To", reply_address(secret, message.payload["conversation_id"], domain)))
    if context["unsubscribe_link"]:
        headers.append(("List-Unsubscribe", f"<{context['unsubscribe_link']}>"))
        headers.append(("List-Unsubscribe-Post", "List-Unsubscribe=One-Click"))
    # A boundary of our own, from the dedup key: quoted-printable bodies can't contain it ("=" only starts an
    # escape there).
    boundary = "==cd-" + hashlib.sha256(message.dedup_key.encode()).hexdigest()[:32] + "=="
    return mime_alternative(headers, text, html, boundary)


def render_email(session: Session, message: OutboxMessage, **options: Any) -> EmailMessage:
    """The outbox row's email parsed back from its wire bytes (for previews and tests); `options` are those
    of `render_email_bytes`."""
    wire = render_email_bytes(session, message, **options)
    parsed = BytesParser(policy=email_policy.default).parsebytes(wire)
    assert isinstance(parsed, EmailMessage)
    return parsed


def mime_alternative(headers: list[tuple[str, str]], text: str, html: str, boundary: str) -> bytes:
    """A multipart/alternative message with a UTF-8 quoted-printable text and HTML part, as SMTP bytes.

    Written directly rather than through the email package's generator: the message has one fixed shape,
    and the generator's header folding is most of the cost of an email when the worker sends hundreds a
    second. Header values must be single lines; non-ASCII ones and lines over 78 characters go through
    email.header, which encodes (RFC 2047) and folds them.
    """
    out = [f'Content-Type: multipart/alternative; boundary="{boundary}"', "MIME-Version: 1.0"]
    for name, value in headers:
        if "\r" in value or "\n" in value:
            raise ValueError(f"a line break in the {name} header")
        if value.isascii() and len(name) + len(value) + 2 <= 78:
            out.append(f"{name}: {value}")
        else:
            charset = "us-ascii" if value.isascii() else "utf-8"
            out.append(f"{name}: " + Header(value, charset, header_name=name).encode(linesep="\r\n"))
    parts = ["\r\n".join(out).encode("ascii"), b"\r\n\r\n"]
    marker = f"--{boundary}\r\n".encode("ascii")
    for subtype, body in (("plain", text), ("html", html)):
        parts += [
            marker,
            f'Content-Type: text/{subtype}; charset="utf-8"\r\n'.encode("ascii"),
            b"Content-Transfer-Encoding: quoted-printable\r\n\r\n",
            _quoted_printable(body),
            b"\r\n",  # the line break before a boundary belongs to the boundary (RFC 2046)
        ]
    parts.append(f"--{boundary}--\r\n".encode("ascii"))
    return b"".join(parts)


def _quoted_printable(body: str) -> bytes:
    """UTF-8 quoted-printable, CRLF line ends, soft breaks at 76 characters; ends with a line end."""
    lines = body.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    if lines[-1] == "":
        lines.pop()
    return binascii.b2a_qp(("\r\n".join(lines) + "\r\n").encode("utf-8"), quotetabs=False, istext=True)


def _address(value: str) -> str:
    if "\r" in value or "\n" in value or "," in value:
        raise ValueError(f"not a single email address: {value!r}")
    return value.strip()


def preload_email_context(session: Session, messages: list[OutboxMessage]) -> list[Any]:
    """Load the orders (with lines), channels and customers a batch of emails shows, in three queries, so
    rendering each email finds them in the session. Keep the returned list while rendering: the session
    holds its objects weakly."""
    order_ids = {m.payload.get("order_id") for m in messages if m.payload} - {None}
    if not order_ids:
        return []
    orders = list(
        session.scalars(select(Order).where(Order.id.in_(order_ids)).options(selectinload(Order.lines)))
    )
    channel_ids = {order.channel_id for order in orders}
    customer_ids = {order.customer_id for order in orders if order.customer_id is not None}
    channels = list(session.scalars(select(Channel).where(Channel.id.in_(channel_ids))))
    customers = (
        list(session.scalars(select(Customer).where(Customer.id.in_(customer_ids)))) if customer_ids else []
    )
    return [*orders, *channels, *customers]


def email_context(
    session: Session, message: OutboxMessage, *, portal_base_url: str, secret: str, tz: tzinfo = UTC
) -> dict[str, Any]:
    """Everything a template shows, computed here so templates only lay it out."""
    payload = message.payload or {}
    base = portal_base_url.rstrip("/")
    context: dict[str, Any] = {
        "kind": message.kind,
        "subject": message.subject,
        "portal_link": base + "/",
        "help_link": f"{base}/help",
        "support_link": f"{base}/support",
        "order": None,
        "channel_name": None,
        "sender_name": "Crossdock",
        "greeting_name": None,
        "tracking_link": None,
        "unsubscribe_link": None,
        "optional_label": OPTIONAL_LABELS.get(message.kind),
        "reply_by_email": message.kind == "conversation_reply",
    }
    if message.kind in ACCOUNT_KINDS:
        return context | _account_view(session, message.kind, payload, base, secret)
    if message.kind == "dropship_po":
        return context | _purchase_order_view(session, payload, tz)
    if message.kind == "low_stock_digest":
        digest = low_stock_digest(session, now=datetime.now(UTC))
        return context | {"digest": digest, "console_link": base + "/console/alerts"}
    if message.kind == "analytics_digest":
        return context | _analytics_digest_view(payload, base)
    if message.kind == "csat_request":
        return context | _survey_view(session, payload, base, secret)
    order = _get(session, Order, payload.get("order_id")) if payload.get("order_id") else None
    customer: Customer | None = None
    if order is not None:
        channel = _get(session, Channel, order.channel_id)
        customer = session.get(Customer, order.customer_id) if order.customer_id else None
        context |= {
            "order": _order_view(order, tz),
            "channel_name": channel.name,
            "sender_name": channel.sender_name or channel.name,
            "greeting_name": _first_name(order.buyer_name or (customer.name if customer else "")),
            "tracking_link": f"{base}/track/{make_tracking_token(secret, order.id)}",
            "return_instructions": channel.return_instructions or DEFAULT_RETURN_INSTRUCTIONS,
        }
    if message.kind in OPTIONAL_KINDS and customer is not None:
        token = make_unsubscribe_token(secret, customer.id, message.kind)
        context["unsubscribe_link"] = f"{base}/unsubscribe/{token}"

    if message.kind == "guest_code" and order is not None:
        context["code"] = guest_code(secret, order.id, int(payload["window"]))
        context["action_link"] = f"{base}/track-code?reference={order.number}"
    if payload.get("shipment_id"):
        context["shipment"] = _shipment_view(session, _get(session, Shipment, payload["shipment_id"]), tz)
    if message.kind == "shipment_delivered":
        context |= {
            "delivered_on": format_day(_parse(payload.get("delivered_at")), tz),
            "returns_by_channel": bool(payload.get("returns_by_channel")),
            "return_by": format_day(_parse(payload.get("return_by")), tz),
        }
    elif message.kind == "shipment_delayed":
        context |= {
            "previous_estimate": format_day(_parse(payload.get("previous_estimate")), tz),
            "new_estimate": format_day(date.fromisoformat(payload["new_estimate"])),
        }
    elif message.kind == "warehouse_delay":
        new_delivery = payload.get("new_delivery")
        context |= {
            "new_dispatch": format_day(date.fromisoformat(payload["new_dispatch"])),
            "new_delivery": format_day(date.fromisoformat(new_delivery)) if new_delivery else None,
        }
    elif message.kind == "shipment_exception":
        context["problem"] = _event_view(session, payload, PROBLEM_STATUSES)
    elif message.kind == "shipment_available_for_pickup":
        context["pickup"] = _event_view(session, payload, ("available_for_pickup",))
    elif message.kind.startswith("return_"):
        context["rma"] = _return_view(session, _get(session, ReturnRequest, payload["return_id"]))
        if payload.get("refund_id"):
            refund = _get(session, Refund, payload["refund_id"])
            context["refund"] = {
                "amount": format_money(refund.amount + refund.shipping_amount, refund.currency),
                "to_store_credit": refund.method == "store_credit",
            }
    elif message.kind == "order_refunded":
        refund = _get(session, Refund, payload["refund_id"])
        context["refund"] = {
            "amount": format_money(refund.amount + refund.shipping_amount, refund.currency),
            "shipping": format_money(refund.shipping_amount, refund.currency)
            if refund.shipping_amount
            else None,
            "reason": refund.reason,
            "to_store_credit": refund.method == "store_credit",
        }
    elif message.kind == "conversation_reply":
        conversation = _get(session, Conversation, payload["conversation_id"])
        reply = _get(session, Message, payload["message_id"])
        if customer is None and conversation.customer_id:
            customer = session.get(Customer, conversation.customer_id)
        context |= {
            "conversation_subject": conversation.subject or "your question",
            "reply": reply.body,
            "thread_link": f"{base}/support/c/{make_thread_token(secret, conversation.id)}",
            "greeting_name": context["greeting_name"] or _first_name(customer.name if customer else ""),
        }
    return context


def _survey_view(session: Session, payload: dict[str, Any], base: str, secret: str) -> dict[str, Any]:
    """The satisfaction survey: the conversation it is about and a rating link for each score (the page
    they open asks again before saving, so a mail scanner following links rates nothing)."""
    conversation = _get(session, Conversation, payload["conversation_id"])
    customer = session.get(Customer, conversation.customer_id) if conversation.customer_id else None
    order = session.get(Order, conversation.order_id) if conversation.order_id else None
    channel = session.get(Channel, order.channel_id) if order is not None else None
    link = f"{base}/support/rate/{make_rating_token(secret, payload['rating_id'])}"
    name = (customer.name if customer else "") or (order.buyer_name if order else "") or ""
    return {
        "conversation_subject": conversation.subject or "your question",
        "rating_link": link,
        "score_links": [(score, f"{link}?score={score}") for score in range(1, 6)],
        "greeting_name": _first_name(name),
        "sender_name": (channel.sender_name or channel.name) if channel is not None else "Crossdock",
    }


def _get(session: Session, model: type, ident: Any) -> Any:
    row = session.get(model, ident)
    if row is None:
        raise NotFound(f"{model.__name__} {ident} no longer exists")
    return row


def _parse(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def _first_name(name: str) -> str | None:
    parts = name.split()
    return parts[0] if parts else None


def _order_view(order: Order, tz: tzinfo) -> dict[str, Any]:
    return {
        "number": order.number,
        "placed_on": format_day(order.placed_at, tz),
        "lines": [
            {
                "title": line.title,
                "quantity": line.quantity,
                "total": format_money(line.total, order.currency),
            }
            for line in order.lines
        ],
        "total": format_money(order.total, order.currency),
    }


def _estimate_text(shipment: Shipment, tz: tzinfo) -> str | None:
    start, end = format_day(shipment.estimated_from, tz), format_day(shipment.estimated_to, tz)
    if end is None:
        return None
    if start is None or start == end:
        return end
    return f"between {start} and {end}"


def _shipment_view(session: Session, shipment: Shipment, tz: tzinfo) -> dict[str, Any]:
    rows = session.execute(
        select(OrderLine.title, ShipmentLine.quantity)
        .join(ShipmentLine, ShipmentLine.order_line_id == OrderLine.id)
        .where(ShipmentLine.shipment_id == shipment.id)
        .order_by(OrderLine.line_no)
    ).all()
    ordered = session.execute(
        select(OrderLine.title, OrderLine.quantity)
        .where(OrderLine.order_id == shipment.order_id)
        .order_by(OrderLine.line_no)
    ).all()
    partial = bool(rows) and sum(q for _, q in rows) < sum(q for _, q in ordered)
    if not rows:  # a parcel recorded without its lines: it carries the order
        rows = ordered
    return {
        "partial": partial,
        "carrier": shipment.carrier or "the carrier",
        "tracking_number": shipment.tracking_number,
        "carrier_link": carrier_link(shipment),
        "estimate": _estimate_text(shipment, tz),
        "contents": [{"title": title, "quantity": quantity} for title, quantity in rows],
    }


def _event_view(session: Session, payload: dict[str, Any], statuses: tuple[str, ...]) -> dict[str, Any]:
    """The carrier event behind the email (by id, else the shipment's latest with one of `statuses`)."""
    event: TrackingEvent | None = None
    if payload.get("event_id"):
        event = session.get(TrackingEvent, payload["event_id"])
    if event is None:
        event = session.scalars(
            select(TrackingEvent)
            .where(TrackingEvent.shipment_id == payload["shipment_id"], TrackingEvent.status.in_(statuses))
            .order_by(TrackingEvent.occurred_at.desc(), TrackingEvent.id.desc())
            .limit(1)
        ).first()
    status = event.status if event is not None else payload.get("status")
    return {
        "failed_attempt": status == "failed_attempt",
        "returned": status == "returned_to_sender",
        "description": (event.description or event.carrier_status) if event is not None else None,
        "location": event.location if event is not None else None,
    }


def _account_view(
    session: Session, kind: str, payload: dict[str, Any], base: str, secret: str
) -> dict[str, Any]:
    user = _get(session, User, payload["user_id"])
    if kind == "account_verify":
        link, valid_for = f"{base}/verify/{make_verify_token(secret, user)}", "3 days"
    elif kind == "staff_invite":
        link, valid_for = f"{base}/console/invite/{make_invite_token(secret, user)}", "7 days, and only once"
    else:
        link, valid_for = f"{base}/password/reset/{make_reset_token(secret, user)}", "one hour, and only once"
    return {"greeting_name": _first_name(user.name), "action_link": link, "valid_for": valid_for}


def _purchase_order_view(session: Session, payload: dict[str, Any], tz: tzinfo) -> dict[str, Any]:
    """A purchase order is frozen in its payload when queued; only the sender's name is read here."""
    order = session.get(Order, payload["order_id"])
    channel = session.get(Channel, order.channel_id) if order is not None else None
    address = payload.get("ship_to") or {}
    place = " ".join(p for p in (address.get("region", ""), address.get("postal_code", "")) if p)
    ship_to = [
        address.get("name", ""),
        address.get("company", ""),
        address.get("line1", ""),
        address.get("line2", ""),
        ", ".join(p for p in (address.get("city", ""), place) if p),
        address.get("country", ""),
        address.get("phone", ""),
    ]
    return {
        "sender_name": (channel.sender_name or channel.name) if channel is not None else "Crossdock",
        "po": {
            "order_number": payload["order_number"],
            "supplier_name": payload["supplier"]["name"],
            "ship_to": [line for line in ship_to if line],
            "lines": payload["lines"],
            "shipping_method": payload.get("shipping_method"),
            "note": payload.get("note"),
            "dispatch_by": format_day(_parse(payload.get("dispatch_by")), tz),
            "confirm_url": payload["confirm_url"],
            "link_expires": format_day(_parse(payload.get("link_expires_at")), tz),
        },
    }


def _return_view(session: Session, rma: ReturnRequest) -> dict[str, Any]:
    rows = session.execute(
        select(OrderLine.title, ReturnLine.quantity, ReturnLine.quantity_received)
        .join(ReturnLine, ReturnLine.order_line_id == OrderLine.id)
        .where(ReturnLine.return_id == rma.id)
        .order_by(ReturnLine.id)
    ).all()
    return {
        "number": rma.rma_number,
        "resolution": rma.resolution,
        "contents": [{"title": t, "quantity": q, "received": r} for t, q, r in rows],
    }


def _analytics_digest_view(payload: dict[str, Any], base: str) -> dict[str, Any]:
    """The trend alerts as queued, each with the link to its tickets in the console queue."""
    alerts = [
        alert
        | {
            "link": f"{base}/console/tickets?"
            + urlencode({"view": "all", "sort": "newest", **alert["queue_params"]})
        }
        for alert in payload.get("alerts", [])
    ]
    return {
        "alerts": alerts,
        "total": payload.get("total", len(alerts)),
        "digest_date": payload.get("date"),
        "console_link": base + "/console/analytics",
    }
