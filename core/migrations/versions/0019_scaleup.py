"""Indexes for large data sets: the intake screen's keyset pages of inbound payloads (newest first, all or in
one status) and every ticket most recently active first

Revision ID: 0019_scaleup
Revises: 0018_rollup
Create Date: 2026-12-05
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0019_scaleup"
down_revision: str | None = "0018_rollup"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_inbound_payloads_received", "inbound_payloads", ["received_at", "id"])
    op.create_index(
        "ix_inbound_payloads_status_received", "inbound_payloads", ["status", "received_at", "id"]
    )
    op.create_index("ix_conversations_updated", "conversations", ["updated_at", "id"])


def downgrade() -> None:
    op.drop_index("ix_conversations_updated", table_name="conversations")
    op.drop_index("ix_inbound_payloads_status_received", table_name="inbound_payloads")
    op.drop_index("ix_inbound_payloads_received", table_name="inbound_payloads")
