"""Returns: the RMA lifecycle (request, approve or reject, receive) and received units back into stock
through the ledger; `return_eligibility` reads an order's facts for the rules in core.returns.eligibility, and
core.returns.refunds gives the money back. Every step is on the order's timeline (customer-visible
'return_update' entries) and in the audit log.

Lock order, for every write: the order row, then its lines, then the return row.
"""

from __future__ import annotations

import base64
import secrets
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.audit.services import record_audit
from core.catalog.models import Sku
from core.errors import DomainError, NotFound, PermissionDenied
from core.fulfillment.models import Shipment, ShipmentLine
from core.inventory.alerts import check_low_stock
from core.inventory.allocations import fill_backorders
from core.inventory.ledger import adjust_stock
from core.inventory.models import Location
from core.notifications.services import queue_return_approved, queue_return_received
from core.orders import events
from core.orders.models import Order, OrderEvent, OrderLine
from core.orders.services import change_order_status
from core.orders.status import OrderStatus, can_transition
from core.returns.eligibility import (
    LineFacts,
    OrderFacts,
    Parcel,
    ReturnEligibility,
    ReturnPolicy,
    order_eligibility,
)
from core.returns.models import ReturnLine, ReturnRequest
from core.returns.reasons import DEFAULT_REASONS, NEEDS_TEXT, offered_reasons
from core.returns.status import OPEN_STATUSES, ReturnStatus, check_transition
from core.security.roles import Actor, is_staff

# The shipped reasons a customer picks from (the merchant's own list: core.returns.reasons).
REASONS = DEFAULT_REASONS
RESOLUTIONS = {
    "refund": "refund to the original payment",
    "store_credit": "store credit",
    "exchange": "exchange for another variant",
}
REASON_TEXT_MAX = 2000
PHOTO_PATH_MAX = 300


def require_staff(actor: Actor) -> None:
    """PermissionDenied unless the actor is staff (or the system itself)."""
    if is_staff(actor.role or "") or (actor.role is None and actor.label == "system"):
        return
    raise PermissionDenied("only staff can do this to a return")


def _parcels(session: Session, order_id: int) -> dict[int, list[Parcel]]:
    """Per order line, its units in each of the order's parcels."""
    parcels: dict[int, list[Parcel]] = {}
    rows = session.execute(
        select(
            ShipmentLine.order_line_id,
            ShipmentLine.quantity,
            Shipment.status,
            Shipment.shipped_at,
            Shipment.delivered_at,
        )
        .join(Shipment, Shipment.id == ShipmentLine.shipment_id)
        .where(Shipment.order_id == order_id)
        .order_by(Shipment.id, ShipmentLine.id)
    ).all()
    for line_id, units, status, shipped_at, delivered_at in rows:
        parcels.setdefault(line_id, []).append(Parcel(units, status, shipped_at, delivered_at))
    return parcels


def _order_delivered_at(session: Session, order: Order) -> datetime | None:
    """When the order as a whole was delivered: its last parcel's delivery, else when it turned delivered."""
    delivered = [s.delivered_at for s in order.shipments if s.delivered_at is not None]
    if delivered:
        return max(delivered)
    return session.scalar(
        select(func.max(OrderEvent.created_at)).where(
            OrderEvent.order_id == order.id, OrderEvent.to_status == OrderStatus.DELIVERED
        )
    )


def _units_in_open_returns(session: Session, order_id: int) -> dict[int, int]:
    return dict(
        session.execute(
            select(ReturnLine.order_line_id, func.sum(ReturnLine.quantity))
            .join(ReturnRequest, ReturnRequest.id == ReturnLine.return_id)
            .where(ReturnRequest.order_id == order_id, ReturnRequest.status.in_(OPEN_STATUSES))
            .group_by(ReturnLine.order_line_id)
        ).all()
    )


