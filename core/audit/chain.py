"""The audit log's hash chain, as pure functions: each entry's hash is SHA-256 over a canonical JSON of its
fields and the hash of the entry before it, so changing, removing or reordering an entry breaks every link
after it. `crossdock audit verify` recomputes the chain."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

GENESIS_HASH = "0" * 64  # the prev_hash of the first entry
HASHED_FIELDS = (
    "actor_id",
    "actor_label",
    "action",
    "entity_type",
    "entity_id",
    "before",
    "after",
    "ip_address",
    "created_at",
)


def jsonable(value: Any) -> Any:
    """`value` as it reads back from a JSON column (tuples become lists, times and decimals text), so what
    is hashed is what is stored."""
    if value is None:
        return None
    return json.loads(json.dumps(value, default=str))


def canonical_time(value: datetime) -> str:
    """A time as the chain hashes it: UTC, ISO 8601 with microseconds."""
    if value.tzinfo is None:
        raise ValueError(f"naive datetime {value!r}: pass an aware UTC time")
    return value.astimezone(UTC).isoformat(timespec="microseconds")


def canonical_json(fields: Mapping[str, Any], prev_hash: str) -> bytes:
    """The bytes an entry's hash covers: its fields and prev_hash, keys sorted, no spaces, UTF-8."""
    document = {name: fields[name] for name in HASHED_FIELDS}
    document["created_at"] = canonical_time(fields["created_at"])
    document["prev_hash"] = prev_hash
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def entry_hash(fields: Mapping[str, Any], prev_hash: str) -> str:
    """The hex SHA-256 of an entry with these fields following the entry whose hash is `prev_hash`."""
    return hashlib.sha256(canonical_json(fields, prev_hash)).hexdigest()
