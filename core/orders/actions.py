"""Staff actions on one order, from a ticket or the console order page: cancel it, change where it ships,
send a customer email again, fix what holds it (map its channel SKU, set its currency) or release it from
hold after a check, open a return for the customer, and send replacement
items as a new order (refunds are in core.returns.refunds). Each takes the actor and the time, checks the
order's state, and records its own audit entry and timeline entry; emails and channel pushes go through the
outbox, never from here.

Lock order as everywhere else: the order row, then its lines.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.audit.services import record_audit
from core.channels.base import INCOMPLETE_ADDRESS, MISSING_ADDRESS, is_iso_currency, is_payload_gap
from core.channels.countries import to_alpha2
from core.channels.registry import hook
from core.errors import DomainError, NotFound
from core.fulfillment.models import Shipment
from core.fulfillment.status import OPEN_SHIPMENT_STATUSES
from core.inventory.allocations import allocate_order, release_order
from core.notifications.models import OutboxMessage
from core.notifications.services import queue_order_cancelled, queue_order_confirmed
from core.orders import events
from core.orders.intake import map_channel_sku
from core.orders.models import REPLACEMENT_SOURCE, Order, OrderLine
from core.orders.seller_steps import CANCEL_HOOK
from core.orders.services import change_order_status, format_order_number
from core.orders.status import CANCELLABLE_STATUSES, OrderStatus
from core.orders.upsert import UNMAPPED_PREFIX, allocate_if_ready, recheck_hold
from core.returns.models import ReturnRequest
from core.returns.services import approve_return, lock_order, request_return, require_staff
from core.security.permissions import Permission, require_permission
from core.security.roles import Actor
from core.support.models import Conversation, Message

ADDRESS_FIELDS = ("name", "line1", "line2", "city", "region", "postal_code", "country")
REQUIRED_ADDRESS_FIELDS = {
    "name": "a name",
    "line1": "a street line",
    "city": "a city",
    "country": "a country",
}
ADDRESS_FIELD_MAX = 200
ASSISTANT_ROLE = "assistant"  # core.support.chat's actor, acting for the customer in the chat
NOTE_MAX = 1000
# Statuses in which the parcel has not left us: the address may change, the order may be cancelled.
NOT_SHIPPED = frozenset(
    {OrderStatus.PENDING, OrderStatus.ON_HOLD, OrderStatus.BACKORDERED, OrderStatus.CONFIRMED}
)


def _clean_text(value: str | None, what: str, limit: int) -> str:
    text = (value or "").strip()
    if len(text) > limit:
        raise DomainError(f"the {what} is too long (at most {limit} characters)")
    return text


def is_address_warning(warning: str) -> bool:
    """True for a hold warning that editing the address fixes (missing, incomplete, unknown country)."""
    return warning in (MISSING_ADDRESS, INCOMPLETE_ADDRESS) or warning.startswith("unknown country")


def channel_takes_cancellations(kind: str) -> bool:
    """Whether the channel's adapter can be told that an order was cancelled (an optional hook)."""
    return hook(kind, CANCEL_HOOK) is not None


def not_shipped_problem(session: Session, order: Order) -> str | None:
    """Why the order has left us (or is about to, packed for the carrier), or None while it has not."""
    if order.status not in NOT_SHIPPED:
        return f"the order is {order.status.replace('_', ' ')}"
    if any(line.quantity_shipped for line in order.lines):
        return "part of the order has shipped"
    parcels = session.scalars(select(Shipment.status).where(Shipment.order_id == order.id)).all()
    if any(status not in OPEN_SHIPMENT_STATUSES for status in parcels):
        return "a parcel is with the carrier"
    if parcels:
        return "a parcel is already packed: unpack it first"
    return None


def cancel_problem(session: Session, order: Order) -> str | None:
    """Why the order can't be cancelled now (said to staff), or None when it can."""
    if order.status == OrderStatus.CANCELLED:
        return "it is already cancelled"
    if order.fulfilled_by_channel and order.status != OrderStatus.ON_HOLD:
        return f"{order.channel.name} fulfils it: cancel it in {order.channel.name}"
    problem = not_shipped_problem(session, order)
    if problem is None and order.status not in CANCELLABLE_STATUSES:
        problem = f"the order is {order.status.replace('_', ' ')}"
    return f"{problem}: create a return instead" if problem else None


