"""Carrier tracking: our shipment statuses, the carrier table, parsers for tracking services, and the
service that records their events against our shipments.

Parsers are pure: a native payload in, `TrackingUpdate`s out, each with OUR status. Vocabularies mapped:

- AfterShip (Tracking API v4 and later, responses and webhooks): checkpoint `tag` (InfoReceived, InTransit,
  OutForDelivery, AttemptFail, Delivered, AvailableForPickup, Exception, Expired, Pending) refined by `subtag`
  (Exception_010 returning / Exception_011 returned to sender).
- EasyPost (Tracker objects, `tracker.*` webhook Events, tracker lists): `status` of each tracking detail
  (unknown, pre_transit, in_transit, out_for_delivery, delivered, available_for_pickup, return_to_sender,
  failure, cancelled, error) refined by `status_detail` (arrived_at_pickup_location, return, ...).
- Shippo (Track objects and `track_updated` webhooks): `status` (UNKNOWN, PRE_TRANSIT, TRANSIT, DELIVERED,
  RETURNED, FAILURE) refined by `substatus.code` (out_for_delivery, delivery_attempted, pickup_available ...).
- UPS Track API (trackResponse): activity `status.type` (M/MV billing information, P pickup, I in transit,
  O out for delivery, D delivered, X exception, RS returned to shipper, W warehousing, DO/DD freight, NA).
- FedEx Track API (output.completeTrackResults): scan `eventType`, then `derivedStatusCode` (OC/IN label,
  OD on vehicle for delivery, DL, HL/HP held for pickup, DE/SE/DY/CA exceptions, RS; other scans in transit).
- DHL Shipment Tracking - Unified (shipments): event `statusCode` (unknown, pre-transit, transit,
  delivered, failure).
- USPS Tracking v3 (trackingEvents): `eventCode` (MA pre-shipment, OF out for delivery, 01 delivered,
  02/52-56 notice left, 16 available for pickup, 09/21-31 return to sender, 04/05/GX problems).
- Our CSV: tracking_number, carrier, status, occurred_at, location, description.
Where a source only has a coarse status (Shippo TRANSIT, UPS I or X, ...), the carrier's words refine it
("out for delivery", "delivery attempted", "available for pickup", "return to sender").

`record_tracking_events` stores the events idempotently and moves shipments forward; every shipment status
change goes through `advance_shipment` and therefore `_shipment_status_changed`, the one place other areas
hook into.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from enum import StrEnum
from typing import Any
from urllib.parse import quote

from sqlalchemy import func, or_, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from core.errors import DomainError, PayloadError
from core.fulfillment import events
from core.fulfillment.models import Shipment, ShipmentLine, TrackingEvent
from core.orders.models import InboundPayload, Order
from core.orders.services import change_order_status
from core.orders.status import OrderStatus, can_transition

# --- our shipment statuses -------------------------------------------------------------------------------


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
_STATUS_NAMES = [status.value for status in SS if status in TRACKING_STATUSES]
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


# --- carriers ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Carrier:
    name: str  # how we write it: "UPS", "Royal Mail"
    tracking_url: str  # "{}" is the tracking number
    aliases: tuple[str, ...] = ()  # other spellings: AfterShip slugs, EasyPost and Shippo carrier tokens


CARRIERS: tuple[Carrier, ...] = (
    Carrier("UPS", "https://www.ups.com/track?tracknum={}", ("united parcel service", "ups ground")),
    Carrier(
        "USPS",
        "https://tools.usps.com/go/TrackConfirmAction?tLabels={}",
        ("us postal service", "united states postal service", "us mail"),
    ),
    Carrier(
        "FedEx",
        "https://www.fedex.com/fedextrack/?trknbr={}",
        ("federal express", "fdx", "fedex ground", "fedex express", "fedex smartpost", "fedex freight"),
    ),
    Carrier(
        "DHL",
        "https://www.dhl.com/us-en/home/tracking/tracking-express.html?submit=1&tracking-id={}",
        ("dhl express", "dhl_express", "dhlexpress", "dhl-express", "dhl parcel"),
    ),
    Carrier(
        "DHL eCommerce",
        "https://www.dhl.com/us-en/home/tracking.html?submit=1&tracking-id={}",
        ("dhl global mail", "dhl-global-mail", "dhl ecommerce", "dhl_ecommerce", "dhlecs"),
    ),
    Carrier(
        "Royal Mail",
        "https://www.royalmail.com/track-your-item#/tracking-results/{}",
        ("royal-mail", "royal_mail", "royalmail"),
    ),
    Carrier(
        "Canada Post",
        "https://www.canadapost-postescanada.ca/track-reperage/en#/search?searchFor={}",
        ("canada-post", "canada_post", "canadapost", "postes canada"),
    ),
    Carrier(
        "Australia Post",
        "https://auspost.com.au/mypost/track/details/{}",
        ("australia-post", "australia_post", "auspost"),
    ),
    Carrier(
        "La Poste",
        "https://www.laposte.fr/outils/suivre-vos-envois?code={}",
        ("la-poste-colissimo", "colissimo", "laposte"),
    ),
    Carrier(
        "Amazon Logistics",
        "https://track.amazon.com/tracking/{}",
        ("amazon", "amzl", "amazon shipping", "amazon-logistics"),
    ),
    Carrier("Purolator", "https://www.purolator.com/en/shipping/tracker?pin={}"),
    Carrier("OnTrac", "https://www.ontrac.com/tracking/?number={}"),
    Carrier("Evri", "https://www.evri.com/track/parcel/{}", ("hermes uk", "myhermes")),
)


def carrier_key(text: str | None) -> str:
    """A spelling-insensitive key: lower case letters and digits only ("DHL_Express" -> "dhlexpress")."""
    return re.sub(r"[^a-z0-9]", "", (text or "").casefold())


_CARRIER_BY_KEY = {
    carrier_key(spelling): carrier for carrier in CARRIERS for spelling in (carrier.name, *carrier.aliases)
}


def find_carrier(text: str | None) -> Carrier | None:
    """The carrier of any known spelling, or None."""
    return _CARRIER_BY_KEY.get(carrier_key(text))


def normalize_carrier(text: str | None) -> str | None:
    """Our name for a carrier ("ups" -> "UPS", "dhl_express" -> "DHL"); an unknown one as written, trimmed."""
    carrier = find_carrier(text)
    if carrier is not None:
        return carrier.name
    cleaned = " ".join((text or "").split())
    return cleaned or None


def normalize_tracking_number(text: str | None) -> str:
    """Tracking numbers compare without spaces and case: "1z 999 aa1" -> "1Z999AA1"."""
    return re.sub(r"\s+", "", text or "").upper()


_PLAUSIBLE_NUMBER = re.compile(r"[A-Z0-9][A-Z0-9-]{3,59}")


def is_plausible_tracking_number(number: str) -> bool:
    """4 to 60 letters, digits or dashes once normalised: anything else is a typo or a placeholder."""
    return bool(_PLAUSIBLE_NUMBER.fullmatch(number))


def tracking_url(carrier: str | None, tracking_number: str | None) -> str | None:
    """The carrier's public tracking page for the number, when we know the carrier."""
    found = find_carrier(carrier)
    if found is None or not tracking_number:
        return None
    return found.tracking_url.format(quote(tracking_number, safe=""))


