"""Analytics summaries: per-day sums of orders, returns, refunds, SKUs and tickets that the managers' dashboard
reads for closed days, the refresh watermark and the days marked stale since their last refresh.

Revision ID: 0018_rollup
Revises: 0017_perms
Create Date: 2026-12-05
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from core.db import UTCDateTime

revision: str = "0018_rollup"
down_revision: str | None = "0017_perms"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = (
    "analytics_ticket_facts",
    "analytics_ticket_sku_days",
    "analytics_ticket_days",
    "analytics_sku_return_days",
    "analytics_sku_days",
    "analytics_refund_days",
    "analytics_return_days",
    "analytics_order_days",
    "analytics_stale_days",
    "analytics_rollup_state",
)


def upgrade() -> None:
    op.create_table(
        "analytics_rollup_state",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("through_day", sa.Integer(), nullable=False),
        sa.Column("refreshed_at", UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_analytics_rollup_state")),
    )
    op.create_table(
        "analytics_stale_days",
        sa.Column("day", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("day", name=op.f("pk_analytics_stale_days")),
    )
    op.create_table(
        "analytics_order_days",
        sa.Column("day", sa.Integer(), nullable=False),
        sa.Column("channel_id", sa.Integer(), nullable=False),
        sa.Column("orders", sa.Integer(), nullable=False),
        sa.Column("cancelled", sa.Integer(), nullable=False),
        sa.Column("kept_orders", sa.Integer(), nullable=False),
        sa.Column("revenue", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=True),
        sa.Column("returned_orders", sa.Integer(), nullable=False),
        sa.Column("cogs", sa.BigInteger(), nullable=False),
        sa.Column("parcels", sa.Integer(), nullable=False),
        sa.Column("tracked_parcels", sa.Integer(), nullable=False),
        sa.Column("fulfilment_seconds", sa.BigInteger(), nullable=False),
        sa.Column("promised_parcels", sa.Integer(), nullable=False),
        sa.Column("late", sa.Integer(), nullable=False),
        sa.Column("new_customers", sa.Integer(), nullable=False),
        sa.Column("new_customer_revenue", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("day", "channel_id", name=op.f("pk_analytics_order_days")),
    )
    op.create_table(
        "analytics_return_days",
        sa.Column("day", sa.Integer(), nullable=False),
        sa.Column("channel_id", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(length=40), nullable=False),
        sa.Column("requests", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("day", "channel_id", "reason", name=op.f("pk_analytics_return_days")),
    )
    op.create_table(
        "analytics_refund_days",
        sa.Column("day", sa.Integer(), nullable=False),
        sa.Column("channel_id", sa.Integer(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("refunds", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("day", "channel_id", "currency", name=op.f("pk_analytics_refund_days")),
    )
    op.create_table(
        "analytics_sku_days",
        sa.Column("day", sa.Integer(), nullable=False),
        sa.Column("channel_id", sa.Integer(), nullable=False),
        sa.Column("sku_id", sa.Integer(), nullable=False),
        sa.Column("units", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("day", "channel_id", "sku_id", name=op.f("pk_analytics_sku_days")),
    )
    op.create_table(
        "analytics_sku_return_days",
        sa.Column("day", sa.Integer(), nullable=False),
        sa.Column("channel_id", sa.Integer(), nullable=False),
        sa.Column("sku_id", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(length=40), nullable=False),
        sa.Column("units", sa.BigInteger(), nullable=False),
        sa.Column("requests", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint(
            "day", "channel_id", "sku_id", "reason", name=op.f("pk_analytics_sku_return_days")
        ),
    )
    op.create_table(
        "analytics_ticket_days",
        sa.Column("day", sa.Integer(), nullable=False),
        sa.Column("channel_id", sa.Integer(), nullable=False),
        sa.Column("category", sa.String(length=40), nullable=False),
        sa.Column("tickets", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("day", "channel_id", "category", name=op.f("pk_analytics_ticket_days")),
    )
    op.create_table(
        "analytics_ticket_sku_days",
        sa.Column("day", sa.Integer(), nullable=False),
        sa.Column("channel_id", sa.Integer(), nullable=False),
        sa.Column("sku_id", sa.Integer(), nullable=False),
        sa.Column("category", sa.String(length=40), nullable=False),
        sa.Column("tickets", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint(
            "day", "channel_id", "sku_id", "category", name=op.f("pk_analytics_ticket_sku_days")
        ),
    )
    op.create_table(
        "analytics_ticket_facts",
        sa.Column("conversation_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Integer(), nullable=False),
        sa.Column("channel_id", sa.Integer(), nullable=False),
        sa.Column("first_response", sa.BigInteger(), nullable=True),
        sa.Column("first_response_day", sa.Integer(), nullable=True),
        sa.Column("resolution", sa.BigInteger(), nullable=True),
        sa.Column("resolution_day", sa.Integer(), nullable=True),
        sa.Column("resolved_day", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("conversation_id", name=op.f("pk_analytics_ticket_facts")),
    )
    op.create_index("ix_analytics_ticket_facts_day", "analytics_ticket_facts", ["day", "channel_id"])


def downgrade() -> None:
    op.drop_index("ix_analytics_ticket_facts_day", table_name="analytics_ticket_facts")
    for table in TABLES:
        op.drop_table(table)
