"""queue: staff availability for round-robin assignment, and when each was last given a ticket

Revision ID: 0005_queue
Revises: 0004_helpdesk
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import core.db

revision: str = "0005_queue"
down_revision: str | None = "0004_helpdesk"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("available", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column("last_assigned_at", core.db.UTCDateTime(timezone=True), nullable=True))
    with op.batch_alter_table("conversations", schema=None) as batch_op:
        batch_op.create_index("ix_conversations_assignee_status", ["assignee_id", "status"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("conversations", schema=None) as batch_op:
        batch_op.drop_index("ix_conversations_assignee_status")
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("last_assigned_at")
        batch_op.drop_column("available")
