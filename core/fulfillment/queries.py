"""Fulfillment read models: the pick list and packing slip of a location, open fulfillment requests (3PL),
an order's shipments with their lines and tracking events, and the unknown-tracking report for ops.

Each loads what its screen shows in a fixed number of queries, whatever the number of orders or parcels.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.catalog.models import Sku
from core.errors import DomainError, NotFound
from core.fulfillment.models import Shipment, ShipmentLine, TrackingEvent
from core.fulfillment.tracking import UNKNOWN_TRACKING_CHANNEL, UNKNOWN_TRACKING_TOPIC
from core.inventory.models import Location
from core.orders.models import Allocation, InboundPayload, Order, OrderLine
from core.orders.status import OrderStatus

# Orders whose reserved units are waiting to be picked, packed and shipped.
SHIPPABLE_STATUSES = (OrderStatus.CONFIRMED.value, OrderStatus.PARTIALLY_SHIPPED.value)
ADDRESS_FIELDS = ("name", "company", "line1", "line2", "city", "region", "postal_code", "country", "phone")


def ship_to(order: Order) -> dict[str, str]:
    """The order's shipping address, every field present ("" when missing), name defaulting to the buyer."""
    address = order.shipping_address or {}
    result = {key: str(address.get(key) or "") for key in ADDRESS_FIELDS}
    result["name"] = result["name"] or order.buyer_name
    result["phone"] = result["phone"] or (order.phone or "")
    return result


def get_location(session: Session, location_id: int) -> Location:
    """The location, or NotFound."""
    location = session.get(Location, location_id)
    if location is None:
        raise NotFound(f"location {location_id} not found")
    return location


# --- pick list -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PickLine:
    order_id: int
    order_number: str
    placed_at: datetime
    order_line_id: int
    sku_code: str
    title: str
    option: str | None
    barcode: str | None
    quantity: int


@dataclass(frozen=True)
class PickItem:
    """One SKU to pick, summed over the orders that want it."""

    sku_code: str
    title: str
    option: str | None
    barcode: str | None
    quantity: int
    order_numbers: tuple[str, ...]


@dataclass(frozen=True)
class PickList:
    location_id: int
    location_code: str
    location_name: str
    items: tuple[PickItem, ...]  # by SKU code: the walk through the shelves
    lines: tuple[PickLine, ...]  # by order, oldest first: what goes in each parcel

    @property
    def units(self) -> int:
        return sum(item.quantity for item in self.items)

    @property
    def order_count(self) -> int:
        return len({line.order_id for line in self.lines})


def _reserved_lines(session: Session, location_id: int, order_id: int | None = None) -> list[PickLine]:
    query = (
        select(
            Order.id,
            Order.number,
            Order.placed_at,
            OrderLine.id,
            Sku.code,
            Sku.title,
            Sku.option,
            Sku.barcode,
            Allocation.quantity,
        )
        .join(OrderLine, OrderLine.id == Allocation.order_line_id)
        .join(Order, Order.id == OrderLine.order_id)
        .join(Sku, Sku.id == OrderLine.sku_id)
        .where(
            Allocation.location_id == location_id,
            Allocation.status == "reserved",
            Order.status.in_(SHIPPABLE_STATUSES),
        )
        .order_by(Order.placed_at, Order.id, OrderLine.line_no, Allocation.id)
    )
    if order_id is not None:
        query = query.where(Order.id == order_id)
    merged: dict[tuple[int, int], PickLine] = {}
    for row in session.execute(query).all():
        key = (row[0], row[3])
        if key in merged:  # two allocations of one line at one location: one line to pick
            merged[key] = PickLine(*row[:8], merged[key].quantity + row[8])
        else:
            merged[key] = PickLine(*row)
    return list(merged.values())


def pick_list(session: Session, location_id: int) -> PickList:
    """Everything reserved at the location for orders waiting to ship: per SKU and per order."""
    location = get_location(session, location_id)
    lines = _reserved_lines(session, location_id)
    by_sku: dict[str, list[PickLine]] = {}
    for line in lines:
        by_sku.setdefault(line.sku_code, []).append(line)
    items = tuple(
        PickItem(
            sku_code=code,
            title=group[0].title,
            option=group[0].option,
            barcode=group[0].barcode,
            quantity=sum(line.quantity for line in group),
            order_numbers=tuple(dict.fromkeys(line.order_number for line in group)),
        )
        for code, group in sorted(by_sku.items())
    )
    return PickList(location.id, location.code, location.name, items, tuple(lines))


# --- packing slip --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PackingLine:
    line_no: int
    sku_code: str
    title: str
    option: str | None
    quantity: int


@dataclass(frozen=True)
class PackingSlip:
    order_id: int
    order_number: str
    channel_name: str
    placed_at: datetime
    ship_to: dict[str, str]
    shipping_method: str | None
    note: str | None
    location_name: str
    location_address: dict[str, Any]
    lines: tuple[PackingLine, ...]
    shipment_id: int | None  # the parcel being packed or shipped, when there is one
    shipped: bool  # reprinted for a parcel that already left

    @property
    def units(self) -> int:
        return sum(line.quantity for line in self.lines)


