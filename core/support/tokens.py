"""Tokens that point at one conversation: the reply-to address of our reply emails, and the link back to the
thread that opens it in the portal without signing in.

The reply-to token goes into an email address (`reply+c42-k3j9dk2k1l0sab7q@shop.example`), so it is short,
lower case and case-insensitive: the conversation id and 16 base32 characters of an HMAC-SHA256 over it.
It does not expire: a customer may answer an old email, and the worst a leaked token does is add a message
to that one conversation, which then reopens for an agent to read.

The rating link of the satisfaction survey is signed the same way as the thread link, with its own salt.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from datetime import timedelta

from itsdangerous import BadSignature, URLSafeTimedSerializer

REPLY_LOCAL_PART = "reply"
REPLY_ADDRESS_RE = re.compile(r"(?<![\w.+-])reply\+c(\d{1,12})-([a-z2-7]{16})@", re.IGNORECASE)
THREAD_SALT = "crossdock.conversation"
THREAD_MAX_AGE = int(timedelta(days=180).total_seconds())


def _signature(secret: str, conversation_id: int) -> str:
    if not secret:
        raise ValueError("a secret key is required to sign tokens")
    digest = hmac.new(secret.encode(), f"crossdock.reply:{conversation_id}".encode(), hashlib.sha256).digest()
    return base64.b32encode(digest).decode("ascii")[:16].lower()


def make_reply_token(secret: str, conversation_id: int) -> str:
    """The token that identifies a conversation in our reply-to address."""
    return f"c{conversation_id}-{_signature(secret, conversation_id)}"


def reply_address(secret: str, conversation_id: int, domain: str) -> str:
    """The address a customer answers our reply email at: `reply+<token>@<domain>`."""
    return f"{REPLY_LOCAL_PART}+{make_reply_token(secret, conversation_id)}@{domain}"


def conversation_from_addresses(secret: str, addresses: str) -> int | None:
    """The conversation id of the first reply-to address with a valid token in `addresses` (any header text);
    None when there is none. A damaged or forged token is ignored."""
    for match in REPLY_ADDRESS_RE.finditer(addresses):
        conversation_id = int(match.group(1))
        if hmac.compare_digest(match.group(2).lower(), _signature(secret, conversation_id)):
            return conversation_id
    return None


def make_thread_token(secret: str, conversation_id: int) -> str:
    """A token for the link in our reply email that opens the thread in the portal."""
    return URLSafeTimedSerializer(secret, salt=THREAD_SALT).dumps(conversation_id)


def read_thread_token(secret: str, token: str, max_age: int = THREAD_MAX_AGE) -> int | None:
    """The conversation id a thread link was made for; None when forged or expired."""
    try:
        value = URLSafeTimedSerializer(secret, salt=THREAD_SALT).loads(token, max_age=max_age)
    except BadSignature:  # expired included
        return None
    return value if isinstance(value, int) and not isinstance(value, bool) else None


RATING_SALT = "crossdock.satisfaction"
RATING_MAX_AGE = int(timedelta(days=30).total_seconds())


def make_rating_token(secret: str, rating_id: int) -> str:
    """A token for the link in our satisfaction survey email: it opens the rating page without signing in."""
    return URLSafeTimedSerializer(secret, salt=RATING_SALT).dumps(rating_id)


def read_rating_token(secret: str, token: str, max_age: int = RATING_MAX_AGE) -> int | None:
    """The survey (satisfaction rating) id a rating link was made for; None when forged or expired."""
    try:
        value = URLSafeTimedSerializer(secret, salt=RATING_SALT).loads(token, max_age=max_age)
    except BadSignature:  # expired included
        return None
    return value if isinstance(value, int) and not isinstance(value, bool) else None
