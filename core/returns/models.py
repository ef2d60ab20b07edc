"""Return requests (RMAs) with their lines, and refunds."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.db import Base, utcnow


class ReturnRequest(Base):
    """An RMA: requested -> approved -> received -> refunded, or rejected with a reason."""

    __tablename__ = "return_requests"

    id: Mapped[int] = mapped_column(primary_key=True)
    rma_number: Mapped[str] = mapped_column(String(32), unique=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), index=True)
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"), index=True)
    status: Mapped[str] = mapped_column(String(16), default="requested")
    reason: Mapped[str] = mapped_column(
        String(32)
    )  # wrong_size, damaged, not_as_described, changed_mind, late, other
    reason_text: Mapped[str] = mapped_column(Text, default="")
    resolution: Mapped[str] = mapped_column(String(16), default="refund")  # refund, store_credit, exchange
    exchange_sku_id: Mapped[int | None] = mapped_column(ForeignKey("skus.id"))
    photo_path: Mapped[str | None] = mapped_column(String(300))
    restock_location_id: Mapped[int | None] = mapped_column(ForeignKey("locations.id"))
    rejection_reason: Mapped[str | None] = mapped_column(Text)
    requested_at: Mapped[datetime] = mapped_column(default=utcnow)
    approved_at: Mapped[datetime | None]
    received_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]

    lines: Mapped[list[ReturnLine]] = relationship(cascade="all, delete-orphan", order_by="ReturnLine.id")


class ReturnLine(Base):
    __tablename__ = "return_lines"

    id: Mapped[int] = mapped_column(primary_key=True)
    return_id: Mapped[int] = mapped_column(ForeignKey("return_requests.id", ondelete="CASCADE"), index=True)
    order_line_id: Mapped[int] = mapped_column(ForeignKey("order_lines.id"))
    quantity: Mapped[int]
    quantity_received: Mapped[int] = mapped_column(default=0)
    quantity_damaged: Mapped[int] = mapped_column(default=0)


class Refund(Base):
    """Money given back, per line and for shipping, in the order's currency."""

    __tablename__ = "refunds"

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), index=True)
    return_id: Mapped[int | None] = mapped_column(ForeignKey("return_requests.id"))
    amount: Mapped[int]
    shipping_amount: Mapped[int] = mapped_column(default=0)
    currency: Mapped[str] = mapped_column(String(3))
    method: Mapped[str] = mapped_column(String(16), default="original")  # original, store_credit
    line_amounts: Mapped[dict[str, Any]] = mapped_column(default=dict)  # order_line_id -> minor units
    reason: Mapped[str] = mapped_column(String(300), default="")
    external_ref: Mapped[str | None] = mapped_column(String(128))
    actor: Mapped[str] = mapped_column(String(100), default="system")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ReturnReason(Base):
    """A reason customers and staff choose from when opening a return; the merchant's list, in order."""

    __tablename__ = "return_reasons"

    code: Mapped[str] = mapped_column(String(32), primary_key=True)
    label: Mapped[str] = mapped_column(String(100))
    active: Mapped[bool] = mapped_column(default=True)
    position: Mapped[int] = mapped_column(default=0)
