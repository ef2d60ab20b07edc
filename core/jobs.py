"""The scheduled jobs and their schedule. Runs in `crossdock worker` only, never in a web process.

Every job is thin: open a unit of work, call services. Jobs run only while this worker holds the
leader lease (core.system.services), so running two workers is safe: the second waits, and takes over
within a minute when the first stops beating.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy.orm import Session, sessionmaker

from core.db import unit_of_work, utcnow
from core.system.services import acquire_lease, release_lease

log = logging.getLogger("crossdock.worker")
STOP_SIGNALS = {signal.SIGINT, signal.SIGTERM}


@dataclass(frozen=True)
class JobSpec:
    id: str
    func: Callable[[Session, datetime], object]
    trigger: str
    trigger_args: dict[str, int]
    needs_lease: bool = True


class Worker:
    """Holds the lease and runs the job table on an APScheduler scheduler in background threads."""

    def __init__(self, factory: sessionmaker[Session], jobs: list[JobSpec] | None = None) -> None:
        self.factory = factory
        self.holder = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.is_leader = False
        self.jobs = jobs if jobs is not None else JOBS
        self.scheduler = BackgroundScheduler(
            timezone="UTC", job_defaults={"coalesce": True, "max_instances": 1}
        )

    def heartbeat_job(self) -> None:
        """Renew (or try to take) the leader lease; the lease row carries the heartbeat /healthz reports."""
        with unit_of_work(self.factory) as session:
            leader = acquire_lease(session, self.holder, now=utcnow())
        if leader != self.is_leader:
            log.info("worker %s %s the scheduler lease", self.holder, "took" if leader else "lost")
        self.is_leader = leader

    def run_job(self, spec: JobSpec) -> None:
        """Run one job in its own unit of work, if this worker leads; log its outcome."""
        if spec.needs_lease and not self.is_leader:
            return
        started = utcnow()
        try:
            with unit_of_work(self.factory) as session:
                result = spec.func(session, started)
        except Exception:
            log.exception("job %s failed", spec.id)
            return
        log.info("job %s done in %.3fs: %s", spec.id, (utcnow() - started).total_seconds(), result)

    def start(self) -> None:
        """Block, running jobs until Ctrl+C or SIGTERM; then let the running jobs finish and release the
        lease, so that another worker takes over at once.

        The stop signals are blocked in this thread before the scheduler starts its threads (which inherit the
        mask) and taken with sigwait: no handler interrupts a lock half-taken, and a second signal during the
        release (the demo sends SIGTERM after Ctrl+C) waits its turn instead of cutting the release off."""
        in_main_thread = threading.current_thread() is threading.main_thread()
        waits_for_signal = in_main_thread and hasattr(signal, "sigwait")
        if waits_for_signal:
            # Blocked before the lease is first taken: a stop signal that comes as soon as the lease is seen
            # waits for sigwait below, and the lease is released, instead of killing us holding it.
            previous_mask = signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
        self.heartbeat_job()
        self.scheduler.add_job(self.heartbeat_job, "interval", seconds=10, id="heartbeat_job")
        for spec in self.jobs:
            self.scheduler.add_job(self.run_job, spec.trigger, args=[spec], id=spec.id, **spec.trigger_args)
        self.scheduler.start()
        log.info("worker %s started with %d jobs (leader: %s)", self.holder, len(self.jobs), self.is_leader)
        try:
            if waits_for_signal:
                received = signal.sigwait(STOP_SIGNALS)
                log.info("worker %s stopping on %s", self.holder, signal.Signals(received).name)
            else:  # no sigwait (Windows): Ctrl+C interrupts the sleep
                while True:
                    time.sleep(1)
        except KeyboardInterrupt:
            pass
        finally:
            self.scheduler.shutdown(wait=True)
            with unit_of_work(self.factory) as session:
                release_lease(session, self.holder)
            log.info("worker %s stopped and released the lease", self.holder)
            if waits_for_signal:
                # A signal that came during the release is taken here, so restoring the mask does not kill us.
                for pending in signal.sigpending() & STOP_SIGNALS:
                    signal.sigwait({pending})
                signal.pthread_sigmask(signal.SIG_SETMASK, previous_mask)


# The job table: later areas add their jobs here (outbox dispatch, shipment scan, polling, digests, ...).
JOBS: list[JobSpec] = []

# Channel integration (issue 3): order polling, the nightly re-import, stock and shipment pushes.
from core.channel_sync.jobs import (  # noqa: E402
    channel_push_job,
    fetch_announced_orders_job,
    nightly_reimport_job,
    poll_channels_job,
)

JOBS += [
    JobSpec("poll_channels_job", poll_channels_job, "interval", {"minutes": 5}),
    JobSpec("channel_push_job", channel_push_job, "interval", {"seconds": 30}),
    JobSpec("fetch_announced_orders_job", fetch_announced_orders_job, "interval", {"seconds": 30}),
    JobSpec("nightly_reimport_job", nightly_reimport_job, "cron", {"hour": 2, "minute": 30}),
]

# Customer notifications (issue 5): outbox delivery over SMTP, delay detection, retention of sent emails.
# Shipment emails are queued when carrier events arrive (notify_shipment_status), so no scan job is needed.
from core.notifications.delays import delay_detection_job  # noqa: E402
from core.notifications.services import data_retention_job, low_stock_digest_job  # noqa: E402
from core.notifications.smtp import outbox_dispatch_job  # noqa: E402

JOBS += [
    JobSpec("outbox_dispatch_job", outbox_dispatch_job, "interval", {"seconds": 5}),
    JobSpec("delay_detection_job", delay_detection_job, "interval", {"minutes": 15}),
    JobSpec("data_retention_job", data_retention_job, "cron", {"hour": 3, "minute": 40}),
    JobSpec("low_stock_digest_job", low_stock_digest_job, "cron", {"hour": 7, "minute": 0}),
]

# Customers (issue 15): identities intake added since the last run are matched to existing customers.
from core.customers.resolution import identity_resolution_job  # noqa: E402

JOBS += [JobSpec("identity_resolution_job", identity_resolution_job, "interval", {"minutes": 10})]

# Helpdesk SLA: a breach is recorded once an open ticket's running clock passes a due time.
from core.support.sla_services import sla_breach_job  # noqa: E402

JOBS += [JobSpec("sla_breach_job", sla_breach_job, "interval", {"minutes": 5})]

# Managers' analytics: the daily digest of ticket trend alerts.
from core.analytics.digest import analytics_digest_job  # noqa: E402

JOBS += [JobSpec("analytics_digest_job", analytics_digest_job, "cron", {"hour": 7, "minute": 5})]

# Privacy: closed conversations and inactive customers anonymised after their retention periods; a sales
# channel's request to erase its customers' data (Shopify's shop/redact) carried out.
from core.privacy.retention import retention_job  # noqa: E402
from core.privacy.shopify import channel_erasure_job  # noqa: E402

JOBS += [
    JobSpec("retention_job", retention_job, "cron", {"hour": 3, "minute": 55}),
    JobSpec("channel_erasure_job", channel_erasure_job, "interval", {"minutes": 5}),
]

# Managers' analytics: the dashboard's daily summaries, kept current (closed days and days marked stale).
from core.analytics.refresh import analytics_refresh_job  # noqa: E402

JOBS += [JobSpec("analytics_refresh_job", analytics_refresh_job, "interval", {"minutes": 10})]
