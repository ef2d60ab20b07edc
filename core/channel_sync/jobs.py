"""The worker's channel jobs: send the due channel pushes, poll the polled channels, fetch the orders webhooks
announced by id, re-import last night.

These jobs commit step by step (a claim, a send, a page), so they cannot live in the job's single unit of
work: each runs on sessions of its own, on the bind of the session the worker gives it."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from sqlalchemy.orm import Session, sessionmaker

from core.channel_sync.polling import (
    FetchResult,
    PollResult,
    fetch_announced_orders,
    poll_channel,
    polled_channel_codes,
    reimport_previous_day,
)
from core.channel_sync.pushes import DispatchResult, dispatch_channel_outbox

log = logging.getLogger("crossdock.channels")


def job_session_factory(session: Session) -> sessionmaker[Session]:
    """Sessions on the bind of a job's session, for the pollers and the dispatcher, which own their commits.

    The worker's session is bound to the engine; bound to a connection already in a transaction (a test),
    each commit only releases a SAVEPOINT of that transaction."""
    return sessionmaker(
        bind=session.get_bind(), expire_on_commit=False, join_transaction_mode="create_savepoint"
    )


def channel_push_job(session: Session, now: datetime) -> DispatchResult:
    """Worker job (every 30 s): send the due channel pushes."""
    return dispatch_channel_outbox(job_session_factory(session), now=now)


def fetch_announced_orders_job(session: Session, now: datetime) -> FetchResult:
    """Worker job (every 30 s): fetch the orders that webhooks announced by id only (BigCommerce)."""
    return fetch_announced_orders(job_session_factory(session), now=now)


def poll_channels_job(session: Session, now: datetime) -> dict[str, str]:
    """Worker job (every 5 minutes): poll every active polled channel that has a base URL."""
    return _each_polled_channel(session, now, poll_channel)


def nightly_reimport_job(session: Session, now: datetime) -> dict[str, str]:
    """Worker job (02:30 UTC): fetch the previous day again from every polled channel."""
    return _each_polled_channel(session, now, reimport_previous_day)


def _each_polled_channel(session: Session, now: datetime, run: Callable[..., PollResult]) -> dict[str, str]:
    factory = job_session_factory(session)
    with factory() as reader:
        codes = polled_channel_codes(reader)
    summary: dict[str, str] = {}
    for code in codes:
        try:
            result = run(factory, code, now=now)
        except Exception as exc:  # one channel's failure must not stop the others
            log.exception("polling %s failed", code)
            summary[code] = f"failed: {type(exc).__name__}: {exc}"
            continue
        summary[code] = f"{result.fetched} fetched, {result.orders} orders, {len(result.errors)} errors"
    return summary
