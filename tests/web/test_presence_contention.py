"""The presence heartbeat under write contention: many agents' heartbeats beside order webhooks all answer
200 (one row per agent and ticket), and a heartbeat that can't have SQLite's write lock skips its write
and still answers who else is there, never an error page into the ticket."""

from __future__ import annotations

import sqlite3
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import event, func, select

from app import create_app
from core.db import make_engine, make_session_factory, utcnow
from core.support.models import TicketPresence
from core.support.presence import record_presence
from tests.factories import PASSWORD, make_user
from tests.helpers import csrf_token, sign_in
from tests.support_factories import make_conversation
from tests.web.test_concurrent_writes import busy_app, webhook  # noqa: F401  (busy_app is a fixture)

AGENTS, BEATS = 6, 5


def heartbeats(app, email: str, ticket_id: int) -> list[int]:
    client = app.test_client()
    assert sign_in(client, email, PASSWORD, console=True).status_code == 303
    token = csrf_token(client, "/console/")
    return [
        client.post(
            f"/console/tickets/{ticket_id}/presence",
            data={"body": "draft" if n % 2 else ""},
            headers={"HX-Request": "true", "X-CSRFToken": token},
        ).status_code
        for n in range(BEATS)
    ]


def test_heartbeats_beside_webhooks_answer_200(busy_app) -> None:  # noqa: F811
    app, engine, _customers, agents, _noted = busy_app
    with make_session_factory(engine)() as session:
        ticket_id = make_conversation(session).id
        session.commit()
    with ThreadPoolExecutor(12) as pool:
        beats = [pool.submit(heartbeats, app, email, ticket_id) for email in agents[:AGENTS]]
        hooks = [pool.submit(webhook, app, n) for n in range(40)]
        statuses = Counter(s for f in beats for s in f.result()) + Counter(f.result() for f in hooks)
    assert statuses == {200: AGENTS * BEATS + 40}
    with make_session_factory(engine)() as session:
        rows = session.scalar(select(func.count()).select_from(TicketPresence))
        assert rows == AGENTS


def test_heartbeat_without_the_write_lock_still_shows_the_others(busy_app) -> None:  # noqa: F811
    _app, engine, _customers, agents, _noted = busy_app
    if engine.dialect.name != "sqlite":
        pytest.skip("SQLite's file lock: PostgreSQL writers lock rows, not the database")
    with make_session_factory(engine)() as session:
        ticket_id = make_conversation(session).id
        dana = make_user(session, "agent", name="Dana")
        record_presence(session, ticket_id, dana.id, "replying", now=utcnow())
        session.commit()
    impatient = make_engine(str(engine.url))  # gives up at once, as a long wait would in the end
    event.listen(impatient, "connect", lambda dbapi, _r: dbapi.execute("PRAGMA busy_timeout=0"))
    app = create_app(
        {"TESTING": True, "SECRET_KEY": "test-secret", "SESSION_FACTORY": make_session_factory(impatient)}
    )
    client = app.test_client()
    assert sign_in(client, agents[0], PASSWORD, console=True).status_code == 303
    token = csrf_token(client, "/console/")
    holder = sqlite3.connect(engine.url.database, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another process holds the write lock throughout
    try:
        response = client.post(
            f"/console/tickets/{ticket_id}/presence",
            headers={"HX-Request": "true", "X-CSRFToken": token},
        )
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    impatient.dispose()
    assert response.status_code == 200
    assert "<strong>Dana</strong> is replying" in response.get_data(as_text=True)
    with make_session_factory(engine)() as session:
        assert session.scalar(select(func.count()).select_from(TicketPresence)) == 1  # ours was skipped
