"""Console settings: the customer emails' own texts — a subject, a paragraph before and after the shipped text
per kind, stored in the database and falling back to the shipped text; a preview rendered from a sample order
(also of texts not yet saved); managers and admins only; audited; a refused form keeps what was typed."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from core.audit.models import AuditEntry
from core.configuration.models import EmailText
from core.notifications.rendering import render_email
from core.notifications.services import queue_order_confirmed
from tests.factories import NOW, PASSWORD, make_channel, make_customer, make_order, make_user
from tests.helpers import csrf_token, sign_in

PATH = "/console/admin/emails/order_confirmed"


@pytest.fixture
def manager(client, db):
    user = make_user(db, role="manager")
    assert sign_in(client, user.email, PASSWORD, console=True).status_code == 303
    return user


@pytest.fixture
def order(db):
    channel = make_channel(db, name="Lamps & Co")
    customer = make_customer(db, name="Ada Lovelace", email="ada@example.org")
    return make_order(
        db, channel_id=channel.id, customer_id=customer.id, email="ada@example.org", buyer_name="Ada Lovelace"
    )


def _save(client, **fields: str):
    form = {"csrf_token": csrf_token(client, PATH), "subject": "", "intro": "", "outro": ""} | fields
    return client.post(PATH, data=form)


@pytest.mark.parametrize("path", ["/console/admin/emails", PATH])
def test_email_texts_are_for_managers_and_admins(client, db, path) -> None:
    agent = make_user(db, role="agent")
    sign_in(client, agent.email, PASSWORD, console=True)
    assert client.get(path).status_code == 403


def test_the_list_shows_shipped_texts_until_changed(client, manager) -> None:
    page = client.get("/console/admin/emails").get_data(as_text=True)
    assert (
        "Order confirmed" in page and "Your order {order_number} is confirmed" in page and "yours" not in page
    )
    assert client.get("/console/admin/emails/password_reset").status_code == 404


def test_saved_texts_go_into_the_sent_email_and_the_preview(client, db, manager, order) -> None:
    saved = _save(
        client,
        subject="{first_name}, order {order_number} is in!",
        intro="Thanks for shopping with {channel} <3",
        outro="Questions? Call us.\r\n\r\nThe lamp team",
    )
    assert saved.status_code == 303
    row = db.get(EmailText, "order_confirmed")
    assert row.outro == "Questions? Call us.\n\nThe lamp team"
    entry = db.scalar(select(AuditEntry).where(AuditEntry.action == "email_texts.change"))
    assert entry.before is None and entry.after["intro"] == "Thanks for shopping with {channel} <3"

    message = queue_order_confirmed(db, order, now=NOW)
    email = render_email(
        db, message, mail_from="orders@crossdock.test", portal_base_url="http://x", secret="s", now=NOW
    )
    assert email["Subject"] == f"Ada, order {order.number} is in!"
    text = email.get_body(("plain",)).get_content()
    html = email.get_body(("html",)).get_content()
    assert "Thanks for shopping with Lamps & Co <3" in text and "The lamp team" in text
    assert text.index("Thanks for shopping") < text.index("We have your order") < text.index("The lamp team")
    assert (
        "Thanks for shopping with Lamps &amp; Co &lt;3" in html
        and '<p style="margin:0 0 16px;">The lamp team</p>' in html
    )

    page = client.get(PATH).get_data(as_text=True)
    assert f"Rendered from order {order.number}" in page
    assert f"Ada, order {order.number} is in!" in page and "Thanks for shopping with Lamps &amp; Co" in page

    # Blank again: the shipped subject and text come back.
    assert _save(client).status_code == 303
    db.expire_all()
    again = render_email(
        db, message, mail_from="orders@crossdock.test", portal_base_url="http://x", secret="s", now=NOW
    )
    assert again["Subject"] == f"Your order {order.number} is confirmed"
    assert "Thanks for shopping" not in again.get_body(("plain",)).get_content()


def test_preview_without_saving_changes_nothing(client, db, manager, order) -> None:
    response = _save(client, intro="Just trying this out", action="preview")
    page = response.get_data(as_text=True)
    assert response.status_code == 200 and "not saved" in page
    # In the form, in the HTML preview's frame and in the plain-text part.
    assert page.count("Just trying this out") == 3
    assert db.get(EmailText, "order_confirmed") is None
    assert db.scalar(select(AuditEntry.id).where(AuditEntry.action == "email_texts.change")) is None


def test_an_unknown_placeholder_is_refused_and_the_form_kept(client, db, manager) -> None:
    response = _save(client, subject="Order {number}", intro="Kept intro")
    page = response.get_data(as_text=True)
    assert response.status_code == 422 and "may name only {order_number}, {channel}, {first_name}" in page
    assert 'value="Order {number}"' in page and "Kept intro</textarea>" in page
    assert db.get(EmailText, "order_confirmed") is None


def test_preview_says_when_there_is_no_sample_order(client, manager) -> None:
    page = client.get("/console/admin/emails/shipment_shipped").get_data(as_text=True)
    assert "No order has what this email shows yet" in page