def return_eligibility(session: Session, order: Order, *, now: datetime) -> ReturnEligibility:
    """Per line, how many units may be returned now under the channel's policy, and why not when none.

    Reads the order's parcels, open returns and final-sale SKUs (and, for lines without parcels, when the
    order was delivered) and applies the rules of core.returns.eligibility.
    """
    channel = order.channel
    parcels = _parcels(session, order.id)
    pending = _units_in_open_returns(session, order.id)
    sku_ids = {line.sku_id for line in order.lines if line.sku_id is not None}
    returnable_skus = (
        dict(session.execute(select(Sku.id, Sku.returnable).where(Sku.id.in_(sku_ids))).all())
        if sku_ids
        else {}
    )
    delivered_at = None
    if any(line.id not in parcels for line in order.lines):
        delivered_at = _order_delivered_at(session, order)
    facts = OrderFacts(
        order_id=order.id,
        status=order.status,
        fulfilled_by_channel=order.fulfilled_by_channel,
        delivered_at=delivered_at,
        lines=tuple(
            LineFacts(
                order_line_id=line.id,
                sku_id=line.sku_id,
                title=line.title,
                quantity=line.quantity,
                quantity_shipped=line.quantity_shipped,
                quantity_cancelled=line.quantity_cancelled,
                quantity_returned=line.quantity_returned,
                in_open_returns=pending.get(line.id, 0),
                final_sale=not returnable_skus.get(line.sku_id, True),
                parcels=tuple(parcels.get(line.id, ())),
            )
            for line in order.lines
        ),
    )
    policy = ReturnPolicy(
        channel_name=channel.name,
        window_days=channel.return_window_days,
        handled_by_channel=channel.returns_handled_by_channel,
        instructions=channel.return_instructions or "",
    )
    return order_eligibility(facts, policy, now=now)


def lock_order(session: Session, order_id: int) -> tuple[Order, dict[int, OrderLine]]:
    """The order and its lines, locked (PostgreSQL; SQLite has one writer) and reloaded from the database."""
    order = session.scalar(
        select(Order)
        .where(Order.id == order_id)
        .with_for_update(key_share=True)
        .execution_options(populate_existing=True)
    )
    if order is None:
        raise NotFound(f"order {order_id} not found")
    lines = session.scalars(
        select(OrderLine)
        .where(OrderLine.order_id == order_id)
        .order_by(OrderLine.id)
        .with_for_update(key_share=True)
        .execution_options(populate_existing=True)
    ).all()
    return order, {line.id: line for line in lines}


def lock_return(session: Session, return_id: int) -> tuple[Order, dict[int, OrderLine], ReturnRequest]:
    """The return with its order and the order's lines, locked in that order and reloaded; NotFound."""
    order_id = session.scalar(select(ReturnRequest.order_id).where(ReturnRequest.id == return_id))
    if order_id is None:
        raise NotFound(f"return {return_id} not found")
    order, lines = lock_order(session, order_id)
    rma = session.scalar(
        select(ReturnRequest)
        .where(ReturnRequest.id == return_id)
        .with_for_update(key_share=True)
        .execution_options(populate_existing=True)
    )
    assert rma is not None
    return order, lines, rma


def _new_rma_number(session: Session) -> str:
    """RMA- and 8 base32 characters (40 random bits), checked against the existing ones."""
    for _ in range(5):
        rma = "RMA-" + base64.b32encode(secrets.token_bytes(5)).decode()
        if session.scalar(select(ReturnRequest.id).where(ReturnRequest.rma_number == rma)) is None:
            return rma
    raise DomainError("could not allocate a return number: please try again")


def record_return_event(
    session: Session,
    order: Order,
    rma: ReturnRequest,
    message: str,
    *,
    actor: Actor,
    now: datetime,
    **data: Any,
) -> None:
    """A customer-visible 'return_update' entry on the order's timeline, naming the return."""
    events.record_event(
        session,
        order,
        "return_update",
        message,
        actor=actor.label,
        now=now,
        data={"rma": rma.rma_number, "return_id": rma.id, **data},
    )


