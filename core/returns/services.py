"""Returns: eligibility from the channel's policy, the RMA lifecycle (request, approve or reject, receive,
refund), received units back into stock through the ledger, and refunds. Every step is on the order's
timeline (customer-visible 'return_update' entries) and in the audit log.

Lock order, for every write: the order row, then its lines, then the return row.
"""

from __future__ import annotations

import base64
import secrets
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
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
from core.money import format_money
from core.notifications.services import queue_return_approved, queue_return_received, queue_return_refunded
from core.orders import events
from core.orders.models import Order, OrderEvent, OrderLine
from core.orders.services import change_order_status
from core.orders.status import CANCELLABLE_STATUSES, OrderStatus, can_transition
from core.returns.models import Refund, ReturnLine, ReturnRequest
from core.returns.status import OPEN_STATUSES, ReturnStatus, check_transition
from core.security.roles import Actor, is_staff

# Reasons a customer picks from, with the words shown back to them.
REASONS = {
    "wrong_size": "wrong size",
    "damaged": "arrived damaged",
    "not_as_described": "not as described",
    "changed_mind": "changed my mind",
    "late": "arrived late",
    "other": "other",
}
RESOLUTIONS = {
    "refund": "refund to the original payment",
    "store_credit": "store credit",
    "exchange": "exchange for another variant",
}
REFUND_METHODS = {"original": "to your original payment method", "store_credit": "as store credit"}
REASON_TEXT_MAX = 2000
PHOTO_PATH_MAX = 300
# Our order statuses under which the channel says every line went out, for orders with no shipment rows.
_SHIPPED_ORDER_STATUSES = frozenset(
    {OrderStatus.SHIPPED, OrderStatus.DELIVERED, OrderStatus.PARTIALLY_RETURNED, OrderStatus.RETURNED}
)
# Shipment statuses of a parcel that has not left us yet.
_NOT_SENT_SHIPMENT_STATUSES = frozenset({"pending", "packed", "info_received", "cancelled"})
_RETURNED_TO_SENDER = "returned_to_sender"


@dataclass(frozen=True)
class LineEligibility:
    """What may be returned of one order line, and why not (or why not more) in words."""

    order_line_id: int
    sku_id: int | None
    title: str
    quantity: int
    delivered: int  # units delivered (whatever the window)
    returned: int  # units already received back
    in_open_returns: int  # units in returns requested or approved, not yet received
    returnable: int
    return_by: datetime | None  # last moment of the window for the units still returnable
    reason: str | None


@dataclass(frozen=True)
class ReturnEligibility:
    """An order's return eligibility under its channel's policy.

    `handled_by_channel`: the marketplace takes the return; show `instructions` instead of our form.
    `cancellation_instead`: nothing has shipped; offer a cancellation request.
    """

    order_id: int
    eligible: bool
    reason: str | None
    window_days: int
    handled_by_channel: bool
    instructions: str | None
    cancellation_instead: bool
    lines: tuple[LineEligibility, ...]

    def returnable(self, order_line_id: int) -> int:
        return next((ln.returnable for ln in self.lines if ln.order_line_id == order_line_id), 0)


def _require_staff(actor: Actor) -> None:
    if is_staff(actor.role or "") or (actor.role is None and actor.label == "system"):
        return
    raise PermissionDenied("only staff can do this to a return")


def _deliveries(
    session: Session, order: Order
) -> tuple[dict[int, list[tuple[int, datetime]]], dict[int, int]]:
    """Per order line: [(units, delivered_at)] of delivered parcels, and units in parcels on their way."""
    delivered: dict[int, list[tuple[int, datetime]]] = {}
    in_transit: dict[int, int] = {}
    rows = session.execute(
        select(
            ShipmentLine.order_line_id,
            ShipmentLine.quantity,
            Shipment.delivered_at,
            Shipment.shipped_at,
            Shipment.status,
        )
        .join(Shipment, Shipment.id == ShipmentLine.shipment_id)
        .where(Shipment.order_id == order.id)
    ).all()
    for line_id, quantity, delivered_at, shipped_at, status in rows:
        if status == _RETURNED_TO_SENDER:
            delivered.setdefault(line_id, [])  # the carrier brought it back: the customer never had it
        elif delivered_at is not None:
            delivered.setdefault(line_id, []).append((quantity, delivered_at))
        elif shipped_at is not None or status not in _NOT_SENT_SHIPMENT_STATUSES:
            in_transit[line_id] = in_transit.get(line_id, 0) + quantity
        else:
            delivered.setdefault(line_id, [])  # in a parcel, not yet sent: the line has shipment rows
    return delivered, in_transit


