"""The worker's leader lease: one scheduler at a time, another takes over when the first stops beating."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

from sqlalchemy.orm import Session

from core import migrate
from core.db import make_engine, make_session_factory, utcnow
from core.jobs import JobSpec, Worker
from core.system.models import WorkerLease
from core.system.services import (
    LEASE_NAME,
    LEASE_TTL,
    acquire_lease,
    release_lease,
    worker_heartbeat_age,
)
from tests.conftest import REPO, drop_database, fresh_database_url
from tests.factories import NOW


def test_acquire_lease_first_holder_wins(db: Session) -> None:
    assert acquire_lease(db, "worker-a", now=NOW) is True
    assert acquire_lease(db, "worker-b", now=NOW + timedelta(seconds=5)) is False


def test_acquire_lease_holder_renews(db: Session) -> None:
    acquire_lease(db, "worker-a", now=NOW)
    assert acquire_lease(db, "worker-a", now=NOW + timedelta(seconds=30)) is True
    assert acquire_lease(db, "worker-b", now=NOW + timedelta(seconds=31)) is False


def test_acquire_lease_taken_over_after_expiry(db: Session) -> None:
    acquire_lease(db, "worker-a", now=NOW)
    assert acquire_lease(db, "worker-b", now=NOW + LEASE_TTL + timedelta(seconds=1)) is True
    assert acquire_lease(db, "worker-a", now=NOW + LEASE_TTL + timedelta(seconds=2)) is False
    assert LEASE_TTL < timedelta(minutes=1)


def test_release_lease_lets_another_take_over_at_once(db: Session) -> None:
    acquire_lease(db, "worker-a", now=NOW)
    release_lease(db, "worker-a")
    assert acquire_lease(db, "worker-b", now=NOW + timedelta(seconds=1)) is True


def test_worker_heartbeat_age(db: Session) -> None:
    assert worker_heartbeat_age(db, now=NOW) is None
    acquire_lease(db, "worker-a", now=NOW)
    assert worker_heartbeat_age(db, now=NOW + timedelta(seconds=12)) == 12.0


def test_worker_runs_jobs_only_while_leader(session_factory) -> None:
    ran: list[str] = []
    spec = JobSpec(
        id="probe_job",
        func=lambda session, now: ran.append("ran"),
        trigger="interval",
        trigger_args={"seconds": 1},
    )
    leader, follower = Worker(session_factory, jobs=[spec]), Worker(session_factory, jobs=[spec])
    leader.heartbeat_job()
    follower.heartbeat_job()
    assert (leader.is_leader, follower.is_leader) == (True, False)
    follower.run_job(spec)
    assert ran == []
    leader.run_job(spec)
    assert ran == ["ran"]


def test_worker_job_failure_is_logged_not_raised(session_factory, caplog) -> None:
    def boom(session, now):
        raise RuntimeError("kaput")

    spec = JobSpec(id="boom_job", func=boom, trigger="interval", trigger_args={"seconds": 1})
    worker = Worker(session_factory, jobs=[spec])
    worker.heartbeat_job()
    worker.run_job(spec)
    assert "job boom_job failed" in caplog.text


def test_worker_stopped_with_sigterm_releases_its_lease_at_once(tmp_path: Path) -> None:
    url, needs_drop = fresh_database_url(tmp_path, "worker")
    engine = make_engine(url)
    migrate.upgrade(engine)
    factory = make_session_factory(engine)
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "CROSSDOCK_INSTANCE": str(tmp_path),
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": "9",  # nothing is queued; should a message be, it fails rather than leaves the machine
    }
    worker = subprocess.Popen(
        [sys.executable, "-m", "cli", "worker", "--log-level", "warning"],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            with factory() as session:
                lease = session.get(WorkerLease, LEASE_NAME)
            if lease is not None and f":{worker.pid}:" in lease.holder:
                break
            assert worker.poll() is None and time.monotonic() < deadline, worker.communicate()[1]
            time.sleep(0.2)
        assert lease.expires_at > utcnow()
        worker.send_signal(signal.SIGTERM)
        _, stderr = worker.communicate(timeout=30)
        assert worker.returncode == 0, stderr
        assert " INFO " not in stderr  # --log-level warning: no line per job run
        with factory() as session:
            released = session.get(WorkerLease, LEASE_NAME)
            assert released.expires_at <= released.heartbeat_at
            assert acquire_lease(session, "worker-b", now=utcnow()) is True
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.communicate()
        engine.dispose()
        drop_database(url, needs_drop)
