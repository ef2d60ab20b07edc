"""3PL fulfillment by file: the orders waiting at a 3PL location exported as CSV or JSON, and the 3PL's
shipment confirmations imported as a CSV, all rows or none, each parcel shipped (and audited) through
core.fulfillment.services.mark_shipped.
"""

from __future__ import annotations

import io
import json
from collections.abc import Collection
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from core import csv_cells
from core.catalog.models import Sku
from core.errors import DomainError
from core.fulfillment.carriers import (
    is_plausible_tracking_number,
    normalize_carrier,
    normalize_tracking_number,
)
from core.fulfillment.csv_import import InvalidImport, RowError, csv_rows
from core.fulfillment.models import Shipment, ShipmentLine
from core.fulfillment.queries import SHIPPABLE_STATUSES, fulfillment_requests, get_location
from core.fulfillment.services import SHIPPED_BY_3PL, mark_shipped, reserved_allocations
from core.fulfillment.tracking_base import parse_time
from core.orders.models import Order, OrderLine
from core.security.roles import Actor

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
    writer = csv_cells.writer(out, lineterminator="\n")
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
    actor: Actor,
    now: datetime,
    holidays: Collection[date] = (),
) -> ConfirmationImport:
    """Ship what a 3PL confirms: CSV order_number, sku, quantity, carrier, tracking_number, shipped_at.

    The whole file is checked first (columns, values, that each order has that SKU reserved at this location
    in that quantity); any bad row raises InvalidImport listing every problem with its line number, and
    nothing is applied. Rows of one order and tracking number become one parcel (mark_shipped). Rows a
    previous import already shipped (same order, SKU and tracking number at this location) are skipped, so
    importing a file twice is harmless. Each parcel is audited as shipped by `actor` from a 3PL confirmation.
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
        pair for order_id in order_ids for pair in reserved_allocations(session, order_id, location.id)
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
            source=SHIPPED_BY_3PL,
        ):
            shipped.append(shipment.id)
    return ConfirmationImport(rows=len(rows), shipments=tuple(shipped), already_applied=skipped)
