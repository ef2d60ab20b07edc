"""Orders, their lines, stock allocations, the order timeline, and every inbound channel payload."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint, false, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.db import Base, utcnow

if TYPE_CHECKING:
    from core.channels.models import Channel
    from core.customers.models import Customer
    from core.fulfillment.models import Shipment


# Order.source of an order staff created to replace items of another: it is ours, so the channel is never
# told about its shipments (core.channel_sync.pushes).
REPLACEMENT_SOURCE = "replacement"


class Order(Base):
    """The canonical order, whatever channel it came from. Money in minor units of `currency`."""

    __tablename__ = "orders"
    __table_args__ = (
        UniqueConstraint("channel_id", "external_id"),
        Index("ix_orders_customer_placed", "customer_id", "placed_at"),
        Index("ix_orders_status_placed", "status", "placed_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    channel_id: Mapped[int] = mapped_column(ForeignKey("channels.id"))
    external_id: Mapped[str] = mapped_column(String(128))
    number: Mapped[str] = mapped_column(String(32), unique=True)  # shown to customers: CD-1000123
    channel_number: Mapped[str | None] = mapped_column(String(64))  # the channel's display number
    status: Mapped[str] = mapped_column(String(24), default="pending")
    channel_status: Mapped[str] = mapped_column(String(64), default="")  # the channel's own words
    channel_state: Mapped[str] = mapped_column(String(16), default="pending")  # canonical ChannelStatus
    hold_reason: Mapped[str | None] = mapped_column(Text)
    hold_warnings: Mapped[list[Any]] = mapped_column(default=list)  # the adapter's warnings behind a hold
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"))
    identity_id: Mapped[int | None] = mapped_column(ForeignKey("identities.id"))
    email: Mapped[str | None] = mapped_column(String(254), index=True)
    phone: Mapped[str | None] = mapped_column(String(40))
    buyer_name: Mapped[str] = mapped_column(String(200), default="")
    placed_at: Mapped[datetime]
    placed_at_offset_minutes: Mapped[int] = mapped_column(default=0)  # the zone the channel gave
    channel_updated_at: Mapped[datetime | None]
    currency: Mapped[str] = mapped_column(String(3))
    subtotal: Mapped[int] = mapped_column(default=0)
    discount_total: Mapped[int] = mapped_column(default=0)
    shipping_total: Mapped[int] = mapped_column(default=0)
    tax_total: Mapped[int] = mapped_column(default=0)
    total: Mapped[int] = mapped_column(default=0)
    refunded_total: Mapped[int] = mapped_column(default=0)
    # What the buyer paid besides merchandise, discounts, shipping and tax, as the channel gave it:
    # [{"kind", "title", "amount", "tax"}] (canonical.CanonicalCharge); canonical.expected_total adds it up.
    charges: Mapped[list[Any]] = mapped_column(default=list, server_default=text("'[]'"))
    taxes_included: Mapped[bool] = mapped_column(default=False, server_default=false())
    billing_address: Mapped[dict[str, Any] | None] = mapped_column()
    shipping_address: Mapped[dict[str, Any] | None] = mapped_column()
    shipping_method: Mapped[str | None] = mapped_column(String(100))
    shipping_option_id: Mapped[int | None] = mapped_column(ForeignKey("shipping_options.id"))
    fulfilled_by_channel: Mapped[bool] = mapped_column(default=False)
    pickup_location_id: Mapped[int | None] = mapped_column(ForeignKey("locations.id"))
    source: Mapped[str | None] = mapped_column(String(64))
    note: Mapped[str | None] = mapped_column(Text)
    expected_dispatch_by: Mapped[datetime | None]
    promised_delivery_from: Mapped[datetime | None]  # the first estimate, kept when it later changes
    promised_delivery_to: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    channel: Mapped[Channel] = relationship()
    customer: Mapped[Customer | None] = relationship()
    lines: Mapped[list[OrderLine]] = relationship(
        back_populates="order", order_by="OrderLine.line_no", cascade="all, delete-orphan"
    )
    events: Mapped[list[OrderEvent]] = relationship(order_by="OrderEvent.id", cascade="all, delete-orphan")
    shipments: Mapped[list[Shipment]] = relationship(order_by="Shipment.id")


class OrderLine(Base):
    """One line; `sku_id` stays empty until the channel SKU maps to ours (the order is held meanwhile)."""

    __tablename__ = "order_lines"

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    line_no: Mapped[int]
    external_id: Mapped[str | None] = mapped_column(String(128))
    sku_id: Mapped[int | None] = mapped_column(ForeignKey("skus.id"), index=True)
    channel_sku: Mapped[str | None] = mapped_column(String(128))
    title: Mapped[str] = mapped_column(String(300))
    quantity: Mapped[int]
    unit_price: Mapped[int]
    discount: Mapped[int] = mapped_column(default=0)
    tax: Mapped[int] = mapped_column(default=0)
    total: Mapped[int]
    quantity_shipped: Mapped[int] = mapped_column(default=0)
    quantity_returned: Mapped[int] = mapped_column(default=0)
    quantity_cancelled: Mapped[int] = mapped_column(default=0)
    quantity_removed: Mapped[int] = mapped_column(default=0, server_default=text("0"))  # by the channel

    order: Mapped[Order] = relationship(back_populates="lines")


class Allocation(Base):
    """Units of a line reserved at a location, with the reason the location was chosen."""

    __tablename__ = "allocations"

    id: Mapped[int] = mapped_column(primary_key=True)
    order_line_id: Mapped[int] = mapped_column(ForeignKey("order_lines.id", ondelete="CASCADE"), index=True)
    location_id: Mapped[int] = mapped_column(ForeignKey("locations.id"))
    quantity: Mapped[int]
    status: Mapped[str] = mapped_column(String(16), default="reserved")  # reserved, released, shipped
    reason: Mapped[str] = mapped_column(String(300), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class OrderEvent(Base):
    """One entry on the order's timeline: who did what when, with the status change if any."""

    __tablename__ = "order_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(40))
    from_status: Mapped[str | None] = mapped_column(String(24))
    to_status: Mapped[str | None] = mapped_column(String(24))
    message: Mapped[str] = mapped_column(Text, default="")
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)
    actor: Mapped[str] = mapped_column(String(100), default="system")
    visible_to_customer: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class InboundPayload(Base):
    """Every payload a channel sent us, stored raw before anything reads it, with its processing result."""

    __tablename__ = "inbound_payloads"
    __table_args__ = (
        UniqueConstraint("channel_id", "delivery_id"),
        # the intake screen's keyset pages, newest first, all or in one status
        Index("ix_inbound_payloads_received", "received_at", "id"),
        Index("ix_inbound_payloads_status_received", "status", "received_at", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    channel_id: Mapped[int | None] = mapped_column(ForeignKey("channels.id"))
    channel_code: Mapped[str] = mapped_column(String(32))
    source: Mapped[str] = mapped_column(String(16))  # webhook, import, poll
    delivery_id: Mapped[str | None] = mapped_column(String(200))
    topic: Mapped[str | None] = mapped_column(String(100))
    filename: Mapped[str | None] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    headers: Mapped[dict[str, Any]] = mapped_column(default=dict)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    status: Mapped[str] = mapped_column(String(20), default="received")
    error: Mapped[str | None] = mapped_column(Text)
    order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id"))
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    processed_at: Mapped[datetime | None]
