"""Permissions: what a staff role may do. A role is a named set of permissions plus a refund limit. The
built-in roles (agent, manager, admin) are defined here and can't be changed or deleted; admins define
further roles in the console (`StaffRole` rows). `User.role` holds the role's name either way.

Checks happen twice: the console's `permission_required` turns a missing permission into 403 before a view
runs, and services that act (refunds, merges, settings) check again with `require_permission`, so a CLI or
API caller with a staff actor meets the same rules. Actors without a role (system, channels, jobs) are the
application itself and are not limited."""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from enum import StrEnum

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.audit.services import record_audit
from core.errors import DomainError, NotFound, PermissionDenied
from core.security.models import User
from core.security.role_models import StaffRole
from core.security.roles import Actor, Role


class Permission(StrEnum):
    VIEW_CUSTOMERS = "customers.view"
    WRITE_NOTES = "customers.notes"
    EDIT_ANY_NOTE = "customers.notes_any"
    MERGE_CUSTOMERS = "customers.merge"
    VIEW_ORDERS = "orders.view"
    ACT_ON_ORDERS = "orders.act"
    REFUND = "orders.refund"
    WORK_RETURNS = "returns.work"
    REFUND_RETURNS = "returns.refund"
    WORK_FULFILMENT = "fulfilment.work"
    MANAGE_FULFILMENT = "fulfilment.manage"
    VIEW_STOCK = "stock.view"
    COUNT_STOCK = "stock.count"
    MANAGE_STOCK = "stock.manage"
    VIEW_INTAKE = "intake.view"
    MANAGE_INTAKE = "intake.manage"
    WORK_TICKETS = "tickets.work"
    MANAGE_MACROS = "macros.manage"
    VIEW_MAIL = "mail.view"
    RETRY_MAIL = "mail.retry"
    MANAGE_SETTINGS = "settings.manage"
    VIEW_ANALYTICS = "analytics.view"
    MANAGE_CHANNELS = "channels.manage"
    MANAGE_USERS = "users.manage"
    VIEW_AUDIT = "audit.view"
    WORK_PRIVACY = "privacy.work"
    ERASE_PERSONAL_DATA = "privacy.erase"


# What each permission lets someone do, in the order the role form lists them.
PERMISSION_LABELS: dict[Permission, str] = {
    Permission.VIEW_CUSTOMERS: "View customers (360, search, merge suggestions)",
    Permission.WRITE_NOTES: "Write CRM notes (and edit their own)",
    Permission.EDIT_ANY_NOTE: "Edit anyone's CRM notes",
    Permission.MERGE_CUSTOMERS: "Merge customers and undo merges",
    Permission.VIEW_ORDERS: "View orders, their emails and shipments",
    Permission.ACT_ON_ORDERS: "Act on orders (cancel, address, return, replacement, resend, release)",
    Permission.REFUND: "Refund orders (up to the role's refund limit)",
    Permission.WORK_RETURNS: "Work the returns queue (approve, reject, receive)",
    Permission.REFUND_RETURNS: "Refund received returns",
    Permission.WORK_FULFILMENT: "Fulfilment (pick, pack, ship, 3PL files, unknown parcels)",
    Permission.MANAGE_FULFILMENT: "Drop-ship purchase orders and 3PL confirmations",
    Permission.VIEW_STOCK: "View stock, the ledger and low-stock alerts",
    Permission.COUNT_STOCK: "Upload stock counts",
    Permission.MANAGE_STOCK: "Manage stock (approve counts, mark alerts ordered)",
    Permission.VIEW_INTAKE: "View channel intake and raw payloads",
    Permission.MANAGE_INTAKE: "Map channel listings to SKUs",
    Permission.WORK_TICKETS: "Work tickets (queue, replies, properties, phone notes)",
    Permission.MANAGE_MACROS: "Manage canned replies",
    Permission.VIEW_MAIL: "View sent mail",
    Permission.RETRY_MAIL: "Retry failed emails",
    Permission.MANAGE_SETTINGS: "Manage settings (SLA, business hours, holidays)",
    Permission.VIEW_ANALYTICS: "View analytics",
    Permission.MANAGE_CHANNELS: "Manage channels",
    Permission.MANAGE_USERS: "Manage users and roles",
    Permission.VIEW_AUDIT: "View the audit log",
    Permission.WORK_PRIVACY: "Data rights: export a customer's data, correct their details, see requests",
    Permission.ERASE_PERSONAL_DATA: "Erase a customer's personal data and dismiss privacy requests",
}