def cancel_order(session: Session, order_id: int, *, reason: str, actor: Actor, now: datetime) -> Order:
    """Cancel an order that has not shipped: release its reserved stock (stock pushes are queued for the
    channels), mark every unit cancelled, move it to cancelled, email the customer, and solve the customer's
    open cancellation requests for it. The channel's own copy is cancelled by hand there unless its adapter
    takes cancellations (core.orders.seller_steps lists the steps). Audited; on the customer's timeline."""
    require_staff(actor)
    reason = _clean_text(reason, "reason", NOTE_MAX) or "cancelled at the customer's request"
    order, lines = lock_order(session, order_id)
    problem = cancel_problem(session, order)
    if problem:
        raise DomainError(f"order {order.number} can't be cancelled: {problem}")
    previous = order.status
    release_order(session, order, actor=actor.label, now=now, why=f"order cancelled by {actor.label}")
    for line in lines.values():
        line.quantity_cancelled = line.quantity - line.quantity_shipped
    order.hold_reason = None
    change_order_status(
        session, order, OrderStatus.CANCELLED, actor=actor.label, now=now, why=f"Cancelled: {reason}"
    )
    told = channel_takes_cancellations(order.channel.kind)
    solved = _solve_cancellation_requests(session, order, actor=actor, now=now)
    record_audit(
        session,
        actor,
        "order.cancel",
        "order",
        order.id,
        now=now,
        before={"status": previous},
        after={"status": order.status, "reason": reason, "channel_told": told, "requests_solved": solved},
    )
    queue_order_cancelled(session, order, now=now)
    return order


def _solve_cancellation_requests(session: Session, order: Order, *, actor: Actor, now: datetime) -> list[int]:
    """Mark the customer's open 'cancel' tickets for the order solved, saying so in each thread."""
    requests = session.scalars(
        select(Conversation).where(
            Conversation.order_id == order.id,
            Conversation.category == "cancel",
            Conversation.status.in_(("open", "pending")),
        )
    ).all()
    for conversation in requests:
        conversation.status = "solved"
        conversation.solved_at = now
        conversation.updated_at = now
        session.add(
            Message(
                conversation_id=conversation.id,
                author_kind="system",
                body=f"Order {order.number} was cancelled",
                data={"actor": actor.label},
                created_at=now,
            )
        )
    return [conversation.id for conversation in requests]


def cancellation_request(session: Session, order_id: int) -> Conversation | None:
    """The customer's latest request to cancel the order (a 'cancel' ticket), if any."""
    return session.scalars(
        select(Conversation)
        .where(Conversation.order_id == order_id, Conversation.category == "cancel")
        .order_by(Conversation.created_at.desc(), Conversation.id.desc())
        .limit(1)
    ).first()


def cancellation_state(order: Order, request: Conversation | None) -> str | None:
    """Where the customer's cancellation request stands: 'requested' (our team is on it), 'cancelled', or
    'declined' (the ticket was answered and closed without cancelling); None when they never asked."""
    if request is None:
        return None
    if order.status == OrderStatus.CANCELLED:
        return "cancelled"
    return "requested" if request.status in ("open", "pending") else "declined"


def _clean_address(address: Mapping[str, Any], previous: Mapping[str, Any] | None) -> dict[str, Any]:
    """The new address, checked: required fields present, lengths capped, the country as ISO alpha-2."""
    cleaned: dict[str, Any] = dict(previous or {})
    for field in ADDRESS_FIELDS:
        cleaned[field] = (
            _clean_text(str(address.get(field) or ""), field.replace("_", " "), ADDRESS_FIELD_MAX) or None
        )
    missing = [words for field, words in REQUIRED_ADDRESS_FIELDS.items() if not cleaned[field]]
    if missing:
        raise DomainError(f"the address needs {', '.join(missing)}")
    country = to_alpha2(cleaned["country"])
    if country is None:
        raise DomainError(
            f"unknown country {cleaned['country']!r}: use a country name or its two-letter code"
        )
    cleaned["country"] = country
    return cleaned


