"""Read models for account screens."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.security.models import User
from core.security.roles import Role


def staff_users(session: Session) -> list[User]:
    """Every staff account, by role then email."""
    return list(
        session.scalars(select(User).where(User.role != Role.CUSTOMER).order_by(User.role, User.email))
    )
