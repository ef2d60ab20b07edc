"""Customer accounts: sign-up, email verification (which links orders placed anywhere with that email),
password reset. Links carry signed tokens made when the email is rendered, so no token is stored: each is
bound to the account's state (the password hash, and for verification the address still unconfirmed), so
it works once and dies with a password change."""

from __future__ import annotations

from datetime import datetime, timedelta

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core.audit.services import record_audit
from core.customers.models import Customer
from core.errors import DomainError
from core.notifications.models import OutboxMessage
from core.orders.models import Order
from core.security.models import User
from core.security.passwords import MIN_PASSWORD_LENGTH, WrongPassword, hash_password, verify_password
from core.security.roles import Actor, Role
from core.security.services import create_user
from core.security.sessions import end_all_sessions
from core.security.tokens import InvalidToken

VERIFY_SALT = "crossdock.verify-email"
RESET_SALT = "crossdock.password-reset"
VERIFY_MAX_AGE = int(timedelta(days=3).total_seconds())
RESET_MAX_AGE = int(timedelta(hours=1).total_seconds())


def _serializer(secret: str, salt: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret, salt=salt)


def _fingerprint(user: User) -> str:
    # Part of the password hash: a reset link stops working once the password has changed (single use).
    return user.password_hash[-16:]


def make_verify_token(secret: str, user: User) -> str:
    """The token in an email-verification link: for this address and this password (a reset kills it)."""
    return _serializer(secret, VERIFY_SALT).dumps([user.id, user.email, _fingerprint(user)])


def make_reset_token(secret: str, user: User) -> str:
    """The token in a password-reset link; valid for an hour and only until the password changes."""
    return _serializer(secret, RESET_SALT).dumps([user.id, _fingerprint(user)])


def _read(secret: str, salt: str, token: str, max_age: int, *, size: int = 2) -> list[object]:
    try:
        value = _serializer(secret, salt).loads(token, max_age=max_age)
    except SignatureExpired as exc:
        raise InvalidToken("this link has expired: ask for a new one") from exc
    except BadSignature as exc:
        raise InvalidToken("this link is not valid") from exc
    if not isinstance(value, list) or len(value) != size or not isinstance(value[0], int):
        raise InvalidToken("this link is not valid")
    return value


def _queue(session: Session, kind: str, user: User, subject: str, *, now: datetime) -> None:
    # One email of a kind per user per minute, however often the button is pressed.
    key = f"{kind}:{user.id}:{now:%Y%m%d%H%M}"
    try:
        with session.begin_nested():
            session.add(
                OutboxMessage(
                    kind=kind,
                    transport="email",
                    dedup_key=key,
                    recipient=user.email,
                    subject=subject,
                    payload={"user_id": user.id},
                    next_attempt_at=now,
                    created_at=now,
                )
            )
    except IntegrityError:
        pass


def sign_up_customer(session: Session, email: str, password: str, name: str, *, now: datetime) -> User:
    """A new customer account, unverified until the emailed link is followed."""
    if not name.strip():
        raise DomainError("enter your name")
    user = create_user(session, email, password, role=Role.CUSTOMER, name=name.strip()[:200], now=now)
    _queue(session, "account_verify", user, "Confirm your email address", now=now)
    return user


def resend_verification(session: Session, email: str, *, now: datetime) -> None:
    """Send the verification link again (silently nothing for unknown or verified addresses)."""
    user = session.scalar(select(User).where(User.email == email.strip().lower(), User.role == Role.CUSTOMER))
    if user is not None and user.email_verified_at is None and user.active:
        _queue(session, "account_verify", user, "Confirm your email address", now=now)


def verification_account(session: Session, secret: str, token: str) -> User:
    """The account a verification link confirms, checked but not used up (the page that asks to confirm).
    InvalidToken when forged, expired, already used, or made before the password changed."""
    user_id, email, fingerprint = _read(secret, VERIFY_SALT, token, VERIFY_MAX_AGE, size=3)
    user = session.get(User, user_id)
    if user is None or user.email != email or user.role != Role.CUSTOMER or not user.active:
        raise InvalidToken("this link is not valid")
    if _fingerprint(user) != fingerprint:
        raise InvalidToken("this link is no longer valid: the password has changed since it was sent")
    if user.email_verified_at is not None:
        raise InvalidToken("this link has already been used: your email is confirmed, so just sign in")
    return user


