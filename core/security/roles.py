"""Role names and the acting party. `User.role` holds a role's name: `customer`, one of the built-in staff
roles (agent < manager < admin) or a custom staff role an admin defined; what each staff role may do is in
permissions.py."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Role(StrEnum):
    CUSTOMER = "customer"
    AGENT = "agent"
    MANAGER = "manager"
    ADMIN = "admin"


STAFF_ROLES = frozenset({Role.AGENT, Role.MANAGER, Role.ADMIN})  # the built-in staff roles
_RANK = {Role.CUSTOMER: 0, Role.AGENT: 1, Role.MANAGER: 2, Role.ADMIN: 3}


def is_staff(role: str | None) -> bool:
    """True for a staff role's name: a built-in one or a custom one (every role but customer)."""
    return bool(role) and role != Role.CUSTOMER


def role_at_least(role: str, required: str) -> bool:
    """True when `role` is a built-in staff role ranking at or above `required`. Custom roles have no rank:
    check a permission (permissions.py) instead."""
    if role not in STAFF_ROLES:
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
