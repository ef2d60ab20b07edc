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
