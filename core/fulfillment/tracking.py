"""Recording carrier tracking events against our shipments, and the shipment status changes they cause.

`record_tracking_events` stores the events idempotently and moves shipments forward; every shipment status
change goes through `advance_shipment` and therefore `_shipment_status_changed`, the one place other areas
hook into. The events come from the parsers in `tracking_formats`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from core.channel_sync.pushes import queue_shipment_confirmation
from core.errors import DomainError
from core.fulfillment import events
from core.fulfillment.carriers import (
    carrier_key,
    find_carrier,
    is_plausible_tracking_number,
    normalize_carrier,
    normalize_tracking_number,
)
from core.fulfillment.csv_import import InvalidImport
from core.fulfillment.models import Shipment, ShipmentLine, TrackingEvent
from core.fulfillment.status import OPEN_SHIPMENT_STATUSES, TRACKING_STATUSES, ShipmentStatus, can_advance
from core.fulfillment.tracking_base import TrackingUpdate
from core.fulfillment.tracking_formats import parse_tracking_csv, parse_tracking_payload
from core.notifications.services import notify_shipment_status
from core.orders.models import InboundPayload, Order
from core.orders.services import change_order_status
from core.orders.status import OrderStatus, can_transition

SS = ShipmentStatus

# Re-exported, the public way in for other areas: the CLI (`crossdock tracking import`), the tracking webhooks
# and the ops console parse, record and report bad files through this module.
__all__ = [
    "UNKNOWN_TRACKING_CHANNEL",
    "UNKNOWN_TRACKING_TOPIC",
    "InvalidImport",
    "TrackingResult",
    "UnknownTracking",
    "advance_shipment",
    "parse_tracking_csv",
    "parse_tracking_payload",
    "record_tracking_events",
    "roll_up_order_status",
]


@dataclass(frozen=True)
class UnknownTracking:
    """A tracking number that matched none of our shipments (or is not a tracking number at all)."""

    tracking_number: str
    carrier: str | None
    reason: str  # "unknown" or "invalid"
    events: int
    last_status: str


@dataclass(frozen=True)
class TrackingResult:
    recorded: int  # new TrackingEvent rows
    duplicates: int  # events we already had
    changes: tuple[tuple[int, str, str], ...]  # (shipment id, old status, new status)
    unknown: tuple[UnknownTracking, ...]


UNKNOWN_TRACKING_CHANNEL = "tracking"  # InboundPayload.channel_code of the unknown-number rows ops work from
UNKNOWN_TRACKING_TOPIC = "unknown_tracking"


def _carriers_compatible(ours: str | None, theirs: str | None) -> bool:
    """An event's carrier fits a shipment unless both are named and differ (after normalising)."""
    if not ours or not theirs:
        return True
    mine, other = find_carrier(ours), find_carrier(theirs)
    if mine is not None and other is not None:
        return mine is other
    return carrier_key(ours) == carrier_key(theirs)


def _insert_ignoring_duplicates(session: Session) -> Any:
    dialect = session.get_bind().dialect.name
    table = TrackingEvent.__table__
    if dialect == "postgresql":
        return postgresql_insert(table)
    if dialect == "sqlite":
        return sqlite_insert(table)
    raise NotImplementedError(f"no insert-or-ignore for {dialect}")


