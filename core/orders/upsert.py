"""One canonical order upserted by (channel, external id): created, or updated with the channel's news.

A new order, the hot path, is inserted first with ON CONFLICT DO NOTHING on that unique key, so a replay,
an update or a concurrent delivery of the same new order that loses the race inserts nothing (having
written nothing else) and is applied as an update. It is written with the intake's statements
(core.orders.statements: one INSERT per table, the writes after the reservation in one batch) and no ORM
objects; an update goes through the ORM. Both write the order's columns as core.orders.columns describes
them. Updates older than what we hold (by the channel's updated-at) are recorded on the timeline and
ignored. An order that can't be completed (unmapped SKU, unknown currency, missing address) is kept on hold
with the reason; `recheck_hold` releases it once the cause is fixed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from core.channels.base import is_iso_currency, is_lines_gap, is_payload_gap
from core.channels.canonical import CanonicalLine, CanonicalOrder, CanonicalShipment, ChannelStatus
from core.channels.models import Channel
from core.customers.services import resolve_customer
from core.fulfillment.models import Shipment
from core.inventory.allocation import LineNeed, LocationStock
from core.inventory.allocations import (
    ListedSku,
    allocate_new_order,
    allocate_order,
    listed_skus_with_stock,
    release_order,
)
from core.orders import events, statements
from core.orders.checks import check_ranges, totals_warning
from core.orders.columns import line_columns, lines_differ, order_columns
from core.orders.models import Order, OrderLine
from core.orders.services import change_order_status, format_order_number, record_status_change
from core.orders.status import CANCELLABLE_STATUSES, OrderStatus, can_transition

# Payload statuses, as shown to ops (an order's result is one of them, or created, updated or stale).
RECEIVED, PROCESSED, DUPLICATE, NEEDS_ATTENTION, REJECTED = (
    "received",
    "processed",
    "duplicate",
    "needs_attention",
    "rejected",
)
UNMAPPED_PREFIX = "unmapped channel SKU"


@dataclass(frozen=True)
class IngestResult:
    """What happened to one order found in a payload (one JSON line of `crossdock import`)."""

    external_id: str | None
    status: str  # created, updated, duplicate, stale, needs_attention, rejected
    order_id: int | None = None
    error: str | None = None
    to_fetch: bool = False  # a webhook named the order without carrying it: it is to be fetched


_orders = Order.__table__
_ORDER_ID = select(_orders.c.id).where(
    _orders.c.channel_id == bindparam("channel_id"), _orders.c.external_id == bindparam("external_id")
)


def ingest_order(
    session: Session, channel: Channel, canonical: CanonicalOrder, *, now: datetime, actor: str
) -> IngestResult:
    """Create or update one order from its canonical form; idempotent and safe under concurrent delivery.

    The order is inserted by its unique key (channel, external id) before anything else is written for it;
    when it exists already (a replay, an update, or a concurrent delivery that got there first) no row is
    inserted and ours is applied as an update. Amounts out of range are a PayloadError before anything is
    written; totals that disagree with the order's figures hold it with a warning that states them."""
    check_ranges(canonical)
    warning = totals_warning(canonical)
    if warning is not None and warning not in canonical.warnings:
        canonical = replace(canonical, warnings=(*canonical.warnings, warning))
    new = _create_order(session, channel, canonical, now=now, actor=actor)
    if new is not None:
        _after_create(session, channel, new, canonical, now=now)
        status = NEEDS_ATTENTION if new.status == OrderStatus.ON_HOLD else "created"
        return IngestResult(canonical.external_id, status, new.id, new.hold_reason)
    order_id = _find_order_id(session, channel.id, canonical.external_id)
    if order_id is None:
        raise RuntimeError(f"order {canonical.external_id} conflicted on its key but cannot be found")
    order = session.get_one(Order, order_id)
    return _update_order(session, order, canonical, now=now, actor=actor)


def _find_order_id(session: Session, channel_id: int, external_id: str) -> int | None:
    session.flush()  # the Core query below doesn't autoflush
    return (
        session.connection()
        .execute(_ORDER_ID, {"channel_id": channel_id, "external_id": external_id})
        .scalar()
    )


