"""The demo's local SMTP catcher: an aiosmtpd server that keeps every message as a .eml file, and readers
for the console's "Sent mail" page. Each database has its own folder (`mail_dir_for`), so the console shows
the mail of the database it runs on. Nothing here is used outside the demo and the tests."""

from __future__ import annotations

import hashlib
import os
import re
import threading
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from sqlalchemy import URL, make_url

from core.db import INSTANCE_DIR
from core.errors import NotFound

MAIL_ROOT = INSTANCE_DIR / "mail"
_NAME = re.compile(r"^[0-9]{8}T[0-9]{12}Z-[0-9a-f]{12}\.eml$")


class MaildirHandler:
    """aiosmtpd handler: writes each message to `maildir` as <UTC time>-<random>.eml (tmp file, then rename,
    so a reader never sees half a message)."""

    def __init__(self, maildir: Path) -> None:
        self.maildir = Path(maildir)
        self.maildir.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        content = envelope.original_content or envelope.content
        if isinstance(content, str):
            content = content.encode("utf-8", errors="replace")
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
        name = f"{stamp}-{uuid.uuid4().hex[:12]}.eml"
        tmp = self.maildir / f".{name}.tmp"
        with self._lock:
            tmp.write_bytes(content)
            os.replace(tmp, self.maildir / name)
        return "250 Message accepted for delivery"


def mail_dir_for(database_url: str | URL, root: Path | None = None) -> Path:
    """The caught-mail folder of one database: `root` (default MAIL_ROOT)/<hash of its URL>. The password is
    left out of the hash (changing it keeps the folder); a SQLite path is made absolute (a relative one names
    the same file)."""
    url = make_url(database_url)
    database = url.database or ""
    is_file = database not in ("", ":memory:") and not database.startswith("file:")
    if url.get_backend_name() == "sqlite" and is_file:
        url = url.set(database=str(Path(database).resolve()))
    key = hashlib.sha256(url.render_as_string(hide_password=True).encode()).hexdigest()[:16]
    return Path(root or MAIL_ROOT) / key


def start_catcher(host: str, port: int, maildir: Path) -> Controller:
    """Start the catcher in a background thread; the caller stops it with `.stop()`."""
    controller = Controller(MaildirHandler(Path(maildir)), hostname=host, port=port)
    controller.start()
    return controller


@dataclass(frozen=True)
class CaughtMail:
    """One caught message, parsed for display."""

    name: str
    subject: str
    sender: str
    to: str
    date: datetime | None
    message_id: str
    text: str
    html: str
    headers: list[tuple[str, str]]

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "subject": self.subject,
            "from": self.sender,
            "to": self.to,
            "date": self.date.isoformat() if self.date else None,
            "message_id": self.message_id,
            "text": self.text,
            "html": self.html,
        }


def _parse(path: Path) -> CaughtMail:
    message = BytesParser(policy=policy.default).parsebytes(path.read_bytes())
    assert isinstance(message, EmailMessage)
    text_part = message.get_body(preferencelist=("plain",))
    html_part = message.get_body(preferencelist=("html",))
    try:
        date = parsedate_to_datetime(str(message["Date"])) if message["Date"] else None
    except (TypeError, ValueError):
        date = None
    return CaughtMail(
        name=path.name,
        subject=str(message["Subject"] or ""),
        sender=str(message["From"] or ""),
        to=str(message["To"] or ""),
        date=date,
        message_id=str(message["Message-ID"] or ""),
        text=text_part.get_content() if text_part is not None else "",
        html=html_part.get_content() if html_part is not None else "",
        headers=[(key, str(value)) for key, value in message.items()],
    )


def list_caught_mail(maildir: Path, limit: int = 50) -> list[CaughtMail]:
    """The newest `limit` caught messages, newest first."""
    folder = Path(maildir)
    if not folder.is_dir():
        return []
    names = sorted((p.name for p in folder.iterdir() if _NAME.match(p.name)), reverse=True)[: max(limit, 0)]
    return [_parse(folder / name) for name in names]


def read_caught_mail(maildir: Path, name: str) -> CaughtMail:
    """One caught message by file name; NotFound for an unknown or malformed name (no path tricks)."""
    path = Path(maildir) / name
    if not _NAME.match(name) or not path.is_file():
        raise NotFound("no such message")
    return _parse(path)
