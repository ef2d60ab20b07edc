"""The migrated schema equals the models, and the database settings are what DESIGN.md says."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import text

from core import migrate
from core.db import make_engine
from core.models import Base
from tests.factories import make_order


def _modelled(obj, name, type_, reflected, compare_to) -> bool:
    """All but the console search's indexes, made per database by migration 0010_search_index and not
    declared on the models (trigram and pattern indexes on PostgreSQL, NOCASE ones on SQLite)."""
    return not (type_ == "index" and reflected and name.endswith(("_trgm", "_prefix")))


def test_migrated_schema_equals_models(engine) -> None:
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True, "include_object": _modelled})
        diff = compare_metadata(context, Base.metadata)
    assert diff == []


def test_database_is_at_head_revision(engine) -> None:
    assert migrate.current_revision(engine) == migrate.head_revision() is not None


def test_sqlite_uses_wal_foreign_keys_and_busy_timeout(tmp_path) -> None:
    eng = make_engine(f"sqlite:///{tmp_path / 'pragma.db'}")
    with eng.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
        assert conn.execute(text("PRAGMA busy_timeout")).scalar() == 15000
    eng.dispose()


def test_times_come_back_aware_utc(db) -> None:
    order = make_order(db, placed_at=datetime(2026, 3, 1, 9, 30, tzinfo=UTC))
    db.expire_all()
    db.refresh(order)
    assert order.placed_at == datetime(2026, 3, 1, 9, 30, tzinfo=UTC)
    assert order.placed_at.tzinfo is not None


def test_naive_datetime_is_refused(db) -> None:
    with pytest.raises(Exception, match="naive datetime"):
        make_order(db, placed_at=datetime(2026, 3, 1, 9, 30))


def test_money_is_stored_as_integer_minor_units(db) -> None:
    order = make_order(db, total=123456789)
    db.expire_all()
    assert db.get(type(order), order.id).total == 123456789
