"""Roles and what each may do. Staff roles are ordered: an admin can do what a manager can, and so on."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Role(StrEnum):
    CUSTOMER = "customer"
    AGENT = "agent"
    MANAGER = "manager"
    ADMIN = "admin"


STAFF_ROLES = frozenset({Role.AGENT, Role.MANAGER, Role.ADMIN})
_RANK = {Role.CUSTOMER: 0, Role.AGENT: 1, Role.MANAGER: 2, Role.ADMIN: 3}


def is_staff(role: str) -> bool:
    """True for agent, manager and admin."""
    return role in STAFF_ROLES


def role_at_least(role: str, required: str) -> bool:
    """True when `role` is staff and ranks at or above `required` (customers never pass a staff check)."""
    if not is_staff(role):
        return False
    return _RANK[Role(role)] >= _RANK[Role(required)]


@dataclass(frozen=True)
class Actor:
    """Who is acting, passed into services so timeline and audit entries name them."""

    label: str  # "agent@example.com", "system", "channel:shopify", "customer:42"
    user_id: int | None = None
    role: str | None = None
    ip_address: str | None = None

    def __str__(self) -> str:
        return self.label


SYSTEM = Actor(label="system")