def _hold_reasons(
    currency: str, warnings: Sequence[str], lines: Sequence[tuple[int, str | None, int | None]]
) -> list[str]:
    """Why the order can't be completed yet: the adapter's warnings, an unknown currency, unmapped lines.

    `lines` are (line_no, channel SKU, our SKU id)."""
    reasons = list(warnings)
    if not is_iso_currency(currency):
        reasons.append(f"unknown currency {currency!r}")
    reasons += [f"line {line_no} has no SKU" for line_no, channel_sku, _sku_id in lines if not channel_sku]
    unmapped = sorted({channel_sku for _no, channel_sku, sku_id in lines if channel_sku and sku_id is None})
    if unmapped:
        reasons.append(f"{UNMAPPED_PREFIX}: {', '.join(unmapped)}")
    return list(dict.fromkeys(reasons))


def _map_skus(session: Session, channel_id: int, channel_skus: set[str]) -> dict[str, int]:
    listed, _stock = listed_skus_with_stock(session, channel_id, channel_skus)
    return {code: sku.sku_id for code, sku in listed.items()}


def _build_lines(session: Session, channel: Channel, canonical: CanonicalOrder) -> list[OrderLine]:
    mapping = _map_skus(
        session, channel.id, {line.channel_sku for line in canonical.lines if line.channel_sku}
    )
    return [OrderLine(**fields) for fields in line_columns(canonical, mapping)]


@dataclass
class _NewOrder:
    """An order created in this transaction, held as plain data until `_after_create` completes its row."""

    id: int
    number: str
    status: str
    hold_reason: str | None
    customer_id: int | None
    identity_id: int | None
    email: str | None
    shipping_address: dict[str, Any] | None
    needs: list[LineNeed]  # what allocation will reserve: every line, all of it
    listed: dict[str, ListedSku]
    locations: list[LocationStock]  # where the SKUs may ship from, as read with the listings
    timeline: events.Timeline


def _create_order(
    session: Session, channel: Channel, canonical: CanonicalOrder, *, now: datetime, actor: str
) -> _NewOrder | None:
    """Write the new order (None when a concurrent delivery inserted it first), its customer and lines.

    Held when it can't be completed yet. Its number (derived from the id), final status and customer are
    written by `_after_create`, with its timeline."""
    listed, locations = listed_skus_with_stock(
        session, channel.id, {line.channel_sku for line in canonical.lines if line.channel_sku}
    )
    lines = line_columns(canonical, {code: sku.sku_id for code, sku in listed.items()})
    reasons = _hold_reasons(
        canonical.currency,
        canonical.warnings,
        [(line["line_no"], line["channel_sku"], line["sku_id"]) for line in lines],
    )
    hold_reason = "; ".join(reasons) or None
    columns = order_columns(canonical)
    order_id = statements.insert_new_order(
        session,
        {
            "channel_id": channel.id,
            "external_id": canonical.external_id,
            "number": f"new-{canonical.external_id}"[:32],
            "status": OrderStatus.ON_HOLD.value if reasons else OrderStatus.PENDING.value,
            "hold_reason": hold_reason,
            "placed_at": now,  # when the payload lacks the creation time (held, with a warning)
            "placed_at_offset_minutes": 0,
            **columns,
            "created_at": now,
            "updated_at": now,
        },
    )
    if order_id is None:
        return None
    customer_id, identity_id = resolve_customer(
        session,
        channel.id,
        canonical.buyer,
        canonical.shipping_address or canonical.billing_address,
        now=now,
        execute=statements.execute,
    )
    line_ids = statements.insert_lines(session, order_id, lines)
    timeline = events.Timeline(order_id, actor=actor, now=now)
    timeline.add(
        "placed",
        f"Order placed on {channel.name} ({canonical.raw_status})",
        data={"external_id": canonical.external_id, "channel_number": canonical.number},
    )
    status = OrderStatus.PENDING.value
    if hold_reason:
        status = record_status_change(timeline, status, OrderStatus.ON_HOLD, why=hold_reason)
    for shipped in canonical.shipments:
        _add_channel_shipment(session, order_id, shipped, timeline, now=now)
    if canonical.shipments:
        session.flush()
    return _NewOrder(
        id=order_id,
        number=format_order_number(order_id),
        status=status,
        hold_reason=hold_reason,
        customer_id=customer_id,
        identity_id=identity_id,
        email=columns["email"],
        shipping_address=columns["shipping_address"],
        needs=[
            LineNeed(
                line_ids[line["line_no"]],
                line["sku_id"],
                line["quantity"],
                listed[line["channel_sku"]].dropship_location_id,
            )
            for line in lines
            if line["sku_id"] is not None and line["quantity"] > 0
        ],
        listed=listed,
        locations=locations,
        timeline=timeline,
    )


