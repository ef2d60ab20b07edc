"""Marketing traffic per channel and day: the visits and spend behind conversion rate and acquisition cost."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base, utcnow
from core.orders.models import Order
from core.returns.models import Refund, ReturnRequest
from core.support.models import Conversation


class ChannelTraffic(Base):
    """One channel's visits and marketing spend on one day (imported from a CSV; a later import replaces
    it)."""

    __tablename__ = "channel_traffic"

    day: Mapped[date] = mapped_column(primary_key=True)
    channel_id: Mapped[int] = mapped_column(ForeignKey("channels.id", ondelete="CASCADE"), primary_key=True)
    visits: Mapped[int] = mapped_column(default=0)
    spend: Mapped[int] = mapped_column(default=0)  # minor units of `currency`
    currency: Mapped[str] = mapped_column(String(3), default="USD")
    imported_at: Mapped[datetime] = mapped_column(default=utcnow)


# The indexes the dashboard's date-bounded aggregates read through (migration 0012_analytics). They are
# declared
# here, beside the queries that need them, on the other areas' tables.
Index("ix_orders_placed_channel", Order.placed_at, Order.channel_id)
Index("ix_conversations_created_at", Conversation.created_at)
Index("ix_return_requests_requested_at", ReturnRequest.requested_at)
Index("ix_refunds_created_at", Refund.created_at)
