"""Sign-in accounts: staff (agent, manager, admin) and customers."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, false
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base, utcnow


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    password_hash: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(16))  # customer, agent, manager, admin
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"), unique=True)
    active: Mapped[bool] = mapped_column(default=True)
    email_verified_at: Mapped[datetime | None]
    session_version: Mapped[int] = mapped_column(default=1)  # bumped to sign out every session
    last_login_at: Mapped[datetime | None]
    # Staff taking new tickets by round-robin (set by the agent in the console header, or by an admin).
    available: Mapped[bool] = mapped_column(default=False, server_default=false())
    last_assigned_at: Mapped[datetime | None]  # when a ticket was last given to them: round-robin ties
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    # The session-user protocol flask-login expects, written here so core/ stays free of Flask.
    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def is_active(self) -> bool:
        return self.active

    @property
    def is_anonymous(self) -> bool:
        return False

    def get_id(self) -> str:
        """The id kept in the session and remember-me cookies: the secret token of the server-side session
        this user was loaded through (see core.security.sessions), never the account id."""
        token = self.__dict__.get("_session_token")
        if not token:
            raise RuntimeError("this user was not loaded through a sign-in session")
        return token

    def attach_session_token(self, token: str) -> None:
        """Remember which server-side session this user object belongs to (for get_id)."""
        self.__dict__["_session_token"] = token


class RateLimitBucket(Base):
    """Attempts counted per key (e.g. "guest-lookup:ip:1.2.3.4") in a fixed time window."""

    __tablename__ = "rate_limit_buckets"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    window_start: Mapped[datetime]
    count: Mapped[int] = mapped_column(default=0)


class AuthSession(Base):
    """A signed-in browser: the cookies carry a random token, the database keeps only its SHA-256, so a copy
    of this table signs nobody in. Deleting the row signs that browser out."""

    __tablename__ = "auth_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    session_version: Mapped[int]  # the user's session_version when signed in: a bump ends this session
    remember: Mapped[bool] = mapped_column(default=False)
    two_factor: Mapped[bool] = mapped_column(default=False)  # the second factor was given at sign-in
    ip_address: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str] = mapped_column(String(300), default="")
    created_at: Mapped[datetime]
    last_seen_at: Mapped[datetime]


class AuthThrottle(Base):
    """Failed attempts for one key ("sign-in:account:ada@example.org", "sign-in:ip:1.2.3.4",
    "two-factor:user:7") and the lockout they earned; shared by every web process."""

    __tablename__ = "auth_throttles"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    failures: Mapped[int] = mapped_column(default=0)
    last_failure_at: Mapped[datetime]
    locked_until: Mapped[datetime | None]


class TwoFactorCredential(Base):
    """A staff member's TOTP secret; unconfirmed (confirmed_at is None) while being set up."""

    __tablename__ = "two_factor_credentials"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    secret: Mapped[str] = mapped_column(String(64))
    confirmed_at: Mapped[datetime | None]
    last_used_step: Mapped[int] = mapped_column(default=0)  # a code's time step is accepted once
    created_at: Mapped[datetime]


class RecoveryCode(Base):
    """A single-use recovery code for signing in without the authenticator app, stored as a hash."""

    __tablename__ = "two_factor_recovery_codes"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    code_hash: Mapped[str] = mapped_column(String(64))
    used_at: Mapped[datetime | None]
    created_at: Mapped[datetime]


class SecuritySettings(Base):
    """Sign-in policy set by an admin in the console (one row, id 1)."""

    __tablename__ = "security_settings"

    id: Mapped[int] = mapped_column(primary_key=True)
    require_two_factor_for_all_staff: Mapped[bool] = mapped_column(default=False)
    updated_at: Mapped[datetime | None]
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
