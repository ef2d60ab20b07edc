"""Queueing customer emails in the outbox, in the caller's transaction, at most once per event.

Every notification has a dedup key (`shipment:42:delivered`) that is unique in the outbox, so queueing the
same notification twice, or from two transactions at once, leaves exactly one row. The row holds ids (and
the few facts frozen at event time, such as a new delivery estimate); the email is rendered from the
database when the worker sends it (core.notifications.rendering, core.notifications.smtp).

Essential emails (order, dispatch, delay, problem, backorder, returns, refunds, support replies) always go:
they carry something the customer must know or act on. Optional ones (out for delivery, delivered) are
progress pings the portal shows anyway; a customer can turn them off from the email's unsubscribe link.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core.audit.services import record_audit
from core.customers.models import Customer
from core.errors import DomainError, NotFound
from core.fulfillment.models import Shipment
from core.inventory.alerts import check_low_stock, low_stock_digest
from core.notifications.models import SENDING, SKIPPED, OutboxMessage
from core.orders.models import Order
from core.returns.models import Refund, ReturnRequest
from core.security.guest import code_window
from core.security.models import User
from core.security.permissions import Permission, roles_with
from core.security.roles import Actor
from core.security.tokens import read_unsubscribe_token
from core.support.models import Conversation, Message

EMAIL_KINDS = (
    "order_confirmed",
    "shipment_shipped",
    "shipment_out_for_delivery",
    "shipment_delivered",
    "shipment_delayed",
    "warehouse_delay",
    "shipment_available_for_pickup",
    "shipment_exception",
    "order_backordered",
    "return_approved",
    "return_received",
    "return_refunded",
    "order_cancelled",
    "order_refunded",
    "conversation_reply",
    "csat_request",
    # queued by other areas, rendered here: core.security.accounts and core.fulfillment.dropship
    "account_verify",
    "password_reset",
    "dropship_po",
    "guest_code",
    "low_stock_digest",
    "analytics_digest",
)
OPTIONAL_KINDS = frozenset({"shipment_out_for_delivery", "shipment_delivered"})

# Shipment statuses (core.fulfillment.tracking.ShipmentStatus) -> the email each one sends. Pending, packed
# and info-received (the carrier has label data, not the parcel) are not a handover: they send nothing.
SHIPMENT_STATUS_KINDS = {
    "in_transit": "shipment_shipped",
    "shipped": "shipment_shipped",
    "out_for_delivery": "shipment_out_for_delivery",
    "available_for_pickup": "shipment_available_for_pickup",
    "delivered": "shipment_delivered",
    "failed_attempt": "shipment_exception",
    "exception": "shipment_exception",
    "returned_to_sender": "shipment_exception",
}
# A carrier event older than this is history being back-filled (an import, a late sync): no email.
STALE_EVENT_AGE = timedelta(days=3)
# Sent emails are kept this long for support ("did they get the email?"), then deleted.
SENT_EMAIL_RETENTION = timedelta(days=90)

_MAX_MERGE_HOPS = 10


def queue_email(
    session: Session,
    kind: str,
    dedup_key: str,
    recipient: str,
    context_ids: dict[str, Any],
    *,
    now: datetime,
    subject: str = "",
) -> OutboxMessage | None:
    """Insert an email into the outbox unless its dedup key is already there; the row, or None.

    The insert runs in a SAVEPOINT: when a concurrent transaction inserted the same key first, the unique
    constraint refuses ours, only the savepoint is rolled back, and the caller's transaction carries on.
    `context_ids` must be JSON-safe: ids, plus facts that must not change after the event (ISO dates).
    """
    if kind not in EMAIL_KINDS:
        raise ValueError(f"unknown email kind {kind!r}")
    if session.scalar(select(OutboxMessage.id).where(OutboxMessage.dedup_key == dedup_key)) is not None:
        return None
    row = OutboxMessage(
        kind=kind,
        transport="email",
        dedup_key=dedup_key,
        recipient=recipient,
        subject=subject,
        payload=dict(context_ids),
        status="pending",
        attempts=0,
        next_attempt_at=now,
        created_at=now,
    )
    try:
        with session.begin_nested():
            session.add(row)
    except IntegrityError:
        return None
    return row


def wants_email(customer: Customer | None, kind: str) -> bool:
    """False only for an optional kind the customer turned off (one kind, or all optional emails)."""
    if kind not in OPTIONAL_KINDS or customer is None:
        return True
    prefs = customer.notification_prefs or {}
    if prefs.get("email") is False:
        return False
    return kind not in prefs.get("email_opt_out", [])


def _customer(session: Session, customer_id: int | None) -> Customer | None:
    """The customer, followed through merges to the one that is kept."""
    customer = session.get(Customer, customer_id) if customer_id is not None else None
    for _ in range(_MAX_MERGE_HOPS):
        if customer is None or customer.merged_into_id is None:
            break
        customer = session.get(Customer, customer.merged_into_id)
    return customer


def _queue_for_order(
    session: Session,
    order: Order,
    kind: str,
    dedup_key: str,
    subject: str,
    context: dict[str, Any],
    *,
    now: datetime,
) -> OutboxMessage | None:
    customer = _customer(session, order.customer_id)
    recipient = order.email or (customer.email if customer is not None else None)
    if not recipient or not wants_email(customer, kind):
        return None
    return queue_email(
        session, kind, dedup_key, recipient, {"order_id": order.id} | context, now=now, subject=subject
    )


def _order(session: Session, order_id: int) -> Order:
    order = session.get(Order, order_id)
    if order is None:
        raise NotFound(f"order {order_id} not found")
    return order


def queue_order_confirmed(session: Session, order: Order, *, now: datetime) -> OutboxMessage | None:
    """'Order confirmed', once per order (the same row core.orders.intake writes)."""
    return _queue_for_order(
        session,
        order,
        "order_confirmed",
        f"order:{order.id}:confirmed",
        f"Your order {order.number} is confirmed",
        {},
        now=now,
    )


def queue_order_backordered(session: Session, order: Order, *, now: datetime) -> OutboxMessage | None:
    """'Waiting for stock', once per order."""
    return _queue_for_order(
        session,
        order,
        "order_backordered",
        f"order:{order.id}:backordered",
        f"Your order {order.number} is waiting for stock",
        {},
        now=now,
    )


def queue_warehouse_delay(
    session: Session,
    order: Order,
    *,
    new_dispatch: date,
    new_delivery: date | None,
    now: datetime,
) -> OutboxMessage | None:
    """'Your order is late leaving us', once per order, with the new dispatch (and delivery) estimate."""
    return _queue_for_order(
        session,
        order,
        "warehouse_delay",
        f"order:{order.id}:warehouse_delay",
        f"Your order {order.number} is taking longer to leave our warehouse",
        {
            "new_dispatch": new_dispatch.isoformat(),
            "new_delivery": new_delivery.isoformat() if new_delivery else None,
        },
        now=now,
    )


def _shipment_context(shipment: Shipment) -> dict[str, Any]:
    return {"shipment_id": shipment.id}


def queue_shipment_shipped(session: Session, shipment: Shipment, *, now: datetime) -> OutboxMessage | None:
    """'On its way' with carrier and tracking number, once per shipment; nothing without a tracking number."""
    if not shipment.tracking_number:
        return None
    order = _order(session, shipment.order_id)
    return _queue_for_order(
        session,
        order,
        "shipment_shipped",
        f"shipment:{shipment.id}:shipped",
        f"Your order {order.number} is on its way",
        _shipment_context(shipment),
        now=now,
    )


def queue_shipment_out_for_delivery(
    session: Session, shipment: Shipment, *, now: datetime
) -> OutboxMessage | None:
    """'Out for delivery today' (optional), once per shipment."""
    order = _order(session, shipment.order_id)
    return _queue_for_order(
        session,
        order,
        "shipment_out_for_delivery",
        f"shipment:{shipment.id}:out_for_delivery",
        f"Your order {order.number} is out for delivery",
        _shipment_context(shipment),
        now=now,
    )


def queue_shipment_delivered(session: Session, shipment: Shipment, *, now: datetime) -> OutboxMessage | None:
    """'Delivered' (optional) with the last day of the channel's return window, once per shipment."""
    order = _order(session, shipment.order_id)
    delivered_at = shipment.delivered_at or now
    channel = order.channel
    context = _shipment_context(shipment) | {
        "delivered_at": delivered_at.isoformat(),
        "returns_by_channel": channel.returns_handled_by_channel,
        "return_by": (delivered_at + timedelta(days=channel.return_window_days)).isoformat(),
    }
    return _queue_for_order(
        session,
        order,
        "shipment_delivered",
        f"shipment:{shipment.id}:delivered",
        f"Your order {order.number} has been delivered",
        context,
        now=now,
    )