def _items_text(parts: Sequence[tuple[int, str]]) -> str:
    return ", ".join(f"{qty} × {title}" for qty, title in parts)


def request_return(
    session: Session,
    order: Order,
    lines: Sequence[tuple[int, int]],
    *,
    reason: str,
    reason_text: str = "",
    resolution: str = "refund",
    exchange_sku_id: int | None = None,
    photo_path: str | None = None,
    actor: Actor,
    now: datetime,
) -> ReturnRequest:
    """Open an RMA for (order_line_id, quantity) pairs after checking every rule (DomainError says which).

    Checks: the reason is one offered now (core.returns.reasons; "other" needs a text); the resolution is one
    of RESOLUTIONS and an exchange names an active variant of the same product as a returned item; the photo
    is a stored relative path (its type and size are checked where it is uploaded); each quantity is within
    what return_eligibility allows now, counting earlier open returns. The order and its lines are locked
    first, so two requests at once cannot both return the same units.
    """
    offered = offered_reasons(session)
    if reason not in offered:
        raise DomainError(f"choose a reason for the return: one of {', '.join(offered)}")
    reason_text = (reason_text or "").strip()
    if reason == NEEDS_TEXT and not reason_text:
        raise DomainError("tell us a little about the reason for the return")
    if len(reason_text) > REASON_TEXT_MAX:
        raise DomainError(f"the reason text is too long (at most {REASON_TEXT_MAX} characters)")
    if resolution not in RESOLUTIONS:
        raise DomainError(f"choose how we should make it right: one of {', '.join(RESOLUTIONS)}")
    if resolution != "exchange" and exchange_sku_id is not None:
        raise DomainError("an item to exchange for is only chosen for an exchange")
    if photo_path is not None:
        photo_path = photo_path.strip() or None
    if photo_path is not None and (
        len(photo_path) > PHOTO_PATH_MAX or photo_path.startswith(("/", "\\")) or ".." in photo_path
    ):
        raise DomainError("the photo could not be attached")
    order, order_lines = lock_order(session, order.id)
    wanted: dict[int, int] = {}
    for line_id, quantity in lines:
        if line_id not in order_lines:
            raise DomainError(f"item {line_id} is not on order {order.number}")
        if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity <= 0:
            raise DomainError(f"{order_lines[line_id].title}: the quantity to return must be 1 or more")
        wanted[line_id] = wanted.get(line_id, 0) + quantity
    if not wanted:
        raise DomainError("choose at least one item to return")
    eligibility = return_eligibility(session, order, now=now)
    if not eligibility.eligible:
        raise DomainError(eligibility.reason or "nothing on this order can be returned")
    by_line = {line.order_line_id: line for line in eligibility.lines}
    problems = []
    for line_id, quantity in sorted(wanted.items()):
        allowed = by_line[line_id]
        if quantity > allowed.returnable:
            why = f" ({allowed.reason})" if allowed.reason else ""
            problems.append(
                f"{allowed.title}: you asked to return {quantity}, {allowed.returnable} can be returned{why}"
            )
    if problems:
        raise DomainError("; ".join(problems))
    if resolution == "exchange":
        _check_exchange(session, exchange_sku_id, {order_lines[i].sku_id for i in wanted})
    rma = ReturnRequest(
        rma_number=_new_rma_number(session),
        order_id=order.id,
        customer_id=order.customer_id,
        status=ReturnStatus.REQUESTED,
        reason=reason,
        reason_text=reason_text,
        resolution=resolution,
        exchange_sku_id=exchange_sku_id,
        photo_path=photo_path,
        requested_at=now,
        lines=[ReturnLine(order_line_id=i, quantity=q) for i, q in sorted(wanted.items())],
    )
    session.add(rma)
    session.flush()
    items = _items_text([(q, order_lines[i].title) for i, q in sorted(wanted.items())])
    record_return_event(
        session,
        order,
        rma,
        f"Return {rma.rma_number} requested: {items} ({offered[reason]})",
        actor=actor,
        now=now,
    )
    record_audit(
        session,
        actor,
        "return.request",
        "return",
        rma.id,
        now=now,
        after={
            "rma": rma.rma_number,
            "order": order.number,
            "lines": {str(i): q for i, q in sorted(wanted.items())},
            "reason": reason,
            "resolution": resolution,
        },
    )
    return rma


