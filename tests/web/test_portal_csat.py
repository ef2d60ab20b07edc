"""The satisfaction survey's rating page: opened by its signed link (a guest too), a bad link is 404, the
rating is saved with CSRF, shown in the ticket's history and audit, on the console's ticket page and in
the queue; it can be changed until the survey closes."""

from __future__ import annotations

import html as htmllib
import re

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.audit.models import AuditEntry
from core.db import utcnow
from core.security.roles import Actor
from core.support import services
from core.support.models import SatisfactionRating
from core.support.tokens import make_rating_token
from tests.factories import PASSWORD, make_customer, make_user
from tests.helpers import csrf_token, sign_in
from tests.support_factories import make_conversation

SECRET = "test-secret"  # the app fixture's SECRET_KEY


@pytest.fixture
def agent(db: Session):
    return make_user(db, "agent", name="Sam Agent")


@pytest.fixture
def survey(db: Session, agent) -> SatisfactionRating:
    customer = make_customer(db, name="Jane Doe", email="jane@example.org")
    ticket = make_conversation(db, customer_id=customer.id, subject="Where is my tent?")
    actor = Actor(label=agent.email, user_id=agent.id, role="agent")
    services.reply_to_conversation(  # now: the survey is open for RATING_WINDOW from when it was asked
        db, ticket.id, "Refunded.", actor=actor, now=utcnow(), set_status="solved"
    )
    return db.scalars(select(SatisfactionRating).where(SatisfactionRating.conversation_id == ticket.id)).one()


def rate(client: FlaskClient, path: str, score: str, comment: str = ""):
    return client.post(
        path, data={"score": score, "comment": comment, "csrf_token": csrf_token(client, path)}
    )


def test_rating_page_preselects_the_emails_score_without_saving(client, db, survey) -> None:
    path = f"/support/rate/{make_rating_token(SECRET, survey.id)}"
    response = client.get(path + "?score=4")
    page = response.get_data(as_text=True)
    assert response.status_code == 200 and "Where is my tent?" in page
    checked = re.findall(r'value="(\d)" required\s*(checked)?>', page)
    assert checked == [("1", ""), ("2", ""), ("3", ""), ("4", "checked"), ("5", "")]
    db.refresh(survey)
    assert survey.score is None


@pytest.mark.parametrize("token", ["nonsense", "x" * 200])
def test_rating_page_refuses_bad_links(client, token) -> None:
    assert client.get(f"/support/rate/{token}").status_code == 404


def test_rating_page_refuses_a_link_for_another_secret_or_a_gone_survey(client, survey) -> None:
    assert client.get(f"/support/rate/{make_rating_token('other-secret', survey.id)}").status_code == 404
    assert client.get(f"/support/rate/{make_rating_token(SECRET, survey.id + 1000)}").status_code == 404


def test_guest_rates_and_it_shows_in_history_audit_console_and_queue(app, client, db, survey, agent) -> None:
    path = f"/support/rate/{make_rating_token(SECRET, survey.id)}"
    response = rate(client, path, "4", "Quick and kind <3")
    page = htmllib.unescape(response.get_data(as_text=True))
    assert response.status_code == 200 and "Your rating of 4/5 is saved" in page
    db.refresh(survey)
    assert (survey.score, survey.comment) == (4, "Quick and kind <3")
    entry = db.scalars(select(AuditEntry).where(AuditEntry.action == "conversation.rated")).one()
    assert (entry.actor_label, entry.after["score"]) == (f"customer:{survey.customer_id}", 4)

    console = app.test_client()
    assert sign_in(console, agent.email, PASSWORD, console=True).status_code == 303
    ticket_page = console.get(f"/console/tickets/{survey.conversation_id}").get_data(as_text=True)
    assert 'id="csat-h"' in ticket_page and '<span class="csat-score">4/5</span> Good' in ticket_page
    assert "Quick and kind &lt;3" in ticket_page  # escaped, never raw
    assert "The customer rated 4/5 (Good): Quick and kind &lt;3" in ticket_page  # the history line
    queue = console.get("/console/tickets?view=all").get_data(as_text=True)
    assert 'title="Customer rating">4/5</span>' in queue


def test_rating_needs_csrf_and_a_score(client, db, survey) -> None:
    path = f"/support/rate/{make_rating_token(SECRET, survey.id)}"
    assert client.post(path, data={"score": "5"}).status_code == 400
    for bad in ("", "²", "99999999999999999999999"):
        response = rate(client, path, bad)
        assert response.status_code == 422 and "choose a rating from 1 to 5" in response.get_data(
            as_text=True
        )
    assert client.get(path + "?score=²").status_code == 200
    db.refresh(survey)
    assert survey.score is None


def test_rating_can_be_changed_until_the_ticket_is_closed(client, db, survey, agent) -> None:
    path = f"/support/rate/{make_rating_token(SECRET, survey.id)}"
    rate(client, path, "2", "Slow")
    response = rate(client, path, "5")
    assert response.status_code == 200 and "Change my rating" in response.get_data(as_text=True)
    db.refresh(survey)
    assert (survey.score, survey.comment) == (5, None)

    actor = Actor(label=agent.email, user_id=agent.id, role="agent")
    services.change_conversation_status(db, survey.conversation_id, "closed", actor=actor, now=utcnow())
    db.flush()
    page = client.get(path).get_data(as_text=True)
    assert "This survey has closed: you rated us 5/5" in page and "<textarea" not in page
    token = csrf_token(client, "/login")  # the rating form is gone; any of our forms' tokens will do
    response = client.post(path, data={"score": "1", "csrf_token": token})
    assert response.status_code == 422 and "this survey has closed" in response.get_data(as_text=True)
    db.refresh(survey)
    assert survey.score == 5
