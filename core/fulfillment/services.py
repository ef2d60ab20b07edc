"""Fulfillment writes: shipping options and delivery promises; in-house packing and shipping. Drop-ship
purchase orders live in core.fulfillment.dropship, 3PL files in core.fulfillment.three_pl.

Every way a parcel leaves ends in `mark_shipped`: reserved units leave the ledger (ship_reserved), the
allocations and order lines record what shipped, the parcel gets its carrier, tracking link and delivery
estimate, tracking.advance_shipment moves it to in transit (timeline, order roll-up, notifications), and the
audit log records who shipped it.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping, Sequence
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.audit.services import record_audit
from core.errors import DomainError, NotFound
from core.fulfillment import events
from core.fulfillment.carriers import (
    is_plausible_tracking_number,
    normalize_carrier,
    normalize_tracking_number,
    tracking_url,
)
from core.fulfillment.estimates import (
    DeliveryWindow,
    OrderPromise,
    TransitTime,
    estimate_when_placed,
    estimate_when_shipped,
    revise,
)
from core.fulfillment.models import Shipment, ShipmentLine, ShippingOption
from core.fulfillment.queries import SHIPPABLE_STATUSES, get_location
from core.fulfillment.status import OPEN_SHIPMENT_STATUSES, ShipmentStatus
from core.fulfillment.tracking import advance_shipment
from core.inventory.ledger import ship_reserved
from core.orders.models import Allocation, Order, OrderLine
from core.security.roles import Actor

# Where a shipment was confirmed from, as the audit log records it.
SHIPPED_BY_PACKING = "packing"
SHIPPED_BY_DROPSHIP = "dropship_confirmation"
SHIPPED_BY_3PL = "3pl_confirmation"

# --- shipping options and delivery promises ---------------------------------------------------------------

DEFAULT_OPTION_CODE = "standard"


def _words(text: str | None) -> str:
    return " ".join((text or "").casefold().split())


def _letters(text: str | None) -> str:
    return re.sub(r"[^a-z0-9]", "", (text or "").casefold())


def choose_shipping_option(options: Sequence[ShippingOption], method: str | None) -> ShippingOption | None:
    """The option whose code or name is the method text (case, spacing and punctuation aside), else the
    'standard' one, else None. Pick-up options are only chosen by name, never as the default."""
    for same in (_words, _letters):
        wanted = same(method)
        if wanted:
            for option in options:
                if wanted in (same(option.code), same(option.name)):
                    return option
    for option in options:
        if not option.is_pickup and DEFAULT_OPTION_CODE in (_letters(option.code), _letters(option.name)):
            return option
    return None


def set_shipping_option(
    session: Session, order: Order, *, method: str | None = None
) -> ShippingOption | None:
    """Map the order's shipping method text (or `method`) to one of its channel's shipping options.

    Unknown text gets the channel's 'standard' option; a channel without options falls back to the shared
    ones (channel_id empty). Returns the option set, or None (and leaves the order alone) when none fits.
    """
    text = order.shipping_method if method is None else method
    channel_options = session.scalars(
        select(ShippingOption)
        .where(ShippingOption.channel_id == order.channel_id)
        .order_by(ShippingOption.id)
    ).all()
    option = choose_shipping_option(channel_options, text)
    if option is None:
        shared = session.scalars(
            select(ShippingOption).where(ShippingOption.channel_id.is_(None)).order_by(ShippingOption.id)
        ).all()
        option = choose_shipping_option(shared, text)
    if option is not None:
        order.shipping_option_id = option.id
    return option


def _transit(session: Session, order: Order) -> TransitTime:
    option = session.get(ShippingOption, order.shipping_option_id) if order.shipping_option_id else None
    return TransitTime.of(option)


def promise_delivery(
    session: Session, order: Order, *, now: datetime, holidays: Collection[date] = ()
) -> OrderPromise:
    """Give the order its dispatch deadline and promised delivery window, counted from when it was placed.

    Chooses the shipping option first if the order has none. The first promise is kept: calling again
    (after an update from the channel, say) leaves expected_dispatch_by and promised_delivery_* alone.
    """
    if order.shipping_option_id is None:
        set_shipping_option(session, order)
    promise = estimate_when_placed(order.placed_at, _transit(session, order), holidays)
    changed = False
    if order.expected_dispatch_by is None:
        order.expected_dispatch_by = promise.dispatch_by
        changed = True
    if order.promised_delivery_from is None and order.promised_delivery_to is None:
        order.promised_delivery_from = promise.window.earliest
        order.promised_delivery_to = promise.window.latest
        changed = True
    if changed:
        order.updated_at = now
    return promise


# --- packing and shipping ------------------------------------------------------------------------------


def lock_order(session: Session, order_id: int) -> Order:
    """The order, its row locked (PostgreSQL) and freshly read; NotFound when missing."""
    order = session.scalars(
        select(Order).where(Order.id == order_id).with_for_update().execution_options(populate_existing=True)
    ).first()
    if order is None:
        raise NotFound(f"order {order_id} not found")
    return order


def reserved_allocations(
    session: Session, order_id: int, location_id: int | None = None
) -> list[tuple[Allocation, OrderLine]]:
    """The order's reserved allocations (at one location if given), by location then allocation."""
    query = (
        select(Allocation, OrderLine)
        .join(OrderLine, OrderLine.id == Allocation.order_line_id)
        .where(OrderLine.order_id == order_id, Allocation.status == "reserved")
        .order_by(Allocation.location_id, OrderLine.sku_id, Allocation.id)
    )
    if location_id is not None:
        query = query.where(Allocation.location_id == location_id)
    return [(allocation, line) for allocation, line in session.execute(query).all()]