def queue_shipment_delayed(
    session: Session, shipment: Shipment, *, new_estimate: date, now: datetime
) -> OutboxMessage | None:
    """'Running late' with the new estimate: once per shipment, whatever happens to the estimate later."""
    order = _order(session, shipment.order_id)
    previous = shipment.first_estimated_to or shipment.estimated_to
    context = _shipment_context(shipment) | {
        "previous_estimate": previous.isoformat() if previous else None,
        "new_estimate": new_estimate.isoformat(),
    }
    return _queue_for_order(
        session,
        order,
        "shipment_delayed",
        f"shipment:{shipment.id}:delayed",
        f"Your order {order.number} is running late",
        context,
        now=now,
    )


def queue_shipment_exception(
    session: Session, shipment: Shipment, *, now: datetime, event_id: int | None = None
) -> OutboxMessage | None:
    """'A problem with your delivery' (failed attempt, carrier exception): once per tracking event when the
    event id is given, else once per shipment."""
    order = _order(session, shipment.order_id)
    suffix = f":{event_id}" if event_id is not None else ""
    return _queue_for_order(
        session,
        order,
        "shipment_exception",
        f"shipment:{shipment.id}:exception{suffix}",
        f"A problem with the delivery of your order {order.number}",
        _shipment_context(shipment) | {"status": shipment.status, "event_id": event_id},
        now=now,
    )


