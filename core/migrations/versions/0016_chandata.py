"""order charges (fees, tips, gift wrap, service charges, removed units), taxes included, removed units

Revision ID: 0016_chandata
Revises: 0015_secauth
Create Date: 2026-12-05
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016_chandata"
down_revision: str | None = "0015_secauth"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.add_column(sa.Column("charges", sa.JSON(), nullable=False, server_default=sa.text("'[]'")))
        batch_op.add_column(
            sa.Column("taxes_included", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    with op.batch_alter_table("order_lines", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("quantity_removed", sa.Integer(), nullable=False, server_default=sa.text("0"))
        )


def downgrade() -> None:
    with op.batch_alter_table("order_lines", schema=None) as batch_op:
        batch_op.drop_column("quantity_removed")
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.drop_column("taxes_included")
        batch_op.drop_column("charges")
