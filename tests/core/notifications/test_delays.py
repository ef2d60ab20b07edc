"""Late parcels and late dispatches: the business-day rule (weekends, holidays, zones), and the scan that
tells each customer once."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.fulfillment.calendar import (
    add_business_days,
    business_days_between,
    holidays_from_env,
    is_business_day,
)
from core.fulfillment.models import Shipment
from core.notifications.delays import LOOKBACK, delay_detection_job, is_delayed, scan_for_delays
from core.notifications.models import OutboxMessage
from core.orders.models import Order, OrderEvent
from tests.factories import make_customer, make_order

# November 2026: Fri 20, Sat 21, Sun 22, Mon 23, ... Thu 26 (Thanksgiving, our test holiday), Fri 27.
THANKSGIVING = date(2026, 11, 26)
HOLIDAYS = frozenset({THANKSGIVING})


def at(day: int, hour: int = 12, month: int = 11) -> datetime:
    return datetime(2026, month, day, hour, tzinfo=UTC)


@dataclass
class Parcel:
    status: str = "in_transit"
    estimated_to: datetime | None = None
    delivered_at: datetime | None = None


@pytest.mark.parametrize(
    ("day", "n", "expected"),
    [
        (date(2026, 11, 23), 0, date(2026, 11, 23)),  # Monday + 0
        (date(2026, 11, 23), 2, date(2026, 11, 25)),  # Monday + 2 = Wednesday
        (date(2026, 11, 20), 1, date(2026, 11, 23)),  # Friday + 1 = Monday
        (date(2026, 11, 21), 1, date(2026, 11, 23)),  # Saturday + 1 = Monday
        (date(2026, 11, 25), 1, date(2026, 11, 27)),  # Wednesday + 1 skips Thanksgiving
        (date(2026, 11, 25), 2, date(2026, 11, 30)),  # ... and the weekend
    ],
)
def test_add_business_days_skips_weekends_and_holidays(day: date, n: int, expected: date) -> None:
    assert add_business_days(day, n, HOLIDAYS) == expected


def test_add_business_days_refuses_negative_counts() -> None:
    with pytest.raises(ValueError, match="negative"):
        add_business_days(date(2026, 11, 23), -1)


def test_business_days_between_counts_days_after_start() -> None:
    assert business_days_between(date(2026, 11, 20), date(2026, 11, 27), HOLIDAYS) == 4  # Mon Tue Wed Fri
    assert is_business_day(date(2026, 11, 27), HOLIDAYS) and not is_business_day(THANKSGIVING, HOLIDAYS)


@pytest.mark.parametrize(
    ("parcel", "now", "late"),
    [
        (Parcel(estimated_to=at(20, 23)), at(20, 23), False),  # the estimated day itself
        (Parcel(estimated_to=at(20, 23)), at(21), False),  # Friday estimate, Saturday: not yet
        (Parcel(estimated_to=at(20, 23)), at(22, 23), False),  # ... Sunday night: not yet
        (Parcel(estimated_to=at(20, 23)), at(23, 0), True),  # ... Monday has begun: late
        (Parcel(estimated_to=at(25, 23)), at(26), False),  # Wednesday estimate, Thanksgiving: not yet
        (Parcel(estimated_to=at(25, 23)), at(27, 0), True),  # ... Friday: late
        (Parcel(estimated_to=at(21)), at(22), False),  # a Saturday estimate: late from Monday
        (Parcel(estimated_to=at(21)), at(23), True),
        (Parcel(estimated_to=at(20), status="delivered"), at(30), False),  # already delivered
        (
            Parcel(estimated_to=at(20), delivered_at=at(24)),
            at(30),
            False,
        ),  # delivered, status not yet updated
        (Parcel(estimated_to=at(20), status="cancelled"), at(30), False),
        (Parcel(estimated_to=at(20), status="returned_to_sender"), at(30), False),
        (Parcel(estimated_to=at(20), status="available_for_pickup"), at(30), False),  # arrived, to collect
        (Parcel(estimated_to=None), at(30), False),  # no estimate, nothing to miss
        (Parcel(estimated_to=at(20), status="exception"), at(24), True),  # a problem does not stop the clock
    ],
)
def test_is_delayed_waits_for_the_next_business_day(parcel: Parcel, now: datetime, late: bool) -> None:
    assert is_delayed(parcel, now, HOLIDAYS) is late


def test_is_delayed_reads_days_in_the_merchants_zone() -> None:
    new_york = ZoneInfo("America/New_York")
    # 23:00 Friday in New York is 04:00 Saturday UTC: still a Friday estimate there.
    parcel = Parcel(estimated_to=datetime(2026, 11, 21, 4, tzinfo=UTC))
    monday_early_utc = datetime(2026, 11, 23, 2, tzinfo=UTC)  # Sunday 21:00 in New York
    assert is_delayed(parcel, monday_early_utc, tz=UTC) is True  # read in UTC: Saturday estimate, now Monday
    assert is_delayed(parcel, monday_early_utc, tz=new_york) is False  # in New York it is still Sunday
    assert is_delayed(parcel, datetime(2026, 11, 23, 6, tzinfo=UTC), tz=new_york) is True


def test_holidays_from_env_parses_iso_dates() -> None:
    assert holidays_from_env({"CROSSDOCK_HOLIDAYS": "2026-12-25, 2026-12-26 2027-01-01"}) == {
        date(2026, 12, 25),
        date(2026, 12, 26),
        date(2027, 1, 1),
    }
    assert holidays_from_env({}) == frozenset()
    with pytest.raises(ValueError, match="25/12/2026"):
        holidays_from_env({"CROSSDOCK_HOLIDAYS": "25/12/2026"})


# --- the scan, against the database ---


def shipment(db: Session, **overrides) -> Shipment:
    customer = make_customer(db)
    order = make_order(db, customer_id=customer.id, email=customer.email, status="shipped")
    fields = {
        "order_id": order.id,
        "carrier": "USPS",
        "tracking_number": f"9400{order.id:018d}",
        "status": "in_transit",
        "shipped_at": at(16),
        "estimated_from": at(18, 0),
        "estimated_to": at(20, 23),
    }
    row = Shipment(**(fields | overrides))
    db.add(row)
    db.flush()
    return row


def delayed_keys(db: Session) -> list[str]:
    return list(db.scalars(select(OutboxMessage.dedup_key).order_by(OutboxMessage.dedup_key)))


def test_scan_for_delays_tells_the_customer_once_with_a_new_estimate(db: Session) -> None:
    late = shipment(db)
    monday = at(23, 9)
    assert scan_for_delays(db, now=monday, holidays=HOLIDAYS) == {
        "shipments_delayed": 1,
        "warehouse_delays": 0,
    }
    assert delayed_keys(db) == [f"shipment:{late.id}:delayed"]
    row = db.scalar(select(OutboxMessage))
    # Monday + 2 business days = Wednesday 25th (Thanksgiving would only matter one day later)
    assert row.payload["new_estimate"] == "2026-11-25"
    assert row.payload["previous_estimate"] == at(20, 23).isoformat()
    assert late.delay_notified_at == monday
    assert (late.first_estimated_from, late.first_estimated_to) == (at(18, 0), at(20, 23))
    assert late.estimated_to.date() == date(2026, 11, 25)
    assert (
        db.scalar(select(OrderEvent.kind).where(OrderEvent.order_id == late.order_id)) == "delivery_delayed"
    )

    again = scan_for_delays(db, now=monday + timedelta(hours=1), holidays=HOLIDAYS)
    later = scan_for_delays(db, now=at(30), holidays=HOLIDAYS)  # the new estimate passed too: still once
    assert again["shipments_delayed"] == later["shipments_delayed"] == 0
    assert delayed_keys(db) == [f"shipment:{late.id}:delayed"]


def test_scan_for_delays_new_estimate_skips_the_holiday(db: Session) -> None:
    shipment(db, estimated_to=at(24, 23))  # Tuesday estimate
    scan_for_delays(db, now=at(25, 9), holidays=HOLIDAYS)  # Wednesday: late
    assert db.scalar(select(OutboxMessage)).payload["new_estimate"] == "2026-11-30"  # Fri 27, Mon 30


@pytest.mark.parametrize(
    "overrides",
    [
        {"status": "delivered", "delivered_at": at(21)},
        {"status": "cancelled"},
        {"estimated_to": None},
        {"delay_notified_at": at(22)},  # told already (by an earlier scan or by staff)
        {"estimated_to": at(23, 9) - LOOKBACK - timedelta(days=1)},  # stale: nobody updated this parcel
    ],
)
def test_scan_for_delays_leaves_shipments_that_are_not_news(db: Session, overrides: dict) -> None:
    shipment(db, **overrides)
    assert scan_for_delays(db, now=at(23, 9), holidays=HOLIDAYS)["shipments_delayed"] == 0
    assert delayed_keys(db) == []


def test_scan_for_delays_on_a_weekend_waits_for_monday(db: Session) -> None:
    shipment(db)
    assert scan_for_delays(db, now=at(22, 20), holidays=HOLIDAYS)["shipments_delayed"] == 0
    assert scan_for_delays(db, now=at(23, 0), holidays=HOLIDAYS)["shipments_delayed"] == 1


def test_scan_for_delays_skips_orders_the_channel_fulfils(db: Session) -> None:
    late = shipment(db)
    db.get(Order, late.order_id).fulfilled_by_channel = True
    assert scan_for_delays(db, now=at(23, 9))["shipments_delayed"] == 0


def dispatch_late_order(db: Session, **overrides):
    customer = make_customer(db)
    fields = {
        "customer_id": customer.id,
        "email": customer.email,
        "status": "confirmed",
        "expected_dispatch_by": at(20, 17),
        "promised_delivery_to": at(25, 23),
    }
    return make_order(db, **(fields | overrides))


def test_scan_for_delays_warehouse_delay_once_per_order(db: Session) -> None:
    order = dispatch_late_order(db)
    monday = at(23, 9)
    assert scan_for_delays(db, now=monday, holidays=HOLIDAYS)["warehouse_delays"] == 1
    assert scan_for_delays(db, now=monday + timedelta(hours=2), holidays=HOLIDAYS)["warehouse_delays"] == 0
    [row] = db.scalars(select(OutboxMessage)).all()
    assert row.dedup_key == f"order:{order.id}:warehouse_delay"
    # dispatch Tuesday 24th; promised transit Fri 20 -> Wed 25 was 3 business days: Wed 25, Fri 27, Mon 30
    assert row.payload == {"order_id": order.id, "new_dispatch": "2026-11-24", "new_delivery": "2026-11-30"}


def test_scan_for_delays_warehouse_delay_once_even_without_an_address(db: Session) -> None:
    order = dispatch_late_order(db, email=None, customer_id=None)
    scan_for_delays(db, now=at(23, 9))
    scan_for_delays(db, now=at(23, 10))
    assert delayed_keys(db) == []
    events = db.scalars(select(OrderEvent.kind).where(OrderEvent.order_id == order.id)).all()
    assert events == ["dispatch_delayed"]


@pytest.mark.parametrize(
    "overrides",
    [
        {"status": "backordered"},  # has its own email
        {"status": "cancelled"},
        {"fulfilled_by_channel": True},
        {"expected_dispatch_by": None},
        {"expected_dispatch_by": at(23, 17)},  # not due yet
    ],
)
def test_scan_for_delays_warehouse_delay_leaves_other_orders(db: Session, overrides: dict) -> None:
    dispatch_late_order(db, **overrides)
    assert scan_for_delays(db, now=at(23, 9), holidays=HOLIDAYS)["warehouse_delays"] == 0


def test_scan_for_delays_warehouse_delay_not_once_tracking_exists(db: Session) -> None:
    order = dispatch_late_order(db)
    db.add(Shipment(order_id=order.id, carrier="UPS", tracking_number="1Z1", status="info_received"))
    db.flush()
    assert scan_for_delays(db, now=at(23, 9))["warehouse_delays"] == 0


def test_delay_detection_job_reads_holidays_from_environment(db: Session, monkeypatch) -> None:
    shipment(db, estimated_to=at(25, 23))
    monkeypatch.setenv("CROSSDOCK_HOLIDAYS", THANKSGIVING.isoformat())
    assert delay_detection_job(db, at(26, 9))["shipments_delayed"] == 0
    monkeypatch.setenv("CROSSDOCK_HOLIDAYS", "")
    assert delay_detection_job(db, at(26, 9))["shipments_delayed"] == 1