def _add_channel_shipment(
    session: Session, order_id: int, shipped: CanonicalShipment, timeline: events.Timeline, *, now: datetime
) -> None:
    """A parcel the channel already sent for a new order, and its 'shipped' timeline entry."""
    session.add(
        Shipment(
            order_id=order_id,
            carrier=shipped.carrier,
            tracking_number=shipped.tracking_number,
            status="in_transit",
            shipped_at=shipped.shipped_at or now,
            created_at=now,
        )
    )
    timeline.add(
        "shipped",
        f"Shipped by the channel: {shipped.carrier or 'carrier'} {shipped.tracking_number or ''}".strip(),
    )


def _after_create(
    session: Session, channel: Channel, order: _NewOrder, canonical: CanonicalOrder, *, now: datetime
) -> None:
    """_after_change for a new order, then its row completed (number, status, customer) and its timeline
    appended.

    A new order holds no stock, so a cancellation has nothing to release."""
    # the writes after the reservation: one round trip on PostgreSQL
    with statements.batch(session) as queued:
        target = _target_status(order.status, canonical)
        if target is not None:
            why = f"channel reports {canonical.raw_status}"
            order.status = record_status_change(order.timeline, order.status, target, why=why)
        elif order.status == OrderStatus.PENDING and canonical.status == ChannelStatus.PAID:
            if canonical.fulfilled_by_channel:
                why = f"paid; {channel.name} fulfils it: nothing is allocated from our stock"
                order.status = record_status_change(
                    order.timeline, order.status, OrderStatus.CONFIRMED, why=why
                )
            else:
                order.status = allocate_new_order(
                    session,
                    order.id,
                    order.shipping_address,
                    order.needs,
                    order.listed,
                    order.locations,
                    timeline=order.timeline,
                    now=now,
                    queued=queued,
                )
                if order.status == OrderStatus.CONFIRMED and order.email:
                    queue_order_confirmation(
                        session, order.id, order.number, order.email, now=now, queued=queued
                    )
        statements.append_timeline(queued, order.timeline)
        statements.complete_order(
            queued,
            order.id,
            number=order.number,
            status=order.status,
            customer_id=order.customer_id,
            identity_id=order.identity_id,
            now=now,
        )


def _add_channel_shipments(
    session: Session, order: Order, canonical: CanonicalOrder, *, now: datetime, actor: str
) -> None:
    known = {(s.carrier, s.tracking_number) for s in order.shipments}
    for shipped in canonical.shipments:
        if (shipped.carrier, shipped.tracking_number) in known:
            continue
        shipment = Shipment(
            order_id=order.id,
            carrier=shipped.carrier,
            tracking_number=shipped.tracking_number,
            status="in_transit",
            shipped_at=shipped.shipped_at or now,
            created_at=now,
        )
        session.add(shipment)
        order.shipments.append(shipment)
        events.record_event(
            session,
            order,
            "shipped",
            f"Shipped by the channel: {shipped.carrier or 'carrier'} {shipped.tracking_number or ''}".strip(),
            actor=actor,
            now=now,
        )


def _target_status(status: str, canonical: CanonicalOrder) -> OrderStatus | None:
    """The status the channel's news moves an order in `status` to, when the status table allows it."""
    wanted: OrderStatus | None = None
    if (
        canonical.status in (ChannelStatus.CANCELLED, ChannelStatus.REFUNDED)
        and status in CANCELLABLE_STATUSES
    ):
        wanted = OrderStatus.CANCELLED
    elif canonical.status == ChannelStatus.SHIPPED and status != OrderStatus.ON_HOLD:
        wanted = OrderStatus.SHIPPED
    if wanted is None or wanted.value == status or not can_transition(status, wanted):
        return None
    return wanted


def _after_change(
    session: Session, order: Order, canonical: CanonicalOrder, *, now: datetime, actor: str
) -> None:
    """Follow the channel's news: cancel (releasing stock), mark shipped, or reserve stock once paid."""
    target = _target_status(order.status, canonical)
    if target is not None:
        if target == OrderStatus.CANCELLED:
            release_order(session, order, actor=actor, now=now)
        change_order_status(
            session, order, target, actor=actor, now=now, why=f"channel reports {canonical.raw_status}"
        )
        return
    allocate_if_ready(session, order, now=now, actor=actor)


