"""Marketing traffic per channel and day: the visits and spend behind conversion rate and acquisition cost."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, ForeignKey, Index, String
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


# The daily summaries behind the dashboard (core.analytics.rollup; migration 0018_rollup). A row sums one
# UTC day (`day`: epoch seconds // 86400) of one channel; each table is keyed on the instant its section
# counts by (orders by placing time, return requests by request time, refunds and tickets by creation time).
# `channel_id` 0 stands for tickets about no order.


class RollupState(Base):
    """How far the summaries reach: every day before `through_day` is summed (unless marked stale)."""

    __tablename__ = "analytics_rollup_state"

    id: Mapped[int] = mapped_column(primary_key=True)
    through_day: Mapped[int]
    refreshed_at: Mapped[datetime] = mapped_column(default=utcnow)


class StaleDay(Base):
    """A summed day whose facts changed since it was summed: read live until the next refresh."""

    __tablename__ = "analytics_stale_days"

    day: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)


class OrderDay(Base):
    __tablename__ = "analytics_order_days"

    day: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    channel_id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    orders: Mapped[int] = mapped_column(default=0)
    cancelled: Mapped[int] = mapped_column(default=0)
    kept_orders: Mapped[int] = mapped_column(default=0)
    revenue: Mapped[int] = mapped_column(BigInteger, default=0)
    currency: Mapped[str | None] = mapped_column(String(3))
    returned_orders: Mapped[int] = mapped_column(default=0)
    cogs: Mapped[int] = mapped_column(BigInteger, default=0)
    parcels: Mapped[int] = mapped_column(default=0)
    tracked_parcels: Mapped[int] = mapped_column(default=0)
    fulfilment_seconds: Mapped[int] = mapped_column(BigInteger, default=0)
    promised_parcels: Mapped[int] = mapped_column(default=0)
    late: Mapped[int] = mapped_column(default=0)
    new_customers: Mapped[int] = mapped_column(default=0)
    # Lifetime revenue, up to the state's through_day, of the customers whose first order this day was.
    new_customer_revenue: Mapped[int] = mapped_column(BigInteger, default=0)


class ReturnDay(Base):
    __tablename__ = "analytics_return_days"

    day: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    channel_id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    reason: Mapped[str] = mapped_column(String(40), primary_key=True)
    requests: Mapped[int] = mapped_column(default=0)


class RefundDay(Base):
    __tablename__ = "analytics_refund_days"

    day: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    channel_id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    currency: Mapped[str] = mapped_column(String(3), primary_key=True)
    amount: Mapped[int] = mapped_column(BigInteger, default=0)
    refunds: Mapped[int] = mapped_column(default=0)


class SkuDay(Base):
    """Units sold (orders by placing time)."""

    __tablename__ = "analytics_sku_days"

    day: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    channel_id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    sku_id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    units: Mapped[int] = mapped_column(BigInteger, default=0)


class SkuReturnDay(Base):
    """Units returned and return requests (by request time) per SKU and reason."""

    __tablename__ = "analytics_sku_return_days"

    day: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    channel_id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    sku_id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    reason: Mapped[str] = mapped_column(String(40), primary_key=True)
    units: Mapped[int] = mapped_column(BigInteger, default=0)
    requests: Mapped[int] = mapped_column(default=0)


class TicketDay(Base):
    __tablename__ = "analytics_ticket_days"

    day: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    channel_id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    category: Mapped[str] = mapped_column(String(40), primary_key=True)
    tickets: Mapped[int] = mapped_column(default=0)


class TicketSkuDay(Base):
    """Tickets about an order holding the SKU (a ticket counts once per SKU of its order)."""

    __tablename__ = "analytics_ticket_sku_days"

    day: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    channel_id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    sku_id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    category: Mapped[str] = mapped_column(String(40), primary_key=True)
    tickets: Mapped[int] = mapped_column(default=0)


class TicketFact(Base):
    """One ticket's business-time durations (core.analytics.clock), for the service medians and p90s, with
    the days the first response and the solve fell on (a live query counts only stamps its calendar
    covers)."""

    __tablename__ = "analytics_ticket_facts"
    __table_args__ = (Index("ix_analytics_ticket_facts_day", "day", "channel_id"),)

    conversation_id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    day: Mapped[int]
    channel_id: Mapped[int]
    first_response: Mapped[int | None] = mapped_column(BigInteger)
    first_response_day: Mapped[int | None]
    resolution: Mapped[int | None] = mapped_column(BigInteger)
    resolution_day: Mapped[int | None]
    resolved_day: Mapped[int | None]  # when it left the backlog (core.analytics.service._resolved_at)


# The session events that mark summed days stale when their facts change (needs the models above).
import core.analytics.stale  # noqa: E402, F401
