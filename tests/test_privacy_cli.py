"""`crossdock backup` / `restore` round trips on the test engine (SQLite, or PostgreSQL beside
TEST_DATABASE_URL), and `crossdock privacy retention | export | erase`."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from core import migrate
from core.customers.models import Customer
from core.db import make_engine, utcnow
from core.privacy.backup import table_fingerprints
from core.support.models import Conversation
from tests.conftest import drop_database, fresh_database_url
from tests.privacy_factories import EMAIL, make_person
from tests.support_factories import make_conversation
from tests.test_cli import invoke


@pytest.fixture
def source_db(tmp_path: Path):
    """A migrated database holding a customer with data everywhere and an old closed conversation."""
    url, needs_drop = fresh_database_url(tmp_path, "bksrc")
    engine = make_engine(url)
    migrate.upgrade(engine)
    with Session(engine) as session:
        person = make_person(session)
        old = make_conversation(session, status="closed")
        old.updated_at = utcnow() - timedelta(days=1000)
        session.commit()
        person_id = person.customer.id
    engine.dispose()
    yield url, person_id
    drop_database(url, needs_drop)


@pytest.fixture
def target_db(tmp_path: Path):
    url, needs_drop = fresh_database_url(tmp_path, "bkdst")
    yield url
    drop_database(url, needs_drop)


def _fingerprints(url: str) -> dict[str, tuple[int, str]]:
    engine = make_engine(url)
    try:
        return table_fingerprints(engine)
    finally:
        engine.dispose()


def test_backup_and_restore_round_trip_keeps_every_row(source_db, target_db, tmp_path: Path) -> None:
    source, _ = source_db
    file = tmp_path / "crossdock.backup"
    made = invoke(source, "backup", str(file))
    assert made.exit_code == 0, made.output
    assert file.stat().st_size > 0 and not (tmp_path / "crossdock.backup.partial").exists()

    restored = invoke(target_db, "restore", str(file))
    assert restored.exit_code == 0, restored.output
    assert f"migration {migrate.head_revision()}" in restored.output

    before, after = _fingerprints(source), _fingerprints(target_db)
    assert after == before
    assert before["orders"][0] == 3 and before["messages"][0] >= 4


def test_restore_refuses_a_database_that_is_not_empty_unless_forced(source_db, tmp_path: Path) -> None:
    source, _ = source_db
    file = tmp_path / "crossdock.backup"
    assert invoke(source, "backup", str(file)).exit_code == 0
    at_backup = _fingerprints(source)
    engine = make_engine(source)
    with Session(engine) as session:
        session.add(Customer(name="Added After The Backup"))
        session.commit()
    engine.dispose()
    refused = invoke(source, "restore", str(file))
    assert refused.exit_code != 0
    assert "not empty" in refused.output and "--force" in refused.output
    forced = invoke(source, "restore", str(file), "--force")
    assert forced.exit_code == 0, forced.output
    assert _fingerprints(source) == at_backup


def test_restore_refuses_a_file_that_is_not_a_backup(target_db, tmp_path: Path) -> None:
    junk = tmp_path / "junk.backup"
    junk.write_bytes(b"not a database at all" * 100)
    result = invoke(target_db, "restore", str(junk))
    assert result.exit_code != 0
    assert "not a" in result.output


def test_privacy_retention_dry_run_prints_and_changes_nothing(source_db) -> None:
    source, _ = source_db
    result = invoke(source, "privacy", "retention", "--dry-run")
    assert result.exit_code == 0, result.output
    assert "conversations closed over 730 days ago: 1" in result.output
    assert "dry run: nothing changed" in result.output
    engine = make_engine(source)
    with Session(engine) as session:
        assert "[erased]" not in set(session.scalars(select(Conversation.subject)))
    engine.dispose()


def test_privacy_export_then_erase_from_the_command_line(source_db) -> None:
    source, person_id = source_db
    exported = invoke(source, "privacy", "export", str(person_id))
    assert exported.exit_code == 0, exported.output
    assert json.loads(exported.output)["customer"]["email"] == EMAIL
    unconfirmed = invoke(source, "privacy", "erase", str(person_id))
    assert unconfirmed.exit_code != 0 and "--yes" in unconfirmed.output
    erased = invoke(source, "privacy", "erase", str(person_id), "--yes")
    assert erased.exit_code == 0, erased.output
    engine = make_engine(source)
    with Session(engine) as session:
        assert session.get(Customer, person_id).email is None
    engine.dispose()