def _note_unknown(
    session: Session,
    unknown: UnknownTracking,
    updates: Sequence[TrackingUpdate],
    *,
    source: str,
    now: datetime,
) -> None:
    """Keep one open row per unknown (carrier, number) for ops, counting how often it came back."""
    delivery_id = f"unknown-tracking:{carrier_key(unknown.carrier) or '-'}:{unknown.tracking_number}"[:200]
    body = json.dumps(
        [
            {
                "tracking_number": u.tracking_number,
                "carrier": u.carrier,
                "status": u.status,
                "occurred_at": u.occurred_at.isoformat(),
                "description": u.description,
                "location": u.location,
                "source": u.source,
            }
            for u in updates
        ],
        sort_keys=True,
    )
    row = session.scalars(
        select(InboundPayload).where(
            InboundPayload.channel_code == UNKNOWN_TRACKING_CHANNEL,
            InboundPayload.delivery_id == delivery_id,
            InboundPayload.status == "needs_attention",
        )
    ).first()
    what = "not a valid tracking number" if unknown.reason == "invalid" else "matches no shipment"
    headers = {
        "tracking_number": unknown.tracking_number,
        "carrier": unknown.carrier,
        "reason": unknown.reason,
        "last_status": unknown.last_status,
        "times_seen": 1,
    }
    if row is None:
        session.add(
            InboundPayload(
                channel_code=UNKNOWN_TRACKING_CHANNEL,
                source=source[:16],
                delivery_id=delivery_id,
                topic=UNKNOWN_TRACKING_TOPIC,
                body=body,
                headers=headers,
                sha256=hashlib.sha256(body.encode()).hexdigest(),
                status="needs_attention",
                error=f"{unknown.carrier or 'carrier?'} {unknown.tracking_number}: {what}"[:1000],
                received_at=now,
                processed_at=now,
            )
        )
        return
    row.headers = headers | {"times_seen": int((row.headers or {}).get("times_seen", 1)) + 1}
    row.body, row.sha256 = body, hashlib.sha256(body.encode()).hexdigest()
    row.processed_at = now


def _resolve_unknown(session: Session, numbers: Iterable[str], *, now: datetime) -> None:
    """Numbers that now match a shipment leave the ops list."""
    numbers = sorted(set(numbers))
    if not numbers:
        return
    rows = session.scalars(
        select(InboundPayload).where(
            InboundPayload.channel_code == UNKNOWN_TRACKING_CHANNEL,
            InboundPayload.status == "needs_attention",
            or_(*(InboundPayload.delivery_id.like(f"unknown-tracking:%:{number}") for number in numbers)),
        )
    ).all()
    for row in rows:
        if (row.headers or {}).get("tracking_number") in numbers:
            row.status, row.processed_at = "processed", now


