"""Signed, expiring tokens for links in emails: a tracking page and an unsubscribe link that need no login.

Each purpose has its own salt, so a token made for one purpose is refused by every other reader.
"""

from __future__ import annotations

import os
import secrets
from datetime import timedelta
from functools import lru_cache
from pathlib import Path

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from core.db import INSTANCE_DIR
from core.errors import DomainError

TRACKING_SALT = "crossdock.tracking"
UNSUBSCRIBE_SALT = "crossdock.unsubscribe"
# A tracking link must outlive the return window it is sent with (delivered email + 30-90 days).
TRACKING_MAX_AGE = int(timedelta(days=180).total_seconds())
UNSUBSCRIBE_MAX_AGE = int(timedelta(days=365).total_seconds())


class InvalidToken(DomainError):
    """A link token that is forged, damaged, made for another purpose, or too old."""


def load_secret_key(instance_dir: Path = INSTANCE_DIR) -> str:
    """SECRET_KEY from the environment, else the key generated once into instance/secret_key (created here
    when missing), so the worker signs links with the same key the web application checks them with."""
    key = os.environ.get("SECRET_KEY")
    if key:
        return key
    instance_dir.mkdir(parents=True, exist_ok=True)
    path = instance_dir / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_hex(32))
        path.chmod(0o600)
    return path.read_text().strip()


@lru_cache(maxsize=32)
def _serializer(secret: str, salt: str) -> URLSafeTimedSerializer:
    """The serializer for a key and purpose, made once (building one derives its signing key)."""
    if not secret:
        raise ValueError("a secret key is required to sign tokens")
    return URLSafeTimedSerializer(secret, salt=salt)


def _read(secret: str, salt: str, token: str, max_age: int) -> object:
    try:
        return _serializer(secret, salt).loads(token, max_age=max_age)
    except SignatureExpired as exc:
        raise InvalidToken("this link has expired") from exc
    except BadSignature as exc:
        raise InvalidToken("this link is not valid") from exc


def make_tracking_token(secret: str, order_id: int) -> str:
    """A token that opens one order's tracking page."""
    return _serializer(secret, TRACKING_SALT).dumps(order_id)


def read_tracking_token(secret: str, token: str, max_age: int = TRACKING_MAX_AGE) -> int:
    """The order id a tracking token was made for; InvalidToken when forged or expired."""
    value = _read(secret, TRACKING_SALT, token, max_age)
    if not isinstance(value, int) or isinstance(value, bool):
        raise InvalidToken("this link is not valid")
    return value


def make_unsubscribe_token(secret: str, customer_id: int, kind: str) -> str:
    """A token that turns one kind of optional email off for one customer."""
    return _serializer(secret, UNSUBSCRIBE_SALT).dumps([customer_id, kind])


def read_unsubscribe_token(secret: str, token: str, max_age: int = UNSUBSCRIBE_MAX_AGE) -> tuple[int, str]:
    """(customer id, email kind) of an unsubscribe token; InvalidToken when forged or expired."""
    value = _read(secret, UNSUBSCRIBE_SALT, token, max_age)
    if (
        not isinstance(value, list)
        or len(value) != 2
        or not isinstance(value[0], int)
        or not isinstance(value[1], str)
    ):
        raise InvalidToken("this link is not valid")
    return value[0], value[1]