def _check_exchange(session: Session, exchange_sku_id: int | None, returned_sku_ids: set[int | None]) -> None:
    if exchange_sku_id is None:
        raise DomainError("choose the variant you would like instead")
    wanted = session.get(Sku, exchange_sku_id)
    if wanted is None or not wanted.active:
        raise DomainError("the variant chosen for the exchange is not available")
    products = set(session.scalars(select(Sku.product_id).where(Sku.id.in_(returned_sku_ids - {None}))))
    if wanted.product_id not in products:
        raise DomainError("an exchange must be for another variant of an item you are returning")


def approve_return(session: Session, return_id: int, *, actor: Actor, now: datetime) -> ReturnRequest:
    """Staff approve a requested return: the customer may send the items back (email queued)."""
    require_staff(actor)
    order, _lines, rma = lock_return(session, return_id)
    previous = rma.status
    rma.status = check_transition(rma.status, ReturnStatus.APPROVED)
    rma.approved_at = now
    record_return_event(
        session,
        order,
        rma,
        f"Return {rma.rma_number} approved: send the items back with the return number on the slip",
        actor=actor,
        now=now,
    )
    record_audit(
        session,
        actor,
        "return.approve",
        "return",
        rma.id,
        now=now,
        before={"status": previous},
        after={"status": rma.status},
    )
    queue_return_approved(session, rma, now=now)
    return rma


def reject_return(
    session: Session, return_id: int, reason: str, *, actor: Actor, now: datetime
) -> ReturnRequest:
    """Staff reject a requested or approved return, with a reason the customer sees."""
    require_staff(actor)
    reason = (reason or "").strip()
    if not reason:
        raise DomainError("say why the return is rejected: the customer sees it")
    order, _lines, rma = lock_return(session, return_id)
    previous = rma.status
    rma.status = check_transition(rma.status, ReturnStatus.REJECTED)
    rma.rejection_reason = reason[:REASON_TEXT_MAX]
    rma.closed_at = now
    record_return_event(
        session, order, rma, f"Return {rma.rma_number} rejected: {reason}", actor=actor, now=now
    )
    record_audit(
        session,
        actor,
        "return.reject",
        "return",
        rma.id,
        now=now,
        before={"status": previous},
        after={"status": rma.status, "reason": rma.rejection_reason},
    )
    return rma


