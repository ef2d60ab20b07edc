"""Merchant set-up: the merchant's return reasons (seeded with the shipped ones) and email texts (subject,
intro, outro per kind); business hours of locations;
channel secrets encrypted at rest: the webhook secret column becomes text (an encrypted value is longer than
the secret), and every credential set and webhook secret stored in plain text is encrypted under the first key
of CROSSDOCK_ENCRYPTION_KEYS (core.security.encryption). A database with no secret stored needs no key for this.

Revision ID: 0014_setupadmin
Revises: 0013_privacy
Create Date: 2026-12-05
"""

import json
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from core.security.encryption import is_sealed, seal, unseal

revision: str = "0014_setupadmin"
down_revision: str | None = "0013_privacy"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

channels = sa.table(
    "channels",
    sa.column("id", sa.Integer),
    sa.column("credentials", sa.JSON),
    sa.column("webhook_secret", sa.Text),
)


# The shipped return reasons (core.returns.reasons.DEFAULT_REASONS as of this revision), in their order.
SHIPPED_REASONS = (
    ("wrong_size", "wrong size"),
    ("damaged", "arrived damaged"),
    ("not_as_described", "not as described"),
    ("changed_mind", "changed my mind"),
    ("late", "arrived late"),
    ("other", "other"),
)


def _webhook_secret_type(new: sa.types.TypeEngine, old: sa.types.TypeEngine) -> None:
    """Change the type of channels.webhook_secret. SQLite can't alter a column, and rebuilding `channels` (batch
    mode) would drop a table that orders and payloads point at: there the column is added anew, filled, and the
    old one dropped (SQLite 3.35+), which touches no other table."""
    if op.get_bind().dialect.name != "sqlite":
        op.alter_column("channels", "webhook_secret", type_=new, existing_type=old, existing_nullable=True)
        return
    op.add_column("channels", sa.Column("webhook_secret_new", new, nullable=True))
    op.execute("UPDATE channels SET webhook_secret_new = webhook_secret")
    op.execute("ALTER TABLE channels DROP COLUMN webhook_secret")
    op.execute("ALTER TABLE channels RENAME COLUMN webhook_secret_new TO webhook_secret")


def upgrade() -> None:
    reasons = op.create_table(
        "return_reasons",
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("label", sa.String(length=100), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_return_reasons")),
    )
    op.bulk_insert(
        reasons,
        [
            {"code": code, "label": label, "active": True, "position": (n + 1) * 10}
            for n, (code, label) in enumerate(SHIPPED_REASONS)
        ],
    )
    op.create_table(
        "email_texts",
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("subject", sa.String(length=300), nullable=False),
        sa.Column("intro", sa.Text(), nullable=False),
        sa.Column("outro", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("kind", name=op.f("pk_email_texts")),
    )
    op.add_column("locations", sa.Column("hours", sa.JSON(), nullable=True))
    _webhook_secret_type(sa.Text(), sa.String(200))
    bind = op.get_bind()
    for row in bind.execute(sa.select(channels.c.id, channels.c.credentials, channels.c.webhook_secret)):
        changes = {}
        if isinstance(row.credentials, dict) and row.credentials:
            changes["credentials"] = seal(json.dumps(row.credentials, sort_keys=True))
        if row.webhook_secret and not is_sealed(row.webhook_secret):
            changes["webhook_secret"] = seal(row.webhook_secret)
        if changes:
            bind.execute(sa.update(channels).where(channels.c.id == row.id).values(**changes))


def downgrade() -> None:
    bind = op.get_bind()
    for row in bind.execute(sa.select(channels.c.id, channels.c.credentials, channels.c.webhook_secret)):
        changes = {}
        if isinstance(row.credentials, str):
            changes["credentials"] = json.loads(unseal(row.credentials))
        if row.webhook_secret and is_sealed(row.webhook_secret):
            changes["webhook_secret"] = unseal(row.webhook_secret)
        if changes:
            bind.execute(sa.update(channels).where(channels.c.id == row.id).values(**changes))
    _webhook_secret_type(sa.String(200), sa.Text())
    # Not batch mode: rebuilding `locations` on SQLite would drop a table that stock levels point at.
    op.drop_column("locations", "hours")
    op.drop_table("email_texts")
    op.drop_table("return_reasons")