AGENT_PERMISSIONS = frozenset(
    {
        Permission.VIEW_CUSTOMERS,
        Permission.WRITE_NOTES,
        Permission.VIEW_ORDERS,
        Permission.ACT_ON_ORDERS,
        Permission.REFUND,
        Permission.WORK_RETURNS,
        Permission.WORK_FULFILMENT,
        Permission.VIEW_STOCK,
        Permission.COUNT_STOCK,
        Permission.VIEW_INTAKE,
        Permission.WORK_TICKETS,
        Permission.VIEW_MAIL,
        Permission.RETRY_MAIL,
        Permission.WORK_PRIVACY,
    }
)
MANAGER_PERMISSIONS = AGENT_PERMISSIONS | {
    Permission.EDIT_ANY_NOTE,
    Permission.MERGE_CUSTOMERS,
    Permission.REFUND_RETURNS,
    Permission.MANAGE_FULFILMENT,
    Permission.MANAGE_STOCK,
    Permission.MANAGE_INTAKE,
    Permission.MANAGE_MACROS,
    Permission.MANAGE_SETTINGS,
    Permission.VIEW_ANALYTICS,
    Permission.ERASE_PERSONAL_DATA,
}
ADMIN_PERMISSIONS = frozenset(Permission)

AGENT_REFUND_LIMIT_ENV = "CROSSDOCK_AGENT_REFUND_LIMIT"
DEFAULT_AGENT_REFUND_LIMIT = "100.00"
ROLE_NAME_RE = re.compile(r"^[a-z][a-z0-9_-]{1,15}$")
RESERVED_NAMES = frozenset(r.value for r in Role)
MAX_REFUND_LIMIT = Decimal("1000000000")


@dataclass(frozen=True)
class RoleGrant:
    """A role as checks see it: its permissions and its refund limit per order (an amount such as "100.00",
    read in the order's currency; None: no limit)."""

    name: str
    permissions: frozenset[str]
    refund_limit: str | None
    builtin: bool
    description: str = ""

    def allows(self, *permissions: str) -> bool:
        return all(p in self.permissions for p in permissions)


def agent_refund_limit_text(environ: Mapping[str, str] | None = None) -> str:
    """The built-in agent role's refund limit: CROSSDOCK_AGENT_REFUND_LIMIT, else 100.00; a value that is
    not an amount counts as the default."""
    raw = (os.environ if environ is None else environ).get(AGENT_REFUND_LIMIT_ENV, "").strip()
    try:
        return str(parse_refund_limit(raw)) if raw else DEFAULT_AGENT_REFUND_LIMIT
    except DomainError:
        return DEFAULT_AGENT_REFUND_LIMIT


def builtin_grants(environ: Mapping[str, str] | None = None) -> dict[str, RoleGrant]:
    """The built-in roles; the agent's refund limit comes from the environment."""
    return {
        Role.AGENT: RoleGrant(
            Role.AGENT,
            AGENT_PERMISSIONS,
            agent_refund_limit_text(environ),
            True,
            "Works tickets, orders, returns and fulfilment; refunds up to a limit.",
        ),
        Role.MANAGER: RoleGrant(
            Role.MANAGER,
            MANAGER_PERMISSIONS,
            None,
            True,
            "An agent who also manages stock, canned replies, SLA, merges and sees analytics.",
        ),
        Role.ADMIN: RoleGrant(
            Role.ADMIN,
            ADMIN_PERMISSIONS,
            None,
            True,
            "Everything, including channels, users and the audit log.",
        ),
    }