def record_tracking_events(
    session: Session, events: Iterable[TrackingUpdate], *, now: datetime, source: str = "webhook"
) -> TrackingResult:
    """Store carrier events on their shipments and move the shipments (and orders) forward.

    Steps: group the updates by tracking number; find the shipments with that number whose carrier fits
    (an unnamed carrier fits anything); lock them in id order; insert each event once (unique shipment +
    dedup_key, INSERT ... ON CONFLICT DO NOTHING, so replays and concurrent webhooks are harmless); then,
    oldest first, an event newer than every event the shipment already had moves it forward when
    `can_advance` allows (an older event is kept as history but never changes the status). Numbers that
    match no shipment, or are not tracking numbers, are returned and kept for ops (see
    queries.unknown_tracking_report).
    """
    groups: dict[str, list[TrackingUpdate]] = {}
    for update in events:
        if update.status not in TRACKING_STATUSES:
            raise DomainError(f"unknown tracking status {update.status!r}")
        if update.occurred_at.tzinfo is None:
            raise DomainError(f"tracking event time {update.occurred_at.isoformat()} has no time zone")
        groups.setdefault(normalize_tracking_number(update.tracking_number), []).append(update)
    plausible = sorted(number for number in groups if is_plausible_tracking_number(number))
    candidates = (
        session.scalars(
            select(Shipment)
            .where(func.upper(func.replace(Shipment.tracking_number, " ", "")).in_(plausible))
            .order_by(Shipment.id)
            .with_for_update()
            .execution_options(populate_existing=True)
        ).all()
        if plausible
        else []
    )
    by_number: dict[str, list[Shipment]] = {}
    for shipment in candidates:
        by_number.setdefault(normalize_tracking_number(shipment.tracking_number), []).append(shipment)

    recorded = duplicates = 0
    changes: list[tuple[int, str, str]] = []
    unknown: list[UnknownTracking] = []
    matched_numbers = set()
    pairs: list[tuple[Shipment, TrackingUpdate]] = []
    for number, updates in groups.items():
        carriers = {c for c in (normalize_carrier(u.carrier) for u in updates) if c}
        matched = False
        for update in updates:
            for shipment in by_number.get(number, ()):
                if _carriers_compatible(shipment.carrier, update.carrier):
                    pairs.append((shipment, update))
                    matched = True
        if matched:
            matched_numbers.add(number)
            continue
        latest = max(updates, key=lambda u: u.occurred_at)
        missing = UnknownTracking(
            tracking_number=number,
            carrier=sorted(carriers)[0] if carriers else None,
            reason="unknown" if number in plausible else "invalid",
            events=len(updates),
            last_status=latest.status,
        )
        unknown.append(missing)
        _note_unknown(session, missing, updates, source=source, now=now)
    _resolve_unknown(session, matched_numbers, now=now)
    if not pairs:
        return TrackingResult(0, 0, (), tuple(unknown))

    shipment_ids = sorted({shipment.id for shipment, _ in pairs})
    known = set(
        session.execute(
            select(TrackingEvent.shipment_id, TrackingEvent.dedup_key).where(
                TrackingEvent.shipment_id.in_(shipment_ids)
            )
        ).all()
    )
    newest = dict(
        session.execute(
            select(TrackingEvent.shipment_id, func.max(TrackingEvent.occurred_at))
            .where(TrackingEvent.shipment_id.in_(shipment_ids))
            .group_by(TrackingEvent.shipment_id)
        ).all()
    )
    insert = _insert_ignoring_duplicates(session)
    touched: set[int] = set()
    for shipment, update in sorted(pairs, key=lambda p: (p[1].occurred_at, p[0].id)):
        key = update.dedup_key
        if (shipment.id, key) in known:
            duplicates += 1
            continue
        known.add((shipment.id, key))
        inserted = session.execute(
            insert.values(
                shipment_id=shipment.id,
                status=update.status,
                carrier_status=update.carrier_status[:100],
                description=update.description,
                location=update.location[:200],
                occurred_at=update.occurred_at,
                dedup_key=key,
                raw=json.loads(json.dumps(dict(update.raw), default=str)),
                created_at=now,
            )
            .on_conflict_do_nothing(index_elements=["shipment_id", "dedup_key"])
            .returning(TrackingEvent.id)
        ).scalar()
        if inserted is None:  # a concurrent delivery of the same event got there first
            duplicates += 1
            continue
        recorded += 1
        touched.add(shipment.id)
        last = newest.get(shipment.id)
        if last is not None and last.tzinfo is None:
            last = last.replace(tzinfo=UTC)
        if last is not None and update.occurred_at < last:
            continue
        newest[shipment.id] = update.occurred_at
        old = shipment.status
        if advance_shipment(
            session,
            shipment,
            update.status,
            now=now,
            actor=f"carrier:{shipment.carrier or update.carrier or 'unknown'}"[:100],
            occurred_at=update.occurred_at,
            description=update.description,
            event_id=inserted,
        ):
            changes.append((shipment.id, old, update.status))
    for shipment in candidates:
        if shipment.id in touched:
            session.expire(shipment, ["events"])
    return TrackingResult(recorded, duplicates, tuple(changes), tuple(unknown))


def advance_shipment(
    session: Session,
    shipment: Shipment,
    new: str,
    *,
    now: datetime,
    actor: str = "system",
    occurred_at: datetime | None = None,
    description: str = "",
    event_id: int | None = None,
) -> bool:
    """Move the shipment to `new` when `can_advance` allows it (False otherwise, nothing changed)."""
    old = shipment.status
    if not can_advance(old, new):
        return False
    shipment.status = new
    if new == SS.DELIVERED:
        shipment.delivered_at = occurred_at or now
    _shipment_status_changed(
        session,
        shipment,
        old,
        new,
        now=now,
        actor=actor,
        description=description,
        occurred_at=occurred_at,
        event_id=event_id,
    )
    return True


