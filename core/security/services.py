"""Account writes and sign-in checks."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.audit.services import record_audit
from core.errors import DomainError, NotFound
from core.security.models import User
from core.security.passwords import MIN_PASSWORD_LENGTH, hash_password, needs_rehash, verify_password
from core.security.permissions import Permission, actor_grant
from core.security.roles import Actor, Role, is_staff

# Verified against when the email is unknown, so a wrong email costs as much time as a wrong password.
_DUMMY_HASH = hash_password("not-a-real-password-used-for-timing")


def create_user(
    session: Session,
    email: str,
    password: str,
    *,
    role: str,
    name: str = "",
    customer_id: int | None = None,
    now: datetime,
) -> User:
    """A new account; the email must be unused and the password long enough."""
    email = email.strip().lower()
    if "@" not in email:
        raise DomainError("enter a valid email address")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise DomainError(f"the password must have at least {MIN_PASSWORD_LENGTH} characters")
    if role != Role.CUSTOMER and not is_staff(role):
        raise DomainError(f"unknown role {role!r}")
    if session.scalar(select(User.id).where(User.email == email)) is not None:
        raise DomainError("an account with this email already exists")
    user = User(
        email=email,
        name=name,
        password_hash=hash_password(password),
        role=role,
        customer_id=customer_id,
        created_at=now,
    )
    session.add(user)
    session.flush()
    return user


def authenticate(session: Session, email: str, password: str) -> User | None:
    """The active user with this email and password, or None (same answer and cost for any failure).

    It only reads, so the slow password check holds no write lock; record_sign_in writes, afterwards."""
    user = session.scalar(select(User).where(User.email == email.strip().lower()))
    if user is None:
        verify_password(_DUMMY_HASH, password)
        return None
    if not verify_password(user.password_hash, password) or not user.active:
        return None
    return user


def record_sign_in(session: Session, user_id: int, password: str, *, now: datetime) -> User:
    """Note a successful sign-in: the time, and the password's hash renewed when its parameters are old."""
    user = renew_password_hash(session, user_id, password)
    user.last_login_at = now
    return user


def renew_password_hash(session: Session, user_id: int, password: str) -> User:
    """Hash the (just verified) password again when its hash was made with weaker parameters than today's."""
    user = session.get_one(User, user_id)
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    return user


def set_availability(session: Session, user_id: int, available: bool, *, actor: Actor, now: datetime) -> User:
    """Mark a staff member available (or not) for new tickets by round-robin; audited when it changes.
    Agents set their own; setting someone else's needs an admin."""
    user = session.get(User, user_id)
    if user is None or not is_staff(user.role):
        raise NotFound("staff member not found")
    if actor.user_id != user_id:
        grant = actor_grant(session, actor) if actor.role is not None else None
        if grant is None or not grant.allows(Permission.MANAGE_USERS):
            raise DomainError("only an admin can change a colleague's availability")
    if user.available != available:
        before = user.available
        user.available = available
        record_audit(
            session,
            actor,
            "user.availability_changed",
            "user",
            user.id,
            now=now,
            before={"available": before},
            after={"available": available},
        )
    return user