# --- parsed events ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TrackingUpdate:
    """One carrier checkpoint, read from any source, with our status."""

    tracking_number: str
    carrier: str | None
    status: str  # ours: one of TRACKING_STATUSES
    occurred_at: datetime  # aware UTC
    carrier_status: str = ""  # the source's own code(s), e.g. "InTransit/InTransit_007", "I/DP"
    description: str = ""
    location: str = ""
    source: str = ""  # aftership, easypost, shippo, ups, fedex, dhl, usps, csv
    raw: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def dedup_key(self) -> str:
        """Status, time and place: the same checkpoint sent twice (or by two webhooks) is stored once."""
        place = hashlib.sha256(" ".join(self.location.casefold().split()).encode()).hexdigest()[:16]
        return f"{self.status}|{self.occurred_at.astimezone(UTC).isoformat()}|{place}"


_OUT_FOR_DELIVERY = re.compile(
    r"out for delivery|on (fedex )?vehicle for delivery|with delivery courier|onto the delivery vehicle", re.I
)
_FAILED_ATTEMPT = re.compile(
    r"delivery attempt|attempted delivery|attempted to deliver|attempt made|notice left"
    r"|not available for delivery|no one available|(recipient|customer) not (home|available)",
    re.I,
)
_PICKUP = re.compile(
    r"(ready|available) for (pick ?up|collection)|awaiting (customer )?(pick ?up|collection)"
    r"|held for (customer )?pick ?up",
    re.I,
)
_LABEL_ONLY = re.compile(r"label created|pre-shipment|awaiting item", re.I)
_RETURN = re.compile(r"return(ed|ing)? to (sender|shipper)", re.I)