def change_shipping_address(
    session: Session, order_id: int, address: Mapping[str, Any], *, actor: Actor, now: datetime
) -> Order:
    """Change where an order not yet shipped (nor packed) goes. An order held for its address (missing,
    incomplete, unknown country) is released when nothing else holds it, and allocated if paid. Audited
    with the old and new address; on the customer's timeline. Staff, or the chat assistant acting for the
    customer (role "assistant"; the chat checks that the order is theirs and that they confirmed it)."""
    if actor.role != ASSISTANT_ROLE:
        require_staff(actor)
    order, _lines = lock_order(session, order_id)
    if order.fulfilled_by_channel:
        raise DomainError(f"{order.channel.name} ships this order: change the address there")
    problem = not_shipped_problem(session, order)
    if problem:
        raise DomainError(f"{problem}, so the address can't be changed")
    before = dict(order.shipping_address or {})
    order.shipping_address = _clean_address(address, before)
    order.updated_at = now
    new = order.shipping_address
    where = ", ".join(str(new[f]) for f in ("line1", "city", "postal_code", "country") if new.get(f))
    events.record_event(
        session,
        order,
        "address_changed",
        f"Shipping address changed to {where}",
        actor=actor.label,
        now=now,
        data={"before": before, "after": new},
    )
    cleared = [w for w in order.hold_warnings or [] if is_address_warning(w)]
    released = _clear_hold_warnings(session, order, cleared, note="address corrected", actor=actor, now=now)
    record_audit(
        session,
        actor,
        "order.address_change",
        "order",
        order.id,
        now=now,
        before={"shipping_address": before},
        after={"shipping_address": new, "hold_released": released},
    )
    return order


def _clear_hold_warnings(
    session: Session, order: Order, cleared: Sequence[str], *, note: str, actor: Actor, now: datetime
) -> bool:
    """Drop the cleared warnings from a held order, release it when nothing else holds it (allocating a
    paid one); True when released. Who cleared what, and why, goes on the staff timeline."""
    if order.status != OrderStatus.ON_HOLD or not cleared:
        return False
    remaining = [w for w in order.hold_warnings or [] if w not in cleared]
    events.record_event(
        session,
        order,
        "hold_warning_cleared",
        f"Cleared by {actor.label}: {'; '.join(cleared)} ({note})",
        actor=actor.label,
        now=now,
        data={"cleared": list(cleared), "note": note},
    )
    released = recheck_hold(session, order, remaining, now=now, actor=actor.label)
    if released:
        allocate_if_ready(session, order, now=now, actor=actor.label)
    return released


def is_currency_warning(warning: str) -> bool:
    """True for a hold reason that setting the order's currency fixes."""
    return warning.startswith("unknown currency") or "currency unknown" in warning


def hold_kind(warning: str) -> str:
    """How a hold reason is fixed on the order page: 'address' (edit the address), 'currency' (set it),
    'catalog' (map the channel SKU), 'gap' (the channel's full order completes it: it is fetched again, or
    cancel) or 'check' (staff look, then release or cancel: payment, fraud, country, totals ...)."""
    if is_address_warning(warning):
        return "address"
    if is_currency_warning(warning):
        return "currency"
    if is_payload_gap(warning):
        return "gap"
    if UNMAPPED_PREFIX in warning or NO_SKU_WORDS in warning:
        return "catalog"
    return "check"


def hold_problems(order: Order) -> list[tuple[str, str]]:
    """What holds the order, each as (kind, words), kind as hold_kind says."""
    if order.status != OrderStatus.ON_HOLD:
        return []
    warnings = list(order.hold_warnings or [])
    problems = [(hold_kind(w), w) for w in warnings]
    for reason in (order.hold_reason or "").split("; "):
        if reason and reason not in warnings:
            problems.append((hold_kind(reason), reason))
    return problems


def unmapped_channel_skus(order: Order) -> list[str]:
    """The channel SKUs of the order's lines that no listing maps to ours yet, in line order."""
    return list(
        dict.fromkeys(line.channel_sku for line in order.lines if line.channel_sku and not line.sku_id)
    )


