"""CRM note history: a note's author label and last edit, the versions an edit replaced; outbox emails by recipient

Revision ID: 0009_note_history
Revises: 0008_csat_presence
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import core.db

revision: str = "0009_note_history"
down_revision: str | None = "0008_csat_presence"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("crm_notes", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("author_label", sa.String(length=200), nullable=False, server_default="")
        )
        batch_op.add_column(sa.Column("edited_at", core.db.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("edited_by", sa.String(length=200), nullable=True))

    op.create_table(
        "crm_note_versions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("note_id", sa.Integer(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("written_by", sa.String(length=200), nullable=False),
        sa.Column("written_at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("replaced_at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["note_id"],
            ["crm_notes.id"],
            name=op.f("fk_crm_note_versions_note_id_crm_notes"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_crm_note_versions")),
    )
    with op.batch_alter_table("crm_note_versions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_crm_note_versions_note_id"), ["note_id"], unique=False)

    with op.batch_alter_table("outbox_messages", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_outbox_messages_recipient"), ["recipient"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("outbox_messages", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_outbox_messages_recipient"))

    with op.batch_alter_table("crm_note_versions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_crm_note_versions_note_id"))
    op.drop_table("crm_note_versions")

    with op.batch_alter_table("crm_notes", schema=None) as batch_op:
        batch_op.drop_column("edited_by")
        batch_op.drop_column("edited_at")
        batch_op.drop_column("author_label")
