"""Staff accounts managed by admins: invitations (single use, a week), roles, deactivation, resets; audited;
nobody locks themselves out and the last active admin stays."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from core.audit.models import AuditEntry
from core.errors import DomainError, NotFound
from core.notifications.models import OutboxMessage
from core.notifications.rendering import render_email
from core.security import staff
from core.security.roles import Actor
from core.security.services import authenticate
from core.security.tokens import InvalidToken
from tests.factories import NOW, make_user

SECRET = "staff-secret"


@pytest.fixture
def admin(db):
    user = make_user(db, role="admin")
    return user, Actor(label=user.email, user_id=user.id, role="admin")


def invite_link(db, user) -> str:
    row = db.scalar(
        select(OutboxMessage).where(
            OutboxMessage.kind == "staff_invite", OutboxMessage.recipient == user.email
        )
    )
    email = render_email(
        db, row, mail_from="ops@shop.example", portal_base_url="https://shop.example", secret=SECRET, now=NOW
    )
    text = email.get_body(("plain",)).get_content()
    return re.search(r"https://shop\.example/console/invite/(\S+)", text).group(1)


def test_invite_staff_emails_a_link_that_sets_the_password_once(db, admin) -> None:
    _user, actor = admin
    invited = staff.invite_staff(db, "Nia@Shop.example", "Nia Patel", "agent", actor=actor, now=NOW)
    assert invited.email == "nia@shop.example" and invited.email_verified_at is None
    assert authenticate(db, "nia@shop.example", "whatever-password") is None  # no usable password yet
    token = invite_link(db, invited)
    staff.accept_invite(db, SECRET, token, "a-long-new-password", now=NOW)
    assert authenticate(db, "nia@shop.example", "a-long-new-password") == invited
    assert invited.email_verified_at == NOW
    with pytest.raises(InvalidToken, match="already been used"):
        staff.accept_invite(db, SECRET, token, "another-password!", now=NOW)
    entry = db.scalar(select(AuditEntry).where(AuditEntry.action == "user.invite"))
    assert entry.after == {"email": "nia@shop.example", "role": "agent"} and entry.actor_label == actor.label


@pytest.mark.parametrize(
    ("email", "name", "role", "message"),
    [
        ("x@shop.example", "X", "customer", "unknown staff role"),
        ("x@shop.example", " ", "agent", "enter the person's name"),
        ("not-an-email", "X", "agent", "valid email"),
    ],
)
def test_invite_staff_refuses_bad_input(db, admin, email, name, role, message) -> None:
    with pytest.raises(DomainError, match=message):
        staff.invite_staff(db, email, name, role, actor=admin[1], now=NOW)


def test_accept_invite_refuses_a_short_password_and_a_forged_token(db, admin) -> None:
    invited = staff.invite_staff(db, "sam@shop.example", "Sam", "manager", actor=admin[1], now=NOW)
    token = invite_link(db, invited)
    with pytest.raises(DomainError, match="at least 10"):
        staff.accept_invite(db, SECRET, token, "short", now=NOW)
    with pytest.raises(InvalidToken, match="not valid"):
        staff.accept_invite(db, "another-secret", token, "a-long-new-password", now=NOW)


def test_change_staff_role_signs_the_person_out_and_is_audited(db, admin) -> None:
    agent = make_user(db, role="agent")
    version = agent.session_version
    staff.change_staff_role(db, agent.id, "manager", actor=admin[1], now=NOW)
    assert agent.role == "manager" and agent.session_version == version + 1
    entry = db.scalar(select(AuditEntry).where(AuditEntry.action == "user.role"))
    assert (entry.before, entry.after) == ({"role": "agent"}, {"role": "manager"})


def test_nobody_changes_or_deactivates_themselves(db, admin) -> None:
    user, actor = admin
    make_user(db, role="admin")  # not the last admin: the self-rule alone refuses
    with pytest.raises(DomainError, match="own role"):
        staff.change_staff_role(db, user.id, "agent", actor=actor, now=NOW)
    with pytest.raises(DomainError, match="deactivate yourself"):
        staff.set_staff_active(db, user.id, False, actor=actor, now=NOW)


def test_the_last_active_admin_stays_an_admin(db, admin) -> None:
    user, _actor = admin
    for other in db.scalars(select(type(user)).where(type(user).role == "admin", type(user).id != user.id)):
        other.active = False
    other_admin = Actor(label="root", user_id=None, role="admin")
    with pytest.raises(DomainError, match="last active admin"):
        staff.change_staff_role(db, user.id, "manager", actor=other_admin, now=NOW)
    with pytest.raises(DomainError, match="last active admin"):
        staff.set_staff_active(db, user.id, False, actor=other_admin, now=NOW)


def test_deactivate_signs_out_and_blocks_sign_in_then_reactivate(db, admin) -> None:
    agent = make_user(db, role="agent")
    version = agent.session_version
    staff.set_staff_active(db, agent.id, False, actor=admin[1], now=NOW)
    assert not agent.active and agent.session_version == version + 1
    staff.set_staff_active(db, agent.id, True, actor=admin[1], now=NOW)
    actions = db.scalars(select(AuditEntry.action).where(AuditEntry.entity_id == str(agent.id))).all()
    assert actions == ["user.deactivate", "user.reactivate"]


def test_send_staff_password_reset_queues_the_reset_email(db, admin) -> None:
    agent = make_user(db, role="agent")
    staff.send_staff_password_reset(db, agent.id, actor=admin[1], now=NOW)
    assert (
        db.scalar(select(OutboxMessage.recipient).where(OutboxMessage.kind == "password_reset"))
        == agent.email
    )
    customer = make_user(db, role="customer")
    with pytest.raises(NotFound):
        staff.send_staff_password_reset(db, customer.id, actor=admin[1], now=NOW)
