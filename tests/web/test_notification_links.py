"""Links in our emails: the tracking link opens one order without sign-in; one-click unsubscribe works without
a CSRF token (the signed token is the proof); staff see sent mail and retry failed emails."""

from __future__ import annotations

from sqlalchemy import select

from core.audit.models import AuditEntry
from core.customers.models import Customer
from core.notifications.models import OutboxMessage
from core.security.tokens import make_tracking_token, make_unsubscribe_token
from tests.factories import PASSWORD, make_customer, make_order, make_user
from tests.helpers import NOT_SIGN_IN, csrf_token, sign_in

SECRET = "test-secret"


def test_tracking_link_opens_that_order_only(client, db) -> None:
    order, other = make_order(db), make_order(db)
    db.commit()
    response = client.get(f"/track/{make_tracking_token(SECRET, order.id)}")
    assert response.status_code == 303 and response.headers["Location"] == f"/orders/{order.number}"
    assert client.get(f"/orders/{order.number}").status_code == 200
    assert client.get(f"/orders/{other.number}").status_code == 404
    assert client.get("/track/forged-token").status_code == 400


def test_one_click_unsubscribe_turns_off_only_that_kind(client, db) -> None:
    customer = make_customer(db)
    db.commit()
    token = make_unsubscribe_token(SECRET, customer.id, "shipment_delivered")
    assert "Stop this kind of email" in client.get(f"/unsubscribe/{token}").get_data(as_text=True)
    response = client.post(f"/unsubscribe/{token}")
    assert response.status_code == 200 and "unsubscribed" in response.get_data(as_text=True)
    db.refresh(db.get(Customer, customer.id))
    assert db.get(Customer, customer.id).notification_prefs["email_opt_out"] == ["shipment_delivered"]
    assert client.post("/unsubscribe/forged").status_code == 400


def test_staff_retry_a_failed_email_and_it_is_audited(client, db) -> None:
    message = OutboxMessage(
        kind="shipment_shipped",
        dedup_key="shipment:1:shipped",
        recipient="a@example.org",
        status="failed",
        attempts=3,
        last_error="550 mailbox unavailable",
    )
    db.add(message)
    agent = make_user(db, "agent")
    db.commit()
    sign_in(client, agent.email, PASSWORD, console=True)
    page = client.get("/console/mail").get_data(as_text=True)
    assert "550 mailbox unavailable" in page and "No mail caught yet" in page
    assert "0 sent, 1 failed, 0 skipped." in page
    token = csrf_token(client, "/console/mail")
    client.post(f"/console/outbox/{message.id}/retry", data={"csrf_token": token})
    db.refresh(message)
    assert message.status == "pending"
    assert (
        db.scalar(select(AuditEntry.action).where(AuditEntry.actor_id == agent.id, NOT_SIGN_IN))
        == "outbox.retry"
    )


def test_caught_mail_is_listed_and_shown_sandboxed(client, db, app) -> None:
    from email.message import EmailMessage

    maildir = app.config["MAIL_DIR"]
    message = EmailMessage()
    message["Subject"], message["From"], message["To"] = (
        "Your order shipped",
        "shop@example.org",
        "a@example.org",
    )
    message.set_content("plain body")
    message.add_alternative("<p onclick='x()'>html body</p>", subtype="html")
    port_free_save(maildir, message)
    sign_in(client, make_user(db, "agent").email, PASSWORD, console=True)
    page = client.get("/console/mail").get_data(as_text=True)
    assert "Your order shipped" in page
    name = page.split("/console/mail/")[1].split('"')[0]
    shown = client.get(f"/console/mail/{name}").get_data(as_text=True)
    assert "sandbox srcdoc=" in shown and "plain body" in shown and "<p onclick" not in shown
    assert client.get("/console/mail/..%2Fsecret_key").status_code == 404


def port_free_save(maildir, message) -> None:
    """Deliver one message through a real catcher on a free loopback port."""
    import smtplib
    import socket

    from core.notifications.catcher import start_catcher

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = start_catcher("127.0.0.1", port, maildir)
    try:
        with smtplib.SMTP("127.0.0.1", port) as smtp:
            smtp.send_message(message)
    finally:
        controller.stop()
