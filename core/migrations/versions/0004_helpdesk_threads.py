"""helpdesk threads: ticket tags, email message ids, message attachments

Revision ID: 0004_helpdesk
Revises: 0003
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import core.db

revision: str = "0004_helpdesk"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "conversation_tags",
        sa.Column("conversation_id", sa.Integer(), nullable=False),
        sa.Column("tag", sa.String(length=40), nullable=False),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["conversations.id"],
            name=op.f("fk_conversation_tags_conversation_id_conversations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("conversation_id", "tag", name=op.f("pk_conversation_tags")),
    )
    with op.batch_alter_table("conversation_tags", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_conversation_tags_tag"), ["tag"], unique=False)

    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.add_column(sa.Column("email_message_id", sa.String(length=300), nullable=True))
        batch_op.create_index(batch_op.f("ix_messages_email_message_id"), ["email_message_id"], unique=False)

    op.create_table(
        "message_attachments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("message_id", sa.Integer(), nullable=False),
        sa.Column("filename", sa.String(length=200), nullable=False),
        sa.Column("content_type", sa.String(length=100), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["message_id"],
            ["messages.id"],
            name=op.f("fk_message_attachments_message_id_messages"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_message_attachments")),
    )
    with op.batch_alter_table("message_attachments", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_message_attachments_message_id"), ["message_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("message_attachments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_message_attachments_message_id"))
    op.drop_table("message_attachments")
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_messages_email_message_id"))
        batch_op.drop_column("email_message_id")
    with op.batch_alter_table("conversation_tags", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_conversation_tags_tag"))
    op.drop_table("conversation_tags")
