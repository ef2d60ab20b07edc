"""Server-side sign-in sessions. A sign-in makes a row holding the SHA-256 of a random token; the session
cookie and the remember-me cookie carry the token. Every request finds the row by the token's hash, checks
it is still alive (account active, password not changed since, not idle too long, not too old) and notes
when it was last seen. Signing out deletes the row, so a copied cookie stops working at once."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from core.security.models import AuthSession, User
from core.security.roles import Role

# last_seen_at is written at most this often per session: not on every request.
TOUCH_EVERY = timedelta(minutes=1)


@dataclass(frozen=True)
class SessionPolicy:
    """How long sessions live. Staff are signed out after `staff_idle` without a request and after
    `staff_max` whatever they do; customers after `customer_idle` and `customer_max`, or, when they ticked
    "keep me signed in", after `remember` without a visit (and `remember` after signing in at most)."""

    staff_idle: timedelta = timedelta(minutes=30)
    staff_max: timedelta = timedelta(hours=12)
    customer_idle: timedelta = timedelta(hours=2)
    customer_max: timedelta = timedelta(hours=24)
    remember: timedelta = timedelta(days=14)

    def limits(self, role: str, remember: bool) -> tuple[timedelta, timedelta]:
        """(idle limit, absolute limit) of a session for this role; remember-me is for customers only."""
        if role != Role.CUSTOMER:
            return self.staff_idle, self.staff_max
        if remember:
            return self.remember, self.remember
        return self.customer_idle, self.customer_max


@dataclass(frozen=True)
class ResumedSession:
    """A live session found by its token: the user, the row, and whether last_seen_at is due a write."""

    user: User
    record: AuthSession
    needs_touch: bool


def token_hash(token: str) -> str:
    """What the database keeps of a session token."""
    return hashlib.sha256(token.encode()).hexdigest()


def start_session(
    session: Session,
    user: User,
    *,
    remember: bool,
    two_factor: bool,
    ip_address: str | None,
    user_agent: str,
    policy: SessionPolicy,
    now: datetime,
) -> str:
    """A new session for `user` (remember-me only for customers); returns the token for the cookies. The
    user's sessions that have already expired are removed on the way."""
    remove_expired_sessions(session, user, policy=policy, now=now)
    token = secrets.token_urlsafe(32)
    session.add(
        AuthSession(
            token_hash=token_hash(token),
            user_id=user.id,
            session_version=user.session_version,
            remember=remember and user.role == Role.CUSTOMER,
            two_factor=two_factor,
            ip_address=(ip_address or "")[:64] or None,
            user_agent=(user_agent or "")[:300],
            created_at=now,
            last_seen_at=now,
        )
    )
    session.flush()
    user.attach_session_token(token)
    return token


def resume_session(
    session: Session, token: str, *, policy: SessionPolicy, now: datetime
) -> ResumedSession | None:
    """The live session of a cookie's token, or None (unknown, signed out, expired, account deactivated,
    or signed out everywhere since). Only reads: the caller writes the touch (`touch_session`) when due."""
    if not token or len(token) > 100:
        return None
    row = session.execute(
        select(AuthSession, User)
        .join(User, User.id == AuthSession.user_id)
        .where(AuthSession.token_hash == token_hash(token))
    ).first()
    if row is None:
        return None
    record, user = row
    if not is_alive(record, user, policy=policy, now=now):
        return None
    user.attach_session_token(token)
    return ResumedSession(user=user, record=record, needs_touch=now - record.last_seen_at >= TOUCH_EVERY)


def is_alive(record: AuthSession, user: User, *, policy: SessionPolicy, now: datetime) -> bool:
    """True while the session may be used: the account active, not signed out everywhere since, not idle
    or old past the policy's limits."""
    idle, maximum = policy.limits(user.role, record.remember)
    return (
        user.active
        and record.session_version == user.session_version
        and now - record.last_seen_at < idle
        and now - record.created_at < maximum
    )


def touch_session(session: Session, token: str, *, now: datetime) -> None:
    """Note that the session was used now."""
    session.execute(
        update(AuthSession).where(AuthSession.token_hash == token_hash(token)).values(last_seen_at=now)
    )


def mark_two_factor(session: Session, user_id: int, value: bool, *, token: str | None = None) -> None:
    """Note on the user's sessions (or only the one of `token`) whether a second factor is behind them."""
    statement = update(AuthSession).where(AuthSession.user_id == user_id)
    if token:
        statement = statement.where(AuthSession.token_hash == token_hash(token))
    session.execute(statement.values(two_factor=value))


def end_session(session: Session, token: str) -> AuthSession | None:
    """Delete the session of this token (sign out); returns the row deleted, if any."""
    record = session.scalar(select(AuthSession).where(AuthSession.token_hash == token_hash(token)))
    if record is not None:
        session.delete(record)
        session.flush()
    return record


def end_session_by_id(session: Session, user_id: int, session_id: int) -> bool:
    """Delete one of the user's own sessions (from the list on the security page); False if not theirs."""
    result = session.execute(
        delete(AuthSession).where(AuthSession.id == session_id, AuthSession.user_id == user_id)
    )
    return result.rowcount > 0


def end_all_sessions(session: Session, user_id: int, *, keep_token: str | None = None) -> int:
    """Delete every session of the user (but the one of `keep_token`, when given); returns how many."""
    statement = delete(AuthSession).where(AuthSession.user_id == user_id)
    if keep_token:
        statement = statement.where(AuthSession.token_hash != token_hash(keep_token))
    return session.execute(statement).rowcount


def remove_expired_sessions(session: Session, user: User, *, policy: SessionPolicy, now: datetime) -> int:
    """Delete the user's sessions that can no longer be used."""
    dead = [
        record.id
        for record in session.scalars(select(AuthSession).where(AuthSession.user_id == user.id))
        if not is_alive(record, user, policy=policy, now=now)
    ]
    if dead:
        session.execute(delete(AuthSession).where(AuthSession.id.in_(dead)))
    return len(dead)


def active_sessions(
    session: Session, user: User, *, policy: SessionPolicy, now: datetime
) -> list[AuthSession]:
    """The user's live sessions, most recently used first (for the security page)."""
    records = session.scalars(
        select(AuthSession).where(AuthSession.user_id == user.id).order_by(AuthSession.last_seen_at.desc())
    )
    return [record for record in records if is_alive(record, user, policy=policy, now=now)]