def _refine(status: SS, text: str) -> SS:
    """A coarse in-transit or exception status made precise by the carrier's words."""
    if status not in (SS.IN_TRANSIT, SS.EXCEPTION) or not text:
        return status
    if _RETURN.search(text):
        return SS.RETURNED_TO_SENDER
    if _FAILED_ATTEMPT.search(text):
        return SS.FAILED_ATTEMPT
    if _PICKUP.search(text):
        return SS.AVAILABLE_FOR_PICKUP
    if _OUT_FOR_DELIVERY.search(text):
        return SS.OUT_FOR_DELIVERY
    return status


def _text(value: Any) -> str:
    return " ".join(str(value).split()) if value not in (None, "") else ""


def _place(*parts: Any) -> str:
    return ", ".join(text for text in (_text(part) for part in parts) if text)


def parse_time(value: Any) -> datetime | None:
    """An ISO 8601 time as aware UTC (one without an offset is taken as UTC); None if empty or unreadable."""
    text = _text(value)
    if not text:
        return None
    # "2024-08-12T15:18:10 -0500" (FedEx's latest status) -> "2024-08-12T15:18:10-05:00"
    text = re.sub(r"(T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)\s*([+-]\d{2}):?(\d{2})$", r"\1\2:\3", text)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


# --- AfterShip -------------------------------------------------------------------------------------------

AFTERSHIP_TAGS = {
    "pending": SS.INFO_RECEIVED,  # registered, no checkpoint from the carrier yet
    "inforeceived": SS.INFO_RECEIVED,
    "intransit": SS.IN_TRANSIT,
    "outfordelivery": SS.OUT_FOR_DELIVERY,
    "attemptfail": SS.FAILED_ATTEMPT,
    "delivered": SS.DELIVERED,
    "availableforpickup": SS.AVAILABLE_FOR_PICKUP,
    "exception": SS.EXCEPTION,
    "expired": SS.EXCEPTION,  # no carrier information for 30 days
}
AFTERSHIP_SUBTAGS = {
    "exception_010": SS.RETURNED_TO_SENDER,  # returning to sender
    "exception_011": SS.RETURNED_TO_SENDER,  # returned to sender
}


def _update(
    source: str,
    number: str,
    carrier: str | None,
    status: SS | None,
    when: datetime | None,
    code: str,
    text: str,
    place: str,
    raw: Mapping[str, Any],
    *,
    refine: bool = True,
) -> TrackingUpdate | None:
    """One update, or None when the status or the time is missing."""
    if status is None or when is None:
        return None
    status = _refine(status, text) if refine else status
    return TrackingUpdate(number, carrier, status.value, when, code, text, place, source, raw)


def _codes(*parts: Any) -> str:
    return "/".join(text for text in (_text(part) for part in parts) if text)


def _aftership_status(tag: Any, subtag: Any) -> SS | None:
    return AFTERSHIP_SUBTAGS.get(_text(subtag).casefold()) or AFTERSHIP_TAGS.get(carrier_key(_text(tag)))


def _aftership_trackings(payload: dict[str, Any]) -> list[dict[str, Any]]:
    """Trackings in a response (data.tracking, data.trackings, data itself) or a webhook body (msg)."""
    data = _mapping(payload.get("data"))
    found: list[dict[str, Any]] = []
    for holder in (data, payload):
        if isinstance(holder.get("tracking"), dict):
            found.append(holder["tracking"])
        found.extend(t for t in _list(holder.get("trackings")) if isinstance(t, dict))
    if isinstance(payload.get("msg"), dict):
        found.append(payload["msg"])
    if not found and "tracking_number" in data:
        found.append(data)  # 2023+ API versions, and GET last_checkpoint
    if not found and "tracking_number" in payload and ("checkpoints" in payload or "tag" in payload):
        found.append(payload)
    return found


