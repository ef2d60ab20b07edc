"""Fulfillment writes: shipping options and delivery promises; in-house packing and shipping; drop-ship
purchase orders confirmed through a signed link; 3PL request export and shipment-confirmation import.

Every way a parcel leaves ends in `mark_shipped`: reserved units leave the ledger (ship_reserved), the
allocations and order lines record what shipped, the parcel gets its carrier, tracking link and delivery
estimate, and tracking.advance_shipment moves it to in transit (timeline, order roll-up, notifications).
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from itsdangerous import BadSignature, SignatureExpired, TimestampSigner, URLSafeTimedSerializer
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.catalog.models import Sku
from core.errors import DomainError, NotFound
from core.fulfillment import events
from core.fulfillment.carriers import (
    is_plausible_tracking_number,
    normalize_carrier,
    normalize_tracking_number,
    tracking_url,
)
from core.fulfillment.csv_import import InvalidImport, RowError, csv_rows
from core.fulfillment.estimates import (
    DeliveryWindow,
    OrderPromise,
    TransitTime,
    estimate_when_placed,
    estimate_when_shipped,
    revise,
)
from core.fulfillment.models import Shipment, ShipmentLine, ShippingOption
from core.fulfillment.queries import SHIPPABLE_STATUSES, fulfillment_requests, get_location, ship_to
from core.fulfillment.status import OPEN_SHIPMENT_STATUSES, ShipmentStatus
from core.fulfillment.tracking import advance_shipment
from core.fulfillment.tracking_base import parse_time
from core.inventory.ledger import ship_reserved
from core.inventory.models import Location
from core.notifications.models import OutboxMessage
from core.orders.models import Allocation, Order, OrderLine

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


def _locked_order(session: Session, order_id: int) -> Order:
    """The order, its row locked (PostgreSQL) and freshly read; NotFound when missing."""
    order = session.scalars(
        select(Order).where(Order.id == order_id).with_for_update().execution_options(populate_existing=True)
    ).first()
    if order is None:
        raise NotFound(f"order {order_id} not found")
    return order


def _reserved(
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


def _check_shippable(order: Order) -> None:
    if order.status not in SHIPPABLE_STATUSES:
        raise DomainError(
            f"order {order.number} is {order.status}: only confirmed or partially shipped orders ship"
        )


def mark_packed(session: Session, order_id: int, location_id: int, *, actor: str, now: datetime) -> Shipment:
    """Pack the order's units reserved at the location: its open parcel there, or a new one, is 'packed'."""
    order = _locked_order(session, order_id)
    location = get_location(session, location_id)
    _check_shippable(order)
    if not _reserved(session, order.id, location.id):
        raise DomainError(f"order {order.number} has nothing reserved at {location.name} to pack")
    shipment = _open_shipment(session, order.id, location.id)
    if shipment is not None and shipment.status == ShipmentStatus.PACKED:
        return shipment
    if shipment is None:
        shipment = Shipment(order_id=order.id, location_id=location.id, created_at=now)
        session.add(shipment)
    shipment.status, shipment.packed_at = ShipmentStatus.PACKED.value, now
    session.flush()
    events.parcel_packed(session, order, shipment, location, actor=actor, now=now)
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
    actor: str,
    now: datetime,
    lines: Mapping[int, int] | None = None,
    shipped_at: datetime | None = None,
    holidays: Collection[date] = (),
) -> list[Shipment]:
    """Ship the order's reserved units from one location (or from every location holding some).

    `lines` ({order line id: units}) ships part of the reservation; by default all of it ships. Steps: lock
    the order; check it is confirmed or partially shipped; per location, take its open (packed) parcel or a
    new one; for each allocation, in (location, SKU) order, move the units out of stock (ship_reserved: on
    hand and reserved both drop), mark the allocation shipped (splitting it when only part ships) and add
    to the order line's quantity_shipped and the parcel's lines; give the parcel its carrier, tracking
    number and link, shipped_at and delivery estimate (the first estimate kept); then advance it to in
    transit, which writes the customer's 'shipped' entry and rolls the order up to partially shipped or
    shipped. Returns the parcels, one per location.
    """
    carrier_name = normalize_carrier(carrier)
    number = normalize_tracking_number(tracking_number)
    if not carrier_name:
        raise DomainError("a carrier is required to ship")
    if not is_plausible_tracking_number(number):
        raise DomainError(f"{tracking_number!r} is not a valid tracking number")
    shipped_at = shipped_at or now
    order = _locked_order(session, order_id)
    _check_shippable(order)
    if location_id is not None:
        get_location(session, location_id)
    reserved = _reserved(session, order.id, location_id)
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
            actor=actor,
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
        advance_shipment(session, shipment, ShipmentStatus.IN_TRANSIT, now=now, actor=actor)
    return list(parcels.values())


