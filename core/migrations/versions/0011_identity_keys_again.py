"""Identity blocking keys built again: matching gained keys (address lines with spaces removed, combined with
the house number, postcode, suburb or a name), so the stored keys of the old kind are dropped; the identity
resolution job indexes every identity again (and resolves its customer) a batch per run, or
`crossdock customers resolve` does it at once

Revision ID: 0011_identity_keys_again
Revises: 0010_search_index
Create Date: 2026-12-04
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0011_identity_keys_again"
down_revision: str | None = "0010_search_index"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute("DELETE FROM identity_match_keys")


def downgrade() -> None:
    # The older code reads the same table; what it misses it indexes again itself.
    op.execute("DELETE FROM identity_match_keys")