def parse_aftership(payload: dict[str, Any]) -> list[TrackingUpdate]:
    """Every checkpoint of every tracking; a tracking with none gives one update from its own tag.

    PayloadError for an AfterShip error response (meta.code 4xx/5xx, e.g. "Tracking does not exist").
    """
    meta = _mapping(payload.get("meta"))
    if isinstance(meta.get("code"), int) and meta["code"] >= 400:
        raise PayloadError(f"AfterShip error {meta['code']}: {_text(meta.get('message')) or 'no message'}")
    updates = []
    for tracking in _aftership_trackings(payload):
        number = normalize_tracking_number(_text(tracking.get("tracking_number")))
        slug = tracking.get("slug")
        checkpoints = [c for c in _list(tracking.get("checkpoints")) if isinstance(c, dict)]
        if isinstance(tracking.get("checkpoint"), dict):  # GET last_checkpoint
            checkpoints.append(tracking["checkpoint"])
        for cp in checkpoints:
            place = _text(cp.get("location")) or _place(
                cp.get("city"),
                cp.get("state"),
                cp.get("zip"),
                cp.get("country_name") or cp.get("country_iso3"),
            )
            updates.append(
                _update(
                    "aftership",
                    number,
                    normalize_carrier(cp.get("slug") or slug),
                    _aftership_status(cp.get("tag"), cp.get("subtag")),
                    parse_time(cp.get("checkpoint_time")) or parse_time(cp.get("created_at")),
                    _codes(cp.get("tag"), cp.get("subtag")),
                    _text(cp.get("message")) or _text(cp.get("subtag_message")),
                    place,
                    cp,
                )
            )
        if not checkpoints:
            status = _aftership_status(tracking.get("tag"), tracking.get("subtag"))
            # a tracking still pending is dated when it was registered, so every poll gives the same update
            stamp = tracking.get("last_updated_at") or tracking.get("updated_at")
            when = parse_time(tracking.get("created_at") if status == SS.INFO_RECEIVED else stamp)
            summary = {k: v for k, v in tracking.items() if k != "checkpoints"}
            updates.append(
                _update(
                    "aftership",
                    number,
                    normalize_carrier(slug),
                    status,
                    when or parse_time(tracking.get("created_at")),
                    _codes(tracking.get("tag"), tracking.get("subtag")),
                    _text(tracking.get("subtag_message")) or _text(tracking.get("tag")),
                    "",
                    summary,
                    refine=False,
                )
            )
    return [u for u in updates if u is not None and u.tracking_number]


# --- EasyPost --------------------------------------------------------------------------------------------

EASYPOST_STATUSES = {
    "unknown": SS.INFO_RECEIVED,
    "pre_transit": SS.INFO_RECEIVED,
    "in_transit": SS.IN_TRANSIT,
    "out_for_delivery": SS.OUT_FOR_DELIVERY,
    "delivered": SS.DELIVERED,
    "available_for_pickup": SS.AVAILABLE_FOR_PICKUP,
    "return_to_sender": SS.RETURNED_TO_SENDER,
    "failure": SS.EXCEPTION,
    "cancelled": SS.EXCEPTION,
    "error": SS.EXCEPTION,
}
EASYPOST_DETAILS = {
    "arrived_at_pickup_location": SS.AVAILABLE_FOR_PICKUP,
    "return": SS.RETURNED_TO_SENDER,
    "out_for_delivery": SS.OUT_FOR_DELIVERY,
}


def _easypost_trackers(payload: dict[str, Any]) -> list[dict[str, Any]]:
    if payload.get("object") == "Event":
        return _easypost_trackers(_mapping(payload.get("result")))
    if isinstance(payload.get("tracker"), dict):  # a Shipment
        return [payload["tracker"]]
    if isinstance(payload.get("trackers"), list):
        return [t for t in payload["trackers"] if isinstance(t, dict)]
    return [payload] if "tracking_code" in payload else []


