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
        """The id kept in the session cookie; bumping session_version signs every session out."""
        return f"{self.id}:{self.session_version}"


class RateLimitBucket(Base):
    """Attempts counted per key (e.g. "guest-lookup:ip:1.2.3.4") in a fixed time window."""

    __tablename__ = "rate_limit_buckets"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    window_start: Mapped[datetime]
    count: Mapped[int] = mapped_column(default=0)