def allocate_if_ready(session: Session, order: Order, *, now: datetime, actor: str) -> None:
    """Reserve stock for a paid, pending order (confirmed or backordered) and queue its confirmation."""
    if order.status != OrderStatus.PENDING or order.channel_state != ChannelStatus.PAID:
        return
    if order.fulfilled_by_channel:
        why = f"paid; {order.channel.name} fulfils it: nothing is allocated from our stock"
        change_order_status(session, order, OrderStatus.CONFIRMED, actor=actor, now=now, why=why)
        return
    allocate_order(session, order, actor=actor, now=now)
    if order.status == OrderStatus.CONFIRMED and order.email:
        queue_order_confirmation(session, order.id, order.number, order.email, now=now)


def queue_order_confirmation(
    session: Session,
    order_id: int,
    number: str,
    email: str,
    *,
    now: datetime,
    queued: statements.Batch | None = None,
) -> None:
    """The 'order confirmed' email, queued once per order (the dedup key makes a second queueing a no-op);
    added to `queued` when given."""
    statements.queue_confirmation(
        session,
        {
            "kind": "order_confirmed",
            "transport": "email",
            "dedup_key": f"order:{order_id}:confirmed",
            "recipient": email,
            "subject": f"Your order {number} is confirmed",
            "payload": {"order_id": order_id},
            "status": "pending",
            "attempts": 0,
            "next_attempt_at": now,
            "created_at": now,
        },
        queued,
    )


# What a payload without the order's lines can't tell: the lines and the amounts read from them.
_FROM_LINES = frozenset(
    {"subtotal", "discount_total", "shipping_total", "tax_total", "total", "charges", "taxes_included"}
)


def _keep_what_a_partial_payload_lacks(
    order: Order, canonical: CanonicalOrder
) -> tuple[CanonicalOrder, dict[str, Any]]:
    """The canonical order and columns to apply. A payload that lacks the lines (or the creation time) of an
    order we hold complete (a list limited by a fields filter, Amazon's getOrders without getOrderItems)
    updates the rest, keeps the lines and amounts we hold, and does not hold the order for the gap."""
    columns = order_columns(canonical)
    held = set(order.hold_warnings or [])
    gaps = [w for w in canonical.warnings if is_payload_gap(w) and w not in held]
    if canonical.lines_complete or not order.lines:
        gaps = [w for w in gaps if not is_lines_gap(w)]
    if canonical.lines_complete and not gaps:
        return canonical, columns
    if not canonical.lines_complete and order.lines:
        columns = {name: value for name, value in columns.items() if name not in _FROM_LINES}
        canonical = replace(canonical, lines=tuple(_canonical_line(line) for line in order.lines))
    warnings = tuple(w for w in canonical.warnings if w not in gaps)
    columns["hold_warnings"] = list(warnings)
    return replace(canonical, warnings=warnings, lines_complete=True), columns


def _canonical_line(line: OrderLine) -> CanonicalLine:
    return CanonicalLine(
        external_id=line.external_id,
        channel_sku=line.channel_sku,
        title=line.title,
        quantity=line.quantity,
        unit_price=line.unit_price,
        discount=line.discount,
        tax=line.tax,
        total=line.total,
        removed_quantity=line.quantity_removed,
    )


def _update_order(
    session: Session, order: Order, canonical: CanonicalOrder, *, now: datetime, actor: str
) -> IngestResult:
    if canonical.updated_at and order.channel_updated_at and canonical.updated_at < order.channel_updated_at:
        events.record_event(
            session,
            order,
            "stale_update_ignored",
            f"Ignored an update from {canonical.updated_at.isoformat()}: we already have "
            f"{order.channel_updated_at.isoformat()}",
            actor=actor,
            now=now,
        )
        return IngestResult(canonical.external_id, "stale", order.id, None)
    canonical, columns = _keep_what_a_partial_payload_lacks(order, canonical)
    changes = _apply_changes(session, order, canonical, columns, now=now, actor=actor)
    previous = order.status
    _after_change(session, order, canonical, now=now, actor=actor)
    if not changes and order.status == previous:
        return IngestResult(canonical.external_id, DUPLICATE, order.id, None)
    order.updated_at = now
    status = NEEDS_ATTENTION if order.status == OrderStatus.ON_HOLD else "updated"
    return IngestResult(canonical.external_id, status, order.id, order.hold_reason)


