"""The shipment status machine: our statuses, and which moves a shipment may make."""

from __future__ import annotations

from enum import StrEnum


class ShipmentStatus(StrEnum):
    PENDING = "pending"  # created, nothing done yet
    PACKED = "packed"  # packed at the location, waiting for the carrier
    INFO_RECEIVED = "info_received"  # the carrier has the label data, not the parcel
    IN_TRANSIT = "in_transit"
    OUT_FOR_DELIVERY = "out_for_delivery"
    AVAILABLE_FOR_PICKUP = "available_for_pickup"
    FAILED_ATTEMPT = "failed_attempt"
    EXCEPTION = "exception"  # held, delayed, damaged, lost, refused, address problem ...
    DELIVERED = "delivered"
    RETURNED_TO_SENDER = "returned_to_sender"


SS = ShipmentStatus
TRACKING_STATUSES = frozenset(SS) - {SS.PENDING, SS.PACKED}
OPEN_SHIPMENT_STATUSES = frozenset({SS.PENDING, SS.PACKED})  # not yet handed to a carrier
TERMINAL_STATUSES = frozenset({SS.DELIVERED, SS.RETURNED_TO_SENDER})
_RANK = {
    SS.PENDING: 0,
    SS.PACKED: 1,
    SS.INFO_RECEIVED: 2,
    SS.IN_TRANSIT: 3,
    SS.EXCEPTION: 3,
    SS.OUT_FOR_DELIVERY: 4,
    SS.AVAILABLE_FOR_PICKUP: 4,
    SS.FAILED_ATTEMPT: 4,
    SS.DELIVERED: 5,
    SS.RETURNED_TO_SENDER: 5,
}


def can_advance(current: str, new: str) -> bool:
    """Whether a shipment may go from `current` to `new`: forward only, never out of delivered/returned.

    Same-rank moves are allowed (a failed attempt, then out for delivery again). An exception can happen at
    any point before the end, and a parcel recovers from one to in transit or beyond.
    """
    cur, nxt = SS(current), SS(new)
    if cur == nxt or cur in TERMINAL_STATUSES:
        return False
    if nxt == SS.EXCEPTION:
        return True
    return _RANK[nxt] >= _RANK[cur]
