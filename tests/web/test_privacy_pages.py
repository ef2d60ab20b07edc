"""Data rights in the portal and the console: export, erasure request and erasure, rectification, the
privacy requests list."""

from __future__ import annotations

import json

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.audit.models import AuditEntry
from core.customers.models import CrmNote, Customer
from core.privacy.erasure import is_erased
from core.privacy.models import PrivacyRequest
from tests.factories import PASSWORD, make_user
from tests.helpers import csrf_token, sign_in
from tests.privacy_factories import EMAIL, NAME, make_person


def _staff(client: FlaskClient, db: Session, role: str) -> None:
    user = make_user(db, role)
    sign_in(client, user.email, PASSWORD, console=True)


def test_portal_export_is_a_private_attachment_with_everything_visible_to_me(
    client: FlaskClient, db: Session
) -> None:
    person = make_person(db)
    sign_in(client, EMAIL, PASSWORD)
    response = client.get("/account/data.json")
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["Content-Disposition"].startswith("attachment;")
    data = json.loads(response.get_data(as_text=True))
    assert data["customer"]["email"] == EMAIL
    assert [i["channel_customer_id"] for i in data["channel_identities"]] == ["7011122233"]
    numbers = {o["number"] for o in data["orders"]}
    assert numbers == {o.number for o in person.orders}  # the merged customer's order too
    first = next(o for o in data["orders"] if o["number"] == person.orders[0].number)
    assert first["returns"][0]["rma"] == "RMA-PRIV-1" and first["refunds"][0]["amount"] == "10.00"
    assert first["shipments"][0]["tracking_number"] == "15501234567890"
    assert first["lines"][0]["title"] == "Item 1" and first["tax_total"] == "3.00"
    bodies = [m["body"] for c in data["conversations"] for m in c["messages"]]
    assert any(NAME in b for b in bodies)
    text = response.get_data(as_text=True)
    assert "Internal: VIP" not in text  # an internal note
    assert "prefers phone calls" not in text  # a CRM note
    assert "password" not in text


def test_portal_erasure_request_is_recorded_for_staff(client: FlaskClient, db: Session) -> None:
    person = make_person(db)
    sign_in(client, EMAIL, PASSWORD)
    token = csrf_token(client, "/account")
    response = client.post("/account/delete", data={"csrf_token": token, "confirm": "yes"})
    assert response.status_code == 303
    request = db.scalar(select(PrivacyRequest).where(PrivacyRequest.customer_id == person.customer.id))
    assert (request.kind, request.source, request.status) == ("erasure", "portal", "open")
    client.post("/account/delete", data={"csrf_token": token, "confirm": "yes"})
    assert len(db.scalars(select(PrivacyRequest)).all()) == 1  # asking twice is one request
    client.post("/logout", data={"csrf_token": csrf_token(client, "/account")})
    _staff(client, db, "manager")
    page = client.get("/console/privacy/requests").get_data(as_text=True)
    assert f"privacy-request-{request.id}" in page and "Review and erase" in page


def test_console_export_downloads_the_same_file_and_is_audited(client: FlaskClient, db: Session) -> None:
    person = make_person(db)
    _staff(client, db, "agent")
    path = f"/console/customers/{person.customer.id}"
    token = csrf_token(client, path)
    response = client.post(f"{path}/export.json", data={"csrf_token": token})
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    assert json.loads(response.get_data(as_text=True))["customer"]["name"] == NAME
    entry = db.scalar(select(AuditEntry).where(AuditEntry.action == "customer.exported"))
    assert entry.entity_id == str(person.customer.id) and entry.after["orders"] == 2


def test_console_export_needs_the_csrf_token(client: FlaskClient, db: Session) -> None:
    person = make_person(db)
    _staff(client, db, "agent")
    response = client.post(f"/console/customers/{person.customer.id}/export.json")
    assert response.status_code == 400


@pytest.mark.parametrize("method", ["get", "post"])
def test_agents_cannot_erase(client: FlaskClient, db: Session, method: str) -> None:
    person = make_person(db)
    _staff(client, db, "agent")
    response = getattr(client, method)(f"/console/customers/{person.customer.id}/erase")
    assert response.status_code in (400, 403)
    assert not is_erased(db.get(Customer, person.customer.id))


