"""Migration 0012: channel secrets stored before encryption at rest are encrypted by the upgrade (which
needs the key only when there is such a secret), decrypted again by the downgrade; the return reasons are
seeded with the shipped ones; locations get business hours and the email texts their table."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import Engine, text

from core import migrate
from core.db import make_engine
from core.returns.reasons import DEFAULT_REASONS
from core.security.encryption import KEYS_VARIABLE, EncryptionKeyMissing
from tests.conftest import drop_database, fresh_database_url


@pytest.fixture
def engine_before_setup(tmp_path: Path):
    url, needs_drop = fresh_database_url(tmp_path, "mig12")
    engine = make_engine(url)
    migrate.upgrade(engine, "0013_privacy")
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO channels (code, name, kind, sender_name, credentials, webhook_secret,"
                " is_marketplace, return_window_days, returns_handled_by_channel, return_instructions,"
                " stock_buffer_units, stock_buffer_percent, stock_floor, active, created_at)"
                " VALUES ('shop', 'Shop', 'shopify', 'Shop', :credentials, 'plain-secret-0123456789',"
                " false, 30, false, '', 0, 0, 0, true, :now)"
            ),
            {"credentials": json.dumps({"access_token": "shpat_plain"}), "now": "2026-12-01 00:00:00"},
        )
        # Rows that point at channels and locations: the migration must not rebuild either table.
        conn.execute(
            text(
                "INSERT INTO locations (code, name, kind, fulfillment_method, regions, priority, address,"
                " active, created_at)"
                " VALUES ('EAST', 'East', 'warehouse', 'in_house', '[]', 1, '{}', true, :now)"
            ),
            {"now": "2026-12-01 00:00:00"},
        )
        conn.execute(
            text(
                "INSERT INTO channel_locations (channel_id, location_id)"
                " SELECT channels.id, locations.id FROM channels, locations"
            )
        )
    yield engine
    engine.dispose()
    drop_database(url, needs_drop)


def _stored(engine: Engine) -> tuple[str, str]:
    with engine.connect() as conn:
        return tuple(
            conn.execute(text("SELECT CAST(credentials AS TEXT), webhook_secret FROM channels")).one()
        )


def _downgrade(engine: Engine, revision: str) -> None:
    cfg = migrate.alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.begin() as connection:
        cfg.attributes["connection"] = connection
        command.downgrade(cfg, revision)


def test_upgrade_encrypts_plain_secrets_and_downgrade_restores_them(engine_before_setup: Engine) -> None:
    engine = engine_before_setup
    migrate.upgrade(engine)
    credentials, secret = _stored(engine)
    assert "shpat_plain" not in credentials and "fernet:" in credentials
    assert secret.startswith("fernet:")
    with engine.connect() as conn:
        reasons = conn.execute(text("SELECT code, label FROM return_reasons ORDER BY position")).all()
        assert dict(reasons) == DEFAULT_REASONS
        assert conn.execute(text("SELECT count(*) FROM email_texts")).scalar() == 0
        assert conn.execute(text("SELECT hours FROM locations")).all() == [(None,)]  # none set yet

    _downgrade(engine, "0013_privacy")
    credentials, secret = _stored(engine)
    assert json.loads(credentials) == {"access_token": "shpat_plain"} and secret == "plain-secret-0123456789"
    migrate.upgrade(engine)
    assert _stored(engine)[1].startswith("fernet:")
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM channel_locations")).scalar() == 1


def test_upgrade_with_a_plain_secret_and_no_key_stops_with_what_to_set(
    engine_before_setup: Engine, monkeypatch, tmp_path: Path
) -> None:
    monkeypatch.delenv(KEYS_VARIABLE)
    monkeypatch.setattr("core.db.INSTANCE_DIR", tmp_path)
    with pytest.raises(EncryptionKeyMissing, match=f"{KEYS_VARIABLE} is not set"):
        migrate.upgrade(engine_before_setup)
    assert migrate.current_revision(engine_before_setup) == "0013_privacy"  # nothing half-done
    assert _stored(engine_before_setup)[1] == "plain-secret-0123456789"
