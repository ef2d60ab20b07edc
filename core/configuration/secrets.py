"""A channel's credentials (API tokens, account ids) and the re-encryption of every stored secret under a
new key. The values are encrypted at rest by the channel model's column types (core.security.encryption); the
audit log records which credentials changed, never their values."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Text, select, type_coerce, update
from sqlalchemy.orm import Session

from core.audit.services import record_audit
from core.channels.models import Channel
from core.configuration.channels import channel_settings
from core.errors import DomainError
from core.security.encryption import require_key, reseal, seal
from core.security.roles import Actor

# The credentials each kind's adapter reads (core/channels/<kind>.py says what each is for); the secret ones
# are never shown back. A kind not named here takes none.
CREDENTIAL_FIELDS: dict[str, tuple[str, ...]] = {
    "shopify": ("access_token", "location_id", "inventory_item_ids"),
    "amazon": ("access_token", "seller_id", "marketplace_id", "product_type"),
    "ebay": ("access_token",),
    "woocommerce": ("consumer_key", "consumer_secret"),
    "square": ("access_token", "location_id", "square_version", "notification_url"),
    "walmart": ("access_token", "channel_type", "ship_node"),
    "bigcommerce": ("access_token",),
}
SECRET_FIELDS = frozenset({"access_token", "consumer_key", "consumer_secret"})
MAX_VALUE_LENGTH = 4000


def credential_fields(kind: str) -> tuple[str, ...]:
    """The credential names a kind's adapter reads, in the order the settings page shows them."""
    return CREDENTIAL_FIELDS.get(kind, ())


def set_channel_credentials(
    session: Session,
    code: str,
    values: Mapping[str, str],
    *,
    clear: frozenset[str] = frozenset(),
    actor: Actor,
    now: datetime,
) -> Channel:
    """Set some credentials of a channel (a blank value keeps the one stored; names in `clear` are removed).

    A value that is a JSON object or list (Shopify's inventory item ids, Amazon's marketplace ids) is stored
    as that structure. The audit entry names the credentials changed, not their values."""
    require_key()
    channel = channel_settings(session, code)
    allowed = set(credential_fields(channel.kind))
    unknown = sorted((set(values) | clear) - allowed)
    if unknown:
        raise DomainError(f"a {channel.kind} channel takes no credential {', '.join(unknown)}")
    credentials = dict(channel.credentials or {})
    changed = sorted(name for name in clear if name in credentials)
    for name in changed:
        del credentials[name]
    for name, raw in values.items():
        text = raw.strip()
        if not text or name in clear:
            continue
        if len(text) > MAX_VALUE_LENGTH:
            raise DomainError(f"{name} is longer than {MAX_VALUE_LENGTH} characters")
        value = _value(name, text)
        if credentials.get(name) != value:
            credentials[name] = value
            changed.append(name)
    if changed:
        channel.credentials = credentials
        record_audit(
            session,
            actor,
            "channel.credentials",
            "channel",
            channel.id,
            now=now,
            after={"changed": sorted(set(changed)), "set": sorted(credentials)},
        )
    return channel


def _value(name: str, text: str) -> Any:
    if text[0] in "[{":
        try:
            return json.loads(text)
        except ValueError:
            raise DomainError(f"{name} starts like JSON but is not valid JSON") from None
    return text


def rotate_stored_secrets(session: Session, *, actor: Actor, now: datetime) -> int:
    """Re-encrypt every channel's credentials and webhook secret under the newest key (MultiFernet rotation;
    a value still in plain text is encrypted). Returns how many values were written.

    The stored text is read and written as it is (type_coerce past the encrypting column types), so a value is
    decrypted with whichever configured key opens it and written under the first; UndecryptableSecret, and
    nothing written, when a value's key is no longer configured."""
    stored_credentials = type_coerce(Channel.credentials, JSON)
    stored_secret = type_coerce(Channel.webhook_secret, Text)
    rows = session.execute(
        select(Channel.id, stored_credentials, stored_secret).order_by(Channel.id).with_for_update()
    ).all()
    written = 0
    table = Channel.__table__
    for channel_id, credentials, secret in rows:
        values: dict[str, Any] = {}
        if isinstance(credentials, str):
            values["credentials"] = type_coerce(reseal(credentials), JSON)
        elif isinstance(credentials, dict) and credentials:
            values["credentials"] = type_coerce(seal(json.dumps(credentials, sort_keys=True)), JSON)
        if secret:
            values["webhook_secret"] = type_coerce(reseal(secret), Text)
        if values:
            session.execute(update(table).where(table.c.id == channel_id).values(**values))
            written += len(values)
    record_audit(session, actor, "keys.rotate", "channel", "*", now=now, after={"values": written})
    return written