def test_manager_erases_after_typing_the_customer_number(client: FlaskClient, db: Session) -> None:
    person = make_person(db)
    _staff(client, db, "manager")
    path = f"/console/customers/{person.customer.id}/erase"
    page = client.get(path)
    assert page.status_code == 200 and "cannot be undone" in page.get_data(as_text=True)
    token = csrf_token(client, path)
    wrong = client.post(path, data={"csrf_token": token, "confirm": "999"})
    assert wrong.status_code == 422 and not is_erased(db.get(Customer, person.customer.id))
    done = client.post(path, data={"csrf_token": token, "confirm": str(person.customer.id)})
    assert done.status_code == 303
    db.expire_all()
    assert is_erased(db.get(Customer, person.customer.id))
    assert db.scalar(select(CrmNote).where(CrmNote.customer_id == person.customer.id)) is None
    entry = db.scalar(select(AuditEntry).where(AuditEntry.action == "customer.erased"))
    assert entry.actor_label.startswith("manager")
    client.post("/console/logout", data={"csrf_token": csrf_token(client, "/console/")})
    signed = sign_in(client, EMAIL, PASSWORD)
    assert signed.status_code == 401 and "match an account" in signed.get_data(as_text=True)


def test_agent_corrects_details_with_before_and_after_in_the_audit_log(
    client: FlaskClient, db: Session
) -> None:
    person = make_person(db)
    _staff(client, db, "agent")
    path = f"/console/customers/{person.customer.id}/details"
    token = csrf_token(client, path)
    identity = person.customer.identities[0]
    response = client.post(
        path,
        data={
            "csrf_token": token,
            "name": "Margarethe Quist",
            "email": "mq@example.net",
            "phone": "",
            "identity_id": str(identity.id),
            "name_": "",
            "line1": "18 Larkspur Crescent",
            "city": "Leeds",
            "postal_code": "LS6 2QT",
            "country": "gb",
        },
    )
    assert response.status_code == 303
    db.expire_all()
    customer = db.get(Customer, person.customer.id)
    assert (customer.name, customer.email, customer.phone) == ("Margarethe Quist", "mq@example.net", None)
    assert person.user.email == "mq@example.net"
    entries = {
        e.action: e
        for e in db.scalars(select(AuditEntry).where(AuditEntry.entity_id == str(customer.id))).all()
    }
    rectified = entries["customer.rectified"]
    assert rectified.before == {"name": NAME, "email": EMAIL, "phone": "+447700900123"}
    assert rectified.after == {"name": "Margarethe Quist", "email": "mq@example.net", "phone": None}
    moved = entries["customer.address_rectified"]
    assert moved.before["address"]["line1"] == "17 Larkspur Crescent"
    assert (
        moved.after["address"]["line1"] == "18 Larkspur Crescent"
        and moved.after["address"]["country"] == "GB"
    )


def test_rectify_refuses_a_bad_email_and_changes_nothing(client: FlaskClient, db: Session) -> None:
    person = make_person(db)
    _staff(client, db, "agent")
    path = f"/console/customers/{person.customer.id}/details"
    response = client.post(
        path, data={"csrf_token": csrf_token(client, path), "name": NAME, "email": "not an email"}
    )
    assert response.status_code == 422 and "is not an email address" in response.get_data(as_text=True)
    db.expire_all()
    assert db.get(Customer, person.customer.id).email == EMAIL


def test_privacy_requests_list_is_empty_then_dismissed_with_a_reason(
    client: FlaskClient, db: Session
) -> None:
    _staff(client, db, "manager")
    assert "No open requests" in client.get("/console/privacy/requests").get_data(as_text=True)
    person = make_person(db)
    request = PrivacyRequest(kind="export", source="shopify", customer_id=person.customer.id, reference={})
    db.add(request)
    db.commit()
    token = csrf_token(client, "/console/privacy/requests")
    response = client.post(
        f"/console/privacy/requests/{request.id}/dismiss", data={"csrf_token": token, "reason": "duplicate"}
    )
    assert response.status_code == 303
    db.expire_all()
    assert db.get(PrivacyRequest, request.id).status == "dismissed"
    done = client.get("/console/privacy/requests?status=dismissed").get_data(as_text=True)
    assert "duplicate" in done


def test_customer_page_offers_the_data_rights_actions(client: FlaskClient, db: Session) -> None:
    person = make_person(db)
    _staff(client, db, "manager")
    page = client.get(f"/console/customers/{person.customer.id}").get_data(as_text=True)
    assert (
        "Download their data (JSON)" in page and "Erase personal data" in page and "Correct details" in page
    )
