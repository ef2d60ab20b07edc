"""Parsers for the multi-carrier tracking services. Pure: a native payload in, `TrackingUpdate`s out, each
with OUR status. Vocabularies mapped:

- AfterShip (Tracking API v4 and later, responses and webhooks): checkpoint `tag` (InfoReceived, InTransit,
  OutForDelivery, AttemptFail, Delivered, AvailableForPickup, Exception, Expired, Pending) refined by `subtag`
  (Exception_010 returning / Exception_011 returned to sender).
- EasyPost (Tracker objects, `tracker.*` webhook Events, tracker lists): `status` of each tracking detail
  (unknown, pre_transit, in_transit, out_for_delivery, delivered, available_for_pickup, return_to_sender,
  failure, cancelled, error) refined by `status_detail` (arrived_at_pickup_location, return, ...).
- Shippo (Track objects and `track_updated` webhooks): `status` (UNKNOWN, PRE_TRANSIT, TRANSIT, DELIVERED,
  RETURNED, FAILURE) refined by `substatus.code` (out_for_delivery, delivery_attempted, pickup_available ...).
"""

from __future__ import annotations

from typing import Any

from core.errors import PayloadError
from core.fulfillment.carriers import carrier_key, normalize_carrier, normalize_tracking_number
from core.fulfillment.status import ShipmentStatus
from core.fulfillment.tracking_base import (
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


def _aftership_status(tag: Any, subtag: Any) -> SS | None:
    return AFTERSHIP_SUBTAGS.get(clean(subtag).casefold()) or AFTERSHIP_TAGS.get(carrier_key(clean(tag)))


def _aftership_trackings(payload: dict[str, Any]) -> list[dict[str, Any]]:
    """Trackings in a response (data.tracking, data.trackings, data itself) or a webhook body (msg)."""
    data = as_dict(payload.get("data"))
    found: list[dict[str, Any]] = []
    for holder in (data, payload):
        if isinstance(holder.get("tracking"), dict):
            found.append(holder["tracking"])
        found.extend(t for t in as_list(holder.get("trackings")) if isinstance(t, dict))
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
    meta = as_dict(payload.get("meta"))
    if isinstance(meta.get("code"), int) and meta["code"] >= 400:
        raise PayloadError(f"AfterShip error {meta['code']}: {clean(meta.get('message')) or 'no message'}")
    updates = []
    for tracking in _aftership_trackings(payload):
        number = normalize_tracking_number(clean(tracking.get("tracking_number")))
        slug = tracking.get("slug")
        checkpoints = [c for c in as_list(tracking.get("checkpoints")) if isinstance(c, dict)]
        if isinstance(tracking.get("checkpoint"), dict):  # GET last_checkpoint
            checkpoints.append(tracking["checkpoint"])
        for cp in checkpoints:
            place = clean(cp.get("location")) or join_place(
                cp.get("city"),
                cp.get("state"),
                cp.get("zip"),
                cp.get("country_name") or cp.get("country_iso3"),
            )
            updates.append(
                make_update(
                    "aftership",
                    number,
                    normalize_carrier(cp.get("slug") or slug),
                    _aftership_status(cp.get("tag"), cp.get("subtag")),
                    parse_time(cp.get("checkpoint_time")) or parse_time(cp.get("created_at")),
                    join_codes(cp.get("tag"), cp.get("subtag")),
                    clean(cp.get("message")) or clean(cp.get("subtag_message")),
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
                make_update(
                    "aftership",
                    number,
                    normalize_carrier(slug),
                    status,
                    when or parse_time(tracking.get("created_at")),
                    join_codes(tracking.get("tag"), tracking.get("subtag")),
                    clean(tracking.get("subtag_message")) or clean(tracking.get("tag")),
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
        return _easypost_trackers(as_dict(payload.get("result")))
    if isinstance(payload.get("tracker"), dict):  # a Shipment
        return [payload["tracker"]]
    if isinstance(payload.get("trackers"), list):
        return [t for t in payload["trackers"] if isinstance(t, dict)]
    return [payload] if "tracking_code" in payload else []


def parse_easypost(payload: dict[str, Any]) -> list[TrackingUpdate]:
    """Every tracking detail of every Tracker (a Tracker, a webhook Event, a list, a Shipment's tracker)."""
    updates = []
    for tracker in _easypost_trackers(payload):
        number = normalize_tracking_number(clean(tracker.get("tracking_code")))
        carrier = normalize_carrier(tracker.get("carrier"))
        details = [d for d in as_list(tracker.get("tracking_details")) if isinstance(d, dict)]
        for detail in details:
            code, sub = clean(detail.get("status")).casefold(), clean(detail.get("status_detail")).casefold()
            where = as_dict(detail.get("tracking_location"))
            updates.append(
                make_update(
                    "easypost",
                    number,
                    carrier,
                    EASYPOST_DETAILS.get(sub) or EASYPOST_STATUSES.get(code),
                    parse_time(detail.get("datetime")),
                    join_codes(code, sub),
                    clean(detail.get("message")) or clean(detail.get("description")),
                    join_place(where.get("city"), where.get("state"), where.get("zip"), where.get("country")),
                    detail,
                )
            )
        if not details:
            code = clean(tracker.get("status")).casefold()
            updates.append(
                make_update(
                    "easypost",
                    number,
                    carrier,
                    EASYPOST_STATUSES.get(code),
                    parse_time(tracker.get("updated_at") or tracker.get("created_at")),
                    code,
                    clean(tracker.get("status_detail")),
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
    substatus = as_dict(item.get("substatus"))
    sub = clean(substatus.get("code")).casefold()
    where = as_dict(item.get("location"))
    return make_update(
        "shippo",
        number,
        carrier,
        SHIPPO_SUBSTATUSES.get(sub) or SHIPPO_STATUSES.get(clean(item.get("status")).casefold()),
        parse_time(item.get("status_date")),
        join_codes(item.get("status"), sub),
        clean(item.get("status_details")) or clean(substatus.get("text")),
        join_place(where.get("city"), where.get("state"), where.get("zip"), where.get("country")),
        item,
        refine=sub not in SHIPPO_SUBSTATUSES,  # a known substatus is already precise
    )


def parse_shippo(payload: dict[str, Any]) -> list[TrackingUpdate]:
    """The tracking history of every Track, plus the current status when the history lacks it."""
    updates = []
    for track in _shippo_tracks(payload):
        number = normalize_tracking_number(clean(track.get("tracking_number")))
        carrier = normalize_carrier(track.get("carrier"))
        items = (i for i in as_list(track.get("tracking_history")) if isinstance(i, dict))
        history = [u for u in (_shippo_update(number, carrier, i) for i in items) if u is not None]
        current = as_dict(track.get("tracking_status"))
        latest = _shippo_update(number, carrier, current) if current else None
        if latest is not None and latest.dedup_key not in {u.dedup_key for u in history}:
            history.append(latest)
        updates.extend(u for u in history if u.tracking_number)
    return updates