def queue_shipment_available_for_pickup(
    session: Session, shipment: Shipment, *, now: datetime, event_id: int | None = None
) -> OutboxMessage | None:
    """'Waiting for you at a pickup point' (the customer must collect it), once per shipment."""
    order = _order(session, shipment.order_id)
    return _queue_for_order(
        session,
        order,
        "shipment_available_for_pickup",
        f"shipment:{shipment.id}:available_for_pickup",
        f"Your order {order.number} is ready to collect",
        _shipment_context(shipment) | {"event_id": event_id},
        now=now,
    )


def notify_shipment_status(
    session: Session,
    shipment: Shipment,
    new_status: str,
    *,
    now: datetime,
    event_id: int | None = None,
    occurred_at: datetime | None = None,
) -> OutboxMessage | None:
    """Queue the email a carrier status change calls for, at most once per status; the row, or None.

    Call it in the transaction that records the carrier event, after updating the shipment. Nothing is sent
    for statuses without an email, for orders the channel fulfils (the channel writes to its buyers), or
    for events older than STALE_EVENT_AGE (history arriving late must not mail the customer).
    """
    kind = SHIPMENT_STATUS_KINDS.get(new_status)
    if kind is None:
        return None
    if occurred_at is not None and now - occurred_at > STALE_EVENT_AGE:
        return None
    if _order(session, shipment.order_id).fulfilled_by_channel:
        return None
    if kind == "shipment_shipped":
        return queue_shipment_shipped(session, shipment, now=now)
    if kind == "shipment_out_for_delivery":
        return queue_shipment_out_for_delivery(session, shipment, now=now)
    if kind == "shipment_delivered":
        return queue_shipment_delivered(session, shipment, now=now)
    if kind == "shipment_available_for_pickup":
        return queue_shipment_available_for_pickup(session, shipment, now=now, event_id=event_id)
    return queue_shipment_exception(session, shipment, now=now, event_id=event_id)


def _return_subject(kind: str, rma: ReturnRequest) -> str:
    return {
        "return_approved": f"Your return {rma.rma_number} is approved",
        "return_received": f"We received your return {rma.rma_number}",
        "return_refunded": f"Your refund for return {rma.rma_number}",
    }[kind]


def queue_return_approved(session: Session, rma: ReturnRequest, *, now: datetime) -> OutboxMessage | None:
    """'Return approved' with the RMA number and how to send the items back, once per return."""
    order = _order(session, rma.order_id)
    return _queue_for_order(
        session,
        order,
        "return_approved",
        f"return:{rma.id}:approved",
        _return_subject("return_approved", rma),
        {"return_id": rma.id},
        now=now,
    )


def queue_return_received(session: Session, rma: ReturnRequest, *, now: datetime) -> OutboxMessage | None:
    """'We received your return', once per return."""
    order = _order(session, rma.order_id)
    return _queue_for_order(
        session,
        order,
        "return_received",
        f"return:{rma.id}:received",
        _return_subject("return_received", rma),
        {"return_id": rma.id},
        now=now,
    )


