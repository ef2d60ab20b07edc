"""Secrets at rest: channel credentials and webhook secrets are stored encrypted (Fernet: AES-128-CBC with an
HMAC-SHA256), never in plain text.

The keys come from CROSSDOCK_ENCRYPTION_KEYS, a comma-separated list of Fernet keys (`crossdock keys generate`
makes one): the first encrypts, every one of them decrypts (MultiFernet). Rotating is: put the new key
first, keep the old one after it, run `crossdock keys rotate` (every stored value re-encrypted under the new
key), then drop the old key. Without the variable, the file `instance/encryption_keys` is read when it
exists (the demo writes one); with neither, storing or reading a secret raises EncryptionKeyMissing, which
says what to set.

A stored value is the text `fernet:` followed by the token. A value without that prefix was written before
encryption at rest (migration 0012 encrypts those, and so does `keys rotate`) and is read as it is."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from sqlalchemy import JSON, Text
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

from core import db
from core.errors import DomainError

KEYS_VARIABLE = "CROSSDOCK_ENCRYPTION_KEYS"
KEY_FILE_NAME = "encryption_keys"
PREFIX = "fernet:"


class EncryptionKeyMissing(DomainError):
    """No usable encryption key is configured, so a secret can be neither stored nor read."""


class UndecryptableSecret(DomainError):
    """A stored secret that none of the configured keys opens (its key was removed, or the value damaged)."""


def generate_key() -> str:
    """A new random Fernet key, as text to put in CROSSDOCK_ENCRYPTION_KEYS."""
    return Fernet.generate_key().decode("ascii")


def key_file(instance_dir: Path | None = None) -> Path:
    """Where the demo keeps its key when CROSSDOCK_ENCRYPTION_KEYS is unset."""
    return (instance_dir or db.INSTANCE_DIR) / KEY_FILE_NAME


def ensure_demo_key_file(instance_dir: Path | None = None) -> Path | None:
    """For `crossdock demo` only: write a fresh key to instance/encryption_keys when no key is configured.
    Returns the file written, or None when a key was already there."""
    path = key_file(instance_dir)
    if os.environ.get(KEYS_VARIABLE, "").strip() or path.exists():
        return None
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(generate_key() + "\n")
    path.chmod(0o600)
    return path


def configured_keys(
    environ: Mapping[str, str] | None = None, instance_dir: Path | None = None
) -> tuple[str, ...]:
    """The keys, newest first: CROSSDOCK_ENCRYPTION_KEYS, else instance/encryption_keys (one key a line)."""
    env = os.environ if environ is None else environ
    raw = env.get(KEYS_VARIABLE, "")
    if not raw.strip():
        path = key_file(instance_dir)
        raw = path.read_text() if path.is_file() else ""
    keys = tuple(part.strip() for part in raw.replace("\n", ",").split(",") if part.strip())
    if not keys:
        raise EncryptionKeyMissing(
            f"{KEYS_VARIABLE} is not set: channel credentials and webhook secrets are stored encrypted, so "
            "a key is required. Make one with `crossdock keys generate` and set "
            f"{KEYS_VARIABLE}=<key> in the environment of the web server, the worker and the CLI"
        )
    return keys


@lru_cache(maxsize=8)
def _multi_fernet(keys: tuple[str, ...]) -> MultiFernet:
    fernets = []
    for position, key in enumerate(keys, start=1):
        try:
            fernets.append(Fernet(key.encode("ascii")))
        except (ValueError, UnicodeEncodeError) as exc:
            raise EncryptionKeyMissing(
                f"{KEYS_VARIABLE}: key {position} is not a Fernet key (32 url-safe base64-encoded bytes); "
                "make one with `crossdock keys generate`"
            ) from exc
    return MultiFernet(fernets)


def keyring(environ: Mapping[str, str] | None = None) -> MultiFernet:
    """The configured keys as one MultiFernet (the first key encrypts, any of them decrypts)."""
    return _multi_fernet(configured_keys(environ))


def require_key() -> None:
    """EncryptionKeyMissing unless a usable key is configured: services call it before taking a secret, so the
    error is theirs, not a failed statement (whose message would carry the secret)."""
    keyring()


def is_sealed(value: str) -> bool:
    """True for a value stored encrypted."""
    return value.startswith(PREFIX)


def seal(text: str, environ: Mapping[str, str] | None = None) -> str:
    """The stored form of a secret: encrypted under the newest key."""
    return PREFIX + keyring(environ).encrypt(text.encode("utf-8")).decode("ascii")


def unseal(value: str, environ: Mapping[str, str] | None = None) -> str:
    """The secret a stored value holds (a value written before encryption at rest is returned as it is)."""
    if not is_sealed(value):
        return value
    try:
        return keyring(environ).decrypt(value[len(PREFIX) :].encode("ascii")).decode("utf-8")
    except (InvalidToken, UnicodeError) as exc:
        raise UndecryptableSecret(
            f"a stored secret can't be decrypted with the keys in {KEYS_VARIABLE}: keep the key it was "
            "written with in the list (after the new one) until `crossdock keys rotate` has run"
        ) from exc


def reseal(value: str, environ: Mapping[str, str] | None = None) -> str:
    """A stored value re-encrypted under the newest key (a plain-text one encrypted for the first time)."""
    if not is_sealed(value):
        return seal(value, environ)
    try:
        token = keyring(environ).rotate(value[len(PREFIX) :].encode("ascii"))
    except InvalidToken as exc:
        raise UndecryptableSecret(
            f"a stored secret can't be decrypted with the keys in {KEYS_VARIABLE}: add the key it was "
            "written with after the new one, then rotate again"
        ) from exc
    return PREFIX + token.decode("ascii")


class EncryptedText(TypeDecorator[str]):
    """A text column stored encrypted (NULL and the empty text stay as they are: they hold no secret)."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        if not value:
            return value
        return seal(value)

    def process_result_value(self, value: str | None, dialect: Dialect) -> str | None:
        if not value:
            return value
        return unseal(value)


class EncryptedJSON(TypeDecorator[dict[str, Any]]):
    """A JSON object stored as one encrypted string (an empty object stays as it is: it holds nothing)."""

    impl = JSON
    cache_ok = True

    def process_bind_param(self, value: dict[str, Any] | None, dialect: Dialect) -> Any:
        if not value:
            return value
        return seal(json.dumps(value, sort_keys=True))

    def process_result_value(self, value: Any, dialect: Dialect) -> dict[str, Any] | None:
        if isinstance(value, str):
            return json.loads(unseal(value))
        return value
