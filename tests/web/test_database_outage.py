"""When the database can't be reached (PostgreSQL restarting, refusing connections), pages answer 503 with
Retry-After and a plain explanation (JSON under /api), never a 500 with a traceback; once it is back, the
next request reconnects by itself."""

from __future__ import annotations

import socket
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from flask import g
from sqlalchemy import Engine, text
from sqlalchemy.exc import IntegrityError, OperationalError

from app import create_app
from core.db import is_database_unavailable


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _app(url: str, tmp_path: Path):
    return create_app({"DATABASE_URL": url, "SECRET_KEY": "outage-test", "MAIL_DIR": tmp_path / "mail"})


def test_pages_answer_503_with_retry_after_when_postgresql_refuses_connections(tmp_path) -> None:
    app = _app(f"postgresql+psycopg://postgres@127.0.0.1:{_closed_port()}/crossdock", tmp_path)
    client = app.test_client()

    page = client.get("/help")
    assert page.status_code == 503
    assert page.headers["Retry-After"] == "5"
    body = page.get_data(as_text=True)
    assert "Nothing was changed" in body and "Traceback" not in body

    health = client.get("/healthz")
    assert health.status_code == 503

    webhook = client.post(
        "/api/channels/shopify/webhooks/orders", data=b"{}", content_type="application/json"
    )
    assert webhook.status_code == 503
    assert webhook.headers["Retry-After"] == "5"
    assert webhook.get_json() == {"error": "the database is unavailable; retry shortly"}


def test_a_connection_the_server_ended_gives_one_503_then_the_pool_reconnects(
    database_url: str, engine: Engine, tmp_path
) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("ending a server connection from outside is a PostgreSQL test (SQLite has no server)")
    app = _app(database_url, tmp_path)
    app_engine = app.extensions["crossdock.session_factory"].kw["bind"]
    client = app.test_client()
    assert client.get("/help").status_code == 200  # the app's pool now holds a live connection
    with app_engine.connect() as conn:
        backend = conn.execute(text("SELECT pg_backend_pid()")).scalar_one()
    with engine.connect() as admin:  # as PostgreSQL does to every connection when it restarts
        admin.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": backend})

    answers = [client.get("/help").status_code for _ in range(3)]

    assert answers[0] in (200, 503)  # 200 when the pool's checkout check caught the dead connection first
    assert answers[-1] == 200  # reconnected by itself
    assert 500 not in answers
    app_engine.dispose()


def test_a_connection_cut_after_the_answer_was_made_leaves_the_answer_standing(
    database_url: str, engine: Engine, tmp_path
) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("ending a server connection from outside is a PostgreSQL test (SQLite has no server)")
    app = _app(database_url, tmp_path)
    app_engine = app.extensions["crossdock.session_factory"].kw["bind"]
    cut: list[int] = []

    @app.after_request
    def restart_now(response: Any) -> Any:  # PostgreSQL restarts between the page and the session's end
        if not cut:
            backend = g.db.connection().execute(text("SELECT pg_backend_pid()")).scalar_one()
            with engine.connect() as admin:
                admin.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": backend})
            cut.append(backend)
        return response

    client = app.test_client()
    assert client.get("/help").status_code == 200  # the rollback at the end found the connection gone
    assert cut
    assert client.get("/help").status_code == 200  # and the pool reconnected by itself
    app_engine.dispose()


def test_only_connection_failures_count_as_unavailable() -> None:
    locked = OperationalError("BEGIN", {}, sqlite3.OperationalError("database is locked"))
    unique = IntegrityError("INSERT", {}, sqlite3.IntegrityError("UNIQUE constraint failed"))
    assert not is_database_unavailable(locked)
    assert not is_database_unavailable(unique)
    assert not is_database_unavailable(ValueError("no"))
