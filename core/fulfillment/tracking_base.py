"""What every tracking parser shares: `TrackingUpdate` (one carrier checkpoint with OUR status) and the
reading helpers. Where a source only has a coarse status (Shippo TRANSIT, UPS I or X, ...), the carrier's
words refine it ("out for delivery", "delivery attempted", "available for pickup", "return to sender")."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from core.fulfillment.status import ShipmentStatus

SS = ShipmentStatus


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
LABEL_ONLY = re.compile(r"label created|pre-shipment|awaiting item", re.I)
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


def clean(value: Any) -> str:
    return " ".join(str(value).split()) if value not in (None, "") else ""


def join_place(*parts: Any) -> str:
    return ", ".join(text for text in (clean(part) for part in parts) if text)


def parse_time(value: Any) -> datetime | None:
    """An ISO 8601 time as aware UTC (one without an offset is taken as UTC); None if empty or unreadable."""
    text = clean(value)
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


def as_dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def make_update(
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


def join_codes(*parts: Any) -> str:
    return "/".join(text for text in (clean(part) for part in parts) if text)
