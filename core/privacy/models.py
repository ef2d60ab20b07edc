"""Privacy requests: a data subject's request (export or erasure) for staff to carry out, and its outcome."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base, utcnow


class PrivacyRequest(Base):
    """One request about a person's data: `kind` export or erasure, from the portal, a channel's compliance
    webhook (Shopify) or staff; `status` open until staff (or the webhook itself) complete or dismiss it."""

    __tablename__ = "privacy_requests"
    __table_args__ = (Index("ix_privacy_requests_status_requested", "status", "requested_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))  # export, erasure
    source: Mapped[str] = mapped_column(String(16))  # portal, shopify, staff, retention
    status: Mapped[str] = mapped_column(String(16), default="open")  # open, done, dismissed
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"), index=True)
    channel_id: Mapped[int | None] = mapped_column(ForeignKey("channels.id"))
    payload_id: Mapped[int | None] = mapped_column(ForeignKey("inbound_payloads.id"))
    # What the requester named (a channel's customer id, its order ids): never an email or a name, so an
    # erasure leaves nothing personal here.
    reference: Mapped[dict[str, Any]] = mapped_column(default=dict)
    outcome: Mapped[dict[str, Any]] = mapped_column(default=dict)
    requested_at: Mapped[datetime] = mapped_column(default=utcnow)
    completed_at: Mapped[datetime | None]
    completed_by: Mapped[str | None] = mapped_column(String(200))
