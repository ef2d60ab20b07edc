"""The transactional outbox: every email or channel push, written with the event that causes it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base, utcnow

# A channel push the dispatcher has claimed and is sending now (emails are claimed by lease alone); a stock
# change during the send sets it back to pending, so it is sent again with the newer figure.
SENDING = "sending"
# A channel push that could not go anywhere (no base URL, missing credentials, ...): not retried, the reason
# in last_error; core.channel_sync.pushes says when it is tried again.
SKIPPED = "skipped"


class OutboxMessage(Base):
    """One message to deliver; `dedup_key` makes queueing the same notification twice impossible."""

    __tablename__ = "outbox_messages"
    __table_args__ = (Index("ix_outbox_messages_due", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(40))  # order_confirmed, shipped, ..., stock_push
    transport: Mapped[str] = mapped_column(String(16), default="email")  # email, channel
    dedup_key: Mapped[str] = mapped_column(String(200), unique=True)
    recipient: Mapped[str] = mapped_column(String(300), index=True)  # the customer 360 lists emails by it
    subject: Mapped[str] = mapped_column(String(300), default="")
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # pending, sending (channel pushes), sent, failed, skipped (channel pushes)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_error: Mapped[str | None] = mapped_column(Text)
    message_id: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None]
