"""identity resolution: blocking keys of identities, the customer match suggestions queue, rows moved by a merge

Revision ID: 0006_identity
Revises: 0005_queue
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import core.db

revision: str = "0006_identity"
down_revision: str | None = "0005_queue"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "customer_match_suggestions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("other_customer_id", sa.Integer(), nullable=False),
        sa.Column("score", sa.Double(), nullable=False),
        sa.Column("reasons", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("decided_at", core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("decided_by", sa.String(length=100), nullable=True),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_customer_match_suggestions_customer_id_customers"),
        ),
        sa.ForeignKeyConstraint(
            ["other_customer_id"],
            ["customers.id"],
            name=op.f("fk_customer_match_suggestions_other_customer_id_customers"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customer_match_suggestions")),
        sa.UniqueConstraint(
            "customer_id",
            "other_customer_id",
            name=op.f("uq_customer_match_suggestions_customer_id_other_customer_id"),
        ),
    )
    with op.batch_alter_table("customer_match_suggestions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_customer_match_suggestions_customer_id"), ["customer_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_customer_match_suggestions_other_customer_id"), ["other_customer_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_customer_match_suggestions_status"), ["status"], unique=False)

    op.create_table(
        "identity_match_keys",
        sa.Column("identity_id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=160), nullable=False),
        sa.ForeignKeyConstraint(
            ["identity_id"],
            ["identities.id"],
            name=op.f("fk_identity_match_keys_identity_id_identities"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("identity_id", "key", name=op.f("pk_identity_match_keys")),
    )
    with op.batch_alter_table("identity_match_keys", schema=None) as batch_op:
        batch_op.create_index("ix_identity_match_keys_key", ["key"], unique=False)

    with op.batch_alter_table("customer_merges", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("moved_rows", sa.JSON(), nullable=False, server_default=sa.text("'{}'"))
        )


def downgrade() -> None:
    with op.batch_alter_table("customer_merges", schema=None) as batch_op:
        batch_op.drop_column("moved_rows")

    with op.batch_alter_table("identity_match_keys", schema=None) as batch_op:
        batch_op.drop_index("ix_identity_match_keys_key")

    op.drop_table("identity_match_keys")
    with op.batch_alter_table("customer_match_suggestions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_customer_match_suggestions_status"))
        batch_op.drop_index(batch_op.f("ix_customer_match_suggestions_other_customer_id"))
        batch_op.drop_index(batch_op.f("ix_customer_match_suggestions_customer_id"))

    op.drop_table("customer_match_suggestions")