def receive_return(
    session: Session,
    return_id: int,
    received: Sequence[tuple[int, int, int]],
    *,
    location_id: int,
    actor: Actor,
    now: datetime,
) -> ReturnRequest:
    """Check in an approved return: per (return_line_id, quantity received, of which damaged).

    Received units go back on hand at the location ('return' movements, via adjust_stock); the damaged ones
    are then written off ('write_off'), so the ledger shows both and only resellable units become available.
    OrderLine.quantity_returned grows by the units received; a delivered or shipped order moves to
    partially_returned, or returned once every unit not cancelled is back. Then: waiting backorders get the
    resellable units, low-stock alerts are re-checked, and the 'return received' email is queued.
    Lines not listed count as nothing received; nothing received at all is refused (reject it instead).
    """
    require_staff(actor)
    order, order_lines, rma = lock_return(session, return_id)
    check_transition(rma.status, ReturnStatus.RECEIVED)
    location = session.get(Location, location_id)
    if location is None:
        raise NotFound(f"location {location_id} not found")
    if not location.active:
        raise DomainError(f"{location.name} is not an active location")
    return_lines = {line.id: line for line in rma.lines}
    counts: dict[int, tuple[int, int]] = {}
    for line_id, got, damaged in received:
        line = return_lines.get(line_id)
        if line is None:
            raise DomainError(f"line {line_id} is not part of return {rma.rma_number}")
        if line_id in counts:
            raise DomainError(f"line {line_id} is listed twice")
        title = order_lines[line.order_line_id].title
        if not all(isinstance(n, int) and not isinstance(n, bool) for n in (got, damaged)):
            raise DomainError(f"{title}: quantities must be whole numbers")
        if not 0 <= got <= line.quantity:
            raise DomainError(f"{title}: between 0 and {line.quantity} units can be received")
        if not 0 <= damaged <= got:
            raise DomainError(f"{title}: damaged units must be between 0 and the {got} received")
        counts[line_id] = (got, damaged)
    if not any(got for got, _damaged in counts.values()):
        raise DomainError("nothing was received: reject the return instead")

    per_sku: dict[int, list[int]] = {}
    for line_id, (got, damaged) in counts.items():
        line = return_lines[line_id]
        line.quantity_received, line.quantity_damaged = got, damaged
        order_line = order_lines[line.order_line_id]
        order_line.quantity_returned += got
        if order_line.sku_id is not None and got:
            totals = per_sku.setdefault(order_line.sku_id, [0, 0])
            totals[0] += got
            totals[1] += damaged
    for sku_id, (got, damaged) in sorted(per_sku.items()):
        adjust_stock(
            session,
            location.id,
            sku_id,
            got,
            kind="return",
            actor=actor.label,
            now=now,
            reference=f"{rma.rma_number} received ({order.number})",
        )
        if damaged:
            adjust_stock(
                session,
                location.id,
                sku_id,
                -damaged,
                kind="write_off",
                actor=actor.label,
                now=now,
                reference=f"{rma.rma_number} damaged ({order.number})",
            )
    rma.status = ReturnStatus.RECEIVED
    rma.received_at = now
    rma.restock_location_id = location.id
    units = sum(got for got, _d in counts.values())
    damaged_units = sum(d for _g, d in counts.values())
    words = f"{units} item{'s' if units != 1 else ''}"
    if damaged_units:
        words += f", {damaged_units} damaged and not restocked"
    record_return_event(
        session,
        order,
        rma,
        f"Return {rma.rma_number} received at {location.name}: {words}",
        actor=actor,
        now=now,
        received={str(i): {"received": g, "damaged": d} for i, (g, d) in sorted(counts.items())},
    )
    _roll_up_order_status(session, order, order_lines.values(), rma, actor=actor, now=now)
    record_audit(
        session,
        actor,
        "return.receive",
        "return",
        rma.id,
        now=now,
        before={"status": ReturnStatus.APPROVED.value},
        after={
            "status": rma.status,
            "location": location.code,
            "lines": {str(i): {"received": g, "damaged": d} for i, (g, d) in sorted(counts.items())},
        },
    )
    session.flush()
    for sku_id, (got, damaged) in sorted(per_sku.items()):
        if got > damaged:
            fill_backorders(session, sku_id, actor=actor.label, now=now)
    if per_sku:
        check_low_stock(session, set(per_sku), now=now)
    queue_return_received(session, rma, now=now)
    return rma


def _roll_up_order_status(
    session: Session,
    order: Order,
    lines: Iterable[OrderLine],
    rma: ReturnRequest,
    *,
    actor: Actor,
    now: datetime,
) -> None:
    lines = list(lines)
    expected = sum(line.quantity - line.quantity_cancelled for line in lines)
    back = sum(line.quantity_returned for line in lines)
    target = OrderStatus.RETURNED if back >= expected else OrderStatus.PARTIALLY_RETURNED
    if order.status != target and can_transition(order.status, target):
        change_order_status(
            session, order, target, actor=actor.label, now=now, why=f"Return {rma.rma_number} received"
        )
