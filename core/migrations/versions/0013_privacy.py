"""privacy requests: a data subject's export or erasure request (portal, Shopify compliance webhooks, staff)

Revision ID: 0013_privacy
Revises: 0012_analytics
Create Date: 2026-12-05
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import core.db

revision: str = "0013_privacy"
down_revision: str | None = "0012_analytics"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "privacy_requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=True),
        sa.Column("channel_id", sa.Integer(), nullable=True),
        sa.Column("payload_id", sa.Integer(), nullable=True),
        sa.Column("reference", sa.JSON(), nullable=False),
        sa.Column("outcome", sa.JSON(), nullable=False),
        sa.Column("requested_at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("completed_at", core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("completed_by", sa.String(length=200), nullable=True),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"], name=op.f("fk_privacy_requests_customer_id_customers")
        ),
        sa.ForeignKeyConstraint(
            ["channel_id"], ["channels.id"], name=op.f("fk_privacy_requests_channel_id_channels")
        ),
        sa.ForeignKeyConstraint(
            ["payload_id"],
            ["inbound_payloads.id"],
            name=op.f("fk_privacy_requests_payload_id_inbound_payloads"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_privacy_requests")),
    )
    op.create_index(
        "ix_privacy_requests_status_requested", "privacy_requests", ["status", "requested_at"], unique=False
    )
    op.create_index(
        op.f("ix_privacy_requests_customer_id"), "privacy_requests", ["customer_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_privacy_requests_customer_id"), table_name="privacy_requests")
    op.drop_index("ix_privacy_requests_status_requested", table_name="privacy_requests")
    op.drop_table("privacy_requests")
