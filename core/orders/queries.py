"""Read models for order screens; each loads what its screen shows in a fixed number of queries."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session, joinedload, selectinload

from core.catalog.models import Sku
from core.channels.canonical import charges_total
from core.channels.models import Channel
from core.errors import NotFound
from core.fulfillment.models import Shipment, TrackingEvent
from core.money import to_decimal_string
from core.orders.models import InboundPayload, Order, OrderEvent, OrderLine
from core.pagination import KeysetPage, capped_count, contains_pattern, keyset_page
from core.security.guest import proof_matches


def customer_orders(
    session: Session,
    customer_id: int,
    *,
    after: str | None = None,
    before: str | None = None,
    per_page: int = 20,
    search: str = "",
) -> KeysetPage[Order]:
    """A customer's orders from every channel, newest first, optionally filtered by number or item title:
    the page older than the `after` cursor or newer than `before` (keyset), the count capped (3 queries)."""
    where = [Order.customer_id == customer_id]
    term = search.strip()
    if term:
        like = contains_pattern(term.lower())
        where.append(
            or_(
                func.lower(Order.number).like(like, escape="\\"),
                func.lower(Order.external_id).like(like, escape="\\"),
                Order.id.in_(
                    select(OrderLine.order_id).where(func.lower(OrderLine.title).like(like, escape="\\"))
                ),
            )
        )
    total = capped_count(session, select(Order.id).where(*where))
    items, newer, older = keyset_page(
        session,
        select(Order).where(*where).options(selectinload(Order.lines), selectinload(Order.channel)),
        at=Order.placed_at,
        key=Order.id,
        cursor_of=lambda order: (order.placed_at, order.id),
        after=after,
        before=before,
        per_page=per_page,
    )
    return KeysetPage(items, per_page, total, newer=newer, older=older)


def customer_order(session: Session, customer_id: int, number: str) -> Order:
    """One of the customer's orders by its number; NotFound for any order that is not theirs."""
    order = session.scalar(
        select(Order)
        .where(Order.number == number, Order.customer_id == customer_id)
        .options(selectinload(Order.lines), selectinload(Order.channel), selectinload(Order.shipments))
    )
    if order is None:
        raise NotFound("order not found")
    return order


def customer_timeline(session: Session, order: Order) -> list[OrderEvent]:
    """The timeline entries the customer may see, oldest first."""
    return list(
        session.scalars(
            select(OrderEvent)
            .where(OrderEvent.order_id == order.id, OrderEvent.visible_to_customer.is_(True))
            .order_by(OrderEvent.created_at, OrderEvent.id)
        )
    )


def staff_order(session: Session, order_id: int) -> Order:
    """An order with lines, shipments, customer and the full timeline, for staff; NotFound otherwise."""
    order = session.scalar(
        select(Order)
        .where(Order.id == order_id)
        .options(
            selectinload(Order.lines),
            selectinload(Order.channel),
            selectinload(Order.shipments),
            selectinload(Order.events),
            selectinload(Order.customer),
        )
    )
    if order is None:
        raise NotFound(f"order {order_id} not found")
    return order


def order_by_external_id(session: Session, channel_code: str, external_id: str) -> Order:
    """An order by its channel's code and the channel's own id, or NotFound."""
    order = session.scalar(
        select(Order)
        .join(Channel, Channel.id == Order.channel_id)
        .where(Channel.code == channel_code, Order.external_id == external_id)
        .options(selectinload(Order.lines), selectinload(Order.shipments), selectinload(Order.customer))
    )
    if order is None:
        raise NotFound(f"no order {external_id!r} on channel {channel_code!r}")
    return order


