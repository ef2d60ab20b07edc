"""Shipping options, shipments (parcels) with their lines, and carrier tracking events."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.db import Base, utcnow


class ShippingOption(Base):
    """A way an order can be shipped on a channel, with its price and promised business days."""

    __tablename__ = "shipping_options"
    __table_args__ = (UniqueConstraint("channel_id", "code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    channel_id: Mapped[int | None] = mapped_column(ForeignKey("channels.id"))
    code: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(100))
    price: Mapped[int] = mapped_column(default=0)
    currency: Mapped[str] = mapped_column(String(3), default="USD")
    min_business_days: Mapped[int] = mapped_column(default=3)
    max_business_days: Mapped[int] = mapped_column(default=7)
    dispatch_business_days: Mapped[int] = mapped_column(default=1)
    is_pickup: Mapped[bool] = mapped_column(default=False)


class Shipment(Base):
    """One parcel of an order from one location, followed through the carrier's events."""

    __tablename__ = "shipments"
    __table_args__ = (Index("ix_shipments_carrier_tracking", "carrier", "tracking_number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), index=True)
    location_id: Mapped[int | None] = mapped_column(ForeignKey("locations.id"))
    carrier: Mapped[str | None] = mapped_column(String(64))
    tracking_number: Mapped[str | None] = mapped_column(String(100))
    tracking_url: Mapped[str | None] = mapped_column(String(500))
    status: Mapped[str] = mapped_column(String(24), default="pending")
    packed_at: Mapped[datetime | None]
    shipped_at: Mapped[datetime | None]
    delivered_at: Mapped[datetime | None]
    estimated_from: Mapped[datetime | None]
    estimated_to: Mapped[datetime | None]
    first_estimated_from: Mapped[datetime | None]
    first_estimated_to: Mapped[datetime | None]
    delay_notified_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    lines: Mapped[list[ShipmentLine]] = relationship(cascade="all, delete-orphan")
    events: Mapped[list[TrackingEvent]] = relationship(order_by="TrackingEvent.occurred_at")


class ShipmentLine(Base):
    __tablename__ = "shipment_lines"

    id: Mapped[int] = mapped_column(primary_key=True)
    shipment_id: Mapped[int] = mapped_column(ForeignKey("shipments.id", ondelete="CASCADE"), index=True)
    order_line_id: Mapped[int] = mapped_column(ForeignKey("order_lines.id"))
    quantity: Mapped[int]


class TrackingEvent(Base):
    """A carrier checkpoint; `status` is ours (in_transit, out_for_delivery, delivered, exception, ...)."""

    __tablename__ = "tracking_events"
    __table_args__ = (UniqueConstraint("shipment_id", "dedup_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    shipment_id: Mapped[int] = mapped_column(ForeignKey("shipments.id"), index=True)
    status: Mapped[str] = mapped_column(String(24))
    carrier_status: Mapped[str] = mapped_column(String(100), default="")
    description: Mapped[str] = mapped_column(Text, default="")
    location: Mapped[str] = mapped_column(String(200), default="")
    occurred_at: Mapped[datetime]
    dedup_key: Mapped[str] = mapped_column(String(200))
    raw: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
