"""Fulfillment entries on the order timeline: packed, shipped, parcel progress, purchase orders.

Built on core.orders.events.record_event. Progress that matters to the customer (out for delivery, ready for
pickup, a failed attempt, a problem, a return to sender) is made visible on the portal here, because its kind
("tracking") is not one the orders area shows by default.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from core.fulfillment.models import Shipment
from core.inventory.models import Location
from core.orders.events import record_event
from core.orders.models import Order, OrderEvent

# What the customer reads when a parcel reaches a status (the carrier's own words go in `data`).
PROGRESS_WORDS = {
    "info_received": "The carrier has the parcel's details",
    "in_transit": "Your parcel is on its way again",
    "out_for_delivery": "Your parcel is out for delivery",
    "available_for_pickup": "Your parcel is ready to collect",
    "failed_attempt": "The carrier tried to deliver your parcel",
    "exception": "Your parcel's delivery has run into a problem",
    "returned_to_sender": "Your parcel is being returned to us",
    "delivered": "Your parcel was delivered",
}
VISIBLE_PROGRESS = frozenset(PROGRESS_WORDS) - {"info_received"}


def _parcel(shipment: Shipment) -> str:
    return " ".join(part for part in (shipment.carrier, shipment.tracking_number) if part) or "parcel"


def _parcel_data(shipment: Shipment) -> dict[str, object]:
    return {
        "shipment_id": shipment.id,
        "location_id": shipment.location_id,
        "carrier": shipment.carrier,
        "tracking_number": shipment.tracking_number,
        "tracking_url": shipment.tracking_url,
    }


def parcel_packed(
    session: Session, order: Order, shipment: Shipment, location: Location, *, actor: str, now: datetime
) -> OrderEvent:
    """Staff entry: a parcel was packed at a location."""
    return record_event(
        session,
        order,
        "packed",
        f"Packed at {location.name}",
        actor=actor,
        now=now,
        data=_parcel_data(shipment),
    )


def parcel_shipped(
    session: Session, order: Order, shipment: Shipment, units: int, *, actor: str, now: datetime
) -> OrderEvent:
    """Customer entry: a parcel left, with its carrier and tracking number."""
    items = "1 item" if units == 1 else f"{units} items"
    return record_event(
        session,
        order,
        "shipped",
        f"Shipped {items} with {_parcel(shipment)}",
        actor=actor,
        now=now,
        data=_parcel_data(shipment) | {"units": units},
    )


def parcel_progress(
    session: Session,
    order: Order,
    shipment: Shipment,
    old: str,
    new: str,
    *,
    actor: str,
    now: datetime,
    description: str = "",
) -> OrderEvent:
    """A parcel's status moved on: 'delivered', or 'tracking' (shown to the customer when it matters)."""
    kind = "delivered" if new == "delivered" else "tracking"
    event = record_event(
        session,
        order,
        kind,
        f"{PROGRESS_WORDS.get(new, new)} ({_parcel(shipment)})",
        actor=actor,
        now=now,
        from_status=old,
        to_status=new,
        data=_parcel_data(shipment) | {"carrier_description": description},
    )
    event.visible_to_customer = new in VISIBLE_PROGRESS
    return event


def purchase_order_sent(
    session: Session, order: Order, location: Location, *, actor: str, now: datetime
) -> OrderEvent:
    """Staff entry: the drop-ship supplier was sent a purchase order."""
    return record_event(
        session,
        order,
        "purchase_order_sent",
        f"Purchase order emailed to {location.name} ({location.email})",
        actor=actor,
        now=now,
        data={"location_id": location.id},
    )