def canonical_order_json(session: Session, order: Order) -> dict[str, Any]:
    """The canonical order as JSON (DESIGN.md): money as decimal strings, times in ISO 8601."""
    money = functools.partial(to_decimal_string, currency=order.currency)
    sku_codes = dict(
        session.execute(
            select(Sku.id, Sku.code).where(Sku.id.in_({line.sku_id for line in order.lines if line.sku_id}))
        ).all()
    )
    address = order.shipping_address or {}
    customer = order.customer
    return {
        "id": order.id,
        "number": order.number,
        "channel": order.channel.code,
        "external_id": order.external_id,
        "status": order.status,
        "hold_reason": order.hold_reason,
        "placed_at": order.placed_at.astimezone(
            timezone(timedelta(minutes=order.placed_at_offset_minutes))
        ).isoformat(),
        "currency": order.currency,
        "subtotal": money(order.subtotal),
        "discount_total": money(order.discount_total),
        "shipping_total": money(order.shipping_total),
        "tax_total": money(order.tax_total),
        "total": money(order.total),
        "charges": [
            {
                "kind": charge.get("kind"),
                "title": charge.get("title"),
                "amount": money(int(charge.get("amount") or 0)),
                "tax": money(int(charge.get("tax") or 0)),
            }
            for charge in order.charges or []
        ],
        "charges_total": money(charges_total(order)),
        "taxes_included": order.taxes_included,
        "customer": {
            "id": customer.id if customer else None,
            "name": order.buyer_name or (customer.name if customer else None),
            "email": order.email,
        },
        "shipping_address": {
            key: address.get(key)
            for key in ("name", "line1", "line2", "city", "region", "postal_code", "country")
        }
        if order.shipping_address
        else None,
        "lines": [
            {
                "sku": sku_codes.get(line.sku_id) if line.sku_id else None,
                "channel_sku": line.channel_sku,
                "title": line.title,
                "quantity": line.quantity,
                "removed_quantity": line.quantity_removed,
                "unit_price": money(line.unit_price),
                "total": money(line.total),
            }
            for line in order.lines
        ],
        "fulfilled_by_channel": order.fulfilled_by_channel,
        "shipments": [
            {"carrier": s.carrier, "tracking_number": s.tracking_number, "status": s.status}
            for s in order.shipments
        ],
    }


PAYLOAD_STATUSES = ("received", "processed", "duplicate", "needs_attention", "rejected")


def inbound_payloads(
    session: Session,
    *,
    status: str | None = None,
    after: str | None = None,
    before: str | None = None,
    per_page: int = 50,
) -> KeysetPage[InboundPayload]:
    """Inbound channel payloads, newest first, optionally in one processing status: a keyset page (the
    `after`/`before` cursors), the count capped."""
    where = [InboundPayload.status == status] if status in PAYLOAD_STATUSES else []
    total = capped_count(session, select(InboundPayload.id).where(*where))
    items, newer, older = keyset_page(
        session,
        select(InboundPayload).where(*where),
        at=InboundPayload.received_at,
        key=InboundPayload.id,
        cursor_of=lambda payload: (payload.received_at, payload.id),
        after=after,
        before=before,
        per_page=per_page,
    )
    return KeysetPage(items, per_page, total, newer=newer, older=older)


def payload_status_counts(session: Session) -> dict[str, int]:
    """How many inbound payloads are in each processing status."""
    counts = dict.fromkeys(PAYLOAD_STATUSES, 0)
    counts.update(
        session.execute(select(InboundPayload.status, func.count()).group_by(InboundPayload.status)).all()
    )
    return counts


def held_orders(session: Session, *, limit: int = 200) -> list[Order]:
    """Orders on hold, oldest first, with their channel and lines (what ops must fix)."""
    return list(
        session.scalars(
            select(Order)
            .where(Order.status == "on_hold")
            .options(selectinload(Order.channel), selectinload(Order.lines))
            .order_by(Order.placed_at, Order.id)
            .limit(limit)
        )
    )


def find_order_for_guest(session: Session, reference: str, proof: str) -> Order | None:
    """The order whose number (ours or the channel's) is `reference` and whose email or shipping postcode is
    `proof`; None for any mismatch, so a wrong answer never reveals whether the order exists."""
    reference = reference.strip()
    if not reference or not proof.strip():
        return None
    candidates = session.scalars(
        select(Order)
        .where(
            or_(
                Order.number == reference.upper(),
                Order.external_id == reference,
                Order.channel_number == reference,
            )
        )
        .limit(5)
    ).all()
    for order in candidates:
        postcode = (order.shipping_address or {}).get("postal_code")
        if proof_matches(proof, email=order.email, postcode=postcode):
            return order
    return None


def order_for_viewer(
    session: Session, number: str, *, customer_id: int | None, guest_order_ids: set[int]
) -> Order:
    """An order the viewer may see: their own (signed in) or one a guest token grants; NotFound otherwise."""
    # One query: an order has a handful of lines and parcels, so joining both costs less than two more trips.
    order = (
        session.execute(
            select(Order)
            .where(Order.number == number)
            .options(joinedload(Order.lines), joinedload(Order.channel), joinedload(Order.shipments))
        )
        .unique()
        .scalar_one_or_none()
    )
    if order is None:
        raise NotFound("order not found")
    if customer_id is not None and order.customer_id == customer_id:
        return order
    if order.id in guest_order_ids:
        return order
    raise NotFound("order not found")