def map_held_sku(
    session: Session, order_id: int, channel_sku: str, sku_code: str, *, actor: Actor, now: datetime
) -> Order:
    """Map a channel SKU of a held order to one of our SKUs from the order page: the listing is added
    (audited), every order held for it is rechecked, and this order's timeline says who mapped what. A
    manager's job, as on the Intake page: a listing changes every order of the channel."""
    require_staff(actor)
    require_permission(session, actor, Permission.MANAGE_INTAKE)
    order = session.get(Order, order_id)
    if order is None:
        raise NotFound(f"order {order_id} not found")
    channel_sku = (channel_sku or "").strip()
    if channel_sku not in unmapped_channel_skus(order):
        raise DomainError(f"{channel_sku!r} is not an unmapped SKU of order {order.number}")
    sku_code = _clean_text(sku_code, "SKU", 64)
    if not sku_code:
        raise DomainError("name our SKU to map it to")
    events.record_event(
        session,
        order,
        "hold_warning_cleared",
        f"{actor.label} mapped channel SKU {channel_sku} to {sku_code}",
        actor=actor.label,
        now=now,
        data={"channel_sku": channel_sku, "sku": sku_code},
    )
    try:
        released = map_channel_sku(session, order.channel_id, channel_sku, sku_code, actor=actor, now=now)
    except NotFound as exc:  # our SKU: a bad entry in the form, not a missing page
        raise DomainError(str(exc)) from None
    if order.id in released:
        allocate_if_ready(session, order, now=now, actor=actor.label)
    return order


def set_order_currency(
    session: Session, order_id: int, currency: str, *, note: str, actor: Actor, now: datetime
) -> Order:
    """Set the currency of an order held because the channel gave none or an unknown one, after checking it
    in the channel; released when nothing else holds it (allocated if paid). Audited, on the timeline with
    who set what and why."""
    require_staff(actor)
    note = _clean_text(note, "note", NOTE_MAX)
    if not note:
        raise DomainError("say where you checked the currency")
    code = (currency or "").strip().upper()
    if not is_iso_currency(code):
        raise DomainError(f"{currency!r} is not an ISO 4217 currency code (e.g. USD, EUR, GBP)")
    order, _lines = lock_order(session, order_id)
    if order.status != OrderStatus.ON_HOLD or not any(
        kind == "currency" for kind, _words in hold_problems(order)
    ):
        raise DomainError(f"order {order.number} is not held for its currency")
    before = order.currency
    order.currency = code
    order.updated_at = now
    events.record_event(
        session,
        order,
        "currency_set",
        f"Currency set to {code} (was {before}) by {actor.label}: {note}",
        actor=actor.label,
        now=now,
        data={"before": before, "after": code, "note": note},
    )
    cleared = [w for w in order.hold_warnings or [] if is_currency_warning(w)]
    remaining = [w for w in order.hold_warnings or [] if w not in cleared]
    released = recheck_hold(session, order, remaining, now=now, actor=actor.label)
    if released:
        allocate_if_ready(session, order, now=now, actor=actor.label)
    record_audit(
        session,
        actor,
        "order.currency_set",
        "order",
        order.id,
        now=now,
        before={"currency": before},
        after={"currency": code, "note": note, "hold_released": released},
    )
    return order


# Hold reasons a release can't clear, with what fixes each.
_FIXED_ELSEWHERE = {
    "address": "fix the shipping address to clear an address problem",
    "currency": "set the order's currency to clear a currency problem",
    "gap": "the channel's full order clears this: it is fetched again (or cancel the order)",
    "catalog": "map the channel SKU to clear an unmapped SKU",
}
NO_SKU_WORDS = "has no SKU"


def release_hold(
    session: Session,
    order_id: int,
    *,
    warnings: Sequence[str] | None = None,
    note: str,
    actor: Actor,
    now: datetime,
) -> Order:
    """Release a held order after staff checked the warnings behind the hold (payment, fraud, country,
    totals, ...): `warnings` names the ones checked (None: every one not about the address). A note on what
    was checked is required. Address warnings are fixed by change_shipping_address and unmapped SKUs on the
    Intake page: naming them here is refused. The order is released when nothing else holds it and
    allocated if paid. Audited with who cleared what."""
    require_staff(actor)
    note = _clean_text(note, "note", NOTE_MAX)
    if not note:
        raise DomainError("say what you checked before releasing the order")
    order, _lines = lock_order(session, order_id)
    if order.status != OrderStatus.ON_HOLD:
        raise DomainError(f"order {order.number} is not on hold")
    held = list(order.hold_warnings or [])
    chosen = [w for w in held if hold_kind(w) == "check"] if warnings is None else list(warnings)
    for warning in chosen:
        if warning not in held:
            raise DomainError(f"{warning!r} is not holding order {order.number}")
        if hold_kind(warning) in _FIXED_ELSEWHERE:
            raise DomainError(_FIXED_ELSEWHERE[hold_kind(warning)])
    if not chosen:
        if any(UNMAPPED_PREFIX in reason for _kind, reason in hold_problems(order)):
            raise DomainError("map the channel SKU on the Intake page to release this order")
        raise DomainError("nothing to release: fix what the hold names first")
    before = {"hold_reason": order.hold_reason, "hold_warnings": held}
    released = _clear_hold_warnings(session, order, chosen, note=note, actor=actor, now=now)
    record_audit(
        session,
        actor,
        "order.hold_released",
        "order",
        order.id,
        now=now,
        before=before,
        after={"cleared": chosen, "note": note, "released": released, "hold_reason": order.hold_reason},
    )
    return order


