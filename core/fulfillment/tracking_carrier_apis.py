"""Parsers for the carriers' own tracking APIs. Pure: a native payload in, `TrackingUpdate`s out, each with
OUR status. Vocabularies mapped:

- UPS Track API (trackResponse): activity `status.type` (M/MV billing information, P pickup, I in transit,
  O out for delivery, D delivered, X exception, RS returned to shipper, W warehousing, DO/DD freight, NA).
- FedEx Track API (output.completeTrackResults): scan `eventType`, then `derivedStatusCode` (OC/IN label,
  OD on vehicle for delivery, DL, HL/HP held for pickup, DE/SE/DY/CA exceptions, RS; other scans in transit).
- DHL Shipment Tracking - Unified (shipments): event `statusCode` (unknown, pre-transit, transit,
  delivered, failure).
- USPS Tracking v3 (trackingEvents): `eventCode` (MA pre-shipment, OF out for delivery, 01 delivered,
  02/52-56 notice left, 16 available for pickup, 09/21-31 return to sender, 04/05/GX problems).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from core.fulfillment.carriers import normalize_tracking_number
from core.fulfillment.status import ShipmentStatus
from core.fulfillment.tracking_base import (
    LABEL_ONLY,
    TrackingUpdate,
    as_dict,
    as_list,
    clean,
    join_codes,
    join_place,
    make_update,
    parse_time,
)

SS = ShipmentStatus

# --- UPS Track API ---------------------------------------------------------------------------------------

UPS_TYPES = {
    "M": SS.INFO_RECEIVED,  # billing information received (label created)
    "MV": SS.EXCEPTION,  # billing information voided
    "P": SS.IN_TRANSIT,  # pickup
    "I": SS.IN_TRANSIT,
    "W": SS.IN_TRANSIT,  # warehousing
    "DO": SS.IN_TRANSIT,  # freight: delivered to the origin CFS
    "DD": SS.IN_TRANSIT,  # freight: delivered to the destination CFS
    "NA": SS.IN_TRANSIT,  # not available
    "O": SS.OUT_FOR_DELIVERY,
    "D": SS.DELIVERED,
    "X": SS.EXCEPTION,
    "RS": SS.RETURNED_TO_SENDER,  # returned to shipper
}
UPS_CODES = {"MP": SS.INFO_RECEIVED, "OT": SS.OUT_FOR_DELIVERY}


def _ups_time(activity: dict[str, Any]) -> datetime | None:
    """gmtDate/gmtTime when given, else the local date and time at gmtOffset (UTC when there is none)."""

    def combine(day: Any, clock: Any) -> datetime | None:
        digits = clean(day).replace("-", "") + clean(clock).replace(":", "").ljust(6, "0")[:6]
        try:
            return datetime.strptime(digits, "%Y%m%d%H%M%S").replace(tzinfo=UTC)
        except ValueError:
            return None

    gmt = combine(activity.get("gmtDate"), activity.get("gmtTime"))
    local = combine(activity.get("date"), activity.get("time"))
    offset = re.fullmatch(r"([+-])(\d{2}):?(\d{2})", clean(activity.get("gmtOffset")))
    if gmt is None and local is not None and offset:
        shift = timedelta(hours=int(offset.group(2)), minutes=int(offset.group(3)))
        local = local.replace(tzinfo=timezone(shift if offset.group(1) == "+" else -shift)).astimezone(UTC)
    return gmt or local


def parse_ups(payload: dict[str, Any]) -> list[TrackingUpdate]:
    """Every activity of every package in a Track API trackResponse."""
    updates = []
    shipments = as_list(as_dict(payload.get("trackResponse")).get("shipment"))
    for shipment in (s for s in shipments if isinstance(s, dict)):
        for package in (p for p in as_list(shipment.get("package")) if isinstance(p, dict)):
            number = normalize_tracking_number(
                clean(package.get("trackingNumber")) or clean(shipment.get("inquiryNumber"))
            )
            for activity in (a for a in as_list(package.get("activity")) if isinstance(a, dict)):
                state = as_dict(activity.get("status"))
                kind, code = clean(state.get("type")).upper(), clean(state.get("code")).upper()
                status = UPS_TYPES.get(kind)
                if status in (None, SS.IN_TRANSIT):
                    status = UPS_CODES.get(code, status)
                address = as_dict(as_dict(activity.get("location")).get("address"))
                updates.append(
                    make_update(
                        "ups",
                        number,
                        "UPS",
                        status,
                        _ups_time(activity),
                        join_codes(kind, code),
                        clean(state.get("description")) or clean(state.get("simplifiedTextDescription")),
                        join_place(
                            address.get("city"),
                            address.get("stateProvince"),
                            address.get("postalCode"),
                            address.get("countryCode") or address.get("country"),
                        ),
                        activity,
                    )
                )
    return [u for u in updates if u is not None and u.tracking_number]


# --- FedEx Track API -------------------------------------------------------------------------------------

FEDEX_EVENTS = {
    **dict.fromkeys(("OC", "IN"), SS.INFO_RECEIVED),  # shipment information sent / label created
    "OD": SS.OUT_FOR_DELIVERY,  # on FedEx vehicle for delivery
    "DL": SS.DELIVERED,
    **dict.fromkeys(("HL", "HP"), SS.AVAILABLE_FOR_PICKUP),  # held at location, ready for recipient pickup
    **dict.fromkeys(("DE", "SE", "DY", "DD", "CD", "CA"), SS.EXCEPTION),  # delivery/shipment exception, delay
    "RS": SS.RETURNED_TO_SENDER,
}


def parse_fedex(payload: dict[str, Any]) -> list[TrackingUpdate]:
    """Every scan event of every result in a Track API response (output.completeTrackResults).

    The scan's eventType is the precise code (OD "on FedEx vehicle for delivery" is derived as IT); other
    scan types (PU, AR, DP, IT, ...) are in transit.
    """
    updates = []
    for complete in as_list(as_dict(payload.get("output")).get("completeTrackResults")):
        for result in (r for r in as_list(as_dict(complete).get("trackResults")) if isinstance(r, dict)):
            info = as_dict(result.get("trackingNumberInfo"))
            number = normalize_tracking_number(
                clean(info.get("trackingNumber")) or clean(as_dict(complete).get("trackingNumber"))
            )
            for scan in (s for s in as_list(result.get("scanEvents")) if isinstance(s, dict)):
                kind, derived = (
                    clean(scan.get("eventType")).upper(),
                    clean(scan.get("derivedStatusCode")).upper(),
                )
                status = FEDEX_EVENTS.get(kind) or FEDEX_EVENTS.get(derived) or SS.IN_TRANSIT
                where = as_dict(scan.get("scanLocation"))
                text = clean(scan.get("eventDescription"))
                detail = clean(scan.get("exceptionDescription"))
                updates.append(
                    make_update(
                        "fedex",
                        number,
                        "FedEx",
                        status,
                        parse_time(scan.get("date")),
                        join_codes(kind, derived),
                        f"{text}: {detail}" if text and detail else text or detail,
                        join_place(
                            where.get("city"),
                            where.get("stateOrProvinceCode"),
                            where.get("postalCode"),
                            where.get("countryCode"),
                        ),
                        scan,
                    )
                )
    return [u for u in updates if u is not None and u.tracking_number]


# --- DHL Shipment Tracking (Unified) ---------------------------------------------------------------------

DHL_STATUSES = {
    "unknown": SS.INFO_RECEIVED,
    "pre-transit": SS.INFO_RECEIVED,
    "transit": SS.IN_TRANSIT,
    "delivered": SS.DELIVERED,
    "failure": SS.EXCEPTION,
}


def parse_dhl(payload: dict[str, Any]) -> list[TrackingUpdate]:
    """Every event of every shipment, by statusCode refined by DHL's words; the shipment's own status when
    it has no events."""
    updates = []
    for shipment in (s for s in as_list(payload.get("shipments")) if isinstance(s, dict)):
        number = normalize_tracking_number(clean(shipment.get("id")))
        items = [e for e in as_list(shipment.get("events")) if isinstance(e, dict)]
        for item in items or [as_dict(shipment.get("status"))]:
            code = clean(item.get("statusCode")).casefold()
            address = as_dict(as_dict(item.get("location")).get("address"))
            updates.append(
                make_update(
                    "dhl",
                    number,
                    "DHL",
                    DHL_STATUSES.get(code),
                    parse_time(item.get("timestamp")),
                    code,
                    clean(item.get("description")) or clean(item.get("status")),
                    join_place(
                        address.get("addressLocality"), address.get("postalCode"), address.get("countryCode")
                    ),
                    item,
                )
            )
    return [u for u in updates if u is not None and u.tracking_number]


# --- USPS Tracking API (v3) ------------------------------------------------------------------------------

USPS_EVENTS = {
    "MA": SS.INFO_RECEIVED,  # pre-shipment info (manifest) received
    "OF": SS.OUT_FOR_DELIVERY,
    "01": SS.DELIVERED,
    "17": SS.DELIVERED,  # picked up by the addressee's agent
    **dict.fromkeys(("02", "52", "53", "54", "55", "56"), SS.FAILED_ATTEMPT),  # notice left, no access ...
    **dict.fromkeys(("04", "05", "GX"), SS.EXCEPTION),  # refused, undeliverable, label cancelled
    **dict.fromkeys(
        ("09", "21", "22", "23", "24", "25", "26", "27", "28", "29", "31"), SS.RETURNED_TO_SENDER
    ),
    "16": SS.AVAILABLE_FOR_PICKUP,
}


def parse_usps(payload: dict[str, Any]) -> list[TrackingUpdate]:
    """Every tracking event of a Tracking v3 response (eventCode, else the event's words)."""
    number = normalize_tracking_number(clean(payload.get("trackingNumber")))
    updates = []
    for item in (e for e in as_list(payload.get("trackingEvents")) if isinstance(e, dict)):
        code, words = clean(item.get("eventCode")).upper(), clean(item.get("eventType"))
        status = USPS_EVENTS.get(code)
        if status is None and words.casefold().startswith("delivered"):
            status = SS.DELIVERED
        elif status is None:
            status = SS.INFO_RECEIVED if LABEL_ONLY.search(words) else SS.IN_TRANSIT
        updates.append(
            make_update(
                "usps",
                number,
                "USPS",
                status,
                parse_time(item.get("GMTTimestamp")) or parse_time(item.get("eventTimestamp")),
                code,
                words,
                join_place(
                    item.get("eventCity"),
                    item.get("eventState"),
                    item.get("eventZIP"),
                    item.get("eventCountry"),
                ),
                item,
            )
        )
    return [u for u in updates if u is not None and u.tracking_number]
