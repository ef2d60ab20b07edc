"""Location set-up: add a stock location and change it (kind, fulfilment method, regions, priority, the
address it ships from, its business hours), from the console's Locations page and `crossdock locations`; each
change audited. Business hours are kept per weekday as opening and closing times ("09:00", "17:00"), a day
left out being closed."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.audit.services import record_audit
from core.errors import DomainError, NotFound
from core.inventory.locations import LOCATION_KINDS, add_location
from core.inventory.models import Location
from core.security.roles import Actor

FULFILLMENT_METHODS = ("in_house", "3pl", "dropship")
ADDRESS_FIELDS = ("line1", "line2", "city", "region", "postal_code", "country")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
TIME = re.compile(r"([01][0-9]|2[0-3]):[0-5][0-9]")
CHANGEABLE = (
    "name",
    "kind",
    "fulfillment_method",
    "regions",
    "priority",
    "email",
    "address",
    "hours",
    "active",
)


def create_location(
    session: Session,
    code: str,
    *,
    name: str,
    kind: str,
    regions: Sequence[str] = (),
    priority: int = 100,
    email: str | None = None,
    actor: Actor,
    now: datetime,
) -> Location:
    """A new stock location (inventory's add_location), audited."""
    location = add_location(
        session, code, name=name, kind=kind, regions=regions, priority=priority, email=email or None, now=now
    )
    record_audit(session, actor, "location.add", "location", location.id, now=now, after=_audited(location))
    return location


def change_location(
    session: Session, code: str, changes: Mapping[str, Any], *, actor: Actor, now: datetime
) -> Location:
    """Set some of a location's settings (CHANGEABLE), each checked; DomainError names the first bad one."""
    location = location_settings(session, code)
    unknown = sorted(set(changes) - set(CHANGEABLE))
    if unknown:
        raise DomainError(f"cannot set {', '.join(unknown)} on a location")
    before = _audited(location)
    for field, value in changes.items():
        checked = _checked(field, value)
        setattr(location, field, checked)
    if "kind" in changes and "fulfillment_method" not in changes:
        location.fulfillment_method = LOCATION_KINDS[location.kind]
    after = _audited(location)
    if after != before:
        record_audit(
            session, actor, "location.change", "location", location.id, now=now, before=before, after=after
        )
    return location


def location_settings(session: Session, code: str) -> Location:
    """One location by code; NotFound for an unknown one."""
    location = session.scalar(select(Location).where(Location.code == code.strip().upper()))
    if location is None:
        raise NotFound(f"unknown location {code!r}")
    return location


def locations_list(session: Session) -> list[Location]:
    """Every location, active first, by priority then code."""
    return list(
        session.scalars(select(Location).order_by(Location.active.desc(), Location.priority, Location.code))
    )


def location_hours(location: Location) -> dict[str, tuple[str, str]]:
    """The location's business hours, weekday -> (opens, closes); a closed day is absent."""
    hours = location.hours or {}
    return {day: (span[0], span[1]) for day, span in hours.items() if day in WEEKDAYS}


def _checked(field: str, value: Any) -> Any:
    if field == "name":
        name = str(value).strip()
        if not name or len(name) > 100:
            raise DomainError("a location's name must be 1 to 100 characters")
        return name
    if field == "kind":
        if value not in LOCATION_KINDS:
            raise DomainError(f"unknown location kind {value!r}: use one of {', '.join(LOCATION_KINDS)}")
        return value
    if field == "fulfillment_method":
        if value not in FULFILLMENT_METHODS:
            raise DomainError(
                f"unknown fulfilment method {value!r}: use one of {', '.join(FULFILLMENT_METHODS)}"
            )
        return value
    if field == "regions":
        regions = [str(r).strip().upper() for r in value if str(r).strip()]
        bad = [r for r in regions if not re.fullmatch(r"[A-Z]{2}(-[A-Z0-9]{1,3})?", r)]
        if bad:
            raise DomainError(f"region {bad[0]!r}: use a country code (US) or a country-region code (US-NY)")
        return regions
    if field == "priority":
        if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= 10_000:
            raise DomainError("priority must be a whole number from 0 to 10000 (lower ships first)")
        return value
    if field == "email":
        email = (value or "").strip().lower()
        if email and ("@" not in email or len(email) > 254 or " " in email):
            raise DomainError(f"{email!r} is not an email address")
        return email or None
    if field == "address":
        address = {key: str(value.get(key, "") or "").strip() for key in ADDRESS_FIELDS}
        if any(len(text) > 200 for text in address.values()):
            raise DomainError("each address line must be at most 200 characters")
        if address["country"] and not re.fullmatch(r"[A-Za-z]{2}", address["country"]):
            raise DomainError("country: the two-letter ISO code, e.g. US or GB")
        address["country"] = address["country"].upper()
        return address
    if field == "hours":
        return _hours(value)
    if field == "active":
        if not isinstance(value, bool):
            raise DomainError("active is true or false")
        return value
    raise DomainError(f"cannot set {field} on a location")


def _hours(value: Mapping[str, Any]) -> dict[str, list[str]]:
    hours: dict[str, list[str]] = {}
    for day in WEEKDAYS:
        span = value.get(day)
        if not span:
            continue
        opens, closes = (str(part).strip() for part in span)
        if not opens and not closes:
            continue
        label = day.capitalize()
        if not TIME.fullmatch(opens) or not TIME.fullmatch(closes):
            raise DomainError(f"{label}: give opening and closing times as HH:MM, e.g. 09:00 and 17:00")
        if closes <= opens:
            raise DomainError(f"{label}: closing time {closes} must be after opening time {opens}")
        hours[day] = [opens, closes]
    return hours


def _audited(location: Location) -> dict[str, Any]:
    return {
        "code": location.code,
        "name": location.name,
        "kind": location.kind,
        "fulfillment_method": location.fulfillment_method,
        "regions": list(location.regions or []),
        "priority": location.priority,
        "email": location.email,
        "address": dict(location.address or {}),
        "hours": dict(location.hours or {}),
        "active": location.active,
    }
