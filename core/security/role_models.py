"""Custom staff roles defined by admins (the built-in agent, manager and admin live in permissions.py)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base, utcnow


class StaffRole(Base):
    __tablename__ = "staff_roles"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(16), unique=True)  # what User.role holds
    description: Mapped[str] = mapped_column(String(200), default="")
    permissions: Mapped[list[Any]] = mapped_column()  # Permission values, sorted
    refund_limit: Mapped[str | None] = mapped_column(String(20))  # "250.00", any currency; None: no limit
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
