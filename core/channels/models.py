"""Sales channels, the locations that serve each, and the channel's policies (returns, stock buffer)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Column, ForeignKey, String, Table, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.db import Base, utcnow
from core.security.encryption import EncryptedJSON, EncryptedText

channel_locations = Table(
    "channel_locations",
    Base.metadata,
    Column("channel_id", ForeignKey("channels.id", ondelete="CASCADE"), primary_key=True),
    Column("location_id", ForeignKey("locations.id", ondelete="CASCADE"), primary_key=True),
)


class Channel(Base):
    """One place the merchant sells; `kind` names the adapter that reads its payloads."""

    __tablename__ = "channels"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(
        String(32)
    )  # shopify, amazon, ebay, woocommerce, square, pos_csv, webshop
    sender_name: Mapped[str] = mapped_column(String(100), default="")
    # Both stored encrypted (core.security.encryption): readers and writers see the plain values.
    credentials: Mapped[dict[str, Any]] = mapped_column(EncryptedJSON(), default=dict)
    webhook_secret: Mapped[str | None] = mapped_column(EncryptedText())
    base_url: Mapped[str | None] = mapped_column(String(300))
    poll_cursor: Mapped[datetime | None]
    is_marketplace: Mapped[bool] = mapped_column(default=False)
    return_window_days: Mapped[int] = mapped_column(default=30)
    returns_handled_by_channel: Mapped[bool] = mapped_column(default=False)
    return_instructions: Mapped[str] = mapped_column(Text, default="")
    stock_buffer_units: Mapped[int] = mapped_column(default=0)
    stock_buffer_percent: Mapped[int] = mapped_column(default=0)
    stock_floor: Mapped[int] = mapped_column(default=0)  # at or below this, the channel is shown 0
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    # core.inventory's Location rows, named rather than imported: core/channels imports no other area.
    locations: Mapped[list[Any]] = relationship("Location", secondary=channel_locations)