def order_emails(session: Session, order_id: int) -> list[OutboxMessage]:
    """Every email queued about the order (sent, waiting or failed), oldest first."""
    return list(
        session.scalars(
            select(OutboxMessage)
            .where(
                OutboxMessage.transport == "email",
                OutboxMessage.payload["order_id"].as_integer() == order_id,
            )
            .order_by(OutboxMessage.created_at, OutboxMessage.id)
        )
    )


def resend_notification(
    session: Session, order_id: int, message_id: int, *, actor: Actor, now: datetime
) -> OutboxMessage:
    """Queue an email the customer got about the order again, as a new outbox row (the worker sends it
    after this transaction commits), to the same address. Refused while the original has not gone yet.
    Audited; on the staff timeline."""
    require_staff(actor)
    original = session.get(OutboxMessage, message_id)
    payload = original.payload or {} if original is not None else {}
    if original is None or original.transport != "email" or payload.get("order_id") != order_id:
        raise NotFound(f"no email {message_id} about order {order_id}")
    order, _lines = lock_order(session, order_id)
    if original.status == "pending":
        raise DomainError("this email has not been sent yet: it goes out shortly")
    prefix = f"resend:{original.id}:"
    count = session.scalar(
        select(func.count()).select_from(OutboxMessage).where(OutboxMessage.dedup_key.like(prefix + "%"))
    )
    row = OutboxMessage(
        kind=original.kind,
        transport="email",
        dedup_key=f"{prefix}{(count or 0) + 1}",
        recipient=original.recipient,
        subject=original.subject,
        payload=dict(payload) | {"resend_of": original.id},
        status="pending",
        attempts=0,
        next_attempt_at=now,
        created_at=now,
    )
    session.add(row)
    session.flush()
    what = original.kind.replace("_", " ")
    events.record_event(
        session,
        order,
        "notification_resent",
        f"'{what}' email sent again to {original.recipient}",
        actor=actor.label,
        now=now,
        data={"outbox_id": row.id, "original_id": original.id},
    )
    record_audit(
        session,
        actor,
        "outbox.resend",
        "outbox_message",
        original.id,
        now=now,
        after={
            "new_id": row.id,
            "kind": original.kind,
            "recipient": original.recipient,
            "order": order.number,
        },
    )
    return row


def create_return_for_customer(
    session: Session,
    order_id: int,
    lines: Sequence[tuple[int, int]],
    *,
    reason: str,
    reason_text: str = "",
    resolution: str = "refund",
    approve: bool = False,
    actor: Actor,
    now: datetime,
) -> ReturnRequest:
    """Open a return on the customer's behalf (the same rules as their own request: window, quantities,
    final sale), approved at once when `approve` (the customer is emailed the return instructions).
    Audited and on the customer's timeline by core.returns.services."""
    require_staff(actor)
    order = session.get(Order, order_id)
    if order is None:
        raise NotFound(f"order {order_id} not found")
    rma = request_return(
        session,
        order,
        lines,
        reason=reason,
        reason_text=reason_text,
        resolution=resolution,
        actor=actor,
        now=now,
    )
    if approve:
        approve_return(session, rma.id, actor=actor, now=now)
    return rma


def replacement_problem(order: Order) -> str | None:
    """Why replacement items can't be sent for the order (said to staff), or None when they can."""
    if order.status in (OrderStatus.CANCELLED, OrderStatus.ON_HOLD, OrderStatus.PENDING):
        return f"the order is {order.status.replace('_', ' ')}"
    if order.fulfilled_by_channel:
        return f"{order.channel.name} fulfils it: ask {order.channel.name} to send the replacement"
    if not order.shipping_address:
        return "the order has no shipping address"
    if all(line.sku_id is None for line in order.lines):
        return "none of its items is one of our SKUs"
    return None


