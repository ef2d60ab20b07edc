"""Console returns: the queue of returns waiting for staff, one return with its actions (approve, reject
with a reason, receive into stock, refund by a manager), each through a real form and into the audit log."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from core.audit.models import AuditEntry
from core.returns.models import Refund, ReturnRequest
from core.returns.services import approve_return, receive_return, request_return
from tests.factories import NOW, PASSWORD, make_sku, make_user
from tests.helpers import NOT_SIGN_IN, csrf_token, sign_in
from tests.inventory_factories import level
from tests.returns_factories import AGENT, CUSTOMER, make_delivered_order, make_shop

HX = {"HX-Request": "true"}


def signed_in(client, db, role: str = "agent"):
    user = make_user(db, role)
    db.commit()
    sign_in(client, user.email, PASSWORD, console=True)
    return user


def audit_actions(db, user) -> list[str]:
    return list(db.scalars(select(AuditEntry.action).where(AuditEntry.actor_id == user.id, NOT_SIGN_IN)))


def status_of(db, rma) -> str:
    return db.scalar(
        select(ReturnRequest.status)
        .where(ReturnRequest.id == rma.id)
        .execution_options(populate_existing=True)
    )


@pytest.fixture
def requested(db):
    """Two delivered mugs, both asked back by the customer (paid 10.00 each, 4.00 shipping)."""
    channel, location = make_shop(db, return_window_days=30)
    mug = make_sku(db, code="MUG-RET", title="Blue mug")
    order = make_delivered_order(db, channel, location, [(mug, 2)], shipping_total=400)
    rma = request_return(db, order, [(order.lines[0].id, 2)], reason="damaged", actor=CUSTOMER, now=NOW)
    db.commit()
    return rma, order, location, mug


def approved(db, rma):
    approve_return(db, rma.id, actor=AGENT, now=NOW)
    db.commit()
    return rma


def received(db, rma, location):
    approved(db, rma)
    receive_return(db, rma.id, [(rma.lines[0].id, 2, 0)], location_id=location.id, actor=AGENT, now=NOW)
    db.commit()
    return rma


# --- the queue and one return ---------------------------------------------------------------------------


def test_returns_queue_lists_returns_with_their_next_action(client, db, requested) -> None:
    rma, order, *_ = requested
    signed_in(client, db)
    html = client.get("/console/returns").get_data(as_text=True)
    assert rma.rma_number in html and order.number in html and "approve or reject" in html
    assert "2 × Blue mug" in html and "arrived damaged" in html


def test_returns_queue_empty_state_and_htmx_fragment(client, db) -> None:
    signed_in(client, db)
    assert "No returns waiting" in client.get("/console/returns").get_data(as_text=True)
    fragment = client.get("/console/returns", headers=HX).get_data(as_text=True)
    assert "No returns waiting" in fragment and "<html" not in fragment


def test_return_detail_shows_lines_and_the_actions_its_status_allows(client, db, requested) -> None:
    rma, *_ = requested
    signed_in(client, db)
    html = client.get(f"/console/returns/{rma.id}").get_data(as_text=True)
    assert rma.rma_number in html and "MUG-RET" in html
    assert "Approve return" in html and "Reject return" in html and "Record receipt" not in html
    fragment = client.get(f"/console/returns/{rma.id}", headers=HX).get_data(as_text=True)
    assert 'id="return-panel"' in fragment and "<html" not in fragment
    assert client.get("/console/returns/999999").status_code == 404


# --- approve and reject ---------------------------------------------------------------------------------


def test_agent_approves_a_return_with_audit(client, db, requested) -> None:
    rma, *_ = requested
    agent = signed_in(client, db)
    token = csrf_token(client, f"/console/returns/{rma.id}")
    response = client.post(f"/console/returns/{rma.id}/approve", data={"csrf_token": token})
    assert response.status_code == 303 and response.headers["Location"] == f"/console/returns/{rma.id}"
    html = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Return approved" in html and "Record receipt" in html
    assert status_of(db, rma) == "approved" and audit_actions(db, agent) == ["return.approve"]


def test_htmx_approve_answers_the_updated_panel(client, db, requested) -> None:
    rma, *_ = requested
    signed_in(client, db)
    token = csrf_token(client, f"/console/returns/{rma.id}")
    response = client.post(f"/console/returns/{rma.id}/approve", headers=HX | {"X-CSRFToken": token})
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and "<html" not in html
    assert 'id="return-panel"' in html and "Record receipt" in html and "Approve return" not in html


def test_reject_without_a_reason_is_refused_and_changes_nothing(client, db, requested) -> None:
    rma, *_ = requested
    agent = signed_in(client, db)
    token = csrf_token(client, f"/console/returns/{rma.id}")
    htmx = client.post(
        f"/console/returns/{rma.id}/reject", data={"reason": "  "}, headers=HX | {"X-CSRFToken": token}
    )
    assert htmx.status_code == 422 and "say why the return is rejected" in htmx.get_data(as_text=True)
    plain = client.post(f"/console/returns/{rma.id}/reject", data={"csrf_token": token, "reason": ""})
    assert "say why the return is rejected" in client.get(plain.headers["Location"]).get_data(as_text=True)
    assert status_of(db, rma) == "requested" and audit_actions(db, agent) == []


def test_reject_with_a_reason_closes_the_return(client, db, requested) -> None:
    rma, *_ = requested
    agent = signed_in(client, db)
    token = csrf_token(client, f"/console/returns/{rma.id}")
    client.post(
        f"/console/returns/{rma.id}/reject", data={"csrf_token": token, "reason": "Used, not damaged"}
    )
    assert status_of(db, rma) == "rejected" and audit_actions(db, agent) == ["return.reject"]
    html = client.get(f"/console/returns/{rma.id}").get_data(as_text=True)
    assert "Used, not damaged" in html and "Reject return" not in html


# --- receive --------------------------------------------------------------------------------------------


def test_agent_receives_a_return_restocking_the_good_units(client, db, requested) -> None:
    rma, _order, location, mug = requested
    approved(db, rma)
    agent = signed_in(client, db)
    page = client.get(f"/console/returns/{rma.id}").get_data(as_text=True)
    assert f'<option value="{location.id}">' in page
    token = csrf_token(client, f"/console/returns/{rma.id}")
    line_id = rma.lines[0].id
    response = client.post(
        f"/console/returns/{rma.id}/receive",
        data={
            "csrf_token": token,
            f"received-{line_id}": "2",
            f"damaged-{line_id}": "1",
            "location_id": location.id,
        },
    )
    assert response.status_code == 303
    assert status_of(db, rma) == "received" and level(db, location.id, mug.id) == (1, 0)
    assert audit_actions(db, agent) == ["return.receive"]


def test_receive_without_a_location_or_before_approval_is_refused(client, db, requested) -> None:
    rma, _order, location, mug = requested
    agent = signed_in(client, db)
    token = csrf_token(client, f"/console/returns/{rma.id}")
    line_id = rma.lines[0].id
    early = client.post(
        f"/console/returns/{rma.id}/receive",
        data={f"received-{line_id}": "2", "location_id": location.id},
        headers=HX | {"X-CSRFToken": token},
    )
    assert early.status_code == 422 and "cannot go from requested to received" in early.get_data(as_text=True)
    approved(db, rma)
    no_location = client.post(
        f"/console/returns/{rma.id}/receive",
        data={f"received-{line_id}": "2"},
        headers=HX | {"X-CSRFToken": token},
    )
    assert no_location.status_code == 422 and "choose the location" in no_location.get_data(as_text=True)
    not_a_number = client.post(
        f"/console/returns/{rma.id}/receive",
        data={f"received-{line_id}": "two", "location_id": location.id},
        headers=HX | {"X-CSRFToken": token},
    )
    assert "must be whole numbers" in not_a_number.get_data(as_text=True)
    assert status_of(db, rma) == "approved" and level(db, location.id, mug.id) == (0, 0)
    assert audit_actions(db, agent) == []


# --- refund ---------------------------------------------------------------------------------------------


def test_manager_refunds_the_default_amount_with_audit(client, db, requested) -> None:
    rma, order, location, _mug = requested
    received(db, rma, location)
    manager = signed_in(client, db, "manager")
    page = client.get(f"/console/returns/{rma.id}").get_data(as_text=True)
    assert "20.00 USD" in page and "Shipping to refund" in page
    token = csrf_token(client, f"/console/returns/{rma.id}")
    response = client.post(
        f"/console/returns/{rma.id}/refund",
        data={"csrf_token": token, "shipping_amount": "4.00", "method": "original"},
    )
    assert response.status_code == 303
    refund = db.scalars(select(Refund).where(Refund.return_id == rma.id)).one()
    assert (refund.amount, refund.shipping_amount, refund.method) == (2000, 400, "original")
    assert status_of(db, rma) == "refunded"
    entry = db.scalars(select(AuditEntry).where(AuditEntry.actor_id == manager.id, NOT_SIGN_IN)).one()
    assert (entry.action, entry.entity_type, entry.entity_id) == ("refund.create", "order", str(order.id))


def test_refund_beyond_what_was_paid_is_refused(client, db, requested) -> None:
    rma, _order, location, _mug = requested
    received(db, rma, location)
    manager = signed_in(client, db, "manager")
    token = csrf_token(client, f"/console/returns/{rma.id}")
    response = client.post(
        f"/console/returns/{rma.id}/refund",
        data={"shipping_amount": "9.00", "method": "original"},
        headers=HX | {"X-CSRFToken": token},
    )
    assert response.status_code == 422 and "at most 4.00 USD of shipping" in response.get_data(as_text=True)
    assert db.scalars(select(Refund).where(Refund.return_id == rma.id)).all() == []
    assert status_of(db, rma) == "received" and audit_actions(db, manager) == []


def test_agent_cannot_refund(client, db, requested) -> None:
    rma, _order, location, _mug = requested
    received(db, rma, location)
    signed_in(client, db)
    page = client.get(f"/console/returns/{rma.id}").get_data(as_text=True)
    assert "a manager issues the refund" in page and "Shipping to refund" not in page
    token = csrf_token(client, f"/console/returns/{rma.id}")
    assert client.post(f"/console/returns/{rma.id}/refund", data={"csrf_token": token}).status_code == 403
    assert status_of(db, rma) == "received"
