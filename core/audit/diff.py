"""What an audit entry changed, as rows a person can read: each field with its value before and after."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class FieldChange:
    field: str
    before: str | None  # None: the field was not there
    after: str | None
    changed: bool


def _shown(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, sort_keys=True, ensure_ascii=False)


def field_changes(before: Any, after: Any) -> list[FieldChange]:
    """Every field of `before` and `after` (dicts, as stored), changed ones first in field order; a value
    that is not a dict shows as the single field "value"."""
    old = before if isinstance(before, dict) else ({} if before is None else {"value": before})
    new = after if isinstance(after, dict) else ({} if after is None else {"value": after})
    rows = []
    for field in sorted(set(old) | set(new)):
        was = _shown(old[field]) if field in old else None
        now = _shown(new[field]) if field in new else None
        changed = (
            bool(old) and bool(new) and (field not in old or field not in new or old[field] != new[field])
        )
        rows.append(FieldChange(field, was, now, changed))
    return sorted(rows, key=lambda row: not row.changed)


def diff_text(before: Any, after: Any) -> str:
    """The change on one line for a CSV cell: "field: old -> new; ..." (only what changed when both sides
    exist)."""
    rows = field_changes(before, after)
    if before and after:
        rows = [row for row in rows if row.changed]
    parts = []
    for row in rows:
        if row.before is not None and row.after is not None:
            parts.append(f"{row.field}: {row.before} -> {row.after}")
        elif row.after is not None:
            parts.append(f"{row.field}: {row.after}")
        else:
            parts.append(f"{row.field}: {row.before} (removed)")
    return "; ".join(parts)
