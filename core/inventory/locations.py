"""Stock locations: warehouses, stores, 3PLs and drop-ship suppliers."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.errors import DomainError
from core.inventory.models import Location

LOCATION_KINDS = {"warehouse": "in_house", "store": "in_house", "3pl": "3pl", "dropship": "dropship"}


def add_location(
    session: Session,
    code: str,
    *,
    name: str,
    kind: str,
    regions: Sequence[str] = (),
    priority: int = 100,
    email: str | None = None,
    now: datetime,
) -> Location:
    """A new stock location; its fulfilment method follows its kind (3PL and drop-ship are their own)."""
    code = code.strip().upper()
    if not code or len(code) > 32:
        raise DomainError("the location code must be 1 to 32 characters")
    if kind not in LOCATION_KINDS:
        raise DomainError(f"unknown location kind {kind!r}: use one of {', '.join(LOCATION_KINDS)}")
    if session.scalar(select(Location.id).where(Location.code == code)) is not None:
        raise DomainError(f"a location with code {code} already exists")
    location = Location(
        code=code,
        name=name.strip() or code,
        kind=kind,
        fulfillment_method=LOCATION_KINDS[kind],
        regions=[r.strip().upper() for r in regions if r.strip()],
        priority=priority,
        email=email,
        created_at=now,
    )
    session.add(location)
    session.flush()
    return location
