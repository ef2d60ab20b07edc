"""Limits on files people upload: CSV files read by the console (stock counts, 3PL confirmations) and the
attachments of inbound email. A file over its size or of the wrong type is refused with the reason; nothing
uploaded is ever served from a path its sender chose (attachments are served by id, as downloads)."""

from __future__ import annotations

from typing import BinaryIO

from core.errors import DomainError

MAX_CSV_BYTES = 2 * 1024 * 1024
CSV_SUFFIXES = (".csv", ".txt", ".tsv")


class UploadRefused(DomainError):
    """An uploaded file outside the limits; the message says which."""


def read_csv_upload(filename: str, stream: BinaryIO, *, max_bytes: int = MAX_CSV_BYTES) -> str:
    """An uploaded CSV's text: named .csv/.txt/.tsv, at most `max_bytes`, UTF-8 (a BOM is skipped), no
    NUL bytes (a spreadsheet saved as .xlsx, an image renamed .csv); UploadRefused otherwise."""
    if not filename.lower().endswith(CSV_SUFFIXES):
        raise UploadRefused(f"{_shown(filename)} is not a CSV file: upload a .csv (or .txt) file")
    data = stream.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise UploadRefused(f"{_shown(filename)} is larger than {max_bytes // (1024 * 1024)} MB")
    if not data.strip():
        raise UploadRefused(f"{_shown(filename)} is empty")
    if b"\x00" in data:
        raise UploadRefused(f"{_shown(filename)} is not a text file (it holds binary data)")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise UploadRefused(
            f"{_shown(filename)} is not UTF-8 text (byte {exc.start}): save it as CSV UTF-8 and try again"
        ) from None


_SIGNATURES: dict[str, tuple[bytes, ...]] = {
    "image/jpeg": (b"\xff\xd8\xff",),
    "image/png": (b"\x89PNG\r\n\x1a\n",),
    "image/gif": (b"GIF87a", b"GIF89a"),
    "application/pdf": (b"%PDF-",),
}


def content_matches_type(content_type: str, content: bytes) -> bool:
    """Whether a file's first bytes are what its declared type says (HTML sent as image/png is not).

    Images and PDF by their signature; WebP and HEIC by their container; text must be NUL-free text."""
    if content_type in _SIGNATURES:
        return content.startswith(_SIGNATURES[content_type])
    if content_type == "image/webp":
        return content[:4] == b"RIFF" and content[8:12] == b"WEBP"
    if content_type == "image/heic":
        return content[4:8] == b"ftyp"
    if content_type.startswith("text/"):
        return b"\x00" not in content
    return False


def _shown(filename: str) -> str:
    name = filename.replace("\n", " ").replace("\r", " ")
    return repr(name if len(name) <= 80 else name[:77] + "...")