def _order_delivered_at(session: Session, order: Order) -> datetime | None:
    """When the order as a whole was delivered: its last parcel's delivery, else when it turned delivered."""
    parcel = session.scalar(select(func.max(Shipment.delivered_at)).where(Shipment.order_id == order.id))
    if parcel is not None:
        return parcel
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


def _blocked(order: Order, reason: str, **flags: Any) -> ReturnEligibility:
    channel = order.channel
    lines = tuple(
        LineEligibility(
            line.id, line.sku_id, line.title, line.quantity, 0, line.quantity_returned, 0, 0, None, reason
        )
        for line in order.lines
    )
    return ReturnEligibility(
        order_id=order.id,
        eligible=False,
        reason=reason,
        window_days=channel.return_window_days,
        handled_by_channel=flags.get("handled_by_channel", False),
        instructions=flags.get("instructions"),
        cancellation_instead=flags.get("cancellation_instead", False),
        lines=lines,
    )


def return_eligibility(session: Session, order: Order, *, now: datetime) -> ReturnEligibility:
    """Per line, how many units may be returned now under the channel's policy, and why not when none.

    Rules, in order: a cancelled order has nothing to return; a channel that handles its own returns (or
    fulfilled the order itself) gets its instructions instead; an order with nothing sent yet gets "request a
    cancellation instead". Then per line: SKUs marked non-returnable and lines without a SKU of ours are
    refused; units count once delivered, each parcel's units for `return_window_days` from that parcel's
    delivery (lines without parcel rows use the order's delivery time); units already received back or in an
    open (requested/approved) return are subtracted, taken from the oldest deliveries first.
    """
    channel = order.channel
    if order.status == OrderStatus.CANCELLED:
        return _blocked(order, "This order was cancelled: there is nothing to return.")
    if channel.returns_handled_by_channel or order.fulfilled_by_channel:
        instructions = channel.return_instructions.strip() or (
            f"Start your return from your {channel.name} account, under your orders."
        )
        return _blocked(
            order,
            f"Returns of {channel.name} orders are handled by {channel.name}.",
            handled_by_channel=True,
            instructions=instructions,
        )
    window = timedelta(days=channel.return_window_days)
    delivered_by_line, in_transit_by_line = _deliveries(session, order)
    order_delivered_at: datetime | None = None
    if any(line.id not in delivered_by_line and line.id not in in_transit_by_line for line in order.lines):
        order_delivered_at = _order_delivered_at(session, order)
    pending = _units_in_open_returns(session, order.id)
    sku_ids = {line.sku_id for line in order.lines if line.sku_id is not None}
    returnable_skus = dict(session.execute(select(Sku.id, Sku.returnable).where(Sku.id.in_(sku_ids))).all())

    results = []
    anything_sent = False
    for line in order.lines:
        if line.id in delivered_by_line or line.id in in_transit_by_line:
            deliveries = delivered_by_line.get(line.id, [])
            in_transit = in_transit_by_line.get(line.id, 0)
        else:
            shipped = line.quantity_shipped
            if not shipped and order.status in _SHIPPED_ORDER_STATUSES:
                shipped = line.quantity - line.quantity_cancelled
            if shipped and order_delivered_at is not None:
                deliveries, in_transit = [(shipped, order_delivered_at)], 0
            else:
                deliveries, in_transit = [], shipped
        delivered = sum(qty for qty, _at in deliveries)
        anything_sent = anything_sent or bool(delivered or in_transit)
        open_units = pending.get(line.id, 0)
        used = line.quantity_returned + open_units
        open_windows = [(qty, at + window) for qty, at in deliveries if now <= at + window]
        in_window = sum(qty for qty, _by in open_windows)
        returnable = max(0, min(in_window, delivered - used))
        return_by = max((by for _qty, by in open_windows), default=None)
        reason = None
        if line.sku_id is None:
            returnable, reason = 0, "This item can't be returned online: contact us."
        elif not returnable_skus.get(line.sku_id, True):
            returnable, reason = 0, "Final sale: this item can't be returned."
        elif returnable == 0:
            if not delivered:
                reason = (
                    "On its way: it can be returned once it's delivered."
                    if in_transit
                    else "Not shipped yet."
                )
            elif used >= delivered:
                reason = "Already in a return request." if open_units else "Already returned."
            else:
                closed = max(at for _qty, at in deliveries) + window
                reason = f"The {channel.return_window_days}-day return window closed on {closed:%d %b %Y}."
        results.append(
            LineEligibility(
                line.id,
                line.sku_id,
                line.title,
                line.quantity,
                delivered,
                line.quantity_returned,
                open_units,
                returnable,
                return_by,
                reason,
            )
        )
    if not anything_sent:
        cancellable = order.status in CANCELLABLE_STATUSES
        return _blocked(
            order,
            "This order hasn't shipped yet: request a cancellation instead."
            if cancellable
            else "This order hasn't shipped yet.",
            cancellation_instead=cancellable,
        )
    eligible = any(line.returnable for line in results)
    reason = None
    if not eligible:
        reasons = list(dict.fromkeys(line.reason for line in results if line.reason))
        reason = "Nothing on this order can be returned now: " + " ".join(reasons)
    return ReturnEligibility(
        order_id=order.id,
        eligible=eligible,
        reason=reason,
        window_days=channel.return_window_days,
        handled_by_channel=False,
        instructions=None,
        cancellation_instead=False,
        lines=tuple(results),
    )


