"""`crossdock import`: files of native channel payloads through the same intake as the webhooks.

Like a job, this owns its transactions: the raw files are stored first (one commit), then processed
(a second commit); if processing fails unexpectedly, the stored payloads are marked with the error.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from core.catalog.services import create_missing_listings
from core.channels.registry import get_adapter
from core.db import begin_write, utcnow
from core.errors import DomainError
from core.orders import intake


def _read(path: Path) -> tuple[str | None, str | None]:
    try:
        data = path.read_bytes()
    except OSError as exc:
        return None, f"cannot read file: {exc.strerror}"
    if len(data) > intake.MAX_PAYLOAD_BYTES:
        return None, f"file larger than {intake.MAX_PAYLOAD_BYTES} bytes"
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        return None, f"file is not UTF-8 text (byte {exc.start} is invalid)"
    if "\x00" in text:
        return None, "file holds a NUL character: not a channel payload"
    return text, None


def import_files(
    factory: sessionmaker[Session],
    channel_code: str,
    files: tuple[Path, ...],
    *,
    create_listings: bool = False,
) -> tuple[list[dict[str, Any]], bool]:
    """Store, then ingest, every file; returns (one dict per order or unreadable file, whether any failed)."""
    lines: list[dict[str, Any]] = []
    readable: list[tuple[Path, str]] = []
    for path in files:
        text, error = _read(path)
        if error:
            lines.append(
                {
                    "file": str(path),
                    "external_id": None,
                    "status": "rejected",
                    "order_id": None,
                    "error": error,
                }
            )
        else:
            readable.append((path, text))
    if not readable:
        return lines, True
    now = utcnow()
    with factory() as session:
        begin_write(session)
        try:
            channel = intake.get_channel(session, channel_code)
        except DomainError as exc:
            raise SystemExit(f"error: {exc}") from exc
        payloads = [
            intake.store_payload(session, channel, text, source="import", filename=path.name, now=now)[0]
            for path, text in readable
        ]
        session.commit()
        begin_write(session)
        try:
            if create_listings:
                adapter = get_adapter(channel.kind)
                orders = [item.order for item in adapter.extract([p.body for p in payloads]) if item.order]
                create_missing_listings(session, channel, orders, now=now)
            outcome = intake.process_payloads(session, channel, payloads, now=now)
            session.commit()
        except Exception as exc:
            session.rollback()
            for payload in payloads:
                intake.mark_payload_failed(session, payload.id, f"{type(exc).__name__}: {exc}", now=utcnow())
            session.commit()
            raise SystemExit(
                f"error: processing failed ({type(exc).__name__}: {str(exc)[:300]}); "
                "the files are stored, marked rejected, and nothing else was written"
            ) from exc
        for (path, _text), (payload, results) in zip(readable, outcome, strict=True):
            if not results:
                lines.append(
                    {
                        "file": str(path),
                        "external_id": None,
                        "status": "rejected",
                        "order_id": None,
                        "error": payload.error or "no order found in file",
                    }
                )
            for result in results:
                lines.append(
                    {
                        "file": str(path),
                        "external_id": result.external_id,
                        "status": result.status,
                        "order_id": result.order_id,
                        "error": result.error,
                    }
                )
    failed = any(line["status"] == "rejected" for line in lines)
    return lines, failed
