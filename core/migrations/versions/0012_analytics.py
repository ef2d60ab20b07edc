"""Analytics: channel traffic (visits and marketing spend per channel and day), and the indexes the managers'
dashboard reads by date: orders by placing time and channel, tickets by opening time, returns by request time,
refunds by time, shipments by order.

Revision ID: 0012_analytics
Revises: 0011_identity_keys_again
Create Date: 2026-12-05
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from core.db import UTCDateTime

revision: str = "0012_analytics"
down_revision: str | None = "0011_identity_keys_again"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEXES = (
    ("ix_orders_placed_channel", "orders", ["placed_at", "channel_id"]),
    ("ix_conversations_created_at", "conversations", ["created_at"]),
    ("ix_return_requests_requested_at", "return_requests", ["requested_at"]),
    ("ix_refunds_created_at", "refunds", ["created_at"]),
)


def upgrade() -> None:
    op.create_table(
        "channel_traffic",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("channel_id", sa.Integer(), nullable=False),
        sa.Column("visits", sa.Integer(), nullable=False),
        sa.Column("spend", sa.Integer(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("imported_at", UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["channel_id"],
            ["channels.id"],
            name=op.f("fk_channel_traffic_channel_id_channels"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("day", "channel_id", name=op.f("pk_channel_traffic")),
    )
    for name, table, columns in INDEXES:
        op.create_index(name, table, columns)


def downgrade() -> None:
    for name, table, _columns in reversed(INDEXES):
        op.drop_index(name, table_name=table)
    op.drop_table("channel_traffic")
