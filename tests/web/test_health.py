"""GET /healthz: database reachable, migrations current, worker heartbeat age."""

from __future__ import annotations

from datetime import timedelta

from core.db import utcnow
from core.system.services import acquire_lease


def test_healthz_reports_database_and_migrations(client) -> None:
    response = client.get("/healthz")
    body = response.get_json()
    assert response.status_code == 200
    assert body["ok"] is True and body["database"] == "ok"
    assert body["migrations"]["up_to_date"] is True
    assert body["worker"] == {"heartbeat_age_seconds": None, "alive": False}


def test_healthz_reports_worker_heartbeat_age(client, db) -> None:
    acquire_lease(db, "worker-a", now=utcnow() - timedelta(seconds=30))
    db.commit()
    worker = client.get("/healthz").get_json()["worker"]
    assert 29 <= worker["heartbeat_age_seconds"] < 60 and worker["alive"] is True


def test_healthz_is_503_when_migrations_are_behind(client, db) -> None:
    from sqlalchemy import text

    db.execute(text("UPDATE alembic_version SET version_num = 'old'"))
    db.commit()
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.get_json()["migrations"]["up_to_date"] is False


def test_healthz_reports_the_outbox_backlog(client, db) -> None:
    from core.notifications.models import OutboxMessage

    now = utcnow()
    db.add_all(
        [
            OutboxMessage(
                kind="order_confirmed",
                dedup_key="h1",
                recipient="a@example.org",
                next_attempt_at=now - timedelta(minutes=10),
            ),
            OutboxMessage(
                kind="order_confirmed",
                dedup_key="h2",
                recipient="b@example.org",
                next_attempt_at=now - timedelta(minutes=1),
            ),
            OutboxMessage(
                kind="order_confirmed",
                dedup_key="h3",
                recipient="c@example.org",
                next_attempt_at=now + timedelta(minutes=5),
            ),
            OutboxMessage(
                kind="stock_push",
                transport="channel",
                dedup_key="h4",
                recipient="shop",
                status="sending",
                next_attempt_at=now + timedelta(minutes=1),
            ),
            OutboxMessage(kind="order_confirmed", dedup_key="h5", recipient="d@example.org", status="failed"),
            OutboxMessage(kind="order_confirmed", dedup_key="h6", recipient="e@example.org", status="sent"),
        ]
    )
    db.commit()
    response = client.get("/healthz")
    outbox = response.get_json()["outbox"]
    assert response.status_code == 200  # a backlog is reported, not a failure
    assert (outbox["pending"], outbox["due"], outbox["failed"]) == (4, 2, 1)
    assert 590 <= outbox["oldest_due_age_seconds"] < 660


def test_healthz_is_503_with_a_reason_when_the_database_is_not_writable(tmp_path) -> None:
    from app import create_app
    from core import migrate
    from core.db import make_engine, make_session_factory
    from tests.conftest import drop_database, fresh_database_url

    url, needs_drop = fresh_database_url(tmp_path, "readonly")
    writable = make_engine(url)
    migrate.upgrade(writable)
    writable.dispose()
    if url.startswith("sqlite"):  # a read-only file (the tests may run as root, so no chmod)
        read_only = make_engine(url.replace("sqlite:///", "sqlite:///file:", 1) + "?mode=ro&uri=true")
    else:  # every transaction read-only, as when the role may no longer write
        read_only = make_engine(url, connect_args={"options": "-c default_transaction_read_only=on"})
    try:
        app = create_app(
            {"TESTING": True, "SECRET_KEY": "test", "SESSION_FACTORY": make_session_factory(read_only)}
        )
        response = app.test_client().get("/healthz")
    finally:
        read_only.dispose()
        drop_database(url, needs_drop)
    body = response.get_json()
    assert response.status_code == 503
    assert body["ok"] is False and body["database"] == "not writable"
    assert body["reason"].startswith("database not writable: ")
    assert (
        "read" in body["reason"].lower()
    )  # the driver's own words: "readonly database" / "read-only transaction"
    assert body["migrations"]["up_to_date"] is True and body["outbox"]["pending"] == 0