# What a customer is told about a shipment in each of our tracking statuses.
SHIPMENT_EXPLANATIONS = {
    "pending": "We're getting this parcel ready.",
    "packed": "Packed and waiting for the carrier to collect it.",
    "info_received": "The carrier has the parcel's details and is waiting to receive it.",
    "in_transit": "On its way with the carrier.",
    "out_for_delivery": "Out for delivery today.",
    "available_for_pickup": "Waiting for you at the pickup point.",
    "failed_attempt": "The carrier couldn't deliver; they usually try again the next working day.",
    "exception": "The carrier reported a problem with this parcel. We're on it; ask us if it doesn't move.",
    "delivered": "Delivered.",
    "returned_to_sender": "The carrier is sending this parcel back to us; we'll contact you about a resend.",
}

STAGES = ("placed", "confirmed", "shipped", "out_for_delivery", "delivered")


@dataclass(frozen=True)
class ShipmentTracking:
    shipment: Shipment
    events: list[TrackingEvent]  # newest first
    explanation: str
    delayed: bool
    estimate_changed: bool


@dataclass(frozen=True)
class OrderTracking:
    stage: str  # one of STAGES, or cancelled / returned / on_hold / backordered
    headline: str
    shipments: list[ShipmentTracking]
    still_moving: bool  # the page keeps refreshing its status widget while true


def order_tracking(session: Session, order: Order, *, now: datetime | None = None) -> OrderTracking:
    """Where the order and each of its parcels are, in plain words, with carrier checkpoints (2 queries)."""
    now = now or datetime.now(UTC)
    shipments = list(order.shipments)
    events: dict[int, list[TrackingEvent]] = {s.id: [] for s in shipments}
    if shipments:
        for event in session.scalars(
            select(TrackingEvent)
            .where(TrackingEvent.shipment_id.in_(events))
            .order_by(TrackingEvent.occurred_at.desc(), TrackingEvent.id.desc())
        ):
            events[event.shipment_id].append(event)
    views = []
    for shipment in shipments:
        delayed = bool(
            shipment.estimated_to
            and shipment.delivered_at is None
            and shipment.estimated_to < now
            and shipment.status not in ("delivered", "returned_to_sender")
        )
        explanation = SHIPMENT_EXPLANATIONS.get(shipment.status, "On its way.")
        if delayed:
            explanation += " It's later than we estimated; sorry for the wait."
        changed = bool(
            shipment.first_estimated_to
            and shipment.estimated_to
            and shipment.first_estimated_to != shipment.estimated_to
        )
        views.append(ShipmentTracking(shipment, events[shipment.id], explanation, delayed, changed))
    stage, headline = _stage(order, shipments)
    moving = order.status not in ("delivered", "cancelled", "returned", "partially_returned")
    return OrderTracking(stage, headline, views, moving)


def _stage(order: Order, shipments: list[Shipment]) -> tuple[str, str]:
    status = order.status
    if status == "cancelled":
        return "cancelled", "This order was cancelled."
    if status in ("returned", "partially_returned"):
        return (
            "returned",
            "Returned items have reached us." if status == "returned" else "Part of this order was returned.",
        )
    if status == "on_hold":
        return "on_hold", "We're checking a detail of this order before we can send it."
    if status == "backordered":
        return (
            "backordered",
            "Some items are on their way to our warehouse; we'll ship as soon as they arrive.",
        )
    if status == "delivered":
        return "delivered", "Delivered."
    if any(s.status == "out_for_delivery" for s in shipments):
        return "out_for_delivery", "Out for delivery today."
    if status in ("shipped", "partially_shipped"):
        return "shipped", "On its way." if status == "shipped" else "Part of your order is on its way."
    if status == "confirmed":
        if order.fulfilled_by_channel:
            return "confirmed", f"{order.channel.name} is preparing your order."
        return "confirmed", "We're preparing your order."
    return "placed", "We've received your order."


def find_order_by_reference(session: Session, reference: str) -> Order | None:
    """The order whose number, ours or the channel's, is `reference` (for the emailed-code lookup)."""
    reference = reference.strip()
    if not reference:
        return None
    return session.scalars(
        select(Order)
        .where(
            or_(
                Order.number == reference.upper(),
                Order.external_id == reference,
                Order.channel_number == reference,
            )
        )
        .order_by(Order.id)
        .limit(1)
    ).first()
