"""Collision notices on the console's ticket page: the heartbeat endpoint (staff only, CSRF), another agent
viewing or writing shown live, gone after the window; a reply held back with its draft kept when someone
else replied since the page was loaded."""

from __future__ import annotations

import html as htmllib
import re
from datetime import timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.db import utcnow
from core.support.models import Message, TicketPresence
from core.support.presence import PRESENCE_WINDOW
from tests.factories import PASSWORD, make_customer, make_user
from tests.helpers import csrf_token, sign_in
from tests.support_factories import make_conversation

SEEN_RE = re.compile(r'name="seen_message_id" value="(\d+)"')


@pytest.fixture
def ticket(db: Session):
    customer = make_customer(db, name="Jane Doe", email="jane@example.org")
    return make_conversation(db, customer_id=customer.id, body="Where is my tent?")


def signed_in(app: Flask, user) -> FlaskClient:
    client = app.test_client()
    assert sign_in(client, user.email, PASSWORD, console=True).status_code == 303
    return client


def heartbeat(client: FlaskClient, ticket_id: int, body: str = "") -> tuple[int, str]:
    token = csrf_token(client, "/console/")
    response = client.post(
        f"/console/tickets/{ticket_id}/presence",
        data={"body": body},
        headers={"HX-Request": "true", "X-CSRFToken": token},
    )
    return response.status_code, response.get_data(as_text=True)


def test_ticket_page_polls_the_heartbeat_with_the_draft(app, db, ticket) -> None:
    dana = signed_in(app, make_user(db, "agent", name="Dana"))
    page = dana.get(f"/console/tickets/{ticket.id}").get_data(as_text=True)
    assert f'hx-post="/console/tickets/{ticket.id}/presence"' in page
    assert 'hx-trigger="load, every 5s"' in page and 'hx-include="#reply-body"' in page


@pytest.mark.parametrize("role", ["agent", "manager", "admin"])
def test_other_agent_sees_who_is_viewing_then_replying(app, db, ticket, role) -> None:
    dana = signed_in(app, make_user(db, role, name="Dana"))
    sam = signed_in(app, make_user(db, "agent", name="Sam"))
    assert heartbeat(dana, ticket.id) == (200, "")  # nobody else yet
    status, fragment = heartbeat(sam, ticket.id)
    assert status == 200 and "<strong>Dana</strong> is viewing" in fragment
    assert "Sam" not in fragment  # never yourself
    heartbeat(dana, ticket.id, body="Hi Jane, ")
    assert "<strong>Dana</strong> is replying" in heartbeat(sam, ticket.id)[1]
    heartbeat(dana, ticket.id, body="   ")  # an emptied box is viewing again
    assert "<strong>Dana</strong> is viewing" in heartbeat(sam, ticket.id)[1]
    assert "<strong>Sam</strong> is viewing" in heartbeat(dana, ticket.id)[1]
    rows = db.scalars(select(TicketPresence).where(TicketPresence.conversation_id == ticket.id)).all()
    assert len(rows) == 2  # one row per agent, overwritten by each heartbeat


def test_agent_who_left_is_no_longer_shown(app, db, ticket) -> None:
    dana = make_user(db, "agent", name="Dana")
    db.add(
        TicketPresence(
            conversation_id=ticket.id,
            user_id=dana.id,
            state="replying",
            last_seen_at=utcnow() - PRESENCE_WINDOW - timedelta(seconds=1),
        )
    )
    db.flush()
    sam = signed_in(app, make_user(db, "agent", name="Sam"))
    assert heartbeat(sam, ticket.id) == (200, "")


def test_heartbeat_refuses_customers_strangers_unknown_tickets_and_missing_csrf(app, db, ticket) -> None:
    customer = make_user(db, "customer")
    shopper = app.test_client()
    assert sign_in(shopper, customer.email, PASSWORD).status_code == 303
    token = csrf_token(shopper, "/account")
    response = shopper.post(f"/console/tickets/{ticket.id}/presence", headers={"X-CSRFToken": token})
    assert response.status_code == 403

    stranger = app.test_client()
    response = stranger.post(f"/console/tickets/{ticket.id}/presence")
    assert response.status_code in (302, 400)  # no session: CSRF or the sign-in redirect, never a write

    sam = signed_in(app, make_user(db, "agent", name="Sam"))
    assert sam.post(f"/console/tickets/{ticket.id}/presence", data={"body": ""}).status_code == 400
    assert heartbeat(sam, ticket.id + 1000)[0] == 404
    assert db.scalars(select(TicketPresence)).all() == []


def seen_id(client: FlaskClient, ticket_id: int) -> str:
    match = SEEN_RE.search(client.get(f"/console/tickets/{ticket_id}").get_data(as_text=True))
    assert match
    return match.group(1)


def reply(client: FlaskClient, ticket_id: int, body: str, seen: str):
    token = csrf_token(client, "/console/")
    return client.post(
        f"/console/tickets/{ticket_id}/messages",
        data={"kind": "reply", "body": body, "status": "pending", "seen_message_id": seen},
        headers={"HX-Request": "true", "X-CSRFToken": token},
    )


def test_reply_collision_warns_and_keeps_the_draft_then_sends(app, db, ticket) -> None:
    dana = signed_in(app, make_user(db, "agent", name="Dana"))
    sam = signed_in(app, make_user(db, "agent", name="Sam"))
    dana_seen = seen_id(dana, ticket.id)
    assert reply(sam, ticket.id, "It ships Monday.", seen_id(sam, ticket.id)).status_code == 200

    response = reply(dana, ticket.id, "Let me check for you, Jane.", dana_seen)
    page = htmllib.unescape(response.get_data(as_text=True))
    assert response.status_code == 409
    assert "Sam replied while you were writing — review and send again" in page
    assert ">Let me check for you, Jane.</textarea>" in page  # the draft is kept
    assert "It ships Monday." in page  # Sam's reply is there to read
    agent_bodies = db.scalars(select(Message.body).where(Message.author_kind == "agent")).all()
    assert agent_bodies == ["It ships Monday."]

    fresh = SEEN_RE.search(page).group(1)
    assert int(fresh) > int(dana_seen)
    assert reply(dana, ticket.id, "Let me check for you, Jane.", fresh).status_code == 200
    agent_bodies = db.scalars(select(Message.body).where(Message.author_kind == "agent")).all()
    assert agent_bodies == ["It ships Monday.", "Let me check for you, Jane."]


def test_note_is_never_held_back(app, db, ticket) -> None:
    dana = signed_in(app, make_user(db, "agent", name="Dana"))
    sam = signed_in(app, make_user(db, "agent", name="Sam"))
    dana_seen = seen_id(dana, ticket.id)
    reply(sam, ticket.id, "It ships Monday.", seen_id(sam, ticket.id))
    token = csrf_token(dana, "/console/")
    response = dana.post(
        f"/console/tickets/{ticket.id}/messages",
        data={"kind": "note", "body": "Warehouse says Tuesday.", "seen_message_id": dana_seen},
        headers={"HX-Request": "true", "X-CSRFToken": token},
    )
    assert response.status_code == 200


def test_canned_reply_keeps_what_the_page_had_seen(app, db, ticket) -> None:
    dana = signed_in(app, make_user(db, "agent", name="Dana"))
    response = dana.get(
        f"/console/tickets/{ticket.id}/reply-form?seen_message_id=1&body=Hello",
        headers={"HX-Request": "true"},
    )
    assert 'name="seen_message_id" value="1"' in response.get_data(as_text=True)