def minimal_builtin_role(permissions: Iterable[str]) -> str:
    """The lowest built-in role that holds all of `permissions` (agent < manager < admin)."""
    wanted = set(permissions)
    for name, perms in ((Role.AGENT, AGENT_PERMISSIONS), (Role.MANAGER, MANAGER_PERMISSIONS)):
        if wanted <= perms:
            return name.value
    return Role.ADMIN.value


def parse_refund_limit(text: str) -> Decimal:
    """A refund limit typed by an admin: a non-negative amount with at most two decimals."""
    try:
        amount = Decimal(text.strip())
    except InvalidOperation as exc:
        raise DomainError(f"the refund limit {text.strip()!r} is not an amount such as 250.00") from exc
    if not amount.is_finite() or amount < 0 or amount > MAX_REFUND_LIMIT:
        raise DomainError("the refund limit must be an amount from 0 up to 1000000000")
    if amount.as_tuple().exponent < -2:  # type: ignore[operator]
        raise DomainError("the refund limit has at most two decimals")
    return amount.quantize(Decimal("0.01"))


def role_grant(
    session: Session, name: str | None, environ: Mapping[str, str] | None = None
) -> RoleGrant | None:
    """The grant of the role called `name`, or None when it is no staff role (customers, unknown names)."""
    if not name:
        return None
    builtin = builtin_grants(environ).get(name)
    if builtin is not None:
        return builtin
    if name in RESERVED_NAMES:
        return None
    row = session.scalar(select(StaffRole).where(StaffRole.name == name))
    return _grant_of(row) if row is not None else None


def _grant_of(row: StaffRole) -> RoleGrant:
    known = {p.value for p in Permission}
    return RoleGrant(
        row.name,
        frozenset(p for p in row.permissions if p in known),
        row.refund_limit,
        False,
        row.description,
    )


def actor_grant(session: Session, actor: Actor, environ: Mapping[str, str] | None = None) -> RoleGrant | None:
    """The grant of a staff actor's role; None for actors without a role (system, channels, jobs)."""
    if actor.role is None:
        return None
    grant = role_grant(session, actor.role, environ)
    if grant is None:
        raise PermissionDenied("staff only")
    return grant


def require_permission(
    session: Session, actor: Actor, permission: str, environ: Mapping[str, str] | None = None
) -> None:
    """PermissionDenied unless `actor` may do `permission` (actors without a role always may)."""
    grant = actor_grant(session, actor, environ)
    if grant is not None and not grant.allows(permission):
        label = PERMISSION_LABELS.get(Permission(permission), permission)
        raise PermissionDenied(f"your role ({grant.name}) does not allow this: {label.lower()}")


def is_staff_role(session: Session, name: str) -> bool:
    """True for a built-in staff role or a custom role that exists."""
    if name in (Role.AGENT, Role.MANAGER, Role.ADMIN):
        return True
    if name in RESERVED_NAMES or not name:
        return False
    return session.scalar(select(StaffRole.id).where(StaffRole.name == name)) is not None


def roles_with(session: Session, permission: str, environ: Mapping[str, str] | None = None) -> list[str]:
    """The names of every staff role holding `permission` (for queries over users: who works tickets, who
    gets the low-stock digest)."""
    names = [grant.name for grant in builtin_grants(environ).values() if grant.allows(permission)]
    for row in session.scalars(select(StaffRole).order_by(StaffRole.name)):
        if permission in row.permissions:
            names.append(row.name)
    return names


# --- the roles admins manage --------------------------------------------------------------------------------


@dataclass(frozen=True)
class RoleSummary:
    grant: RoleGrant
    users: int


def staff_roles(session: Session, environ: Mapping[str, str] | None = None) -> list[RoleSummary]:
    """Every staff role, built-ins first, with how many accounts hold it."""
    counts = {role: n for role, n in session.execute(select(User.role, func.count()).group_by(User.role))}
    builtins = list(builtin_grants(environ).values())
    custom = [_grant_of(row) for row in session.scalars(select(StaffRole).order_by(StaffRole.name))]
    return [RoleSummary(grant, counts.get(grant.name, 0)) for grant in builtins + custom]