def create_replacement_order(
    session: Session,
    order_id: int,
    quantities: Mapping[int, int],
    *,
    reason: str,
    actor: Actor,
    now: datetime,
) -> Order:
    """Send replacement items (order line id -> units) as a new order at no charge, to the same customer and
    address on the same channel: stock is allocated at once (confirmed, or backordered naming what is
    short) and the customer gets the usual confirmation. The new order is ours (source 'replacement'), so
    its shipments are never pushed to the channel. Both orders' timelines name the other; audited."""
    require_staff(actor)
    reason = _clean_text(reason, "reason", NOTE_MAX)
    if not reason:
        raise DomainError("say why the items are replaced: the customer sees it")
    original, lines = lock_order(session, order_id)
    problem = replacement_problem(original)
    if problem:
        raise DomainError(f"no replacement for order {original.number}: {problem}")
    wanted: dict[int, int] = {}
    for key, quantity in quantities.items():
        line = lines.get(int(key))
        if line is None:
            raise DomainError(f"item {key} is not on order {original.number}")
        if isinstance(quantity, bool) or not isinstance(quantity, int) or not 0 <= quantity <= line.quantity:
            raise DomainError(f"{line.title}: between 0 and {line.quantity} units can be replaced")
        if quantity and line.sku_id is None:
            raise DomainError(f"{line.title} is not one of our SKUs: map it first")
        if quantity:
            wanted[line.id] = quantity
    if not wanted:
        raise DomainError("choose at least one item to replace")
    earlier = session.scalar(
        select(func.count())
        .select_from(Order)
        .where(
            Order.channel_id == original.channel_id,
            Order.external_id.like(f"replacement:{original.number}:%"),
        )
    )
    replacement = Order(
        channel_id=original.channel_id,
        external_id=f"replacement:{original.number}:{(earlier or 0) + 1}",
        number=f"TMP-{original.id}-{(earlier or 0) + 1}",
        status=OrderStatus.PENDING.value,
        channel_state="paid",
        channel_status="replacement",
        customer_id=original.customer_id,
        identity_id=original.identity_id,
        email=original.email,
        phone=original.phone,
        buyer_name=original.buyer_name,
        placed_at=now,
        currency=original.currency,
        billing_address=original.billing_address,
        shipping_address=original.shipping_address,
        shipping_method=original.shipping_method,
        shipping_option_id=original.shipping_option_id,
        source=REPLACEMENT_SOURCE,
        note=f"Replacement for order {original.number}: {reason}",
        created_at=now,
        updated_at=now,
    )
    session.add(replacement)
    session.flush()
    replacement.number = format_order_number(replacement.id)
    for line_no, (line_id, quantity) in enumerate(sorted(wanted.items()), start=1):
        line = lines[line_id]
        session.add(
            OrderLine(
                order_id=replacement.id,
                line_no=line_no,
                sku_id=line.sku_id,
                channel_sku=line.channel_sku,
                title=line.title,
                quantity=quantity,
                unit_price=0,
                total=0,
            )
        )
    session.flush()
    session.refresh(replacement, ["lines"])
    items = ", ".join(f"{q} × {lines[i].title}" for i, q in sorted(wanted.items()))
    events.record_event(
        session,
        replacement,
        "placed",
        f"Replacement for order {original.number}: {items} ({reason})",
        actor=actor.label,
        now=now,
        data={"replaces": original.id},
    )
    allocate_order(session, replacement, actor=actor.label, now=now)
    if replacement.status == OrderStatus.CONFIRMED:
        queue_order_confirmed(session, replacement, now=now)
    events.record_event(
        session,
        original,
        "replacement_created",
        f"Replacement order {replacement.number} sent: {items} ({reason})",
        actor=actor.label,
        now=now,
        data={"replacement_id": replacement.id},
    )
    record_audit(
        session,
        actor,
        "order.replace",
        "order",
        original.id,
        now=now,
        after={
            "replacement_id": replacement.id,
            "number": replacement.number,
            "lines": {str(i): q for i, q in sorted(wanted.items())},
            "reason": reason,
            "status": replacement.status,
        },
    )
    return replacement
