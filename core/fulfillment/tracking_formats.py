"""Every tracking format we read, by name: our tracking CSV, and the JSON of each tracking service or
carrier API, its source named or detected from its shape."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from core import safe_json
from core.errors import PayloadError
from core.fulfillment.carriers import carrier_key, normalize_carrier, normalize_tracking_number
from core.fulfillment.csv_import import InvalidImport, RowError, csv_rows
from core.fulfillment.status import TRACKING_STATUSES, ShipmentStatus
from core.fulfillment.tracking_aggregators import parse_aftership, parse_easypost, parse_shippo
from core.fulfillment.tracking_base import TrackingUpdate, as_dict, parse_time
from core.fulfillment.tracking_carrier_apis import parse_dhl, parse_fedex, parse_ups, parse_usps
from core.safe_json import JsonTextError

SS = ShipmentStatus

# --- our CSV ---------------------------------------------------------------------------------------------

CSV_COLUMNS = ("tracking_number", "carrier", "status", "occurred_at", "location", "description")
REQUIRED_CSV_COLUMNS = ("tracking_number", "status", "occurred_at")
_STATUS_NAMES = [status.value for status in SS if status in TRACKING_STATUSES]
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
    data = as_dict(payload.get("data"))
    if "trackResponse" in payload:
        return "ups"
    if "completeTrackResults" in as_dict(payload.get("output")):
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
            payload = safe_json.loads(payload)
        except JsonTextError as exc:
            raise PayloadError(f"tracking payload is not JSON: {exc.reason}") from exc
    if not isinstance(payload, dict):
        raise PayloadError("tracking payload must be a JSON object")
    source = source or detect_source(payload)
    if source not in PARSERS:
        raise PayloadError(
            f"unknown tracking source {source!r}: use one of {', '.join(PARSERS)}"
            if source
            else "not a tracking payload from AfterShip, EasyPost, Shippo, UPS, FedEx, DHL or USPS"
        )
    try:
        return PARSERS[source](payload)
    except (KeyError, IndexError, TypeError, ValueError, AttributeError, ArithmeticError) as exc:
        # A value of the wrong type or shape where the service documents another.
        raise PayloadError(f"cannot read {source} tracking payload: {type(exc).__name__}: {exc}") from exc