def parse_easypost(payload: dict[str, Any]) -> list[TrackingUpdate]:
    """Every tracking detail of every Tracker (a Tracker, a webhook Event, a list, a Shipment's tracker)."""
    updates = []
    for tracker in _easypost_trackers(payload):
        number = normalize_tracking_number(_text(tracker.get("tracking_code")))
        carrier = normalize_carrier(tracker.get("carrier"))
        details = [d for d in _list(tracker.get("tracking_details")) if isinstance(d, dict)]
        for detail in details:
            code, sub = _text(detail.get("status")).casefold(), _text(detail.get("status_detail")).casefold()
            where = _mapping(detail.get("tracking_location"))
            updates.append(
                _update(
                    "easypost",
                    number,
                    carrier,
                    EASYPOST_DETAILS.get(sub) or EASYPOST_STATUSES.get(code),
                    parse_time(detail.get("datetime")),
                    _codes(code, sub),
                    _text(detail.get("message")) or _text(detail.get("description")),
                    _place(where.get("city"), where.get("state"), where.get("zip"), where.get("country")),
                    detail,
                )
            )
        if not details:
            code = _text(tracker.get("status")).casefold()
            updates.append(
                _update(
                    "easypost",
                    number,
                    carrier,
                    EASYPOST_STATUSES.get(code),
                    parse_time(tracker.get("updated_at") or tracker.get("created_at")),
                    code,
                    _text(tracker.get("status_detail")),
                    "",
                    {k: v for k, v in tracker.items() if k != "tracking_details"},
                    refine=False,
                )
            )
    return [u for u in updates if u is not None and u.tracking_number]


# --- Shippo ----------------------------------------------------------------------------------------------

SHIPPO_STATUSES = {
    "unknown": SS.INFO_RECEIVED,  # known to Shippo, no carrier scan yet
    "pre_transit": SS.INFO_RECEIVED,
    "transit": SS.IN_TRANSIT,
    "delivered": SS.DELIVERED,
    "returned": SS.RETURNED_TO_SENDER,
    "failure": SS.EXCEPTION,
}
SHIPPO_SUBSTATUSES = {
    "information_received": SS.INFO_RECEIVED,
    **dict.fromkeys(
        (
            "package_accepted",
            "package_arrived",
            "package_departed",
            "package_processing",
            "package_processed",
            "package_forwarded",
            "delivery_scheduled",
            "delivery_rescheduled",
        ),
        SS.IN_TRANSIT,
    ),
    "out_for_delivery": SS.OUT_FOR_DELIVERY,
    **dict.fromkeys(
        ("delivery_attempted", "notice_left", "location_inaccessible", "reschedule_delivery"),
        SS.FAILED_ATTEMPT,
    ),
    "pickup_available": SS.AVAILABLE_FOR_PICKUP,
    "delivered": SS.DELIVERED,
    "return_to_sender": SS.RETURNED_TO_SENDER,
    **dict.fromkeys(
        (
            "address_issue",
            "contact_carrier",
            "delayed",
            "package_damaged",
            "package_held",
            "package_lost",
            "package_disposed",
            "package_undeliverable",
            "package_unclaimed",
        ),
        SS.EXCEPTION,
    ),
}


def _shippo_tracks(payload: dict[str, Any]) -> list[dict[str, Any]]:
    if isinstance(payload.get("data"), dict) and "tracking_number" in payload["data"]:
        return [payload["data"]]  # webhook: {"event": "track_updated", "data": {...}}
    if isinstance(payload.get("results"), list):
        return [t for t in payload["results"] if isinstance(t, dict)]
    return [payload] if "tracking_number" in payload else []


def _shippo_update(number: str, carrier: str | None, item: dict[str, Any]) -> TrackingUpdate | None:
    substatus = _mapping(item.get("substatus"))
    sub = _text(substatus.get("code")).casefold()
    where = _mapping(item.get("location"))
    return _update(
        "shippo",
        number,
        carrier,
        SHIPPO_SUBSTATUSES.get(sub) or SHIPPO_STATUSES.get(_text(item.get("status")).casefold()),
        parse_time(item.get("status_date")),
        _codes(item.get("status"), sub),
        _text(item.get("status_details")) or _text(substatus.get("text")),
        _place(where.get("city"), where.get("state"), where.get("zip"), where.get("country")),
        item,
        refine=sub not in SHIPPO_SUBSTATUSES,  # a known substatus is already precise
    )


