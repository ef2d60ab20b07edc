"""Locations, stock levels per location and SKU, the append-only stock ledger, and low-stock alerts."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base, utcnow


class Location(Base):
    """Where stock lives and ships from: warehouse, store, 3pl or dropship supplier."""

    __tablename__ = "locations"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(16))  # warehouse, store, 3pl, dropship
    fulfillment_method: Mapped[str] = mapped_column(String(16))  # in_house, 3pl, dropship
    regions: Mapped[list[Any]] = mapped_column(
        default=list
    )  # ISO country or "US-CA" style region codes served
    priority: Mapped[int] = mapped_column(default=100)  # lower ships first
    email: Mapped[str | None] = mapped_column(String(254))  # purchase orders / 3PL requests go here
    address: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # Business hours: weekday ("mon".."sun") -> ["09:00", "17:00"]; a day left out is closed.
    hours: Mapped[dict[str, Any] | None]
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class StockLevel(Base):
    """On hand and reserved units of one SKU at one location; available = on_hand - reserved."""

    __tablename__ = "stock_levels"
    __table_args__ = (
        UniqueConstraint("location_id", "sku_id"),
        CheckConstraint("reserved >= 0", name="reserved_not_negative"),
        CheckConstraint("on_hand - reserved >= 0", name="no_oversell"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    location_id: Mapped[int] = mapped_column(ForeignKey("locations.id"))
    sku_id: Mapped[int] = mapped_column(ForeignKey("skus.id"), index=True)
    on_hand: Mapped[int] = mapped_column(default=0)
    reserved: Mapped[int] = mapped_column(default=0)
    reorder_point: Mapped[int | None]  # overrides the SKU's when set
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    @property
    def available(self) -> int:
        return self.on_hand - self.reserved


class StockMovement(Base):
    """One ledger entry. on_hand of a level always equals the sum of its movements' on_hand_delta."""

    __tablename__ = "stock_movements"
    __table_args__ = (Index("ix_stock_movements_sku_location", "sku_id", "location_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    location_id: Mapped[int] = mapped_column(ForeignKey("locations.id"))
    sku_id: Mapped[int] = mapped_column(ForeignKey("skus.id"))
    kind: Mapped[str] = mapped_column(
        String(24)
    )  # receipt, reservation, release, shipment, return, write_off, ...
    on_hand_delta: Mapped[int] = mapped_column(default=0)
    reserved_delta: Mapped[int] = mapped_column(default=0)
    order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id"), index=True)
    reference: Mapped[str | None] = mapped_column(String(200))
    actor: Mapped[str] = mapped_column(String(100), default="system")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class LowStockAlert(Base):
    """A SKU (optionally at one location) that fell below its reorder point."""

    __tablename__ = "low_stock_alerts"

    id: Mapped[int] = mapped_column(primary_key=True)
    sku_id: Mapped[int] = mapped_column(ForeignKey("skus.id"), index=True)
    location_id: Mapped[int | None] = mapped_column(ForeignKey("locations.id"))
    available: Mapped[int]
    reorder_point: Mapped[int]
    suggested_quantity: Mapped[int] = mapped_column(default=0)
    reason: Mapped[str] = mapped_column(String(300), default="")
    status: Mapped[str] = mapped_column(String(16), default="open")  # open, ordered, resolved
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    resolved_at: Mapped[datetime | None]
