"""The worker's leader lease: one scheduler at a time, another takes over when the first stops beating."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.orm import Session

from core.jobs import JobSpec, Worker
from core.system.services import LEASE_TTL, acquire_lease, release_lease, worker_heartbeat_age
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