def parse_shippo(payload: dict[str, Any]) -> list[TrackingUpdate]:
    """The tracking history of every Track, plus the current status when the history lacks it."""
    updates = []
    for track in _shippo_tracks(payload):
        number = normalize_tracking_number(_text(track.get("tracking_number")))
        carrier = normalize_carrier(track.get("carrier"))
        items = (i for i in _list(track.get("tracking_history")) if isinstance(i, dict))
        history = [u for u in (_shippo_update(number, carrier, i) for i in items) if u is not None]
        current = _mapping(track.get("tracking_status"))
        latest = _shippo_update(number, carrier, current) if current else None
        if latest is not None and latest.dedup_key not in {u.dedup_key for u in history}:
            history.append(latest)
        updates.extend(u for u in history if u.tracking_number)
    return updates


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
        digits = _text(day).replace("-", "") + _text(clock).replace(":", "").ljust(6, "0")[:6]
        try:
            return datetime.strptime(digits, "%Y%m%d%H%M%S").replace(tzinfo=UTC)
        except ValueError:
            return None

    gmt = combine(activity.get("gmtDate"), activity.get("gmtTime"))
    local = combine(activity.get("date"), activity.get("time"))
    offset = re.fullmatch(r"([+-])(\d{2}):?(\d{2})", _text(activity.get("gmtOffset")))
    if gmt is None and local is not None and offset:
        shift = timedelta(hours=int(offset.group(2)), minutes=int(offset.group(3)))
        local = local.replace(tzinfo=timezone(shift if offset.group(1) == "+" else -shift)).astimezone(UTC)
    return gmt or local