def _open_shipment(session: Session, order_id: int, location_id: int) -> Shipment | None:
    return session.scalars(
        select(Shipment)
        .where(
            Shipment.order_id == order_id,
            Shipment.location_id == location_id,
            Shipment.status.in_([s.value for s in OPEN_SHIPMENT_STATUSES]),
        )
        .order_by(Shipment.id)
    ).first()


def check_shippable(order: Order) -> None:
    """DomainError unless the order is confirmed or partially shipped."""
    if order.status not in SHIPPABLE_STATUSES:
        raise DomainError(
            f"order {order.number} is {order.status}: only confirmed or partially shipped orders ship"
        )


def mark_packed(
    session: Session, order_id: int, location_id: int, *, actor: Actor, now: datetime
) -> Shipment:
    """Pack the order's units reserved at the location: its open parcel there, or a new one, is 'packed'
    (audited; packing an already packed parcel changes nothing)."""
    order = lock_order(session, order_id)
    location = get_location(session, location_id)
    check_shippable(order)
    if not reserved_allocations(session, order.id, location.id):
        raise DomainError(f"order {order.number} has nothing reserved at {location.name} to pack")
    shipment = _open_shipment(session, order.id, location.id)
    if shipment is not None and shipment.status == ShipmentStatus.PACKED:
        return shipment
    before = None if shipment is None else {"shipment_id": shipment.id, "status": shipment.status}
    if shipment is None:
        shipment = Shipment(order_id=order.id, location_id=location.id, created_at=now)
        session.add(shipment)
    shipment.status, shipment.packed_at = ShipmentStatus.PACKED.value, now
    session.flush()
    events.parcel_packed(session, order, shipment, location, actor=actor.label, now=now)
    record_audit(
        session,
        actor,
        "order.packed",
        "order",
        order.id,
        now=now,
        before=before,
        after={"shipment_id": shipment.id, "location_id": location.id, "status": shipment.status},
    )
    return shipment


def _plan(
    reserved: list[tuple[Allocation, OrderLine]], lines: Mapping[int, int] | None, order: Order
) -> list[tuple[Allocation, OrderLine, int]]:
    """(allocation, line, units to ship) taking the wanted units of each line from its reservations."""
    if lines is None:
        return [(allocation, line, allocation.quantity) for allocation, line in reserved]
    plan = []
    order_lines = {line.id for line in order.lines}
    for line_id, wanted in lines.items():
        if line_id not in order_lines:
            raise DomainError(f"line {line_id} is not a line of order {order.number}")
        if wanted <= 0:
            raise DomainError(f"quantity to ship must be positive (line {line_id})")
        left = wanted
        for allocation, line in reserved:
            if line.id == line_id and left:
                take = min(left, allocation.quantity)
                plan.append((allocation, line, take))
                left -= take
        if left:
            raise DomainError(
                f"order {order.number} line {line_id}: {wanted} to ship but only {wanted - left} reserved"
            )
    return sorted(plan, key=lambda p: (p[0].location_id, p[1].sku_id or 0, p[0].id))


