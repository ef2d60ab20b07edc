"""The sign-in flow's rules and records: who may try now (lockouts with back-off per account and per IP, a
request limit per IP), what a failure or a success leaves behind (throttles, a session, audit entries), and
signing out. The password check itself (argon2, slow on purpose) is `services.authenticate`, run by the
caller between `admit_sign_in` and the write that follows, outside any write transaction."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from core.audit.services import record_audit
from core.errors import DomainError
from core.security import ratelimit, sessions
from core.security.models import User
from core.security.ratelimit import Backoff
from core.security.roles import Actor
from core.security.services import renew_password_hash


class SignInLocked(DomainError):
    """Too many attempts: refused without checking anything; `retry_after` is in seconds."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"Too many attempts. Please wait {wait_text(retry_after)} and try again.")
        self.retry_after = retry_after


@dataclass(frozen=True)
class SignInPolicy:
    """Lockouts: an account (any IP) after 5 failures, an IP (any accounts) after 20, a second step after
    5 wrong codes, a password re-entry after 5 wrong passwords; each waits 1 minute, doubling per further
    failure up to an hour. Plus at most `requests_per_ip` sign-in requests per IP in `window`."""

    account: Backoff = field(default_factory=lambda: Backoff(threshold=5))
    ip: Backoff = field(default_factory=lambda: Backoff(threshold=20))
    second_step: Backoff = field(default_factory=lambda: Backoff(threshold=5))
    reauth: Backoff = field(default_factory=lambda: Backoff(threshold=5))
    requests_per_ip: int = 100
    window: timedelta = timedelta(minutes=15)


