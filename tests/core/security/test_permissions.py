"""Roles as permission sets: the built-ins keep the old ranks, custom roles are created, changed and deleted
by the rules (names, built-ins untouchable, a role in use stays), each change audited; refunds follow the
role's permission and limit."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import select

from core.audit.models import AuditEntry
from core.errors import DomainError, PermissionDenied
from core.returns.refunds import refund_limit, refund_order
from core.security import staff
from core.security.permissions import (
    AGENT_PERMISSIONS,
    Permission,
    create_staff_role,
    delete_staff_role,
    is_staff_role,
    minimal_builtin_role,
    parse_refund_limit,
    require_permission,
    role_grant,
    roles_with,
    staff_role_names,
    update_staff_role,
)
from core.security.roles import SYSTEM, Actor
from tests.factories import NOW, make_sku, make_user
from tests.returns_factories import make_delivered_order, make_shop

ADMIN = Actor(label="admin@shop.example", role="admin")


def _role(
    db, name: str = "refunds", *, permissions=(Permission.VIEW_ORDERS, Permission.REFUND), limit="30.00"
):
    return create_staff_role(db, name, permissions=permissions, refund_limit=limit, actor=ADMIN, now=NOW)


@pytest.mark.parametrize(
    ("permissions", "role"),
    [
        ([Permission.WORK_TICKETS, Permission.REFUND], "agent"),
        ([Permission.MANAGE_MACROS], "manager"),
        ([Permission.REFUND_RETURNS, Permission.VIEW_ORDERS], "manager"),
        ([Permission.VIEW_AUDIT], "admin"),
        ([Permission.MANAGE_USERS], "admin"),
        ([], "agent"),
    ],
)
def test_minimal_builtin_role_is_the_old_rank(permissions, role) -> None:
    assert minimal_builtin_role(permissions) == role


@pytest.mark.parametrize(
    ("text", "amount"), [("250", Decimal("250.00")), (" 12.5 ", Decimal("12.50")), ("0", Decimal("0.00"))]
)
def test_parse_refund_limit_reads_amounts(text, amount) -> None:
    assert parse_refund_limit(text) == amount


@pytest.mark.parametrize("text", ["lots", "-1", "1.234", "NaN", "1e12"])
def test_parse_refund_limit_refuses_what_is_not_an_amount(text) -> None:
    with pytest.raises(DomainError, match="refund limit"):
        parse_refund_limit(text)


def test_agent_refund_limit_comes_from_the_environment() -> None:
    assert role_grant(None, "agent", {"CROSSDOCK_AGENT_REFUND_LIMIT": "42"}).refund_limit == "42.00"
    assert role_grant(None, "agent", {}).refund_limit == "100.00"
    assert role_grant(None, "manager", {}).refund_limit is None
    assert role_grant(None, "customer", {}) is None


def test_a_custom_role_is_stored_audited_and_assignable(db) -> None:
    row = _role(db, "Refunds ")
    assert row.name == "refunds" and row.permissions == ["orders.refund", "orders.view"]
    assert is_staff_role(db, "refunds") and not is_staff_role(db, "customer")
    assert staff_role_names(db)[-1] == "refunds"
    grant = role_grant(db, "refunds")
    assert grant.allows(Permission.REFUND) and not grant.allows(Permission.WORK_TICKETS)
    entry = db.scalars(select(AuditEntry).where(AuditEntry.action == "role.create")).one()
    assert entry.after["refund_limit"] == "30.00" and entry.entity_id == "refunds"


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("agent", "built-in"),
        ("x", "2 to 16"),
        ("Has Space", "2 to 16"),
        ("a" * 17, "2 to 16"),
        ("refunds", "already"),
    ],
)
def test_role_names_are_checked(db, name, message) -> None:
    _role(db)
    with pytest.raises(DomainError, match=message):
        _role(db, name)


def test_unknown_permissions_are_refused(db) -> None:
    with pytest.raises(DomainError, match="unknown permission"):
        _role(db, permissions=["orders.view", "everything"])


def test_updating_a_role_records_before_and_after(db) -> None:
    _role(db)
    update_staff_role(
        db,
        "refunds",
        permissions=[Permission.VIEW_ORDERS],
        refund_limit="",
        description="Read only",
        actor=ADMIN,
        now=NOW,
    )
    entry = db.scalars(select(AuditEntry).where(AuditEntry.action == "role.update")).one()
    assert entry.before["permissions"] == ["orders.refund", "orders.view"]
    assert entry.after == {
        "name": "refunds",
        "description": "Read only",
        "permissions": ["orders.view"],
        "refund_limit": None,
    }


@pytest.mark.parametrize("name", ["agent", "manager", "admin"])
def test_builtin_roles_cannot_be_changed_or_deleted(db, name) -> None:
    with pytest.raises(DomainError, match="built-in"):
        delete_staff_role(db, name, actor=ADMIN, now=NOW)
    with pytest.raises(DomainError, match="built-in"):
        update_staff_role(db, name, permissions=[], refund_limit="", actor=ADMIN, now=NOW)


def test_a_role_in_use_cannot_be_deleted_until_nobody_holds_it(db) -> None:
    _role(db)
    holder = make_user(db, "refunds")
    with pytest.raises(DomainError, match="1 staff account holds"):
        delete_staff_role(db, "refunds", actor=ADMIN, now=NOW)
    admin = make_user(db, "admin")
    staff.change_staff_role(
        db, holder.id, "agent", actor=Actor(label=admin.email, user_id=admin.id, role="admin"), now=NOW
    )
    delete_staff_role(db, "refunds", actor=ADMIN, now=NOW)
    assert not is_staff_role(db, "refunds")
    assert (
        db.scalars(select(AuditEntry.action).where(AuditEntry.entity_type == "role")).all()[-1]
        == "role.delete"
    )


def test_staff_can_be_invited_with_a_custom_role_but_not_an_unknown_one(db) -> None:
    _role(db)
    user = staff.invite_staff(db, "rita@shop.example", "Rita", "refunds", actor=ADMIN, now=NOW)
    assert user.role == "refunds"
    with pytest.raises(DomainError, match="unknown staff role"):
        staff.invite_staff(db, "sam@shop.example", "Sam", "nonesuch", actor=ADMIN, now=NOW)


def test_require_permission_checks_staff_and_lets_the_system_through(db) -> None:
    _role(db)
    require_permission(db, SYSTEM, Permission.MANAGE_USERS)
    require_permission(db, Actor(label="r", role="refunds"), Permission.REFUND)
    with pytest.raises(PermissionDenied, match=r"refunds.*manage users"):
        require_permission(db, Actor(label="r", role="refunds"), Permission.MANAGE_USERS)
    with pytest.raises(PermissionDenied):
        require_permission(db, Actor(label="gone", role="deleted-role"), Permission.VIEW_ORDERS)


def test_ticket_workers_include_custom_roles_that_work_tickets(db) -> None:
    _role(db, "desk", permissions=[Permission.WORK_TICKETS], limit="")
    _role(db, "counter", permissions=[Permission.VIEW_STOCK], limit="")
    assert roles_with(db, Permission.WORK_TICKETS) == ["agent", "manager", "admin", "desk"]
    assert roles_with(db, Permission.MANAGE_STOCK) == ["manager", "admin"]


@pytest.fixture
def delivered(db):
    channel, location = make_shop(db, return_window_days=30)
    mug = make_sku(db, code="MUG-PRM", title="Mug")
    return make_delivered_order(db, channel, location, [(mug, 4)], shipping_total=500)


def test_a_custom_roles_refund_limit_applies_to_the_order(db, delivered) -> None:
    _role(db)  # refunds up to 30.00 per order
    clerk = Actor(label="clerk@shop.example", role="refunds")
    assert refund_limit(db, clerk, delivered.currency) == 3000
    line = delivered.lines[0]
    assert delivered.total - delivered.shipping_total == 4000  # four mugs at 10.00
    refund_order(db, delivered.id, quantities={line.id: 1}, reason="dented", actor=clerk, now=NOW)
    with pytest.raises(PermissionDenied, match=r"the refunds role can refund up to 30\.00"):
        refund_order(db, delivered.id, quantities={line.id: 3}, reason="dented", actor=clerk, now=NOW)


def test_a_role_without_the_refund_permission_cannot_refund(db, delivered) -> None:
    _role(db, "viewer", permissions=[Permission.VIEW_ORDERS], limit="")
    viewer = Actor(label="v@shop.example", role="viewer")
    with pytest.raises(PermissionDenied, match="may not refund"):
        refund_order(db, delivered.id, full=True, reason="x", actor=viewer, now=NOW)


def test_a_custom_role_without_a_limit_refunds_in_full(db, delivered) -> None:
    _role(db, "senior", permissions=[Permission.REFUND], limit="")
    refund = refund_order(
        db, delivered.id, full=True, reason="lost", actor=Actor(label="s", role="senior"), now=NOW
    )
    assert refund.amount + refund.shipping_amount == delivered.total


def test_agent_permissions_match_what_agents_could_do() -> None:
    assert Permission.REFUND in AGENT_PERMISSIONS and Permission.REFUND_RETURNS not in AGENT_PERMISSIONS
    assert Permission.MERGE_CUSTOMERS not in AGENT_PERMISSIONS


def test_only_roles_that_manage_users_may_change_roles(db) -> None:
    manager = Actor(label="m@shop.example", role="manager")
    with pytest.raises(PermissionDenied, match="manage users"):
        create_staff_role(db, "desk", permissions=[], refund_limit="", actor=manager, now=NOW)
    _role(db)
    with pytest.raises(PermissionDenied):
        delete_staff_role(db, "refunds", actor=manager, now=NOW)