def _lock_order(session: Session, order_id: int) -> tuple[Order, dict[int, OrderLine]]:
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


def _lock_return(session: Session, return_id: int) -> tuple[Order, dict[int, OrderLine], ReturnRequest]:
    order_id = session.scalar(select(ReturnRequest.order_id).where(ReturnRequest.id == return_id))
    if order_id is None:
        raise NotFound(f"return {return_id} not found")
    order, lines = _lock_order(session, order_id)
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


def _return_event(
    session: Session,
    order: Order,
    rma: ReturnRequest,
    message: str,
    *,
    actor: Actor,
    now: datetime,
    **data: Any,
) -> None:
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

    Checks: the reason is one of REASONS ("other" needs a text); the resolution is one of RESOLUTIONS and an
    exchange names an active variant of the same product as a returned item; the photo is a stored relative
    path (its type and size are checked where it is uploaded); each quantity is within what
    return_eligibility allows now, counting earlier open returns. The order and its lines are locked first,
    so two requests at once cannot both return the same units.
    """
    if reason not in REASONS:
        raise DomainError(f"choose a reason for the return: one of {', '.join(REASONS)}")
    reason_text = (reason_text or "").strip()
    if reason == "other" and not reason_text:
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
    order, order_lines = _lock_order(session, order.id)
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
    _return_event(
        session,
        order,
        rma,
        f"Return {rma.rma_number} requested: {items} ({REASONS[reason]})",
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
    _require_staff(actor)
    order, _lines, rma = _lock_return(session, return_id)
    previous = rma.status
    rma.status = check_transition(rma.status, ReturnStatus.APPROVED)
    rma.approved_at = now
    _return_event(
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
    _require_staff(actor)
    reason = (reason or "").strip()
    if not reason:
        raise DomainError("say why the return is rejected: the customer sees it")
    order, _lines, rma = _lock_return(session, return_id)
    previous = rma.status
    rma.status = check_transition(rma.status, ReturnStatus.REJECTED)
    rma.rejection_reason = reason[:REASON_TEXT_MAX]
    rma.closed_at = now
    _return_event(session, order, rma, f"Return {rma.rma_number} rejected: {reason}", actor=actor, now=now)
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
    _require_staff(actor)
    order, order_lines, rma = _lock_return(session, return_id)
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
    _return_event(
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


def line_paid_amounts(order: Order) -> dict[int, int]:
    """What the customer paid for each line, in minor units: the order total less shipping, split over the
    lines in proportion to (line total + line tax), rounded down.

    A line total is unit price x quantity net of the line's own discount, so each line carries its share of
    order-level discounts, and tax is included whether the channel's prices include it or not; the shares
    never add up to more than was paid.
    """
    lines = list(order.lines)
    weights = {line.id: max(line.total + line.tax, 0) for line in lines}
    total_weight = sum(weights.values())
    goods = max(order.total - order.shipping_total, 0)
    if not total_weight or not goods:
        return dict.fromkeys(weights, 0)
    return {line_id: goods * weight // total_weight for line_id, weight in weights.items()}


def _already_refunded(session: Session, order_id: int) -> tuple[dict[int, int], int]:
    """Per order line, and for shipping, what earlier refunds of the order gave back."""
    per_line: dict[int, int] = {}
    shipping = 0
    for line_amounts, shipping_amount in session.execute(
        select(Refund.line_amounts, Refund.shipping_amount).where(Refund.order_id == order_id)
    ):
        shipping += shipping_amount
        for key, amount in (line_amounts or {}).items():
            per_line[int(key)] = per_line.get(int(key), 0) + int(amount)
    return per_line, shipping


def _is_amount(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def refund_return(
    session: Session,
    return_id: int,
    *,
    line_amounts: Mapping[int, int] | None = None,
    shipping_amount: int = 0,
    method: str | None = None,
    actor: Actor,
    now: datetime,
) -> Refund:
    """Refund a received return (once: the return moves to refunded) and record the Refund.

    `line_amounts` maps order line ids of the return to minor units; by default each line gets what was paid
    for the units received (line_paid_amounts x received / quantity, rounded down). An exchange has no default
    (the replacement settles it): give the amounts to refund a difference. `method` defaults to store credit
    for a store-credit return, else the original payment. Refused: a line not in the return, a line or the
    shipping beyond what is left of what was paid for it after earlier refunds, more than the order's total
    less what it already refunded, or nothing at all. Order.refunded_total grows by items + shipping.
    """
    _require_staff(actor)
    order, order_lines, rma = _lock_return(session, return_id)
    check_transition(rma.status, ReturnStatus.REFUNDED)
    method = method or ("store_credit" if rma.resolution == "store_credit" else "original")
    if method not in REFUND_METHODS:
        raise DomainError(f"refund method must be one of {', '.join(REFUND_METHODS)}")
    paid = line_paid_amounts(order)
    refunded_lines, refunded_shipping = _already_refunded(session, order.id)
    left = {line_id: paid.get(line_id, 0) - refunded_lines.get(line_id, 0) for line_id in order_lines}
    in_return = {line.order_line_id: line for line in rma.lines}

    def money(minor: int) -> str:
        return format_money(minor, order.currency)

    if line_amounts is None:
        if rma.resolution == "exchange":
            raise DomainError("an exchange is settled with the replacement item: give the amounts to refund")
        amounts = {
            line_id: max(
                0,
                min(
                    paid.get(line_id, 0) * line.quantity_received // order_lines[line_id].quantity,
                    left[line_id],
                ),
            )
            for line_id, line in sorted(in_return.items())
            if line.quantity_received
        }
    else:
        amounts = {}
        for key, amount in line_amounts.items():
            line_id = int(key)
            if line_id not in in_return:
                raise DomainError(f"order line {line_id} is not part of return {rma.rma_number}")
            if not _is_amount(amount):
                raise DomainError("refund amounts must be whole minor units, 0 or more")
            if amount > left[line_id]:
                raise DomainError(
                    f"{order_lines[line_id].title}: at most {money(max(left[line_id], 0))} can be refunded"
                )
            amounts[line_id] = amount
    if not _is_amount(shipping_amount):
        raise DomainError("the shipping refund must be whole minor units, 0 or more")
    shipping_left = max(order.shipping_total - refunded_shipping, 0)
    if shipping_amount > shipping_left:
        raise DomainError(f"at most {money(shipping_left)} of shipping can be refunded")
    items = sum(amounts.values())
    total = items + shipping_amount
    if total <= 0:
        raise DomainError("there is nothing to refund")
    order_left = order.total - order.refunded_total
    if total > order_left:
        raise DomainError(
            f"at most {money(max(order_left, 0))} can still be refunded on order {order.number}"
        )
    refund = Refund(
        order_id=order.id,
        return_id=rma.id,
        amount=items,
        shipping_amount=shipping_amount,
        currency=order.currency,
        method=method,
        line_amounts={str(line_id): amount for line_id, amount in sorted(amounts.items())},
        reason=f"Return {rma.rma_number} ({REASONS.get(rma.reason, rma.reason)})",
        actor=actor.label,
        created_at=now,
    )
    session.add(refund)
    order.refunded_total += total
    order.updated_at = now
    rma.status = ReturnStatus.REFUNDED
    rma.closed_at = now
    session.flush()
    _return_event(
        session,
        order,
        rma,
        f"Refund of {money(total)} for return {rma.rma_number} {REFUND_METHODS[method]}",
        actor=actor,
        now=now,
        refund_id=refund.id,
    )
    record_audit(
        session,
        actor,
        "refund.create",
        "order",
        order.id,
        now=now,
        before={"refunded_total": order.refunded_total - total},
        after={
            "refunded_total": order.refunded_total,
            "refund_id": refund.id,
            "rma": rma.rma_number,
            "amount": items,
            "shipping_amount": shipping_amount,
            "method": method,
            "currency": order.currency,
        },
    )
    queue_return_refunded(session, rma, refund, now=now)
    return refund
