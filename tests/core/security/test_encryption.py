"""Channel secrets at rest: stored encrypted under the configured key, read back transparently, refused with a
clear error when no key is configured, and re-encrypted under a new key by `rotate_stored_secrets`."""

from __future__ import annotations

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import StatementError

from core.audit.models import AuditEntry
from core.configuration.channels import add_channel
from core.configuration.secrets import rotate_stored_secrets, set_channel_credentials
from core.db import utcnow
from core.errors import DomainError
from core.security.encryption import (
    KEYS_VARIABLE,
    EncryptionKeyMissing,
    UndecryptableSecret,
    generate_key,
    seal,
    unseal,
)
from core.security.roles import Actor

ADMIN = Actor(label="test")


def _stored(db, code: str) -> tuple[str, str]:
    row = db.execute(
        text("SELECT CAST(credentials AS TEXT), webhook_secret FROM channels WHERE code = :code"),
        {"code": code},
    ).one()
    return row[0], row[1]


def _shopify(db, code: str = "lamps"):
    channel = add_channel(db, code, kind="shopify", name="Lamps", actor=ADMIN, now=utcnow())
    set_channel_credentials(
        db,
        code,
        {"access_token": "shpat_0123456789abcdef", "location_id": "655441491"},
        actor=ADMIN,
        now=utcnow(),
    )
    db.flush()
    return channel


def test_channel_secrets_are_stored_encrypted_and_read_back_plain(db) -> None:
    channel = _shopify(db)
    secret = channel.webhook_secret
    credentials, stored_secret = _stored(db, "lamps")
    assert "shpat_0123456789abcdef" not in credentials and "fernet:" in credentials
    assert stored_secret.startswith("fernet:") and secret not in stored_secret
    db.expire_all()
    assert channel.credentials == {"access_token": "shpat_0123456789abcdef", "location_id": "655441491"}
    assert channel.webhook_secret == secret


def test_a_missing_key_refuses_to_store_a_secret_with_what_to_set(db, monkeypatch, tmp_path) -> None:
    monkeypatch.delenv(KEYS_VARIABLE)
    monkeypatch.setattr("core.db.INSTANCE_DIR", tmp_path)  # no instance/encryption_keys either
    with pytest.raises(EncryptionKeyMissing, match=f"{KEYS_VARIABLE} is not set.*crossdock keys generate"):
        add_channel(db, "lamps", kind="shopify", name="Lamps", actor=ADMIN, now=utcnow())
    # A channel with no secret needs no key; the column refuses a secret all the same, not storing it plain.
    web = add_channel(db, "pos", kind="pos_csv", name="Till", actor=ADMIN, now=utcnow())
    db.flush()
    web.webhook_secret = "0123456789abcdef0123"
    with pytest.raises(StatementError, match="is not set"):
        db.flush()


def test_a_key_that_is_not_a_fernet_key_is_named(monkeypatch) -> None:
    monkeypatch.setenv(KEYS_VARIABLE, f"{generate_key()},not-a-key")
    with pytest.raises(EncryptionKeyMissing, match="key 2 is not a Fernet key"):
        seal("x")


def test_rotation_re_encrypts_every_secret_under_the_new_key(db, monkeypatch) -> None:
    old, new = generate_key(), generate_key()
    monkeypatch.setenv(KEYS_VARIABLE, old)
    channel = _shopify(db)
    secret = channel.webhook_secret
    before = _stored(db, "lamps")

    monkeypatch.setenv(KEYS_VARIABLE, f"{new},{old}")
    assert rotate_stored_secrets(db, actor=ADMIN, now=utcnow()) == 2
    after = _stored(db, "lamps")
    assert after[0] != before[0] and after[1] != before[1]

    monkeypatch.setenv(KEYS_VARIABLE, new)  # the old key removed: everything still opens
    db.expire_all()
    assert channel.webhook_secret == secret
    assert channel.credentials["access_token"] == "shpat_0123456789abcdef"
    monkeypatch.setenv(KEYS_VARIABLE, old)  # and nothing opens with the old key alone any more
    with pytest.raises(UndecryptableSecret, match="can't be decrypted"):
        unseal(after[1])


def test_rotation_encrypts_a_secret_still_in_plain_text(db) -> None:
    channel = add_channel(db, "web", kind="webshop", name="Web", actor=ADMIN, now=utcnow())
    db.flush()
    db.execute(
        text("UPDATE channels SET webhook_secret = 'plain-secret-0123456789' WHERE id = :id"),
        {"id": channel.id},
    )
    assert rotate_stored_secrets(db, actor=ADMIN, now=utcnow()) == 1
    assert _stored(db, "web")[1].startswith("fernet:")
    db.expire_all()
    assert channel.webhook_secret == "plain-secret-0123456789"


def test_credentials_reject_a_name_the_kind_does_not_take_and_audit_names_only(db) -> None:
    _shopify(db)
    with pytest.raises(DomainError, match="takes no credential consumer_key"):
        set_channel_credentials(db, "lamps", {"consumer_key": "x"}, actor=ADMIN, now=utcnow())
    after = db.scalar(select(AuditEntry.after).where(AuditEntry.action == "channel.credentials"))
    assert after == {"changed": ["access_token", "location_id"], "set": ["access_token", "location_id"]}
