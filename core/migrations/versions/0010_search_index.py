"""console search indexes: on PostgreSQL, trigram (pg_trgm) indexes for names and phone numbers matched
anywhere, and pattern indexes for identifiers matched by their start (emails, order numbers ours and the
channels', tracking numbers); on SQLite, NOCASE indexes that serve the same prefix matches

The indexes are not declared on the models: they are the database's means for core/support/search.py's
queries, different per database (tests/core/test_schema.py leaves out the names ending in _trgm and _prefix).

Revision ID: 0010_search_index
Revises: 0009_note_history
Create Date: 2026-12-04
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0010_search_index"
down_revision: str | None = "0009_note_history"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# (name, table, PostgreSQL's indexed expression and access method, SQLite's indexed expression or None)
INDEXES = (
    ("ix_customers_name_trgm", "customers", "USING gin (lower(name) gin_trgm_ops)", None),
    ("ix_customers_phone_trgm", "customers", "USING gin (phone gin_trgm_ops)", None),
    ("ix_identities_phone_trgm", "identities", "USING gin (phone gin_trgm_ops)", None),
    ("ix_customers_email_prefix", "customers", "(email varchar_pattern_ops)", "(email COLLATE NOCASE)"),
    ("ix_identities_email_prefix", "identities", "(email varchar_pattern_ops)", "(email COLLATE NOCASE)"),
    ("ix_orders_number_prefix", "orders", "(number varchar_pattern_ops)", "(number COLLATE NOCASE)"),
    (
        "ix_orders_channel_number_prefix",
        "orders",
        "(channel_number varchar_pattern_ops)",
        "(channel_number COLLATE NOCASE)",
    ),
    ("ix_orders_external_id_prefix", "orders", "(external_id varchar_pattern_ops)", "(external_id)"),
    (
        "ix_shipments_tracking_number_prefix",
        "shipments",
        "(tracking_number varchar_pattern_ops)",
        "(tracking_number COLLATE NOCASE)",
    ),
)


def upgrade() -> None:
    postgresql = op.get_bind().dialect.name == "postgresql"
    if postgresql:
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for name, table, on_postgresql, on_sqlite in INDEXES:
        indexed = on_postgresql if postgresql else on_sqlite
        if indexed is not None:
            op.execute(f"CREATE INDEX {name} ON {table} {indexed}")


def downgrade() -> None:
    postgresql = op.get_bind().dialect.name == "postgresql"
    for name, _, _, on_sqlite in reversed(INDEXES):
        if postgresql or on_sqlite is not None:
            op.execute(f"DROP INDEX {name}")
