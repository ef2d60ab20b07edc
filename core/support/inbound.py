"""Inbound email into the helpdesk: one raw RFC 5322 message becomes a customer message in a conversation.

Threading, first match wins:
1. our reply-to token in a recipient header (`reply+c42-<signature>@...`, see core.support.tokens): the
   token is signed, so the message joins that conversation whoever forwarded it;
2. In-Reply-To / References naming a message of a conversation (an email we sent, or one we received):
   Message-IDs are not secret, so this only counts when the sender is the conversation's customer (their
   address, or one of their channel identities' addresses, or the order's);
3. otherwise a new conversation for the sender, matched to a customer by email (a new customer when no
   one has that address).
A conversation that is closed is not reopened: the message starts a new one that names it.

Also: a Message-ID already received is a duplicate and changes nothing; auto-replies (RFC 3834
Auto-Submitted, Precedence bulk/junk/list, X-Autoreply) are ignored so two robots can't loop; quoted text
below "On ... wrote:" is cut from the body; attachments are kept in the database (message_attachments)
within ATTACHMENT_TYPES, MAX_ATTACHMENT_BYTES each and MAX_ATTACHMENTS per message, and the ones refused
are listed with the reason in the message's data.

Every message is stored raw first (`store_inbound_email`, an inbound_payloads row), then read
(`process_inbound_email`), so a message that fails to be read is kept with the reason.
"""

from __future__ import annotations

import base64
import hashlib
import re
from dataclasses import dataclass
from datetime import datetime
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import parseaddr
from html.parser import HTMLParser
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.customers.models import Customer, Identity
from core.errors import DomainError
from core.orders.models import InboundPayload, Order
from core.support import services
from core.support.models import Conversation, Message
from core.support.status import accepts_customer_messages
from core.support.tokens import conversation_from_addresses
from core.uploads import content_matches_type

MAX_ATTACHMENT_BYTES = 5 * 1024 * 1024
MAX_ATTACHMENTS = 10
ATTACHMENT_TYPES = frozenset(
    {
        "image/jpeg",
        "image/png",
        "image/gif",
        "image/webp",
        "image/heic",
        "application/pdf",
        "text/plain",
        "text/csv",
    }
)
RECIPIENT_HEADERS = ("To", "Cc", "Delivered-To", "X-Original-To", "Envelope-To", "X-Forwarded-To")
MESSAGE_ID_RE = re.compile(r"<([^<>\s]{1,298})>")
SUBJECT_PREFIX_RE = re.compile(r"^\s*((re|fwd?|aw|sv|antw)\s*(\[\d+\])?\s*:\s*)+", re.IGNORECASE)
QUOTE_HEADER_RE = re.compile(
    r"^(On\s[^\n]{0,300}?(\n[^\n]{0,300}?)?\swrote:\s*$"
    r"|-{2,}\s*Original Message\s*-{2,}\s*$"
    r"|_{10,}\s*$)",
    re.MULTILINE | re.IGNORECASE,
)


@dataclass(frozen=True)
class InboundResult:
    """What became of one email: threaded into a conversation, created one, duplicate, or ignored."""

    status: str  # threaded, created, duplicate, ignored
    conversation_id: int | None
    message_id: int | None
    reason: str | None = None


def receive_email(session: Session, raw: bytes, *, secret: str, now: datetime) -> InboundResult:
    """Read one raw RFC 5322 message and add it to the helpdesk (see the module docstring for the rules);
    DomainError when it has no sender address."""
    message = BytesParser(policy=policy.default).parsebytes(raw)
    assert isinstance(message, EmailMessage)
    name, sender = parseaddr(str(message.get("From", "")))
    sender = sender.strip().lower()
    if "@" not in sender:
        raise DomainError("the message has no sender address (From)")
    if _is_automatic(message):
        return InboundResult("ignored", None, None, "an automatic reply")
    own_id = _first_id(str(message.get("Message-ID", "")))
    existing = (
        session.execute(
            select(Message.conversation_id, Message.id).where(Message.email_message_id == own_id).limit(1)
        ).first()
        if own_id
        else None
    )
    if existing is not None:
        return InboundResult("duplicate", existing[0], existing[1])

    subject = " ".join(str(message.get("Subject", "")).split())
    body = message_text(message)
    kept, refused = _attachments(message)
    if not body:
        body = "(no text: see the attachments)" if kept else "(empty message)"
    data: dict[str, Any] = {"email": {"from": sender, "subject": subject[:300], "message_id": own_id}}
    if refused:
        data["rejected_attachments"] = refused

    conversation = _thread(session, message, sender, secret)
    if conversation is not None and accepts_customer_messages(conversation.status):
        added = services.add_customer_message(
            session, conversation.id, body, now=now, email_message_id=own_id, data=data, attachments=kept
        )
        return InboundResult("threaded", conversation.id, added.id)

    if conversation is not None:  # closed: a follow-up starts a new conversation about the same things
        customer_id, order = conversation.customer_id, _order(session, conversation.order_id)
        data["follow_up_of"] = conversation.id
    else:
        customer_id, order = _customer_for(session, sender, name, now=now), None
    created = services.open_conversation(
        session,
        customer_id=customer_id,
        order=order,
        subject=SUBJECT_PREFIX_RE.sub("", subject) or "Email from " + sender,
        body=body,
        source="email",
        now=now,
        email_message_id=own_id,
        data=data,
        attachments=kept,
    )
    return InboundResult("created", created.id, created.messages[0].id if created.messages else None)


