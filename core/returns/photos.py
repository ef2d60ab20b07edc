"""Photos customers attach to a return: type checked by content (JPEG, PNG, WebP), size capped, stored under
instance/uploads with a random name; the return keeps the relative path."""

from __future__ import annotations

import uuid
from pathlib import Path

from core.db import INSTANCE_DIR
from core.errors import DomainError

MAX_PHOTO_BYTES = 5 * 1024 * 1024
UPLOADS_DIR = INSTANCE_DIR / "uploads"


def photo_kind(data: bytes) -> str | None:
    """The image type by its first bytes ("jpg", "png", "webp"), or None for anything else."""
    if data.startswith(b"\xff\xd8\xff"):
        return "jpg"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    return None


def save_return_photo(data: bytes, *, uploads_dir: Path = UPLOADS_DIR) -> str:
    """Store a checked photo; returns its path relative to the uploads folder."""
    if not data:
        raise DomainError("the photo is empty")
    if len(data) > MAX_PHOTO_BYTES:
        raise DomainError(f"the photo is larger than {MAX_PHOTO_BYTES // (1024 * 1024)} MB")
    kind = photo_kind(data)
    if kind is None:
        raise DomainError("the photo must be a JPEG, PNG or WebP image")
    relative = f"returns/{uuid.uuid4().hex}.{kind}"
    target = uploads_dir / relative
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(data)
    return relative