def wait_text(seconds: int) -> str:
    """ "30 seconds", "1 minute", "17 minutes": how long to wait, rounded up."""
    if seconds < 60:
        return f"{seconds} second{'s' if seconds != 1 else ''}"
    minutes = -(-seconds // 60)
    return f"{minutes} minute{'s' if minutes != 1 else ''}"


def normalize_email(email: str) -> str:
    return email.strip().lower()[:254]


def account_key(email: str) -> str:
    return f"sign-in:account:{normalize_email(email)}"[:200]


def ip_key(ip_address: str | None) -> str:
    return f"sign-in:ip:{ip_address or 'unknown'}"


def second_step_key(user_id: int) -> str:
    return f"two-factor:user:{user_id}"


def reauth_key(user_id: int) -> str:
    return f"reauth:user:{user_id}"


def visitor(email: str, ip_address: str | None, user: User | None = None) -> Actor:
    """The actor of a sign-in attempt, for the audit log: the account when known, else the email tried."""
    if user is not None:
        return Actor(label=user.email, user_id=user.id, role=user.role, ip_address=ip_address)
    return Actor(label=f"sign-in:{normalize_email(email)}"[:200], ip_address=ip_address)


def admit_sign_in(
    session: Session, email: str, ip_address: str | None, *, face: str, policy: SignInPolicy, now: datetime
) -> None:
    """Count the request and let it through to the password check, or raise SignInLocked (audited) while
    the account or the IP is locked out or the IP sent too many requests. The same for unknown emails."""
    wait = max(
        ratelimit.retry_after(session, [account_key(email), ip_key(ip_address)], now=now),
        ratelimit.hit_retry_after(
            session,
            f"sign-in:requests:{ip_address}",
            limit=policy.requests_per_ip,
            window=policy.window,
            now=now,
        ),
    )
    if wait:
        record_audit(
            session,
            visitor(email, ip_address),
            "auth.sign_in_locked",
            "user",
            "-",
            now=now,
            after={"email": normalize_email(email), "face": face, "retry_after": wait},
        )
        raise SignInLocked(wait)


def note_failed_sign_in(
    session: Session,
    email: str,
    ip_address: str | None,
    user: User | None,
    *,
    face: str,
    reason: str,
    policy: SignInPolicy,
    now: datetime,
) -> int:
    """A wrong password (or an account that can't sign in here): count it against the account and the IP,
    audit it; returns the seconds the account or IP is now locked for (0 if not)."""
    locked = max(
        ratelimit.record_failure(session, account_key(email), policy.account, now=now),
        ratelimit.record_failure(session, ip_key(ip_address), policy.ip, now=now),
    )
    record_audit(
        session,
        visitor(email, ip_address, user),
        "auth.sign_in_failed",
        "user",
        user.id if user is not None else "-",
        now=now,
        after={"email": normalize_email(email), "face": face, "reason": reason, "locked_for": locked},
    )
    return locked


def password_accepted(session: Session, email: str, user: User, password: str) -> None:
    """The password was right: the account's failures are forgiven (the IP's are not: they decay), and its
    hash renewed when made with weaker parameters than today's."""
    ratelimit.clear_failures(session, account_key(email))
    renew_password_hash(session, user.id, password)


def complete_sign_in(
    session: Session,
    user: User,
    *,
    remember: bool,
    two_factor: str | None,
    ip_address: str | None,
    user_agent: str,
    face: str,
    policy: sessions.SessionPolicy,
    now: datetime,
) -> str:
    """Sign the user in: a server-side session (its token for the cookies), the sign-in time, an audit
    entry. `two_factor` names the second factor given ("totp", "recovery") or is None."""
    user.last_login_at = now
    token = sessions.start_session(
        session,
        user,
        remember=remember,
        two_factor=two_factor is not None,
        ip_address=ip_address,
        user_agent=user_agent,
        policy=policy,
        now=now,
    )
    record_audit(
        session,
        visitor(user.email, ip_address, user),
        "auth.sign_in",
        "user",
        user.id,
        now=now,
        after={"face": face, "two_factor": two_factor, "remember": remember},
    )
    return token


def admit_second_step(
    session: Session, user_id: int, ip_address: str | None, *, policy: SignInPolicy, now: datetime
) -> None:
    """Let a two-factor code be checked, or raise SignInLocked after too many wrong codes (or requests)."""
    wait = max(
        ratelimit.retry_after(session, [second_step_key(user_id)], now=now),
        ratelimit.hit_retry_after(
            session,
            f"sign-in:requests:{ip_address}",
            limit=policy.requests_per_ip,
            window=policy.window,
            now=now,
        ),
    )
    if wait:
        raise SignInLocked(wait)


def note_failed_second_step(
    session: Session, user: User, ip_address: str | None, *, reason: str, policy: SignInPolicy, now: datetime
) -> int:
    """A wrong, expired or replayed two-factor code: counted and audited; returns the lockout in seconds."""
    locked = ratelimit.record_failure(session, second_step_key(user.id), policy.second_step, now=now)
    record_audit(
        session,
        visitor(user.email, ip_address, user),
        "auth.two_factor_failed",
        "user",
        user.id,
        now=now,
        after={"reason": reason, "locked_for": locked},
    )
    return locked


def second_step_accepted(session: Session, user_id: int) -> None:
    ratelimit.clear_failures(session, second_step_key(user_id))


def admit_reauth(session: Session, user_id: int, *, now: datetime) -> None:
    """Let a re-entered password (to change 2FA) be checked, or raise SignInLocked after too many wrong."""
    wait = ratelimit.retry_after(session, [reauth_key(user_id)], now=now)
    if wait:
        raise SignInLocked(wait)


def note_failed_reauth(session: Session, user_id: int, *, policy: SignInPolicy, now: datetime) -> int:
    return ratelimit.record_failure(session, reauth_key(user_id), policy.reauth, now=now)


def sign_out(session: Session, token: str, *, actor: Actor, now: datetime) -> bool:
    """End this browser's session (audited); False when it had already ended."""
    record = sessions.end_session(session, token)
    if record is None:
        return False
    record_audit(session, actor, "auth.sign_out", "user", record.user_id, now=now)
    return True


def sign_out_everywhere(session: Session, user: User, *, actor: Actor, now: datetime) -> int:
    """End every session of the user, this one included (audited); returns how many ended."""
    ended = sessions.end_all_sessions(session, user.id)
    user.session_version += 1  # a sign-in racing this one can't keep a session made from the old state
    record_audit(
        session, actor, "auth.sign_out_everywhere", "user", user.id, now=now, after={"sessions": ended}
    )
    return ended


def sign_out_session(session: Session, user: User, session_id: int, *, actor: Actor, now: datetime) -> bool:
    """End one other session of the user's, from the security page's list (audited)."""
    if not sessions.end_session_by_id(session, user.id, session_id):
        return False
    record_audit(
        session, actor, "auth.session_ended", "user", user.id, now=now, after={"session": session_id}
    )
    return True