def staff_role_names(session: Session) -> list[str]:
    """The names a staff account can be given: built-ins, then custom roles by name."""
    custom = list(session.scalars(select(StaffRole.name).order_by(StaffRole.name)))
    return [Role.AGENT.value, Role.MANAGER.value, Role.ADMIN.value, *custom]


def _validated(
    permissions: Iterable[str], refund_limit: str | None, description: str
) -> tuple[list[str], str | None, str]:
    known = {p.value for p in Permission}
    chosen = sorted(set(permissions))
    unknown = [p for p in chosen if p not in known]
    if unknown:
        raise DomainError(f"unknown permission {unknown[0]!r}")
    limit_text = (refund_limit or "").strip()
    limit = str(parse_refund_limit(limit_text)) if limit_text else None
    description = description.strip()
    if len(description) > 200:
        raise DomainError("the description is too long (at most 200 characters)")
    return chosen, limit, description


def _audited(row: StaffRole) -> dict[str, object]:
    return {
        "name": row.name,
        "description": row.description,
        "permissions": list(row.permissions),
        "refund_limit": row.refund_limit,
    }


def create_staff_role(
    session: Session,
    name: str,
    *,
    permissions: Iterable[str],
    refund_limit: str | None,
    description: str = "",
    actor: Actor,
    now: datetime,
) -> StaffRole:
    """A custom role: a new name (lower case letters, digits, - or _, 2-16 characters, not a built-in's), its
    permissions and its refund limit (blank: no limit). Audited."""
    require_permission(session, actor, Permission.MANAGE_USERS)
    name = name.strip().lower()
    if not ROLE_NAME_RE.match(name):
        raise DomainError(
            "a role name has 2 to 16 characters: lower-case letters, digits, - or _, starting with a letter"
        )
    if name in RESERVED_NAMES:
        raise DomainError(f"{name!r} is a built-in role: choose another name")
    if session.scalar(select(StaffRole.id).where(StaffRole.name == name)) is not None:
        raise DomainError(f"there is already a role called {name!r}")
    chosen, limit, description = _validated(permissions, refund_limit, description)
    row = StaffRole(
        name=name,
        description=description,
        permissions=chosen,
        refund_limit=limit,
        created_at=now,
        updated_at=now,
    )
    session.add(row)
    session.flush()
    record_audit(session, actor, "role.create", "role", row.name, now=now, after=_audited(row))
    return row


def update_staff_role(
    session: Session,
    name: str,
    *,
    permissions: Iterable[str],
    refund_limit: str | None,
    description: str = "",
    actor: Actor,
    now: datetime,
) -> StaffRole:
    """Change a custom role's permissions, refund limit or description (built-ins can't change). Its holders'
    pages follow from their next request. Audited with before and after."""
    require_permission(session, actor, Permission.MANAGE_USERS)
    row = _custom_role(session, name, "change")
    chosen, limit, description = _validated(permissions, refund_limit, description)
    before = _audited(row)
    row.permissions, row.refund_limit, row.description, row.updated_at = chosen, limit, description, now
    after = _audited(row)
    if before != after:
        record_audit(session, actor, "role.update", "role", row.name, now=now, before=before, after=after)
    return row


def delete_staff_role(session: Session, name: str, *, actor: Actor, now: datetime) -> None:
    """Delete a custom role nobody holds (built-ins can't be deleted). Audited."""
    require_permission(session, actor, Permission.MANAGE_USERS)
    row = _custom_role(session, name, "delete")
    holders = session.scalar(select(func.count()).select_from(User).where(User.role == row.name)) or 0
    if holders:
        who = "account holds" if holders == 1 else "accounts hold"
        raise DomainError(f"{holders} staff {who} the role {row.name!r}: give them another role first")
    before = _audited(row)
    session.delete(row)
    session.flush()
    record_audit(session, actor, "role.delete", "role", name, now=now, before=before)


def _custom_role(session: Session, name: str, what: str) -> StaffRole:
    if name in RESERVED_NAMES:
        raise DomainError(f"{name!r} is a built-in role: it can't be {what}d")
    row = session.scalar(select(StaffRole).where(StaffRole.name == name).with_for_update())
    if row is None:
        raise NotFound(f"no role called {name!r}")
    return row
