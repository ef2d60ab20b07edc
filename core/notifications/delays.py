"""Late deliveries and late dispatches: business-day rules (pure), and the scan that tells customers once.

The rule: an estimate names a last day (in the merchant's zone, CROSSDOCK_TZ). A parcel not delivered by
then is late once the next *business* day has begun. Carriers deliver some parcels on weekends and
holidays and their scans arrive late, so waiting for the next working day avoids telling a customer their
parcel is late on the Saturday it arrives; and the email lands when support can answer. Example: estimate
Friday -> late from Monday (Tuesday if Monday is a holiday). Parcels delivered, waiting at a pickup point,
returned to sender or cancelled, and parcels with no estimate, are never late. The same rule applies to
an order's expected dispatch day.

Holidays come from CROSSDOCK_HOLIDAYS: ISO dates separated by commas or spaces.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from sqlalchemy import exists, or_, select
from sqlalchemy.orm import Session

from core.fulfillment.calendar import add_business_days, business_days_between, holidays_from_env
from core.fulfillment.models import Shipment, ShippingOption
from core.notifications.services import queue_shipment_delayed, queue_warehouse_delay
from core.orders import events
from core.orders.models import Order, OrderEvent

# Delivered, waiting at a pickup point, or coming back / called off: no longer "on its way".
NEVER_LATE_STATUSES = frozenset(
    {"delivered", "available_for_pickup", "returned_to_sender", "cancelled", "returned"}
)
NEW_ESTIMATE_BUSINESS_DAYS = 2  # a late parcel's new estimate: today + 2 business days
# Estimates that passed longer ago than this are stale data (a parcel nobody updated), not news to send.
LOOKBACK = timedelta(days=14)
SCAN_LIMIT = 500


class ShipmentFacts(Protocol):
    """What the delay rule reads of a shipment (a Shipment row fits)."""

    status: str
    estimated_to: datetime | None
    delivered_at: datetime | None


def zone_from_env(environ: Mapping[str, str] = os.environ) -> ZoneInfo:
    """CROSSDOCK_TZ (the merchant's zone, default UTC)."""
    return ZoneInfo(environ.get("CROSSDOCK_TZ", "UTC"))


def is_past_due(last_day: datetime, now: datetime, holidays: Iterable[date] = (), tz: tzinfo = UTC) -> bool:
    """True once the first business day after `last_day`'s date (in `tz`) has begun."""
    first_late_day = add_business_days(last_day.astimezone(tz).date(), 1, holidays)
    return now.astimezone(tz).date() >= first_late_day


def is_delayed(
    shipment: ShipmentFacts, now: datetime, holidays: Iterable[date] = (), tz: tzinfo = UTC
) -> bool:
    """The parcel is late: not delivered/cancelled/returned and past its estimate by the rule above."""
    if shipment.status in NEVER_LATE_STATUSES or shipment.delivered_at is not None:
        return False
    if shipment.estimated_to is None:
        return False
    return is_past_due(shipment.estimated_to, now, holidays, tz)


def new_estimate(now: datetime, holidays: Iterable[date] = (), tz: tzinfo = UTC) -> date:
    """The day a late parcel is now expected: NEW_ESTIMATE_BUSINESS_DAYS business days from today."""
    return add_business_days(now.astimezone(tz).date(), NEW_ESTIMATE_BUSINESS_DAYS, holidays)


def _end_of_day(day: date, tz: tzinfo) -> datetime:
    return datetime.combine(day, time(23, 59, 59), tzinfo=tz).astimezone(UTC)


def scan_for_delays(
    session: Session, *, now: datetime, holidays: Iterable[date] = (), tz: tzinfo = UTC
) -> dict[str, Any]:
    """Queue 'running late' once per late shipment and 'late leaving the warehouse' once per late order.

    A late shipment gets a new estimate (kept in estimated_to; the first one stays in first_estimated_*),
    delay_notified_at, and a staff entry on the order timeline. Orders the channel fulfils are skipped.
    Returns how many of each were found.
    """
    off = frozenset(holidays)
    return {
        "shipments_delayed": _scan_shipments(session, now=now, holidays=off, tz=tz),
        "warehouse_delays": _scan_orders(session, now=now, holidays=off, tz=tz),
    }


def _scan_shipments(session: Session, *, now: datetime, holidays: frozenset[date], tz: tzinfo) -> int:
    candidates = session.scalars(
        select(Shipment)
        .join(Order, Order.id == Shipment.order_id)
        .where(
            Shipment.estimated_to.is_not(None),
            Shipment.estimated_to < now,
            Shipment.estimated_to >= now - LOOKBACK,
            Shipment.delay_notified_at.is_(None),
            Shipment.delivered_at.is_(None),
            Shipment.status.not_in(NEVER_LATE_STATUSES),
            Order.fulfilled_by_channel.is_(False),
        )
        .order_by(Shipment.id)
        .limit(SCAN_LIMIT)
    ).all()
    found = 0
    for shipment in candidates:
        if not is_delayed(shipment, now, holidays, tz):
            continue
        found += 1
        previous = shipment.estimated_to
        assert previous is not None
        day = new_estimate(now, holidays, tz)
        if shipment.first_estimated_to is None:
            shipment.first_estimated_from = shipment.estimated_from
            shipment.first_estimated_to = previous
        shipment.estimated_to = _end_of_day(day, tz)
        shipment.delay_notified_at = now
        queue_shipment_delayed(session, shipment, new_estimate=day, now=now)
        order = session.get(Order, shipment.order_id)
        assert order is not None
        events.record_event(
            session,
            order,
            "delivery_delayed",
            f"Parcel {shipment.tracking_number or shipment.id} missed its estimate "
            f"({previous.astimezone(tz).date().isoformat()}); customer told {day.isoformat()}",
            actor="system",
            now=now,
            data={"shipment_id": shipment.id, "new_estimate": day.isoformat()},
        )
    return found


def _scan_orders(session: Session, *, now: datetime, holidays: frozenset[date], tz: tzinfo) -> int:
    has_tracked_shipment = exists().where(
        Shipment.order_id == Order.id,
        or_(Shipment.tracking_number.is_not(None), Shipment.shipped_at.is_not(None)),
    )
    # The timeline entry marks an order as handled even when it had no address to write to.
    already_told = exists().where(OrderEvent.order_id == Order.id, OrderEvent.kind == "dispatch_delayed")
    candidates = session.scalars(
        select(Order)
        .where(
            Order.expected_dispatch_by.is_not(None),
            Order.expected_dispatch_by < now,
            Order.expected_dispatch_by >= now - LOOKBACK,
            Order.status == "confirmed",
            Order.fulfilled_by_channel.is_(False),
            ~has_tracked_shipment,
            ~already_told,
        )
        .order_by(Order.id)
        .limit(SCAN_LIMIT)
    ).all()
    found = 0
    for order in candidates:
        dispatch_by = order.expected_dispatch_by
        assert dispatch_by is not None
        if not is_past_due(dispatch_by, now, holidays, tz):
            continue
        found += 1
        new_dispatch = add_business_days(now.astimezone(tz).date(), 1, holidays)
        transit = _transit_business_days(session, order, holidays, tz)
        new_delivery = add_business_days(new_dispatch, transit, holidays) if transit is not None else None
        queue_warehouse_delay(session, order, new_dispatch=new_dispatch, new_delivery=new_delivery, now=now)
        events.record_event(
            session,
            order,
            "dispatch_delayed",
            f"Not dispatched by {dispatch_by.astimezone(tz).date().isoformat()}; "
            f"customer told {new_dispatch.isoformat()}",
            actor="system",
            now=now,
            data={"new_dispatch": new_dispatch.isoformat()},
        )
    return found


def _transit_business_days(
    session: Session, order: Order, holidays: frozenset[date], tz: tzinfo
) -> int | None:
    """Business days between dispatch and delivery as first promised, else as the shipping option says."""
    if order.expected_dispatch_by is not None and order.promised_delivery_to is not None:
        days = business_days_between(
            order.expected_dispatch_by.astimezone(tz).date(),
            order.promised_delivery_to.astimezone(tz).date(),
            holidays,
        )
        return max(days, 0)
    if order.shipping_option_id is not None:
        option = session.get(ShippingOption, order.shipping_option_id)
        if option is not None:
            return option.max_business_days
    return None


def delay_detection_job(session: Session, now: datetime) -> dict[str, Any]:
    """Tell customers about late parcels and late dispatches (holidays and zone from the environment)."""
    return scan_for_delays(session, now=now, holidays=holidays_from_env(), tz=zone_from_env())