def packing_slip(session: Session, order_id: int, location_id: int) -> PackingSlip:
    """What goes in the order's parcel from this location: its reserved lines, or, once shipped, the lines
    of the last parcel that left from there. DomainError when the location has nothing for the order."""
    order = session.get(Order, order_id)
    if order is None:
        raise NotFound(f"order {order_id} not found")
    location = get_location(session, location_id)
    line_nos = {line.id: line.line_no for line in order.lines}
    parcels = session.scalars(
        select(Shipment)
        .where(Shipment.order_id == order.id, Shipment.location_id == location.id)
        .order_by(Shipment.id.desc())
    ).all()
    open_parcel = next((s for s in parcels if s.status in ("pending", "packed")), None)
    reserved = _reserved_lines(session, location.id, order.id)
    shipped = False
    if reserved:
        lines = [
            PackingLine(line_nos[p.order_line_id], p.sku_code, p.title, p.option, p.quantity)
            for p in reserved
        ]
        parcel = open_parcel
    elif sent := [p for p in parcels if p.status not in ("pending", "packed")]:
        parcel, shipped = sent[0], True
        rows = session.execute(
            select(OrderLine.line_no, Sku.code, Sku.title, Sku.option, ShipmentLine.quantity)
            .join(OrderLine, OrderLine.id == ShipmentLine.order_line_id)
            .join(Sku, Sku.id == OrderLine.sku_id)
            .where(ShipmentLine.shipment_id == parcel.id)
            .order_by(OrderLine.line_no)
        ).all()
        lines = [PackingLine(*row) for row in rows]
    else:
        raise DomainError(f"order {order.number} has nothing to pack at {location.name}")
    return PackingSlip(
        order_id=order.id,
        order_number=order.number,
        channel_name=order.channel.name,
        placed_at=order.placed_at,
        ship_to=ship_to(order),
        shipping_method=order.shipping_method,
        note=order.note,
        location_name=location.name,
        location_address=dict(location.address or {}),
        lines=tuple(lines),
        shipment_id=parcel.id if parcel is not None else None,
        shipped=shipped,
    )


# --- fulfillment requests (3PL) ------------------------------------------------------------------------


@dataclass(frozen=True)
class RequestLine:
    sku_code: str
    title: str
    quantity: int


@dataclass(frozen=True)
class FulfillmentRequest:
    """One order for a 3PL to ship: where to, how, and which units."""

    order_id: int
    order_number: str
    placed_at: datetime
    shipping_method: str | None
    ship_to: dict[str, str]
    lines: tuple[RequestLine, ...]


def fulfillment_requests(session: Session, location_id: int) -> list[FulfillmentRequest]:
    """Orders with units reserved at the location and waiting to ship, oldest first (two queries)."""
    get_location(session, location_id)
    lines = _reserved_lines(session, location_id)
    orders = {
        order.id: order
        for order in session.scalars(select(Order).where(Order.id.in_({line.order_id for line in lines})))
    }
    grouped: dict[int, list[PickLine]] = {}
    for line in lines:
        grouped.setdefault(line.order_id, []).append(line)
    return [
        FulfillmentRequest(
            order_id=order_id,
            order_number=orders[order_id].number,
            placed_at=orders[order_id].placed_at,
            shipping_method=orders[order_id].shipping_method,
            ship_to=ship_to(orders[order_id]),
            lines=tuple(RequestLine(p.sku_code, p.title, p.quantity) for p in group),
        )
        for order_id, group in grouped.items()
    ]


# --- an order's shipments ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ShipmentLineView:
    sku_code: str | None
    title: str
    quantity: int


@dataclass(frozen=True)
class TrackingEventView:
    occurred_at: datetime
    status: str
    description: str
    location: str


@dataclass(frozen=True)
class ShipmentView:
    id: int
    location_name: str | None
    carrier: str | None
    tracking_number: str | None
    tracking_url: str | None
    status: str
    packed_at: datetime | None
    shipped_at: datetime | None
    delivered_at: datetime | None
    estimated_from: datetime | None
    estimated_to: datetime | None
    first_estimated_from: datetime | None
    first_estimated_to: datetime | None
    lines: tuple[ShipmentLineView, ...]
    events: tuple[TrackingEventView, ...]  # newest first

    @property
    def estimate_changed(self) -> bool:
        return (self.first_estimated_to is not None) and self.first_estimated_to != self.estimated_to