def _shipment_status_changed(
    session: Session,
    shipment: Shipment,
    old: str,
    new: str,
    *,
    now: datetime,
    actor: str = "system",
    description: str = "",
    occurred_at: datetime | None = None,
    event_id: int | None = None,
) -> None:
    """Everything that follows a shipment changing status: the ONE place other areas hook into.

    Called exactly once per change, by `advance_shipment`: from services.mark_shipped (pending/packed ->
    in_transit; every in-house, drop-ship and 3PL shipment ends there) and from record_tracking_events
    (carrier events; `occurred_at` is the carrier's time, `event_id` the TrackingEvent behind it). It runs
    after shipment.status (and delivered_at) are set, inside the caller's transaction, and never commits. It
    writes the timeline entry (shipped, delivered, or tracking progress) and rolls the order up (partially
    shipped, shipped, delivered), queues the customer's email for the new status (notifications) and, when the
    parcel has just left us, the channel's shipment confirmation (outbound), so every path that moves a
    parcel sends the same messages exactly once.
    """
    order = _locked_order(session, shipment.order_id)
    if order is None:
        return
    if old in OPEN_SHIPMENT_STATUSES:
        units = session.scalar(
            select(func.coalesce(func.sum(ShipmentLine.quantity), 0)).where(
                ShipmentLine.shipment_id == shipment.id
            )
        )
        events.parcel_shipped(session, order, shipment, units, actor=actor, now=now)
        if new not in (SS.IN_TRANSIT, SS.INFO_RECEIVED):
            events.parcel_progress(
                session, order, shipment, old, new, actor=actor, now=now, description=description
            )
    else:
        events.parcel_progress(
            session, order, shipment, old, new, actor=actor, now=now, description=description
        )
    roll_up_order_status(session, order, actor=actor, now=now)
    notify_shipment_status(session, shipment, new, now=now, event_id=event_id, occurred_at=occurred_at)
    if old in OPEN_SHIPMENT_STATUSES and new not in OPEN_SHIPMENT_STATUSES:
        queue_shipment_confirmation(session, shipment, now=now)


def _locked_order(session: Session, order_id: int) -> Order | None:
    """The order with its row locked (PostgreSQL), reloaded if another transaction changed its status."""
    session.flush()
    current = session.execute(select(Order.status).where(Order.id == order_id).with_for_update()).scalar()
    order = session.get(Order, order_id)
    if order is not None and current != order.status:
        session.refresh(order)
    return order


def roll_up_order_status(session: Session, order: Order, *, actor: str, now: datetime) -> str:
    """The order's status from its lines and parcels, changed through change_order_status; returns it.

    confirmed / partially shipped -> partially shipped while units are left to ship, shipped when none are;
    shipped -> delivered when every parcel that left is delivered. Never moves an order backwards or out of
    a status the table does not allow leaving that way (on hold, cancelled, returned ...).
    """
    lines = order.lines
    shipped_units = sum(line.quantity_shipped for line in lines)
    left = sum(max(line.quantity - line.quantity_cancelled - line.quantity_shipped, 0) for line in lines)
    steps: list[tuple[OrderStatus, str]] = []
    if order.status in (OrderStatus.CONFIRMED, OrderStatus.PARTIALLY_SHIPPED) and shipped_units:
        if left:
            steps.append(
                (OrderStatus.PARTIALLY_SHIPPED, f"{shipped_units} of {shipped_units + left} units shipped")
            )
        else:
            steps.append((OrderStatus.SHIPPED, "all items shipped"))
    parcels = session.scalars(
        select(Shipment.status).where(
            Shipment.order_id == order.id, Shipment.status.not_in([s.value for s in OPEN_SHIPMENT_STATUSES])
        )
    ).all()
    if parcels and all(status == SS.DELIVERED for status in parcels):
        steps.append((OrderStatus.DELIVERED, "every parcel delivered"))
    for target, why in steps:
        if target == OrderStatus.DELIVERED and order.status != OrderStatus.SHIPPED:
            continue
        if target != order.status and can_transition(order.status, target):
            change_order_status(session, order, target, actor=actor, now=now, why=why)
    return order.status
