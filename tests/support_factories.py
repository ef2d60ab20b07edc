"""Factories for support tests: conversations with messages, and raw RFC 5322 emails as customers write."""

from __future__ import annotations

from email.message import EmailMessage
from email.utils import format_datetime
from typing import Any

from sqlalchemy.orm import Session

from core.support.models import Conversation, Message
from tests.factories import NOW


def make_conversation(
    session: Session, *, body: str = "Where is my parcel?", **overrides: Any
) -> Conversation:
    """An open portal conversation with one customer message."""
    fields = {
        "source": "portal",
        "subject": "Where is my parcel?",
        "status": "open",
        "priority": "normal",
        "created_at": NOW,
        "updated_at": NOW,
    }
    conversation = Conversation(**(fields | overrides))
    session.add(conversation)
    session.flush()
    session.add(Message(conversation_id=conversation.id, author_kind="customer", body=body, created_at=NOW))
    session.flush()
    return conversation


def make_email(
    *,
    sender: str = "Jane Doe <jane@example.org>",
    to: str = "support@shop.example",
    subject: str = "Help with my order",
    body: str = "Hello, my parcel has not arrived.",
    message_id: str = "<m1@mail.example.org>",
    in_reply_to: str | None = None,
    references: str | None = None,
    html: str | None = None,
    attachments: list[tuple[str, str, bytes]] = (),  # type: ignore[assignment]
    headers: dict[str, str] | None = None,
) -> bytes:
    """A raw RFC 5322 message as a mail client sends it (CRLF line ends), optionally with an HTML
    alternative and attachments (filename, content type, bytes)."""
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = format_datetime(NOW)
    message["Message-ID"] = message_id
    if in_reply_to:
        message["In-Reply-To"] = in_reply_to
    if references:
        message["References"] = references
    for name, value in (headers or {}).items():
        message[name] = value
    message.set_content(body)
    if html is not None:
        message.add_alternative(html, subtype="html")
    for filename, content_type, content in attachments:
        maintype, subtype = content_type.split("/")
        message.add_attachment(content, maintype=maintype, subtype=subtype, filename=filename)
    return message.as_bytes(policy=message.policy.clone(linesep="\r\n"))