def order_shipments(session: Session, order_id: int) -> list[ShipmentView]:
    """The order's parcels, oldest first, each with its lines and tracking events (three queries)."""
    rows = session.execute(
        select(Shipment, Location.name)
        .outerjoin(Location, Location.id == Shipment.location_id)
        .where(Shipment.order_id == order_id)
        .order_by(Shipment.id)
    ).all()
    ids = [shipment.id for shipment, _ in rows]
    lines: dict[int, list[ShipmentLineView]] = {}
    for shipment_id, code, title, quantity in session.execute(
        select(ShipmentLine.shipment_id, Sku.code, OrderLine.title, ShipmentLine.quantity)
        .join(OrderLine, OrderLine.id == ShipmentLine.order_line_id)
        .outerjoin(Sku, Sku.id == OrderLine.sku_id)
        .where(ShipmentLine.shipment_id.in_(ids))
        .order_by(ShipmentLine.shipment_id, OrderLine.line_no)
    ).all():
        lines.setdefault(shipment_id, []).append(ShipmentLineView(code, title, quantity))
    tracking: dict[int, list[TrackingEventView]] = {}
    for event in session.scalars(
        select(TrackingEvent)
        .where(TrackingEvent.shipment_id.in_(ids))
        .order_by(TrackingEvent.occurred_at.desc(), TrackingEvent.id.desc())
    ):
        tracking.setdefault(event.shipment_id, []).append(
            TrackingEventView(event.occurred_at, event.status, event.description, event.location)
        )
    return [
        ShipmentView(
            id=s.id,
            location_name=location_name,
            carrier=s.carrier,
            tracking_number=s.tracking_number,
            tracking_url=s.tracking_url,
            status=s.status,
            packed_at=s.packed_at,
            shipped_at=s.shipped_at,
            delivered_at=s.delivered_at,
            estimated_from=s.estimated_from,
            estimated_to=s.estimated_to,
            first_estimated_from=s.first_estimated_from,
            first_estimated_to=s.first_estimated_to,
            lines=tuple(lines.get(s.id, ())),
            events=tuple(tracking.get(s.id, ())),
        )
        for s, location_name in rows
    ]


# --- unknown tracking numbers --------------------------------------------------------------------------


@dataclass(frozen=True)
class UnknownTrackingRow:
    payload_id: int
    tracking_number: str
    carrier: str | None
    reason: str  # unknown (no shipment has it) or invalid (not a tracking number)
    last_status: str
    times_seen: int
    first_seen: datetime
    last_seen: datetime
    source: str


def unknown_tracking_report(session: Session, *, limit: int = 200) -> list[UnknownTrackingRow]:
    """Tracking numbers carriers told us about that match no shipment, most recently seen first."""
    rows = session.scalars(
        select(InboundPayload)
        .where(
            InboundPayload.channel_code == UNKNOWN_TRACKING_CHANNEL,
            InboundPayload.topic == UNKNOWN_TRACKING_TOPIC,
            InboundPayload.status == "needs_attention",
        )
        .order_by(InboundPayload.processed_at.desc(), InboundPayload.id.desc())
        .limit(limit)
    ).all()
    return [
        UnknownTrackingRow(
            payload_id=row.id,
            tracking_number=str(row.headers.get("tracking_number", "")),
            carrier=row.headers.get("carrier"),
            reason=str(row.headers.get("reason", "unknown")),
            last_status=str(row.headers.get("last_status", "")),
            times_seen=int(row.headers.get("times_seen", 1)),
            first_seen=row.received_at,
            last_seen=row.processed_at or row.received_at,
            source=row.source,
        )
        for row in rows
    ]


@dataclass(frozen=True)
class ReservedAt:
    """A location holding reserved units of an order that is waiting to ship."""

    location_id: int
    code: str
    name: str
    fulfillment_method: str
    units: int


def active_locations(session: Session) -> list[Location]:
    """Active locations, in allocation priority order."""
    return list(
        session.scalars(select(Location).where(Location.active).order_by(Location.priority, Location.code))
    )


def location_by_code(session: Session, code: str) -> Location:
    """The location with this code (codes are stored upper-case); NotFound otherwise."""
    location = session.scalar(select(Location).where(Location.code == code.strip().upper()))
    if location is None:
        raise NotFound(f"location {code!r} not found")
    return location


def reserved_at(session: Session, order_id: int) -> list[ReservedAt]:
    """Where the order's reserved units wait to be packed and shipped (one query)."""
    rows = session.execute(
        select(
            Location.id,
            Location.code,
            Location.name,
            Location.fulfillment_method,
            func.sum(Allocation.quantity),
        )
        .join(Allocation, Allocation.location_id == Location.id)
        .join(OrderLine, OrderLine.id == Allocation.order_line_id)
        .join(Order, Order.id == OrderLine.order_id)
        .where(
            Order.id == order_id,
            Allocation.status == "reserved",
            Order.status.in_(SHIPPABLE_STATUSES),
        )
        .group_by(Location.id, Location.code, Location.name, Location.fulfillment_method, Location.priority)
        .order_by(Location.priority, Location.code)
    ).all()
    return [ReservedAt(row[0], row[1], row[2], row[3], int(row[4])) for row in rows]
