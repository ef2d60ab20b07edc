"""How a guest proves an order in the chat, as on /track: its number with the email address or postcode it was
placed with, or a six-digit code emailed to that address (the /track-code email and its single-use check,
core.security.guest). Every attempt counts under the same limits as those pages, by IP and by order number."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from core.notifications.services import queue_guest_code
from core.orders import queries as order_queries
from core.orders.models import Order
from core.security import ratelimit
from core.security.guest import redeem_guest_code
from core.support.assistant.entities import Entities
from core.support.assistant.responder import SEND_CODE

PROOFS_PER_IP = 20  # the /track lookup's limits, shared with it
PROOFS_PER_ORDER = 5
PROOF_WINDOW = timedelta(minutes=15)
CODES_PER_IP = 20  # the /track-code limits, shared with it
CODES_PER_ORDER = 5
TYPED_CODE = re.compile(r"(?<![\d#-])(\d{3})[ -]?(\d{3})(?![\d-])")
ASKS_FOR_CODE = re.compile(r"\b(?:send|e-?mail|mail|text|get|new|another)\b.{0,30}\bcode\b", re.IGNORECASE)


def code_proof(
    session: Session,
    text: str,
    entities: Entities,
    state: dict[str, Any],
    *,
    ip_address: str | None,
    choice: str,
    secret: str,
    now: datetime,
) -> tuple[str | None, str | None, Order | None]:
    """A guest asking for an emailed code, or typing the one they got: (how it went, for which order
    number, the order proven). Sent or not, the reply is the same, so it tells no one which orders exist;
    the attempts count under the /track-code limits."""
    awaiting = state.get("awaiting")
    reference = next((r.number for r in entities.order_numbers), None) or state.get("reference")
    asks = choice == SEND_CODE or (awaiting in ("proof", "code") and bool(ASKS_FOR_CODE.search(text)))
    typed = TYPED_CODE.search(text) if awaiting == "code" and not choice else None
    if not asks and typed is None:
        return None, None, None
    if not reference:
        return "no_reference", None, None
    if not _code_attempt_allowed(session, reference, ip_address=ip_address, now=now):
        return "limited", reference, None
    order = _order_for_code(session, reference)
    if asks:
        if order is not None:
            queue_guest_code(session, order, now=now)
        return "sent", reference, None
    if order is not None and typed is not None and secret:
        if redeem_guest_code(session, secret, order.id, typed.group(1) + typed.group(2), now=now):
            return None, reference, order
    return "wrong", reference, None


def _code_attempt_allowed(session: Session, reference: str, *, ip_address: str | None, now: datetime) -> bool:
    allowed = ratelimit.hit(
        session, f"guest-code:ip:{ip_address}", limit=CODES_PER_IP, window=PROOF_WINDOW, now=now
    )
    return (
        ratelimit.hit(
            session,
            f"guest-code:ref:{reference.upper()}",
            limit=CODES_PER_ORDER,
            window=PROOF_WINDOW,
            now=now,
        )
        and allowed
    )


def _order_for_code(session: Session, reference: str) -> Order | None:
    """The order a code is for, by /track-code's lookup (a "#1001" reference also as ours)."""
    order = order_queries.find_order_by_reference(session, reference)
    if order is None and reference.startswith("#") and reference[1:].isdigit():
        for variant in (reference[1:], f"CD-{reference[1:]}"):
            order = order_queries.find_order_by_reference(session, variant)
            if order is not None:
                break
    return order


def prove_order(
    session: Session, reference: str, proofs: list[str], *, ip_address: str | None, now: datetime
) -> Order | None:
    """The /track guest proof (number plus email or postcode), under the same rate limits."""
    allowed = ratelimit.hit(
        session, f"guest-lookup:ip:{ip_address}", limit=PROOFS_PER_IP, window=PROOF_WINDOW, now=now
    )
    allowed = (
        ratelimit.hit(
            session,
            f"guest-lookup:ref:{reference.upper()}",
            limit=PROOFS_PER_ORDER,
            window=PROOF_WINDOW,
            now=now,
        )
        and allowed
    )
    if not allowed:
        return None
    variants = [reference]
    if reference.startswith("#") and reference[1:].isdigit():
        variants += [reference[1:], f"CD-{reference[1:]}"]
    for variant in variants:
        for proof in proofs:
            order = order_queries.find_order_for_guest(session, variant, proof)
            if order is not None:
                return order
    return None