def parse_ups(payload: dict[str, Any]) -> list[TrackingUpdate]:
    """Every activity of every package in a Track API trackResponse."""
    updates = []
    shipments = _list(_mapping(payload.get("trackResponse")).get("shipment"))
    for shipment in (s for s in shipments if isinstance(s, dict)):
        for package in (p for p in _list(shipment.get("package")) if isinstance(p, dict)):
            number = normalize_tracking_number(
                _text(package.get("trackingNumber")) or _text(shipment.get("inquiryNumber"))
            )
            for activity in (a for a in _list(package.get("activity")) if isinstance(a, dict)):
                state = _mapping(activity.get("status"))
                kind, code = _text(state.get("type")).upper(), _text(state.get("code")).upper()
                status = UPS_TYPES.get(kind)
                if status in (None, SS.IN_TRANSIT):
                    status = UPS_CODES.get(code, status)
                address = _mapping(_mapping(activity.get("location")).get("address"))
                updates.append(
                    _update(
                        "ups",
                        number,
                        "UPS",
                        status,
                        _ups_time(activity),
                        _codes(kind, code),
                        _text(state.get("description")) or _text(state.get("simplifiedTextDescription")),
                        _place(
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
    for complete in _list(_mapping(payload.get("output")).get("completeTrackResults")):
        for result in (r for r in _list(_mapping(complete).get("trackResults")) if isinstance(r, dict)):
            info = _mapping(result.get("trackingNumberInfo"))
            number = normalize_tracking_number(
                _text(info.get("trackingNumber")) or _text(_mapping(complete).get("trackingNumber"))
            )
            for scan in (s for s in _list(result.get("scanEvents")) if isinstance(s, dict)):
                kind, derived = (
                    _text(scan.get("eventType")).upper(),
                    _text(scan.get("derivedStatusCode")).upper(),
                )
                status = FEDEX_EVENTS.get(kind) or FEDEX_EVENTS.get(derived) or SS.IN_TRANSIT
                where = _mapping(scan.get("scanLocation"))
                text = _text(scan.get("eventDescription"))
                detail = _text(scan.get("exceptionDescription"))
                updates.append(
                    _update(
                        "fedex",
                        number,
                        "FedEx",
                        status,
                        parse_time(scan.get("date")),
                        _codes(kind, derived),
                        f"{text}: {detail}" if text and detail else text or detail,
                        _place(
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
    for shipment in (s for s in _list(payload.get("shipments")) if isinstance(s, dict)):
        number = normalize_tracking_number(_text(shipment.get("id")))
        items = [e for e in _list(shipment.get("events")) if isinstance(e, dict)]
        for item in items or [_mapping(shipment.get("status"))]:
            code = _text(item.get("statusCode")).casefold()
            address = _mapping(_mapping(item.get("location")).get("address"))
            updates.append(
                _update(
                    "dhl",
                    number,
                    "DHL",
                    DHL_STATUSES.get(code),
                    parse_time(item.get("timestamp")),
                    code,
                    _text(item.get("description")) or _text(item.get("status")),
                    _place(
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
    number = normalize_tracking_number(_text(payload.get("trackingNumber")))
    updates = []
    for item in (e for e in _list(payload.get("trackingEvents")) if isinstance(e, dict)):
        code, words = _text(item.get("eventCode")).upper(), _text(item.get("eventType"))
        status = USPS_EVENTS.get(code)
        if status is None and words.casefold().startswith("delivered"):
            status = SS.DELIVERED
        elif status is None:
            status = SS.INFO_RECEIVED if _LABEL_ONLY.search(words) else SS.IN_TRANSIT
        updates.append(
            _update(
                "usps",
                number,
                "USPS",
                status,
                parse_time(item.get("GMTTimestamp")) or parse_time(item.get("eventTimestamp")),
                code,
                words,
                _place(
                    item.get("eventCity"),
                    item.get("eventState"),
                    item.get("eventZIP"),
                    item.get("eventCountry"),
                ),
                item,
            )
        )
    return [u for u in updates if u is not None and u.tracking_number]


# --- our CSV ---------------------------------------------------------------------------------------------

CSV_COLUMNS = ("tracking_number", "carrier", "status", "occurred_at", "location", "description")
REQUIRED_CSV_COLUMNS = ("tracking_number", "status", "occurred_at")
_CSV_STATUS_WORDS = {
    carrier_key(word): status
    for status, words in {
        SS.INFO_RECEIVED: (
            "info received",
            "information received",
            "label created",
            "pre transit",
            "pending",
        ),
        SS.IN_TRANSIT: ("in transit", "transit", "picked up", "shipped"),
        SS.OUT_FOR_DELIVERY: ("out for delivery",),
        SS.AVAILABLE_FOR_PICKUP: ("available for pickup", "ready for pickup"),
        SS.FAILED_ATTEMPT: ("failed attempt", "attempt fail", "attempted", "delivery attempted"),
        SS.DELIVERED: ("delivered",),
        SS.EXCEPTION: ("exception", "delayed", "failure"),
        SS.RETURNED_TO_SENDER: ("returned to sender", "return to sender", "returned"),
    }.items()
    for word in (status.value, *words)
}


@dataclass(frozen=True)
class RowError:
    line: int  # 1 is the header
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}"


class InvalidImport(DomainError):
    """A file with malformed rows; `errors` lists each with its line number. Nothing was applied."""

    def __init__(self, errors: Sequence[RowError]) -> None:
        shown = "; ".join(str(error) for error in errors[:5])
        more = f" (and {len(errors) - 5} more)" if len(errors) > 5 else ""
        super().__init__(f"{len(errors)} problem(s), nothing applied: {shown}{more}")
        self.errors = list(errors)


def csv_rows(text: str, columns: Sequence[str], required: Sequence[str]) -> list[tuple[int, dict[str, str]]]:
    """(line number, row) for each non-blank row of a CSV with a header; InvalidImport on a bad header.

    Headers compare case-insensitively; unknown columns are ignored.
    """
    reader = csv.reader(io.StringIO(text.lstrip("\ufeff")))
    header = next(reader, None)
    if not header or not any(cell.strip() for cell in header):
        raise InvalidImport([RowError(1, f"the file is empty: expected a header {', '.join(columns)}")])
    names = [cell.strip().casefold() for cell in header]
    missing = [name for name in required if name not in names]
    if missing:
        raise InvalidImport([RowError(1, f"missing column(s): {', '.join(missing)}")])
    rows = []
    for cells in reader:
        if not any(cell.strip() for cell in cells):
            continue
        row = {name: "" for name in columns}
        for name, cell in zip(names, cells, strict=False):
            if name in row:
                row[name] = cell.strip()
        rows.append((reader.line_num, row))
    return rows


def parse_tracking_csv(text: str) -> list[TrackingUpdate]:
    """Our tracking CSV (tracking_number, carrier, status, occurred_at, location, description); any
    malformed row raises InvalidImport listing every bad row, so a file is taken whole or not at all."""
    updates, errors = [], []
    for line, row in csv_rows(text, CSV_COLUMNS, REQUIRED_CSV_COLUMNS):
        problems = []
        number = normalize_tracking_number(row["tracking_number"])
        if not number:
            problems.append("tracking_number is empty")
        status = _CSV_STATUS_WORDS.get(carrier_key(row["status"]))
        if status is None:
            problems.append(f"unknown status {row['status']!r} (use one of {', '.join(_STATUS_NAMES)})")
        when = parse_time(row["occurred_at"])
        if when is None:
            problems.append(f"occurred_at {row['occurred_at']!r} is not an ISO 8601 time")
        if problems:
            errors.append(RowError(line, "; ".join(problems)))
            continue
        assert status is not None and when is not None
        updates.append(
            TrackingUpdate(
                tracking_number=number,
                carrier=normalize_carrier(row["carrier"]),
                status=status.value,
                occurred_at=when,
                carrier_status=row["status"],
                description=" ".join(row["description"].split()),
                location=" ".join(row["location"].split()),
                source="csv",
                raw={"line": line, **row},
            )
        )
    if errors:
        raise InvalidImport(errors)
    return updates


# --- any JSON source -------------------------------------------------------------------------------------

PARSERS: dict[str, Callable[[dict[str, Any]], list[TrackingUpdate]]] = {
    "aftership": parse_aftership,
    "easypost": parse_easypost,
    "shippo": parse_shippo,
    "ups": parse_ups,
    "fedex": parse_fedex,
    "dhl": parse_dhl,
    "usps": parse_usps,
}


def detect_source(payload: Mapping[str, Any]) -> str | None:
    """Which tracking service a JSON body comes from, by its shape; None when it is none we read."""
    data = _mapping(payload.get("data"))
    if "trackResponse" in payload:
        return "ups"
    if "completeTrackResults" in _mapping(payload.get("output")):
        return "fedex"
    if isinstance(payload.get("shipments"), list):
        return "dhl"
    if "trackingEvents" in payload or "statusCategory" in payload:
        return "usps"
    if payload.get("object") in ("Tracker", "Event", "Shipment") or "tracking_code" in payload:
        return "easypost"
    if isinstance(payload.get("trackers"), list):
        return "easypost"
    if "tracking_status" in payload or "tracking_history" in payload or "tracking_history" in data:
        return "shippo"
    if "meta" in payload or "msg" in payload or "tracking" in data or "trackings" in data:
        return "aftership"
    if "checkpoints" in payload or ("tracking_number" in data and ("tag" in data or "checkpoint" in data)):
        return "aftership"
    return None


def parse_tracking_payload(
    payload: str | bytes | Mapping[str, Any], source: str | None = None
) -> list[TrackingUpdate]:
    """Updates from a tracking service's JSON (body text or decoded), its source named or detected.

    PayloadError when the body is not JSON, not an object, or from no service we read.
    """
    if isinstance(payload, str | bytes):
        try:
            payload = json.loads(payload)
        except ValueError as exc:
            raise PayloadError(f"tracking payload is not JSON: {exc}") from exc
    if not isinstance(payload, dict):
        raise PayloadError("tracking payload must be a JSON object")
    source = source or detect_source(payload)
    if source not in PARSERS:
        raise PayloadError(
            f"unknown tracking source {source!r}: use one of {', '.join(PARSERS)}"
            if source
            else "not a tracking payload from AfterShip, EasyPost, Shippo, UPS, FedEx, DHL or USPS"
        )
    return PARSERS[source](payload)


# --- recording events against our shipments --------------------------------------------------------------


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
    shipped, shipped, delivered). The notifications area adds its call here (the outbox email for the new
    status), so every path that moves a parcel sends the same messages exactly once.
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
