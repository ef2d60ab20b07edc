"""The Roles admin page: built-ins shown read only, custom roles created with permission checkboxes and a
refund limit, changed, refused when in use or built-in; a custom role given to a user on the Users page
decides what that user sees and may do."""

from __future__ import annotations

from sqlalchemy import select

from core.audit.models import AuditEntry
from core.security.role_models import StaffRole
from tests.factories import PASSWORD, make_user
from tests.helpers import csrf_token, sign_in


def _admin(client, db):
    admin = make_user(db, "admin")
    sign_in(client, admin.email, PASSWORD, console=True)
    return admin, csrf_token(client, "/console/admin/roles")


def test_roles_page_lists_builtins_with_their_holders(client, db) -> None:
    _admin(client, db)
    make_user(db, "agent")
    html = client.get("/console/admin/roles").get_data(as_text=True)
    assert "built-in" in html and "agent" in html and "manager" in html
    assert "100.00 per order" in html and 'name="permissions"' in html
    page = client.get("/console/admin/roles/agent").get_data(as_text=True)
    assert (
        "can't be changed or deleted" in page
        and "disabled" in page
        and "<form" not in page.split("<main")[-1].split("Sign out")[-1]
    )


def test_an_admin_defines_a_role_and_gives_it_to_a_colleague(client, db) -> None:
    _, token = _admin(client, db)
    response = client.post(
        "/console/admin/roles",
        data={
            "csrf_token": token,
            "name": "stockist",
            "description": "Counts stock",
            "permissions": ["stock.view", "stock.count"],
            "refund_limit": "",
        },
    )
    assert response.status_code == 303
    row = db.scalars(select(StaffRole).where(StaffRole.name == "stockist")).one()
    assert row.permissions == ["stock.count", "stock.view"] and row.refund_limit is None
    colleague = make_user(db, "agent")
    users_page = client.get("/console/admin/users").get_data(as_text=True)
    assert '<option value="stockist"' in users_page
    response = client.post(
        f"/console/admin/users/{colleague.id}",
        data={"csrf_token": token, "action": "role", "role": "stockist"},
    )
    assert response.status_code == 303
    db.refresh(colleague)
    assert colleague.role == "stockist"

    other = client.application.test_client()
    sign_in(other, colleague.email, PASSWORD, console=True)
    assert other.get("/console/stock").status_code == 200
    assert other.get("/console/tickets").status_code == 403
    nav = other.get("/console/").get_data(as_text=True)
    assert 'href="/console/stock"' in nav and 'href="/console/tickets"' not in nav


def test_a_bad_role_form_is_answered_with_the_reason_and_keeps_the_choices(client, db) -> None:
    _, token = _admin(client, db)
    response = client.post(
        "/console/admin/roles",
        data={"csrf_token": token, "name": "desk", "permissions": ["tickets.work"], "refund_limit": "lots"},
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 422 and "is not an amount" in html
    assert 'value="tickets.work" checked' in html and 'value="desk"' in html
    assert db.scalar(select(StaffRole).where(StaffRole.name == "desk")) is None


def test_editing_and_deleting_a_custom_role(client, db) -> None:
    _, token = _admin(client, db)
    client.post(
        "/console/admin/roles",
        data={"csrf_token": token, "name": "desk", "permissions": ["tickets.work"], "refund_limit": "20"},
    )
    holder = make_user(db, "desk")
    response = client.post(
        "/console/admin/roles/desk",
        data={"csrf_token": token, "permissions": ["tickets.work", "orders.view"], "refund_limit": "25.50"},
    )
    assert response.status_code == 303
    row = db.scalars(select(StaffRole).where(StaffRole.name == "desk")).one()
    db.refresh(row)
    assert row.permissions == ["orders.view", "tickets.work"] and row.refund_limit == "25.50"
    refused = client.post("/console/admin/roles/desk/delete", data={"csrf_token": token})
    assert refused.status_code == 422 and "give them another role first" in refused.get_data(as_text=True)
    holder.role = "agent"
    db.flush()
    assert client.post("/console/admin/roles/desk/delete", data={"csrf_token": token}).status_code == 303
    assert db.scalar(select(StaffRole).where(StaffRole.name == "desk")) is None
    actions = db.scalars(select(AuditEntry.action).where(AuditEntry.entity_type == "role")).all()
    assert actions == ["role.create", "role.update", "role.delete"]


def test_builtin_roles_refuse_changes_from_the_form(client, db) -> None:
    _, token = _admin(client, db)
    response = client.post("/console/admin/roles/manager/delete", data={"csrf_token": token})
    assert response.status_code == 422 and "built-in" in response.get_data(as_text=True)
    assert client.post("/console/admin/roles/nonesuch/delete", data={"csrf_token": token}).status_code == 404
