"""Staff accounts through the mail, end to end: the invitation and the password reset an admin sends from the
Users page go out through the outbox to a real SMTP server; the link in the email sets a password once; a
deactivated person's open session ends and they can't sign in."""

from __future__ import annotations

import re

from sqlalchemy import select

from core.db import utcnow
from core.notifications.models import OutboxMessage
from core.notifications.smtp import SmtpSettings, dispatch_email_outbox
from core.security.models import User
from tests.factories import PASSWORD, make_user
from tests.helpers import csrf_token, sign_in
from tests.worker.smtp_server import running_smtp_server

PORTAL = "http://portal.test"


def _deliver(session_factory, secret: str) -> list:
    with running_smtp_server() as smtp:
        settings = SmtpSettings(
            port=smtp.port, mail_from="team@shop.example", portal_base_url=PORTAL, secret_key=secret
        )
        result = dispatch_email_outbox(session_factory, settings, now=utcnow(), secret=secret)
        assert result.claimed >= 1
        return list(smtp.messages)


def _link(message, path: str) -> str:
    body = message.get_body(("plain",)).get_content()
    match = re.search(rf"{re.escape(PORTAL)}({re.escape(path)}[^\s]+)", body)
    assert match, body
    return match.group(1)


def test_an_invitation_by_email_sets_a_password_once_then_deactivation_ends_the_session(
    app, client, db, session_factory
) -> None:
    admin = make_user(db, role="admin")
    sign_in(client, admin.email, PASSWORD, console=True)
    token = csrf_token(client, "/console/admin/users")
    form = {"csrf_token": token, "email": "nia@shop.example", "name": "Nia Patel", "role": "agent"}
    assert client.post("/console/admin/users", data=form).status_code == 303
    db.commit()

    [mail] = _deliver(session_factory, app.config["SECRET_KEY"])
    assert mail["To"] == "nia@shop.example"
    link = _link(mail, "/console/invite/")
    newcomer = app.test_client()
    assert newcomer.get(link).status_code == 200
    short = newcomer.post(link, data={"csrf_token": csrf_token(newcomer, link), "password": "short"})
    assert short.status_code == 422
    accepted = newcomer.post(
        link, data={"csrf_token": csrf_token(newcomer, link), "password": "nia-secret-pass"}
    )
    assert accepted.status_code == 303
    assert sign_in(newcomer, "nia@shop.example", "nia-secret-pass", console=True).status_code == 303
    assert newcomer.get("/console/tickets").status_code == 200
    other = app.test_client()
    reused = other.post(link, data={"csrf_token": csrf_token(other, link), "password": "another-pass-123"})
    assert reused.status_code == 400

    nia = db.scalar(select(User).where(User.email == "nia@shop.example"))
    token = csrf_token(client, "/console/admin/users")
    assert (
        client.post(
            f"/console/admin/users/{nia.id}", data={"csrf_token": token, "action": "deactivate"}
        ).status_code
        == 303
    )
    signed_out = newcomer.get("/console/tickets")
    assert signed_out.status_code == 302 and "/console/login" in signed_out.headers["Location"]
    refused = sign_in(app.test_client(), "nia@shop.example", "nia-secret-pass", console=True)
    assert refused.status_code != 303


def test_a_password_reset_by_email_works_once(app, client, db, session_factory) -> None:
    admin = make_user(db, role="admin")
    agent = make_user(db, role="agent", email="sam@shop.example")
    sign_in(client, admin.email, PASSWORD, console=True)
    token = csrf_token(client, "/console/admin/users")
    assert (
        client.post(
            f"/console/admin/users/{agent.id}", data={"csrf_token": token, "action": "reset"}
        ).status_code
        == 303
    )
    db.commit()
    assert (
        db.scalar(select(OutboxMessage.kind).where(OutboxMessage.recipient == "sam@shop.example"))
        == "password_reset"
    )

    [mail] = _deliver(session_factory, app.config["SECRET_KEY"])
    body = mail.get_body(("plain",)).get_content()
    path = re.search(rf"{re.escape(PORTAL)}(/\S*reset\S*)", body).group(1)
    person = app.test_client()
    page = person.get(path)
    assert page.status_code == 200
    form = {
        "csrf_token": csrf_token(person, path),
        "password": "sam-new-password",
        "confirm": "sam-new-password",
    }
    form |= {"password_confirm": "sam-new-password"}
    assert person.post(path, data=form).status_code == 303
    assert sign_in(app.test_client(), "sam@shop.example", "sam-new-password", console=True).status_code == 303
    again = app.test_client()
    second = again.post(
        path, data={**form, "csrf_token": csrf_token(again, path), "password": "third-password-1"}
    )
    assert second.status_code != 303
