"""The merchant's wording of the customer emails: a subject, an intro (after the greeting) and an outro (after
the shipped text) per notification kind, stored in `email_texts`; a blank field keeps the shipped default.

Texts are plain text (escaped in the HTML part; a blank line starts a new paragraph) and may name
{order_number}, {channel} and {first_name}, replaced when the email is rendered."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.audit.services import record_audit
from core.configuration.models import EmailText
from core.errors import DomainError
from core.security.roles import Actor

# The editable kinds, with the subject each is sent with by default (core/notifications/services.py).
DEFAULT_SUBJECTS: dict[str, str] = {
    "order_confirmed": "Your order {order_number} is confirmed",
    "order_backordered": "Your order {order_number} is waiting for stock",
    "order_cancelled": "Your order {order_number} is cancelled",
    "shipment_shipped": "Your order {order_number} is on its way",
    "shipment_out_for_delivery": "Your order {order_number} is out for delivery",
    "shipment_delivered": "Your order {order_number} has been delivered",
    "shipment_delayed": "Your order {order_number} is running late",
    "order_refunded": "Your refund for order {order_number}",
    "return_approved": "Your return is approved",
    "return_received": "We received your return",
    "return_refunded": "Your refund for your return",
}
PLACEHOLDERS = ("{order_number}", "{channel}", "{first_name}")
LIMITS = {"subject": 200, "intro": 2000, "outro": 2000}


@dataclass(frozen=True)
class EmailTexts:
    """One kind's texts as the settings page shows them (blank: the shipped default)."""

    kind: str
    subject: str
    intro: str
    outro: str
    default_subject: str
    customised: bool


def email_text_list(session: Session) -> list[EmailTexts]:
    """Every editable kind with its texts (one query)."""
    stored = {row.kind: row for row in session.scalars(select(EmailText))}
    return [_texts(kind, stored.get(kind)) for kind in DEFAULT_SUBJECTS]


def email_texts(session: Session, kind: str) -> EmailTexts:
    """One kind's texts; DomainError for a kind that has none to edit."""
    _editable(kind)
    return _texts(kind, session.get(EmailText, kind))


def set_email_texts(
    session: Session, kind: str, *, subject: str, intro: str, outro: str, actor: Actor, now: datetime
) -> EmailTexts:
    """Save a kind's texts (blank fields fall back to the shipped text); audited with before and after."""
    _editable(kind)
    values = {
        "subject": " ".join(subject.split()),
        "intro": intro.replace("\r\n", "\n").strip(),
        "outro": outro.replace("\r\n", "\n").strip(),
    }
    for field, value in values.items():
        if len(value) > LIMITS[field]:
            raise DomainError(f"the {field} must be at most {LIMITS[field]} characters")
        for brace in ("{", "}"):
            stripped = value
            for name in PLACEHOLDERS:
                stripped = stripped.replace(name, "")
            if brace in stripped:
                raise DomainError(f"the {field} may name only {', '.join(PLACEHOLDERS)} in braces")
    row = session.get(EmailText, kind)
    before = _audited(row)
    if row is None:
        row = EmailText(kind=kind)
        session.add(row)
    row.subject, row.intro, row.outro, row.updated_at = (
        values["subject"],
        values["intro"],
        values["outro"],
        now,
    )
    after = _audited(row)
    if after != before:
        record_audit(
            session, actor, "email_texts.change", "email_texts", kind, now=now, before=before, after=after
        )
    session.flush()
    return _texts(kind, row)


def merchant_texts(session: Session, kind: str, context: dict[str, Any]) -> dict[str, str]:
    """What a rendered email of `kind` adds from the merchant's texts: `custom_subject`, `custom_intro` and
    `custom_outro`, placeholders filled from the email's context (empty when not customised)."""
    row = session.get(EmailText, kind) if kind in DEFAULT_SUBJECTS else None
    if row is None:
        return {"custom_subject": "", "custom_intro": "", "custom_outro": ""}
    order = context.get("order") or {}
    number = order.get("number") if isinstance(order, dict) else getattr(order, "number", "")
    values = {
        "{order_number}": str(number or ""),
        "{channel}": str(context.get("channel_name") or context.get("sender_name") or ""),
        "{first_name}": str(context.get("greeting_name") or ""),
    }

    def fill(text: str) -> str:
        for name, value in values.items():
            text = text.replace(name, value)
        return text

    return {
        "custom_subject": fill(row.subject),
        "custom_intro": fill(row.intro),
        "custom_outro": fill(row.outro),
    }


def _editable(kind: str) -> None:
    if kind not in DEFAULT_SUBJECTS:
        raise DomainError(f"{kind!r} has no editable texts: choose one of {', '.join(DEFAULT_SUBJECTS)}")


def _texts(kind: str, row: EmailText | None) -> EmailTexts:
    return EmailTexts(
        kind=kind,
        subject=row.subject if row else "",
        intro=row.intro if row else "",
        outro=row.outro if row else "",
        default_subject=DEFAULT_SUBJECTS[kind],
        customised=bool(row and (row.subject or row.intro or row.outro)),
    )


def _audited(row: EmailText | None) -> dict[str, str] | None:
    return None if row is None else {"subject": row.subject, "intro": row.intro, "outro": row.outro}
