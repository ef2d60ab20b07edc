"""The merchant's return reasons: add one, reword it, reorder, retire or offer it again (each audited). A
reason's code never changes once returns may carry it; a retired reason still names those returns."""

from __future__ import annotations

import re
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.audit.services import record_audit
from core.errors import DomainError, NotFound
from core.returns.models import ReturnReason
from core.returns.reasons import DEFAULT_REASONS
from core.security.roles import Actor

LABEL_MAX = 100


def return_reason_rows(session: Session) -> list[ReturnReason]:
    """Every reason, offered or retired, in the order customers see them (the shipped ones stored first)."""
    _store_defaults(session)
    return list(session.scalars(select(ReturnReason).order_by(ReturnReason.position, ReturnReason.code)))


def add_return_reason(session: Session, label: str, *, actor: Actor, now: datetime) -> ReturnReason:
    """A new reason at the end of the list; its code is made from its words."""
    _store_defaults(session)
    label = _label(label)
    code = re.sub(r"[^a-z0-9]+", "_", label.lower()).strip("_")[:32] or "reason"
    if session.get(ReturnReason, code) is not None:
        raise DomainError(f"a reason like {label!r} already exists (code {code})")
    last = session.scalar(select(func.max(ReturnReason.position))) or 0
    reason = ReturnReason(code=code, label=label, active=True, position=last + 10)
    session.add(reason)
    session.flush()
    record_audit(session, actor, "return_reason.add", "return_reason", code, now=now, after=_audited(reason))
    return reason


def change_return_reason(
    session: Session, code: str, *, label: str, active: bool, position: int, actor: Actor, now: datetime
) -> ReturnReason:
    """Reword, reorder, retire or offer again one reason (one reason at least stays offered)."""
    _store_defaults(session)
    reason = session.get(ReturnReason, code)
    if reason is None:
        raise NotFound(f"no return reason {code!r}")
    if not 0 <= position <= 100_000:
        raise DomainError("the position must be a whole number from 0 to 100000")
    before = _audited(reason)
    if reason.active and not active:
        offered = session.scalar(select(func.count()).select_from(ReturnReason).where(ReturnReason.active))
        if offered <= 1:
            raise DomainError("at least one return reason must stay offered")
    reason.label, reason.active, reason.position = _label(label), active, position
    after = _audited(reason)
    if after != before:
        record_audit(
            session, actor, "return_reason.change", "return_reason", code, now=now, before=before, after=after
        )
    return reason


def _store_defaults(session: Session) -> None:
    # A database whose table was emptied by hand offers the shipped reasons (core.returns.reasons); editing
    # starts from them.
    if session.scalar(select(ReturnReason.code).limit(1)) is None:
        for n, (code, label) in enumerate(DEFAULT_REASONS.items(), start=1):
            session.add(ReturnReason(code=code, label=label, active=True, position=n * 10))
        session.flush()


def _label(label: str) -> str:
    label = " ".join(label.split())
    if not label or len(label) > LABEL_MAX:
        raise DomainError(f"a reason's words must be 1 to {LABEL_MAX} characters")
    return label


def _audited(reason: ReturnReason) -> dict[str, object]:
    return {"label": reason.label, "active": reason.active, "position": reason.position}
