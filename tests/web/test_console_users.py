"""Console admin: staff invited by email, the invitation accepted through its link, roles changed and
accounts deactivated from the Users page; admins only."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from core.notifications.models import OutboxMessage
from core.security.models import User
from core.security.staff import make_invite_token
from tests.factories import PASSWORD, make_user
from tests.helpers import csrf_token, sign_in


@pytest.fixture
def admin(client, db):
    user = make_user(db, role="admin")
    assert sign_in(client, user.email, PASSWORD, console=True).status_code == 303
    return user


@pytest.mark.parametrize("role", ["agent", "manager"])
def test_users_page_is_for_admins_only(client, db, role) -> None:
    user = make_user(db, role=role)
    sign_in(client, user.email, PASSWORD, console=True)
    assert client.get("/console/admin/users").status_code == 403


def test_invite_then_accept_then_sign_in(app, client, db, admin) -> None:
    token = csrf_token(client, "/console/admin/users")
    form = {"csrf_token": token, "email": "nia@shop.example", "name": "Nia Patel", "role": "agent"}
    invited = client.post("/console/admin/users", data=form)
    assert invited.status_code == 303
    assert (
        db.scalar(select(OutboxMessage.recipient).where(OutboxMessage.kind == "staff_invite"))
        == form["email"]
    )
    page = client.get("/console/admin/users").get_data(as_text=True)
    assert "nia@shop.example" in page and "invited" in page

    newcomer = app.test_client()
    user = db.scalar(select(User).where(User.email == "nia@shop.example"))
    link = f"/console/invite/{make_invite_token(app.config['SECRET_KEY'], user)}"
    accepted = newcomer.post(
        link, data={"csrf_token": csrf_token(newcomer, link), "password": "nia-secret-pass"}
    )
    assert accepted.status_code == 303 and accepted.headers["Location"].endswith("/console/login")
    assert sign_in(newcomer, "nia@shop.example", "nia-secret-pass", console=True).status_code == 303
    again = newcomer.get(link)
    assert again.status_code == 200
    used = app.test_client()
    answer = used.post(link, data={"csrf_token": csrf_token(used, link), "password": "another-pass-123"})
    assert answer.status_code == 400 and "already been used" in answer.get_data(as_text=True)


def test_change_role_and_deactivate_from_the_users_page(client, db, admin) -> None:
    agent = make_user(db, role="agent")
    token = csrf_token(client, "/console/admin/users")
    path = f"/console/admin/users/{agent.id}"
    assert (
        client.post(path, data={"csrf_token": token, "action": "role", "role": "manager"}).status_code == 303
    )
    assert client.post(path, data={"csrf_token": token, "action": "deactivate"}).status_code == 303
    db.refresh(agent)
    assert (agent.role, agent.active) == ("manager", False)
    own = client.post(f"/console/admin/users/{admin.id}", data={"csrf_token": token, "action": "deactivate"})
    assert own.status_code == 422 and "deactivate yourself" in own.get_data(as_text=True)
    assert client.post(path, data={"action": "reactivate"}).status_code == 400  # no CSRF token
    assert (
        client.post("/console/admin/users/999999", data={"csrf_token": token, "action": "reset"}).status_code
        == 404
    )


def test_a_staff_password_reset_ends_at_the_console_sign_in(app, client, db, admin) -> None:
    from core.security.accounts import make_reset_token

    agent = make_user(db, role="agent")
    token = csrf_token(client, "/console/admin/users")
    assert (
        client.post(
            f"/console/admin/users/{agent.id}", data={"csrf_token": token, "action": "reset"}
        ).status_code
        == 303
    )
    link = f"/password/reset/{make_reset_token(app.config['SECRET_KEY'], agent)}"
    other = app.test_client()
    done = other.post(link, data={"csrf_token": csrf_token(other, link), "password": "brand-new-pass-1"})
    assert done.status_code == 303 and done.headers["Location"].endswith("/console/login")