def verify_email(
    session: Session, secret: str, token: str, *, now: datetime, ip_address: str | None = None
) -> tuple[User, int]:
    """Mark the address verified (the link then stops working) and link the account to the customer with
    that email, and every order placed with it on any channel; returns (user, orders linked). It does not
    sign anyone in."""
    user = verification_account(session, secret, token)
    user = session.get_one(User, user.id, with_for_update=True, populate_existing=True)
    if user.email_verified_at is not None:  # a concurrent confirmation got there first
        raise InvalidToken("this link has already been used: your email is confirmed, so just sign in")
    user.email_verified_at = now
    linked = _link_customer(session, user, now=now)
    actor = Actor(label=user.email, user_id=user.id, role=user.role, ip_address=ip_address)
    record_audit(
        session, actor, "account.email_confirmed", "user", user.id, now=now, after={"orders": linked}
    )
    return user, linked


def _link_customer(session: Session, user: User, *, now: datetime) -> int:
    """Attach the verified account to its customer (or a new one) and to every order with its email."""
    if user.customer_id is None:
        customer = session.scalar(
            select(Customer)
            .where(Customer.email == user.email, Customer.merged_into_id.is_(None))
            .order_by(Customer.id)
        )
        taken = customer is not None and session.scalar(
            select(User.id).where(User.customer_id == customer.id)
        )
        if customer is None or taken:
            customer = Customer(name=user.name, email=user.email, created_at=now)
            session.add(customer)
            session.flush()
        user.customer_id = customer.id
    return session.execute(
        update(Order)
        .where(
            Order.email == user.email, (Order.customer_id != user.customer_id) | Order.customer_id.is_(None)
        )
        .values(customer_id=user.customer_id)
    ).rowcount


def request_password_reset(session: Session, email: str, *, now: datetime) -> None:
    """Email a reset link if the account exists; the caller answers the same either way."""
    user = session.scalar(select(User).where(User.email == email.strip().lower()))
    if user is not None and user.active:
        _queue(session, "password_reset", user, "Reset your password", now=now)


def reset_password(
    session: Session,
    secret: str,
    token: str,
    new_password: str,
    *,
    now: datetime,
    ip_address: str | None = None,
) -> User:
    """Set a new password from a reset link; every existing session is signed out (audited)."""
    user_id, fingerprint = _read(secret, RESET_SALT, token, RESET_MAX_AGE)
    user = session.get(User, user_id)
    if user is None or not user.active or _fingerprint(user) != fingerprint:
        raise InvalidToken("this link has already been used or is not valid")
    if len(new_password) < MIN_PASSWORD_LENGTH:
        raise DomainError(f"the password must have at least {MIN_PASSWORD_LENGTH} characters")
    user.password_hash = hash_password(new_password)
    user.session_version += 1
    ended = end_all_sessions(session, user.id)
    if user.email_verified_at is None:
        user.email_verified_at = now  # the link proved the address
        if user.role == Role.CUSTOMER:
            _link_customer(session, user, now=now)
    actor = Actor(label=user.email, user_id=user.id, role=user.role, ip_address=ip_address)
    record_audit(
        session, actor, "auth.password_reset", "user", user.id, now=now, after={"sessions_ended": ended}
    )
    return user


def change_password(
    session: Session,
    user: User,
    current: str,
    new_password: str,
    *,
    keep_token: str | None,
    actor: Actor,
    now: datetime,
) -> int:
    """Change a signed-in user's password (the current one re-entered); every other session of theirs ends,
    and links made for the old password (reset, confirmation) stop working. Returns the sessions ended."""
    if not verify_password(user.password_hash, current):
        raise WrongPassword("that is not your current password")
    if len(new_password) < MIN_PASSWORD_LENGTH:
        raise DomainError(f"the new password must have at least {MIN_PASSWORD_LENGTH} characters")
    if new_password == current:
        raise DomainError("choose a new password different from the current one")
    user.password_hash = hash_password(new_password)
    ended = end_all_sessions(session, user.id, keep_token=keep_token)
    record_audit(
        session, actor, "auth.password_changed", "user", user.id, now=now, after={"sessions_ended": ended}
    )
    return ended