# Columns an update writes without counting them as news: the channel's state moves the order's status
# instead (_after_change), and a newer updated-at alone changes nothing else.
_NOT_NEWS = frozenset({"channel_state", "channel_updated_at"})


def _apply_changes(
    session: Session,
    order: Order,
    canonical: CanonicalOrder,
    columns: dict[str, Any],
    *,
    now: datetime,
    actor: str,
) -> list[str]:
    """Write the channel's columns (`columns`, from order_columns), lines and shipments onto a known order,
    with the timeline entries they call for; the names of what changed."""
    changes: list[str] = []
    for name, value in columns.items():
        if getattr(order, name) == value or (name == "channel_updated_at" and value is None):
            continue  # (a payload without an updated-at leaves ours)
        if name == "shipping_address":
            events.record_event(
                session,
                order,
                "address_changed",
                "Shipping address changed by the channel",
                actor=actor,
                now=now,
                data={"address": value},
            )
        elif name == "refunded_total":
            events.record_event(
                session,
                order,
                "refund_recorded",
                f"Channel refunded {value - order.refunded_total} (minor units) in total",
                actor=actor,
                now=now,
                data={"refunded_total": value},
            )
        setattr(order, name, value)
        if name not in _NOT_NEWS:
            changes.append(name)
    if lines_differ(order.lines, line_columns(canonical, {})):  # SKU ids aren't compared: no mapping needed
        if order.status in (OrderStatus.PENDING, OrderStatus.ON_HOLD, OrderStatus.BACKORDERED):
            order.lines = _build_lines(session, order.channel, canonical)
            events.record_event(
                session, order, "lines_changed", "Order lines changed by the channel", actor=actor, now=now
            )
            changes.append("lines")
        else:
            events.record_event(
                session,
                order,
                "lines_change_ignored",
                f"The channel changed the lines but the order is already {order.status}: check by hand",
                actor=actor,
                now=now,
            )
    before = len(order.shipments)
    _add_channel_shipments(session, order, canonical, now=now, actor=actor)
    if len(order.shipments) != before:
        changes.append("shipments")
    if changes:
        session.flush()
        recheck_hold(session, order, canonical.warnings, now=now, actor=actor)
    return changes


def recheck_hold(
    session: Session, order: Order, warnings: Sequence[str] | None = None, *, now: datetime, actor: str
) -> bool:
    """Re-map a held order's lines; release the hold when nothing is missing any more. True if released.

    `warnings` are the adapter's warnings from the newest payload; None keeps those of the current hold."""
    if order.status != OrderStatus.ON_HOLD:
        return False
    unmapped = {line.channel_sku for line in order.lines if line.sku_id is None and line.channel_sku}
    mapping = _map_skus(session, order.channel_id, unmapped)
    for line in order.lines:
        if line.sku_id is None and line.channel_sku in mapping:
            line.sku_id = mapping[line.channel_sku]
    if warnings is None:
        warnings = list(order.hold_warnings or [])
    order.hold_warnings = list(warnings)
    reasons = _hold_reasons(
        order.currency, warnings, [(line.line_no, line.channel_sku, line.sku_id) for line in order.lines]
    )
    if reasons:
        order.hold_reason = "; ".join(reasons)
        return False
    order.hold_reason = None
    change_order_status(session, order, OrderStatus.PENDING, actor=actor, now=now, why="hold cleared")
    return True


def reprocess_held_orders(session: Session, channel_id: int, *, now: datetime, actor: str) -> list[int]:
    """Retry every order of the channel held for unmapped SKUs (after a listing was added); ids released."""
    held = session.scalars(
        select(Order).where(
            Order.channel_id == channel_id,
            Order.status == OrderStatus.ON_HOLD,
            Order.hold_reason.like(f"%{UNMAPPED_PREFIX}%"),
        )
    ).all()
    released = []
    for order in held:
        if recheck_hold(session, order, now=now, actor=actor):
            allocate_if_ready(session, order, now=now, actor=actor)
            released.append(order.id)
    return released
