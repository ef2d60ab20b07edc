"""The reasons a return can be opened for: the merchant's list in `return_reasons` (set on the console's
Returns settings page), the shipped list while that table is empty. A retired reason is not offered any more
but still names the returns opened with it."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.returns.models import ReturnReason

# The shipped reasons (migration 0012 stores them), with the words shown back to the customer. "other" asks
# the customer for a few words of their own.
DEFAULT_REASONS = {
    "wrong_size": "wrong size",
    "damaged": "arrived damaged",
    "not_as_described": "not as described",
    "changed_mind": "changed my mind",
    "late": "arrived late",
    "other": "other",
}
NEEDS_TEXT = "other"


def offered_reasons(session: Session) -> dict[str, str]:
    """The reasons offered now, code -> words, in the merchant's order."""
    rows = session.execute(
        select(ReturnReason.code, ReturnReason.label, ReturnReason.active).order_by(
            ReturnReason.position, ReturnReason.code
        )
    ).all()
    if not rows:
        return dict(DEFAULT_REASONS)
    return {code: label for code, label, active in rows if active}


def reason_labels(session: Session) -> dict[str, str]:
    """The words of every reason, retired ones included, for showing returns already opened."""
    stored = dict(session.execute(select(ReturnReason.code, ReturnReason.label)).all())
    return DEFAULT_REASONS | stored