def _is_automatic(message: EmailMessage) -> bool:
    auto = str(message.get("Auto-Submitted", "no")).strip().lower()
    precedence = str(message.get("Precedence", "")).strip().lower()
    return (
        (auto != "" and not auto.startswith("no"))
        or precedence in ("bulk", "junk", "list", "auto_reply")
        or message.get("X-Autoreply") is not None
        or message.get("X-Autorespond") is not None
    )


def _first_id(header: str) -> str | None:
    found = MESSAGE_ID_RE.findall(header)
    return found[0] if found else (header.strip()[:300] or None)


def _thread(session: Session, message: EmailMessage, sender: str, secret: str) -> Conversation | None:
    """The conversation this email answers, by our token, then by the messages it refers to."""
    recipients = " ".join(
        str(value) for header in RECIPIENT_HEADERS for value in (message.get_all(header) or [])
    )
    conversation_id = conversation_from_addresses(secret, recipients)
    if conversation_id is not None:
        found = session.get(Conversation, conversation_id)
        if found is not None:
            return found
    refs = MESSAGE_ID_RE.findall(f"{message.get('In-Reply-To', '')} {message.get('References', '')}")
    if not refs:
        return None
    candidates = set(refs) | {ref.partition("@")[0] for ref in refs}
    conversation_ids = session.scalars(
        select(Message.conversation_id)
        .where(Message.email_message_id.in_(candidates))
        .order_by(Message.id.desc())
    ).all()
    for candidate in dict.fromkeys(conversation_ids):
        conversation = session.get(Conversation, candidate)
        if conversation is not None and _is_the_customer(session, conversation, sender):
            return conversation
    return None


def _is_the_customer(session: Session, conversation: Conversation, sender: str) -> bool:
    """True when `sender` is an address we know for this conversation's customer or order."""
    known: set[str] = set()
    if conversation.customer_id is not None:
        customer = session.get(Customer, conversation.customer_id)
        if customer is not None and customer.email:
            known.add(customer.email.lower())
        known |= {
            email.lower()
            for email in session.scalars(
                select(Identity.email).where(
                    Identity.customer_id == conversation.customer_id, Identity.email.is_not(None)
                )
            )
        }
    order = _order(session, conversation.order_id)
    if order is not None and order.email:
        known.add(order.email.lower())
    return sender in known


def _order(session: Session, order_id: int | None) -> Order | None:
    return session.get(Order, order_id) if order_id is not None else None


def _customer_for(session: Session, sender: str, name: str, *, now: datetime) -> int:
    """The customer with this email (their own, else a channel identity's), or a new one."""
    customer_id = session.scalar(
        select(Customer.id)
        .where(Customer.email == sender, Customer.merged_into_id.is_(None))
        .order_by(Customer.id)
        .limit(1)
    )
    if customer_id is None:
        customer_id = session.scalar(  # a merged customer's identities belong to the one kept
            select(func.coalesce(Customer.merged_into_id, Customer.id))
            .join(Identity, Identity.customer_id == Customer.id)
            .where(Identity.email == sender)
            .order_by(Customer.id)
            .limit(1)
        )
    if customer_id is not None:
        return customer_id
    customer = Customer(name=" ".join(name.split())[:200], email=sender, created_at=now)
    session.add(customer)
    session.flush()
    return customer.id


