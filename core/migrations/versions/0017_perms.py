"""Custom staff roles (named permission sets with a refund limit); the audit log becomes a hash chain (each
entry's prev_hash and hash; existing entries chained in id order) and append-only (a trigger refuses UPDATE
and DELETE, on PostgreSQL TRUNCATE too); indexes for searching it by action and actor

Revision ID: 0017_perms
Revises: 0016_chandata
Create Date: 2026-12-05
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import core.db
from core.audit.chain import GENESIS_HASH, HASHED_FIELDS, entry_hash

revision: str = "0017_perms"
down_revision: str | None = "0016_chandata"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BATCH = 5000

PG_TRIGGERS = """
CREATE FUNCTION audit_entries_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_entries is append-only: % refused', TG_OP;
END
$$;
CREATE TRIGGER audit_entries_no_change BEFORE UPDATE OR DELETE ON audit_entries
    FOR EACH ROW EXECUTE FUNCTION audit_entries_append_only();
CREATE TRIGGER audit_entries_no_truncate BEFORE TRUNCATE ON audit_entries
    FOR EACH STATEMENT EXECUTE FUNCTION audit_entries_append_only();
"""
SQLITE_TRIGGERS = (
    """CREATE TRIGGER audit_entries_no_update BEFORE UPDATE ON audit_entries
    BEGIN SELECT RAISE(ABORT, 'audit_entries is append-only: UPDATE refused'); END""",
    """CREATE TRIGGER audit_entries_no_delete BEFORE DELETE ON audit_entries
    BEGIN SELECT RAISE(ABORT, 'audit_entries is append-only: DELETE refused'); END""",
)


def _chain_existing_rows() -> None:
    """Chain the entries written before the chain existed, in id order, a batch at a time."""
    audit = sa.table(
        "audit_entries",
        sa.column("id", sa.Integer()),
        sa.column("actor_id", sa.Integer()),
        sa.column("actor_label", sa.String()),
        sa.column("action", sa.String()),
        sa.column("entity_type", sa.String()),
        sa.column("entity_id", sa.String()),
        sa.column("before", sa.JSON()),
        sa.column("after", sa.JSON()),
        sa.column("ip_address", sa.String()),
        sa.column("created_at", core.db.UTCDateTime(timezone=True)),
        sa.column("prev_hash", sa.String()),
        sa.column("hash", sa.String()),
    )
    bind = op.get_bind()
    prev, last_id = GENESIS_HASH, 0
    update = (
        sa.update(audit)
        .where(audit.c.id == sa.bindparam("row_id"))
        .values(prev_hash=sa.bindparam("row_prev"), hash=sa.bindparam("row_hash"))
    )
    while True:
        columns = [audit.c.id, *(audit.c[name] for name in HASHED_FIELDS)]
        rows = bind.execute(
            sa.select(*columns).where(audit.c.id > last_id).order_by(audit.c.id).limit(BATCH)
        ).all()
        if not rows:
            return
        changes = []
        for row in rows:
            digest = entry_hash(row._mapping, prev)
            changes.append({"row_id": row.id, "row_prev": prev, "row_hash": digest})
            prev = digest
        bind.execute(update, changes)
        last_id = rows[-1].id


def upgrade() -> None:
    op.create_table(
        "staff_roles",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=16), nullable=False),
        sa.Column("description", sa.String(length=200), nullable=False),
        sa.Column("permissions", sa.JSON(), nullable=False),
        sa.Column("refund_limit", sa.String(length=20), nullable=True),
        sa.Column("created_at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_staff_roles")),
        sa.UniqueConstraint("name", name=op.f("uq_staff_roles_name")),
    )
    with op.batch_alter_table("audit_entries", schema=None) as batch_op:
        batch_op.add_column(sa.Column("prev_hash", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("hash", sa.String(length=64), nullable=True))
    _chain_existing_rows()
    with op.batch_alter_table("audit_entries", schema=None) as batch_op:
        batch_op.alter_column("prev_hash", existing_type=sa.String(length=64), nullable=False)
        batch_op.alter_column("hash", existing_type=sa.String(length=64), nullable=False)
        batch_op.create_index(batch_op.f("ix_audit_entries_action"), ["action"], unique=False)
        batch_op.create_index(batch_op.f("ix_audit_entries_actor_label"), ["actor_label"], unique=False)
    if op.get_bind().dialect.name == "postgresql":
        op.execute(PG_TRIGGERS)
    else:
        for statement in SQLITE_TRIGGERS:
            op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER audit_entries_no_truncate ON audit_entries")
        op.execute("DROP TRIGGER audit_entries_no_change ON audit_entries")
        op.execute("DROP FUNCTION audit_entries_append_only()")
    else:
        op.execute("DROP TRIGGER audit_entries_no_delete")
        op.execute("DROP TRIGGER audit_entries_no_update")
    with op.batch_alter_table("audit_entries", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_audit_entries_actor_label"))
        batch_op.drop_index(batch_op.f("ix_audit_entries_action"))
        batch_op.drop_column("hash")
        batch_op.drop_column("prev_hash")
    op.drop_table("staff_roles")
