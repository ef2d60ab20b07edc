"""My details: profile, optional emails, data download, deletion request."""

from __future__ import annotations

import json

from core.customers.models import Customer
from core.support.models import Conversation, Message
from tests.factories import PASSWORD, make_order, make_user
from tests.helpers import csrf_token, sign_in


def signed_in_customer(client, db):
    user = make_user(db, "customer")
    sign_in(client, user.email, PASSWORD)
    return user


def test_account_saves_profile_and_email_opt_outs(client, db) -> None:
    user = signed_in_customer(client, db)
    token = csrf_token(client, "/account")
    response = client.post(
        "/account",
        data={
            "csrf_token": token,
            "name": "Ann Lee",
            "phone": "+44 20 7946 0000",
            "email_shipment_delivered": "1",
        },
    )
    assert response.status_code == 303
    customer = db.get(Customer, user.customer_id)
    db.refresh(customer)
    assert customer.name == "Ann Lee" and customer.phone == "+442079460000"
    assert customer.notification_prefs["email_opt_out"] == ["shipment_out_for_delivery"]
    page = client.get("/account").get_data(as_text=True)
    assert "Your details are saved" in page


def test_account_rejects_bad_phone_with_a_clear_message(client, db) -> None:
    signed_in_customer(client, db)
    token = csrf_token(client, "/account")
    response = client.post("/account", data={"csrf_token": token, "name": "Ann", "phone": "12"})
    assert response.status_code == 422 and "at least 7 digits" in response.get_data(as_text=True)


def test_data_download_has_my_orders_and_no_internal_notes(client, db) -> None:
    user = signed_in_customer(client, db)
    order = make_order(db, customer_id=user.customer_id)
    conversation = Conversation(customer_id=user.customer_id, subject="Where is it?")
    db.add(conversation)
    db.flush()
    db.add_all(
        [
            Message(conversation_id=conversation.id, author_kind="customer", body="Hello?"),
            Message(conversation_id=conversation.id, author_kind="agent", body="secret note", internal=True),
        ]
    )
    db.commit()
    response = client.get("/account/data.json")
    assert response.status_code == 200 and "attachment" in response.headers["Content-Disposition"]
    data = json.loads(response.get_data(as_text=True))
    assert [o["number"] for o in data["orders"]] == [order.number]
    assert [m["body"] for m in data["conversations"][0]["messages"]] == ["Hello?"]


def test_deletion_request_is_recorded_and_confirmed(client, db) -> None:
    user = signed_in_customer(client, db)
    token = csrf_token(client, "/account")
    client.post("/account/delete", data={"csrf_token": token, "confirm": "yes"})
    customer = db.get(Customer, user.customer_id)
    db.refresh(customer)
    assert customer.deletion_requested_at is not None
    assert "asked for your account to be deleted" in client.get("/account").get_data(as_text=True)