# --- drop-ship -----------------------------------------------------------------------------------------

DROPSHIP_SALT = "dropship-confirm"
DROPSHIP_LINK_MAX_AGE = timedelta(days=30)


class InvalidLink(DomainError):
    """A supplier's confirmation link that is forged, damaged or older than 30 days."""


class _ClockSigner(TimestampSigner):
    """A timestamp signer reading the caller's clock (`now`): links age by the time services are given."""

    def __init__(self, *args: Any, now: datetime, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._now = int(now.timestamp())

    def get_timestamp(self) -> int:
        return self._now


def _link_serializer(secret: str, now: datetime) -> URLSafeTimedSerializer:
    if not secret:
        raise ValueError("a secret key is required to sign drop-ship links")
    return URLSafeTimedSerializer(secret, salt=DROPSHIP_SALT, signer=_ClockSigner, signer_kwargs={"now": now})


def make_dropship_token(secret: str, order_id: int, location_id: int, *, now: datetime) -> str:
    """A signed token naming one order and one supplier location, dated `now`."""
    return _link_serializer(secret, now).dumps({"order": order_id, "location": location_id})


def read_dropship_token(secret: str, token: str, *, now: datetime) -> tuple[int, int]:
    """(order id, location id) of a token; InvalidLink when forged, damaged or past 30 days old."""
    try:
        value = _link_serializer(secret, now).loads(token, max_age=int(DROPSHIP_LINK_MAX_AGE.total_seconds()))
    except SignatureExpired as exc:
        raise InvalidLink("this confirmation link has expired: ask us for a new one") from exc
    except BadSignature as exc:
        raise InvalidLink("this confirmation link is not valid") from exc
    if (
        not isinstance(value, dict)
        or not isinstance(value.get("order"), int)
        or not isinstance(value.get("location"), int)
    ):
        raise InvalidLink("this confirmation link is not valid")
    return value["order"], value["location"]


def _po_lines(session: Session, order_id: int, location_id: int) -> list[dict[str, Any]]:
    """The order's units reserved at the supplier, one entry per line."""
    rows = session.execute(
        select(OrderLine.line_no, Sku.code, OrderLine.title, func.sum(Allocation.quantity))
        .join(OrderLine, OrderLine.id == Allocation.order_line_id)
        .outerjoin(Sku, Sku.id == OrderLine.sku_id)
        .where(
            OrderLine.order_id == order_id,
            Allocation.location_id == location_id,
            Allocation.status == "reserved",
        )
        .group_by(OrderLine.line_no, Sku.code, OrderLine.title)
        .order_by(OrderLine.line_no)
    ).all()
    return [{"sku": code or "", "title": title, "quantity": int(units)} for _no, code, title, units in rows]


def send_purchase_order(
    session: Session, order_id: int, location_id: int, *, secret: str, base_url: str, now: datetime
) -> OutboxMessage:
    """Queue the purchase order email to the drop-ship supplier: ship-to, lines and a signed confirm link.

    One per order and supplier (dedup key po:<order>:<location>): asking again returns the queued message.
    The link is `base_url` + "/" + token and stays valid for 30 days.
    """
    order = session.get(Order, order_id)
    if order is None:
        raise NotFound(f"order {order_id} not found")
    location = get_location(session, location_id)
    if location.fulfillment_method != "dropship":
        raise DomainError(f"{location.name} is not a drop-ship supplier")
    if not location.email:
        raise DomainError(f"{location.name} has no email address for purchase orders")
    dedup_key = f"po:{order.id}:{location.id}"
    queued = session.scalars(select(OutboxMessage).where(OutboxMessage.dedup_key == dedup_key)).first()
    if queued is not None:
        return queued
    _check_shippable(order)
    lines = _po_lines(session, order.id, location.id)
    if not lines:
        raise DomainError(f"order {order.number} has nothing reserved at {location.name}")
    token = make_dropship_token(secret, order.id, location.id, now=now)
    message = OutboxMessage(
        kind="dropship_po",
        transport="email",
        dedup_key=dedup_key,
        recipient=location.email,
        subject=f"Purchase order {order.number}",
        payload={
            "order_id": order.id,
            "order_number": order.number,
            "placed_at": order.placed_at.isoformat(),
            "supplier": {"code": location.code, "name": location.name},
            "ship_to": ship_to(order),
            "shipping_method": order.shipping_method,
            "note": order.note,
            "dispatch_by": order.expected_dispatch_by.isoformat() if order.expected_dispatch_by else None,
            "lines": lines,
            "confirm_url": f"{base_url.rstrip('/')}/{token}",
            "link_expires_at": (now + DROPSHIP_LINK_MAX_AGE).isoformat(),
        },
        status="pending",
        attempts=0,
        next_attempt_at=now,
        created_at=now,
    )
    session.add(message)
    events.purchase_order_sent(session, order, location, actor="system", now=now)
    session.flush()
    return message


def confirm_dropship_shipment(
    session: Session,
    token: str,
    *,
    secret: str,
    carrier: str,
    tracking_number: str,
    now: datetime,
    holidays: Collection[date] = (),
) -> Shipment:
    """The supplier's no-login confirmation: read the signed link, then ship what is reserved there.

    Idempotent: once the supplier's units have shipped, confirming again returns that parcel unchanged.
    InvalidLink for a forged, damaged or expired link; DomainError when the order was cancelled meanwhile.
    """
    order_id, location_id = read_dropship_token(secret, token, now=now)
    location = session.get(Location, location_id)
    if location is None or session.get(Order, order_id) is None:
        raise InvalidLink("this confirmation link is not valid")
    order = _locked_order(session, order_id)
    if not _reserved(session, order.id, location.id):
        shipped = session.scalars(
            select(Shipment)
            .where(
                Shipment.order_id == order.id,
                Shipment.location_id == location.id,
                Shipment.status.not_in([s.value for s in OPEN_SHIPMENT_STATUSES]),
            )
            .order_by(Shipment.id.desc())
        ).first()
        if shipped is not None:
            return shipped
        raise DomainError(f"order {order.number} has nothing left to ship from {location.name}")
    [shipment] = mark_shipped(
        session,
        order.id,
        location_id=location.id,
        carrier=carrier,
        tracking_number=tracking_number,
        actor=f"supplier:{location.code}"[:100],
        now=now,
        holidays=holidays,
    )
    return shipment


# --- 3PL -----------------------------------------------------------------------------------------------

EXPORT_COLUMNS = (
    "order_number",
    "placed_at",
    "shipping_method",
    "ship_to_name",
    "ship_to_company",
    "ship_to_line1",
    "ship_to_line2",
    "ship_to_city",
    "ship_to_region",
    "ship_to_postal_code",
    "ship_to_country",
    "ship_to_phone",
    "sku",
    "title",
    "quantity",
)
IMPORT_COLUMNS = ("order_number", "sku", "quantity", "carrier", "tracking_number", "shipped_at")


def export_fulfillment_requests(session: Session, location_id: int, *, fmt: str = "csv") -> str:
    """The orders waiting to ship from the location as a CSV (one row per line) or a JSON document."""
    if fmt not in ("csv", "json"):
        raise DomainError(f"unknown export format {fmt!r}: use csv or json")
    location = get_location(session, location_id)
    requests = fulfillment_requests(session, location.id)
    if fmt == "json":
        return json.dumps(
            {
                "location": location.code,
                "requests": [
                    {
                        "order_number": r.order_number,
                        "placed_at": r.placed_at.isoformat(),
                        "shipping_method": r.shipping_method,
                        "ship_to": r.ship_to,
                        "lines": [
                            {"sku": ln.sku_code, "title": ln.title, "quantity": ln.quantity} for ln in r.lines
                        ],
                    }
                    for r in requests
                ],
            },
            indent=2,
        )
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(EXPORT_COLUMNS)
    for r in requests:
        address = [r.ship_to[key] for key in ("name", "company", "line1", "line2", "city", "region")]
        address += [r.ship_to[key] for key in ("postal_code", "country", "phone")]
        for ln in r.lines:
            writer.writerow(
                [
                    r.order_number,
                    r.placed_at.isoformat(),
                    r.shipping_method or "",
                    *address,
                    ln.sku_code,
                    ln.title,
                    ln.quantity,
                ]
            )
    return out.getvalue()


@dataclass(frozen=True)
class ConfirmationImport:
    rows: int  # data rows read
    shipments: tuple[int, ...]  # parcels shipped by this import
    already_applied: int  # rows for parcels an earlier import of the same file had shipped


@dataclass(frozen=True)
class _Confirmation:
    line: int
    order_number: str
    sku: str
    quantity: int
    carrier: str
    tracking_number: str
    shipped_at: datetime


def _read_confirmations(csv_text: str, now: datetime) -> tuple[list[_Confirmation], list[RowError]]:
    rows, errors = [], []
    for line, row in csv_rows(csv_text, IMPORT_COLUMNS, IMPORT_COLUMNS):
        problems = [f"{name} is empty" for name in IMPORT_COLUMNS if not row[name]]
        quantity = 0
        if row["quantity"]:
            try:
                quantity = int(row["quantity"])
            except ValueError:
                quantity = 0
            if quantity <= 0:
                problems.append(f"quantity {row['quantity']!r} is not a positive whole number")
        number = normalize_tracking_number(row["tracking_number"])
        if row["tracking_number"] and not is_plausible_tracking_number(number):
            problems.append(f"tracking_number {row['tracking_number']!r} is not a valid tracking number")
        shipped_at = parse_time(row["shipped_at"])  # a bare date is that day, 00:00 UTC
        if row["shipped_at"] and shipped_at is None:
            problems.append(f"shipped_at {row['shipped_at']!r} is not an ISO 8601 date or time")
        elif shipped_at is not None and shipped_at > now + timedelta(hours=1):
            problems.append(f"shipped_at {row['shipped_at']!r} is in the future")
        if problems:
            errors.append(RowError(line, "; ".join(problems)))
            continue
        assert shipped_at is not None
        rows.append(
            _Confirmation(
                line,
                row["order_number"],
                row["sku"],
                quantity,
                normalize_carrier(row["carrier"]) or "",
                number,
                shipped_at,
            )
        )
    return rows, errors


def import_shipment_confirmations(
    session: Session,
    location_id: int,
    csv_text: str,
    *,
    actor: str,
    now: datetime,
    holidays: Collection[date] = (),
) -> ConfirmationImport:
    """Ship what a 3PL confirms: CSV order_number, sku, quantity, carrier, tracking_number, shipped_at.

    The whole file is checked first (columns, values, that each order has that SKU reserved at this location
    in that quantity); any bad row raises InvalidImport listing every problem with its line number, and
    nothing is applied. Rows of one order and tracking number become one parcel (mark_shipped). Rows a
    previous import already shipped (same order, SKU and tracking number at this location) are skipped, so
    importing a file twice is harmless.
    """
    location = get_location(session, location_id)
    rows, errors = _read_confirmations(csv_text, now)
    numbers = {row.order_number for row in rows}
    orders = (
        {o.number: o for o in session.scalars(select(Order).where(Order.number.in_(numbers)))}
        if numbers
        else {}
    )
    order_ids = [order.id for order in orders.values()]
    line_rows = session.execute(
        select(OrderLine.id, OrderLine.order_id, Sku.code)
        .join(Sku, Sku.id == OrderLine.sku_id)
        .where(OrderLine.order_id.in_(order_ids))
        .order_by(OrderLine.line_no)
    ).all()
    lines_of: dict[tuple[int, str], list[int]] = {}
    for line_id, order_id, code in line_rows:
        lines_of.setdefault((order_id, code.casefold()), []).append(line_id)
    reserved_left: dict[int, int] = {}
    for allocation, line in (
        pair for order_id in order_ids for pair in _reserved(session, order_id, location.id)
    ):
        reserved_left[line.id] = reserved_left.get(line.id, 0) + allocation.quantity
    done = {
        (order_id, line_id, number)
        for order_id, line_id, number in session.execute(
            select(Shipment.order_id, ShipmentLine.order_line_id, Shipment.tracking_number)
            .join(ShipmentLine, ShipmentLine.shipment_id == Shipment.id)
            .where(Shipment.order_id.in_(order_ids), Shipment.location_id == location.id)
        ).all()
    }
    parcels: dict[tuple[int, str, str], dict[str, Any]] = {}
    skipped = 0
    for row in rows:
        order = orders.get(row.order_number)
        if order is None:
            errors.append(RowError(row.line, f"unknown order {row.order_number!r}"))
            continue
        line_ids = lines_of.get((order.id, row.sku.casefold()), [])
        if not line_ids:
            errors.append(RowError(row.line, f"order {order.number} has no line with SKU {row.sku!r}"))
            continue
        if all((order.id, line_id, row.tracking_number) in done for line_id in line_ids):
            skipped += 1
            continue
        if order.status not in SHIPPABLE_STATUSES:
            errors.append(RowError(row.line, f"order {order.number} is {order.status}"))
            continue
        left = row.quantity
        take: dict[int, int] = {}
        for line_id in line_ids:
            units = min(left, reserved_left.get(line_id, 0))
            if units:
                take[line_id], left = units, left - units
        if left:
            have = sum(reserved_left.get(line_id, 0) for line_id in line_ids)
            errors.append(
                RowError(
                    row.line,
                    f"order {order.number}: {row.quantity} x {row.sku}, {have} reserved at {location.name}",
                )
            )
            continue
        parcel = parcels.setdefault(
            (order.id, row.carrier, row.tracking_number), {"lines": {}, "shipped_at": row.shipped_at}
        )
        for line_id, units in take.items():
            reserved_left[line_id] -= units
            parcel["lines"][line_id] = parcel["lines"].get(line_id, 0) + units
        parcel["shipped_at"] = min(parcel["shipped_at"], row.shipped_at)
    if errors:
        raise InvalidImport(sorted(errors, key=lambda e: e.line))
    shipped: list[int] = []
    for (order_id, carrier, number), parcel in parcels.items():
        for shipment in mark_shipped(
            session,
            order_id,
            location_id=location.id,
            carrier=carrier,
            tracking_number=number,
            actor=actor,
            now=now,
            lines=parcel["lines"],
            shipped_at=parcel["shipped_at"],
            holidays=holidays,
        ):
            shipped.append(shipment.id)
    return ConfirmationImport(rows=len(rows), shipments=tuple(shipped), already_applied=skipped)