def queue_return_refunded(
    session: Session, rma: ReturnRequest, refund: Refund, *, now: datetime
) -> OutboxMessage | None:
    """'Your refund is on its way' with the amount, once per refund of a return."""
    order = _order(session, rma.order_id)
    return _queue_for_order(
        session,
        order,
        "return_refunded",
        f"return:{rma.id}:refunded:{refund.id}",
        _return_subject("return_refunded", rma),
        {"return_id": rma.id, "refund_id": refund.id},
        now=now,
    )


def queue_order_cancelled(session: Session, order: Order, *, now: datetime) -> OutboxMessage | None:
    """'Your order is cancelled', once per order."""
    return _queue_for_order(
        session,
        order,
        "order_cancelled",
        f"order:{order.id}:cancelled",
        f"Your order {order.number} is cancelled",
        {},
        now=now,
    )


def queue_order_refunded(
    session: Session, order: Order, refund: Refund, *, now: datetime
) -> OutboxMessage | None:
    """'We refunded you' with the amount and what it was for, once per refund made by staff on an order."""
    return _queue_for_order(
        session,
        order,
        "order_refunded",
        f"order:{order.id}:refund:{refund.id}",
        f"Your refund for order {order.number}",
        {"refund_id": refund.id},
        now=now,
    )


def queue_conversation_reply(session: Session, message: Message, *, now: datetime) -> OutboxMessage | None:
    """'We replied to your question', once per agent reply; internal notes and other authors send nothing."""
    if message.author_kind != "agent" or message.internal:
        return None
    conversation = session.get(Conversation, message.conversation_id)
    if conversation is None:
        raise NotFound(f"conversation {message.conversation_id} not found")
    recipient = conversation_recipient(session, conversation)
    if not recipient:
        return None
    about = conversation.subject or "your question"
    return queue_email(
        session,
        "conversation_reply",
        f"message:{message.id}:reply",
        recipient,
        {"conversation_id": conversation.id, "message_id": message.id, "order_id": conversation.order_id},
        now=now,
        subject=f"Re: {about}",
    )


def conversation_recipient(session: Session, conversation: Conversation) -> str | None:
    """Where emails about a conversation go: the customer's address, else (a guest who wrote about an
    order has none of their own) the order's; None when there is neither."""
    customer = _customer(session, conversation.customer_id)
    order = session.get(Order, conversation.order_id) if conversation.order_id is not None else None
    return (customer.email if customer is not None else None) or (order.email if order else None)


def queue_satisfaction_survey(
    session: Session, conversation: Conversation, rating_id: int, *, now: datetime
) -> OutboxMessage | None:
    """'How did we do?' with a signed link to rate the answer, once per survey; None without an address."""
    recipient = conversation_recipient(session, conversation)
    if not recipient:
        return None
    return queue_email(
        session,
        "csat_request",
        f"rating:{rating_id}:survey",
        recipient,
        {"conversation_id": conversation.id, "rating_id": rating_id},
        now=now,
        subject=f"How did we do? {conversation.subject or 'Your question'}",
    )


def unsubscribe_customer(session: Session, secret: str, token: str, *, now: datetime) -> tuple[Customer, str]:
    """Turn off the optional email kind an unsubscribe link names; (customer, kind). InvalidToken when the
    link is forged or expired; unsubscribing twice changes nothing."""
    customer_id, kind = read_unsubscribe_token(secret, token)
    if kind not in OPTIONAL_KINDS:
        raise DomainError("this email cannot be turned off")
    customer = _customer(session, customer_id)
    if customer is None:
        raise NotFound("this link is not valid")
    prefs = dict(customer.notification_prefs or {})
    opted_out = set(prefs.get("email_opt_out", []))
    if kind not in opted_out:
        prefs["email_opt_out"] = sorted(opted_out | {kind})
        prefs["email_opt_out_at"] = now.isoformat()
        customer.notification_prefs = prefs
    return customer, kind


def retry_outbox_message(session: Session, message_id: int, *, actor: Actor, now: datetime) -> OutboxMessage:
    """Put a failed or skipped message back in the queue for the next dispatch (attempts start again;
    audited)."""
    row = session.get(OutboxMessage, message_id, with_for_update=True)
    if row is None:
        raise NotFound(f"outbox message {message_id} not found")
    if row.status not in ("failed", SKIPPED):
        raise DomainError(
            f"outbox message {message_id} is {row.status}, only a failed or skipped message can be retried"
        )
    before = {"status": row.status, "attempts": row.attempts}
    row.status = "pending"
    row.attempts = 0
    row.next_attempt_at = now
    record_audit(
        session,
        actor,
        "outbox.retry",
        "outbox_message",
        row.id,
        now=now,
        before=before,
        after={"status": row.status, "kind": row.kind, "recipient": row.recipient},
    )
    return row


