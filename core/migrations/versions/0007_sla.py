"""sla: business hours, holidays, SLA policies per priority and channel overrides; tickets' SLA pauses and breaches

Revision ID: 0007_sla
Revises: 0006_identity
Create Date: 2026-12-04

Seeds the shipped defaults: Monday to Friday 09:00-17:00 in CROSSDOCK_TZ (UTC when unset or unknown), and
per priority (first response, resolution) in business hours: urgent 1/8, high 2/16, normal 4/24, low 8/40.
"""

import os
from collections.abc import Sequence
from datetime import time
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import sqlalchemy as sa
from alembic import op

import core.db

revision: str = "0007_sla"
down_revision: str | None = "0006_identity"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _zone() -> str:
    name = os.environ.get("CROSSDOCK_TZ", "").strip() or "UTC"
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return "UTC"
    return name


def upgrade() -> None:
    calendars = op.create_table(
        "support_calendars",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_support_calendars")),
    )
    hours = op.create_table(
        "business_hours",
        sa.Column("weekday", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("opens", sa.Time(), nullable=False),
        sa.Column("closes", sa.Time(), nullable=False),
        sa.PrimaryKeyConstraint("weekday", name=op.f("pk_business_hours")),
    )
    op.create_table(
        "support_holidays",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.PrimaryKeyConstraint("day", name=op.f("pk_support_holidays")),
    )
    policies = op.create_table(
        "sla_policies",
        sa.Column("priority", sa.String(length=8), nullable=False),
        sa.Column("first_response_minutes", sa.Integer(), nullable=True),
        sa.Column("resolution_minutes", sa.Integer(), nullable=True),
        sa.Column("round_the_clock", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("priority", name=op.f("pk_sla_policies")),
    )
    op.create_table(
        "sla_channel_overrides",
        sa.Column("channel_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("first_response_minutes", sa.Integer(), nullable=True),
        sa.Column("resolution_minutes", sa.Integer(), nullable=True),
        sa.Column("round_the_clock", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["channel_id"],
            ["channels.id"],
            name=op.f("fk_sla_channel_overrides_channel_id_channels"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("channel_id", name=op.f("pk_sla_channel_overrides")),
    )
    with op.batch_alter_table("conversations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("sla_paused_at", core.db.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(
            sa.Column("sla_pauses", sa.JSON(), nullable=False, server_default=sa.text("'[]'"))
        )
        batch_op.add_column(
            sa.Column("first_response_breached_at", core.db.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(
            sa.Column("resolution_breached_at", core.db.UTCDateTime(timezone=True), nullable=True)
        )

    op.bulk_insert(calendars, [{"id": 1, "timezone": _zone()}])
    op.bulk_insert(hours, [{"weekday": d, "opens": time(9), "closes": time(17)} for d in range(5)])
    op.bulk_insert(
        policies,
        [
            {
                "priority": p,
                "first_response_minutes": f * 60,
                "resolution_minutes": r * 60,
                "round_the_clock": False,
            }
            for p, (f, r) in {"urgent": (1, 8), "high": (2, 16), "normal": (4, 24), "low": (8, 40)}.items()
        ],
    )
    # Tickets opened before this revision: an open one keeps its due dates; a pending or solved one is
    # paused from its last change.
    conversations = sa.table(
        "conversations",
        sa.column("status", sa.String()),
        sa.column("updated_at", core.db.UTCDateTime(timezone=True)),
        sa.column("sla_paused_at", core.db.UTCDateTime(timezone=True)),
    )
    op.execute(
        conversations.update()
        .where(conversations.c.status.in_(("pending", "solved")))
        .values(sla_paused_at=conversations.c.updated_at)
    )


def downgrade() -> None:
    with op.batch_alter_table("conversations", schema=None) as batch_op:
        batch_op.drop_column("resolution_breached_at")
        batch_op.drop_column("first_response_breached_at")
        batch_op.drop_column("sla_pauses")
        batch_op.drop_column("sla_paused_at")
    op.drop_table("sla_channel_overrides")
    op.drop_table("sla_policies")
    op.drop_table("support_holidays")
    op.drop_table("business_hours")
    op.drop_table("support_calendars")