def mark_shipped(
    session: Session,
    order_id: int,
    *,
    location_id: int | None = None,
    carrier: str,
    tracking_number: str,
    actor: Actor,
    now: datetime,
    lines: Mapping[int, int] | None = None,
    shipped_at: datetime | None = None,
    holidays: Collection[date] = (),
    source: str = SHIPPED_BY_PACKING,
) -> list[Shipment]:
    """Ship the order's reserved units from one location (or from every location holding some).

    `lines` ({order line id: units}) ships part of the reservation; by default all of it ships. Steps: lock
    the order; check it is confirmed or partially shipped; per location, take its open (packed) parcel or a
    new one; for each allocation, in (location, SKU) order, move the units out of stock (ship_reserved: on
    hand and reserved both drop), mark the allocation shipped (splitting it when only part ships) and add
    to the order line's quantity_shipped and the parcel's lines; give the parcel its carrier, tracking
    number and link, shipped_at and delivery estimate (the first estimate kept); then advance it to in
    transit, which writes the customer's 'shipped' entry and rolls the order up to partially shipped or
    shipped; last, one 'order.shipped' audit entry naming the parcels and `source` (packing, a drop-ship
    or a 3PL confirmation). Returns the parcels, one per location.
    """
    carrier_name = normalize_carrier(carrier)
    number = normalize_tracking_number(tracking_number)
    if not carrier_name:
        raise DomainError("a carrier is required to ship")
    if not is_plausible_tracking_number(number):
        raise DomainError(f"{tracking_number!r} is not a valid tracking number")
    shipped_at = shipped_at or now
    order = lock_order(session, order_id)
    check_shippable(order)
    status_before = order.status
    if location_id is not None:
        get_location(session, location_id)
    reserved = reserved_allocations(session, order.id, location_id)
    if not reserved:
        where = f" at location {location_id}" if location_id is not None else ""
        raise DomainError(f"order {order.number} has nothing reserved{where} to ship")
    plan = _plan(reserved, lines, order)
    if order.promised_delivery_to is None:
        promise_delivery(session, order, now=now, holidays=holidays)
    window = estimate_when_shipped(shipped_at, _transit(session, order), holidays)
    parcels: dict[int, Shipment] = {}
    for allocation, line, units in plan:
        shipment = parcels.get(allocation.location_id)
        if shipment is None:
            shipment = _open_shipment(session, order.id, allocation.location_id) or Shipment(
                order_id=order.id, location_id=allocation.location_id, status="pending", created_at=now
            )
            shipment.carrier, shipment.tracking_number = carrier_name, number
            shipment.tracking_url = tracking_url(carrier_name, number)
            shipment.shipped_at = shipped_at
            kept = shipment.first_estimated_to and DeliveryWindow(
                shipment.first_estimated_from or shipment.first_estimated_to, shipment.first_estimated_to
            )
            first, current = revise(kept or None, window)
            shipment.first_estimated_from, shipment.first_estimated_to = first.earliest, first.latest
            shipment.estimated_from, shipment.estimated_to = current.earliest, current.latest
            session.add(shipment)
            session.flush()
            parcels[allocation.location_id] = shipment
        if line.sku_id is None:
            raise DomainError(f"order {order.number} line {line.line_no} has no SKU of ours")
        ship_reserved(
            session,
            allocation.location_id,
            line.sku_id,
            units,
            order_id=order.id,
            actor=actor.label,
            now=now,
            reference=f"shipment {shipment.id}: {carrier_name} {number}"[:200],
        )
        if units == allocation.quantity:
            allocation.status = "shipped"
        else:
            allocation.quantity -= units
            session.add(
                Allocation(
                    order_line_id=line.id,
                    location_id=allocation.location_id,
                    quantity=units,
                    status="shipped",
                    reason=allocation.reason,
                    created_at=now,
                )
            )
        line.quantity_shipped += units
        same_line = next((sl for sl in shipment.lines if sl.order_line_id == line.id), None)
        if same_line is None:
            shipment.lines.append(ShipmentLine(order_line_id=line.id, quantity=units))
        else:
            same_line.quantity += units
    session.flush()
    for shipment in parcels.values():
        advance_shipment(session, shipment, ShipmentStatus.IN_TRANSIT, now=now, actor=actor.label)
    record_audit(
        session,
        actor,
        "order.shipped",
        "order",
        order.id,
        now=now,
        before={"status": status_before},
        after={
            "status": order.status,
            "location_id": location_id,
            "source": source,
            "shipments": [
                {"id": s.id, "carrier": s.carrier, "tracking_number": s.tracking_number}
                for s in parcels.values()
            ],
        },
    )
    return list(parcels.values())