def outbox_counts(session: Session) -> dict[str, Any]:
    """Messages per status, and per kind and status: {"pending", "sent", "failed", "skipped", "by_kind"}. The
    totals count a channel push being sent right now (`sending`) as pending: not delivered yet."""
    counts: dict[str, Any] = {"pending": 0, "sent": 0, "failed": 0, SKIPPED: 0, "by_kind": {}}
    rows = session.execute(
        select(OutboxMessage.kind, OutboxMessage.status, func.count())
        .group_by(OutboxMessage.kind, OutboxMessage.status)
        .order_by(OutboxMessage.kind, OutboxMessage.status)
    )
    for kind, status, n in rows:
        total = "pending" if status == SENDING else status
        counts[total] = counts.get(total, 0) + n
        counts["by_kind"].setdefault(kind, {})[status] = n
    return counts


def outbox_messages(
    session: Session, *, status: str | None = None, kind: str | None = None, limit: int = 100
) -> list[OutboxMessage]:
    """The newest outbox messages, optionally of one status and kind (the console's failed-mail list)."""
    query = (
        select(OutboxMessage).order_by(OutboxMessage.created_at.desc(), OutboxMessage.id.desc()).limit(limit)
    )
    if status is not None:
        query = query.where(OutboxMessage.status == status)
    if kind is not None:
        query = query.where(OutboxMessage.kind == kind)
    return list(session.scalars(query))


def delete_old_sent_emails(session: Session, *, now: datetime, limit: int = 5000) -> int:
    """Delete up to `limit` emails sent more than SENT_EMAIL_RETENTION ago; failed and pending ones stay."""
    ids = select(OutboxMessage.id).where(
        OutboxMessage.transport == "email",
        OutboxMessage.status == "sent",
        OutboxMessage.sent_at < now - SENT_EMAIL_RETENTION,
    )
    doomed = list(session.scalars(ids.order_by(OutboxMessage.id).limit(limit)))
    if doomed:
        session.execute(delete(OutboxMessage).where(OutboxMessage.id.in_(doomed)))
    return len(doomed)


def data_retention_job(session: Session, now: datetime) -> dict[str, int]:
    """Daily: delete sent emails past SENT_EMAIL_RETENTION. Failed and pending rows, and everything else
    (orders, inbound payloads, channel pushes), are kept: their retention is decided by their own areas."""
    return {"sent_emails_deleted": delete_old_sent_emails(session, now=now)}


def queue_guest_code(session: Session, order: Order, *, now: datetime) -> OutboxMessage | None:
    """Email the order's one-time access code to the address the order was placed with (once per window)."""
    if not order.email:
        return None
    window = code_window(now)
    return queue_email(
        session,
        "guest_code",
        f"guest_code:{order.id}:{window}",
        order.email,
        {"order_id": order.id, "window": window},
        now=now,
        subject=f"Your code for order {order.number}",
    )


def queue_low_stock_digest(session: Session, *, now: datetime) -> list[OutboxMessage]:
    """The daily low-stock digest to every active staff member whose role manages stock (managers, admins,
    custom roles), once a day each; nothing when all is well."""
    if low_stock_digest(session, now=now).is_empty:
        return []
    day = now.date().isoformat()
    managers = session.scalars(
        select(User)
        .where(User.role.in_(roles_with(session, Permission.MANAGE_STOCK)), User.active.is_(True))
        .order_by(User.id)
    ).all()
    queued = []
    for user in managers:
        row = queue_email(
            session,
            "low_stock_digest",
            f"low_stock_digest:{day}:{user.id}",
            user.email,
            {"date": day},
            now=now,
            subject=f"Low stock {day}",
        )
        if row is not None:
            queued.append(row)
    return queued


def low_stock_digest_job(session: Session, now: datetime) -> dict[str, int]:
    """Daily: refresh the low-stock alerts, then email managers the digest."""
    check = check_low_stock(session, None, now=now)
    queued = queue_low_stock_digest(session, now=now)
    return {"opened": len(check.opened), "resolved": len(check.resolved), "digests": len(queued)}