def message_text(message: EmailMessage) -> str:
    """The message's own words: the plain-text body (else the HTML one as text), without the quoted
    earlier messages below "On ... wrote:"."""
    part = message.get_body(preferencelist=("plain", "html"))
    if part is None:
        return ""
    try:
        content = part.get_content()
    except (LookupError, UnicodeDecodeError):
        content = (part.get_payload(decode=True) or b"").decode("utf-8", "replace")
    if part.get_content_type() == "text/html":
        content = html_to_text(content)
    return strip_quoted(content)


def strip_quoted(text: str) -> str:
    """The text above the quoted earlier message, without trailing "> " lines; the whole text when cutting
    would leave nothing."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    match = QUOTE_HEADER_RE.search(text)
    own = text[: match.start()] if match else text
    lines = own.rstrip().split("\n")
    while lines and lines[-1].lstrip().startswith(">"):
        lines.pop()
    own = "\n".join(lines).strip()
    return own or text.strip()


class _TextExtractor(HTMLParser):
    BLOCKS = frozenset({"p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "blockquote"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style", "head"):
            self.skip += 1
        elif tag in self.BLOCKS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style", "head"):
            self.skip = max(0, self.skip - 1)
        elif tag in self.BLOCKS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self.skip:
            self.parts.append(data)


def html_to_text(html: str) -> str:
    """Readable text from an HTML email body (tags dropped, blocks on their own lines)."""
    extractor = _TextExtractor()
    extractor.feed(html)
    extractor.close()
    lines = [" ".join(line.split()) for line in "".join(extractor.parts).split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def _attachments(message: EmailMessage) -> tuple[list[services.NewAttachment], list[dict[str, str]]]:
    """The attachments within the limits, and (filename, reason) for the others."""
    kept: list[services.NewAttachment] = []
    refused: list[dict[str, str]] = []
    for part in message.iter_attachments():
        filename = (part.get_filename() or "attachment").replace("/", "_").replace("\\", "_")[:200]
        content_type = part.get_content_type()
        content = part.get_payload(decode=True) or b""
        reason = None
        if content_type not in ATTACHMENT_TYPES:
            reason = f"{content_type} files are not accepted"
        elif len(content) > MAX_ATTACHMENT_BYTES:
            reason = f"larger than {MAX_ATTACHMENT_BYTES // (1024 * 1024)} MB"
        elif not content_matches_type(content_type, content):
            reason = f"the content is not {content_type}"
        elif len(kept) >= MAX_ATTACHMENTS:
            reason = f"more than {MAX_ATTACHMENTS} attachments"
        if reason:
            refused.append({"filename": filename, "reason": reason})
        else:
            kept.append(services.NewAttachment(filename, content_type, content))
    return kept, refused


EMAIL_CHANNEL_CODE = "email"  # inbound_payloads rows that hold a received email


def store_inbound_email(session: Session, raw: bytes, *, source: str, now: datetime) -> InboundPayload:
    """Keep the raw message before anything reads it (an inbound_payloads row). Bytes that are not UTF-8
    (8-bit MIME in another charset) are kept base64-encoded, so nothing is lost."""
    try:
        body, headers = raw.decode("utf-8"), {}
    except UnicodeDecodeError:
        body, headers = base64.b64encode(raw).decode("ascii"), {"encoding": "base64"}
    payload = InboundPayload(
        channel_code=EMAIL_CHANNEL_CODE,
        source=source,
        topic="inbound_email",
        body=body,
        headers=headers,
        sha256=hashlib.sha256(raw).hexdigest(),
        status="received",
        received_at=now,
    )
    session.add(payload)
    session.flush()
    return payload


def stored_email_bytes(payload: InboundPayload) -> bytes:
    """The message exactly as it was received."""
    if (payload.headers or {}).get("encoding") == "base64":
        return base64.b64decode(payload.body)
    return payload.body.encode("utf-8")


def process_inbound_email(
    session: Session, payload: InboundPayload, *, secret: str, now: datetime
) -> InboundResult:
    """Read a stored message into the helpdesk; the payload keeps the outcome, or why it was refused
    (DomainError, re-raised after recording it)."""
    try:
        result = receive_email(session, stored_email_bytes(payload), secret=secret, now=now)
    except DomainError as exc:
        payload.status, payload.error, payload.processed_at = "rejected", str(exc), now
        raise
    payload.status = "processed" if result.status in ("threaded", "created") else result.status
    payload.error = result.reason
    payload.processed_at = now
    return result
