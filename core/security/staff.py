"""Staff accounts managed by admins: invite by email (a single-use link to choose a password), change a
role, deactivate or reactivate, send a password reset. Each change is audited; an admin can't lock
themselves out, and the last active admin stays one."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.audit.services import record_audit
from core.errors import DomainError, NotFound
from core.notifications.models import OutboxMessage
from core.security.accounts import request_password_reset
from core.security.models import User
from core.security.passwords import MIN_PASSWORD_LENGTH, hash_password
from core.security.permissions import is_staff_role
from core.security.roles import Actor, Role, is_staff
from core.security.services import create_user
from core.security.tokens import InvalidToken

INVITE_SALT = "crossdock.staff-invite"
INVITE_MAX_AGE = int(timedelta(days=7).total_seconds())


def make_invite_token(secret: str, user: User) -> str:
    """The token in an invitation link: valid for a week and only until a password is chosen."""
    return URLSafeTimedSerializer(secret, salt=INVITE_SALT).dumps([user.id, user.password_hash[-16:]])


def invite_staff(session: Session, email: str, name: str, role: str, *, actor: Actor, now: datetime) -> User:
    """A new staff account without a usable password, and the emailed link to choose one."""
    if not is_staff_role(session, role):
        raise DomainError(
            f"unknown staff role {role!r}: use agent, manager, admin or a role on the Roles page"
        )
    if not name.strip():
        raise DomainError("enter the person's name")
    # A random password nobody knows: the account can't be signed into until the invitation is accepted.
    user = create_user(session, email, secrets.token_urlsafe(32), role=role, name=name.strip()[:200], now=now)
    _queue_invite(session, user, now=now)
    after = {"email": user.email, "role": user.role}
    record_audit(session, actor, "user.invite", "user", user.id, now=now, after=after)
    return user


def add_staff(
    session: Session, email: str, name: str, role: str, password: str, *, actor: Actor, now: datetime
) -> User:
    """A staff account with a password chosen now (the first admin of a new installation, from the CLI)."""
    if not is_staff_role(session, role):
        raise DomainError(
            f"unknown staff role {role!r}: use agent, manager, admin or a role on the Roles page"
        )
    if not name.strip():
        raise DomainError("enter the person's name")
    user = create_user(session, email, password, role=role, name=name.strip()[:200], now=now)
    user.email_verified_at = now
    after = {"email": user.email, "role": user.role}
    record_audit(session, actor, "user.add", "user", user.id, now=now, after=after)
    return user


def resend_invite(session: Session, user_id: int, *, actor: Actor, now: datetime) -> User:
    """Send the invitation again to someone who has not accepted it yet."""
    user = _staff(session, user_id)
    if user.email_verified_at is not None:
        raise DomainError(f"{user.email} has already accepted the invitation")
    _queue_invite(session, user, now=now)
    record_audit(session, actor, "user.invite_resent", "user", user.id, now=now)
    return user


def accept_invite(
    session: Session, secret: str, token: str, password: str, *, now: datetime, ip_address: str | None = None
) -> User:
    """Choose a password from an invitation link; the link then stops working."""
    try:
        serializer = URLSafeTimedSerializer(secret, salt=INVITE_SALT)
        user_id, fingerprint = serializer.loads(token, max_age=INVITE_MAX_AGE)
    except SignatureExpired as exc:
        raise InvalidToken("this invitation has expired: ask an admin to send a new one") from exc
    except (BadSignature, ValueError, TypeError) as exc:
        raise InvalidToken("this invitation link is not valid") from exc
    user = session.get(User, user_id) if isinstance(user_id, int) else None
    usable = user is not None and user.active and is_staff(user.role)
    if not usable or user.password_hash[-16:] != fingerprint:
        raise InvalidToken("this invitation has already been used or is not valid")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise DomainError(f"the password must have at least {MIN_PASSWORD_LENGTH} characters")
    user.password_hash = hash_password(password)
    user.email_verified_at = now
    user.session_version += 1
    invitee = Actor(label=user.email, user_id=user.id, role=user.role, ip_address=ip_address)
    record_audit(
        session, invitee, "user.invite_accepted", "user", user.id, now=now, after={"password": "set"}
    )
    return user


def change_staff_role(session: Session, user_id: int, role: str, *, actor: Actor, now: datetime) -> User:
    """Give a staff member another staff role (not one's own; the last active admin stays admin)."""
    user = _staff(session, user_id)
    if not is_staff_role(session, role):
        raise DomainError(
            f"unknown staff role {role!r}: use agent, manager, admin or a role on the Roles page"
        )
    if user.role == role:
        return user
    _not_self(user, actor, "change your own role")
    if user.role == Role.ADMIN and user.active:
        _keep_an_admin(session, "demote")
    before = user.role
    user.role = role
    user.session_version += 1  # pages and permissions follow the new role from the next request
    record_audit(
        session, actor, "user.role", "user", user.id, now=now, before={"role": before}, after={"role": role}
    )
    return user


def set_staff_active(session: Session, user_id: int, active: bool, *, actor: Actor, now: datetime) -> User:
    """Deactivate a staff member (signed out everywhere, can't sign in) or bring them back."""
    user = _staff(session, user_id)
    if user.active == active:
        return user
    if not active:
        _not_self(user, actor, "deactivate yourself")
        if user.role == Role.ADMIN:
            _keep_an_admin(session, "deactivate")
        user.session_version += 1
    user.active = active
    action = "user.reactivate" if active else "user.deactivate"
    before, after = {"active": not active}, {"active": active}
    record_audit(session, actor, action, "user", user.id, now=now, before=before, after=after)
    return user


def send_staff_password_reset(session: Session, user_id: int, *, actor: Actor, now: datetime) -> User:
    """Email the staff member a password-reset link (valid an hour, once)."""
    user = _staff(session, user_id)
    if not user.active:
        raise DomainError(f"{user.email} is deactivated: reactivate the account first")
    request_password_reset(session, user.email, now=now)
    record_audit(session, actor, "user.password_reset_sent", "user", user.id, now=now)
    return user


def _staff(session: Session, user_id: int) -> User:
    user = session.get(User, user_id, with_for_update=True)
    if user is None or not is_staff(user.role):
        raise NotFound(f"no staff account {user_id}")
    return user


def _not_self(user: User, actor: Actor, what: str) -> None:
    if actor.user_id == user.id:
        raise DomainError(f"you can't {what}: ask another admin")


def _keep_an_admin(session: Session, what: str) -> None:
    admins = session.scalar(
        select(func.count()).select_from(User).where(User.role == Role.ADMIN, User.active.is_(True))
    )
    if admins <= 1:
        raise DomainError(f"can't {what} the last active admin")


def _queue_invite(session: Session, user: User, *, now: datetime) -> None:
    session.add(
        OutboxMessage(
            kind="staff_invite",
            transport="email",
            dedup_key=f"staff_invite:{user.id}:{now:%Y%m%d%H%M%S%f}",
            recipient=user.email,
            subject="You're invited to the Crossdock console",
            payload={"user_id": user.id},
            next_attempt_at=now,
            created_at=now,
        )
    )
