"""Guest access to one order without an account: proof checks and short-lived tokens bound to the order."""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime, timedelta

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy.orm import Session

from core.security import ratelimit

GUEST_TOKEN_MAX_AGE = 2 * 60 * 60  # seconds a guest keeps access after proving who they are
_SALT = "crossdock-guest-order"


def normalize_postcode(value: str | None) -> str:
    """Postcodes compare without spaces, dashes or case ("sw1a 1aa" == "SW1A1AA")."""
    return "".join(ch for ch in (value or "").upper() if ch.isalnum())


def proof_matches(proof: str, *, email: str | None, postcode: str | None) -> bool:
    """True when `proof` is the order's email (any case) or its shipping postcode."""
    proof = proof.strip()
    if not proof:
        return False
    if "@" in proof:
        return bool(email) and proof.lower() == (email or "").lower()
    wanted = normalize_postcode(postcode)
    return bool(wanted) and normalize_postcode(proof) == wanted


def make_guest_token(secret: str, order_id: int) -> str:
    """A signed token granting access to this one order."""
    return URLSafeTimedSerializer(secret, salt=_SALT).dumps({"order": order_id})


def guest_token_order(secret: str, token: str, *, max_age: int = GUEST_TOKEN_MAX_AGE) -> int | None:
    """The order id a valid, unexpired token grants, else None."""
    try:
        data = URLSafeTimedSerializer(secret, salt=_SALT).loads(token, max_age=max_age)
    except (BadSignature, SignatureExpired):
        return None
    order_id = data.get("order") if isinstance(data, dict) else None
    return order_id if isinstance(order_id, int) else None


GUEST_CODE_WINDOW_SECONDS = 10 * 60
GUEST_CODE_WINDOWS = 3  # a code works in the window it was made in and the two after: 20 to 30 minutes


def code_window(now: datetime) -> int:
    """The number of the 10-minute window `now` falls in."""
    return int(now.timestamp()) // GUEST_CODE_WINDOW_SECONDS


def guest_code(secret: str, order_id: int, window: int) -> str:
    """The six-digit code for one order in one time window (nothing is stored: it is recomputed to check)."""
    digest = hmac.new(secret.encode(), f"guest-code:{order_id}:{window}".encode(), hashlib.sha256).digest()
    return f"{int.from_bytes(digest[:8], 'big') % 1_000_000:06d}"


def check_guest_code(secret: str, order_id: int, code: str, *, now: datetime) -> bool:
    """True when `code` is the order's code of the current window or one of the two before it."""
    code = "".join(ch for ch in code if ch.isdigit())
    if len(code) != 6:
        return False
    current = code_window(now)
    return any(
        hmac.compare_digest(code, guest_code(secret, order_id, window))
        for window in range(current - GUEST_CODE_WINDOWS + 1, current + 1)
    )


def redeem_guest_code(session: Session, secret: str, order_id: int, code: str, *, now: datetime) -> bool:
    """`check_guest_code`, once: a right code is spent by opening the order (remembered for as long as it
    could work), so a second use of it is refused like a wrong one."""
    if not check_guest_code(secret, order_id, code, now=now):
        return False
    digits = "".join(ch for ch in code if ch.isdigit())
    lifetime = timedelta(seconds=GUEST_CODE_WINDOW_SECONDS * GUEST_CODE_WINDOWS)
    return ratelimit.hit(session, f"guest-code:used:{order_id}:{digits}", limit=1, window=lifetime, now=now)
