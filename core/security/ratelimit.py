"""Attempt limits kept in the database, so every web process shares them.

Two kinds: a fixed window counting every attempt (`hit`, `hit_retry_after`: so many sign-in, reset or
guest-lookup requests per IP in 15 minutes), and a lockout counting failures (`record_failure`): past a
threshold of failures a key is locked, for longer after each further failure (exponential back-off), until
a success clears it or a day passes without failures."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core.security.models import AuthThrottle, RateLimitBucket

FAILURE_MEMORY = timedelta(hours=24)  # failures older than this are forgotten


def hit(session: Session, key: str, *, limit: int, window: timedelta, now: datetime) -> bool:
    """Count one attempt for `key`; True while the key is within `limit` attempts in the current window."""
    return hit_retry_after(session, key, limit=limit, window=window, now=now) == 0


def hit_retry_after(session: Session, key: str, *, limit: int, window: timedelta, now: datetime) -> int:
    """Count one attempt for `key`; 0 while within `limit` attempts in the current window, else the whole
    seconds until the window ends (for a Retry-After header)."""
    result = session.execute(
        update(RateLimitBucket)
        .where(RateLimitBucket.key == key, RateLimitBucket.window_start > now - window)
        .values(count=RateLimitBucket.count + 1)
        .returning(RateLimitBucket.count, RateLimitBucket.window_start)
    ).first()
    if result is not None:
        count, started = result
        return 0 if count <= limit else _seconds_until(started + window, now)
    # No live window: start one (replacing an expired bucket); a concurrent starter makes us read theirs.
    try:
        with session.begin_nested():
            bucket = session.get(RateLimitBucket, key)
            if bucket is None:
                session.add(RateLimitBucket(key=key, window_start=now, count=1))
            else:
                bucket.window_start, bucket.count = now, 1
    except IntegrityError:
        row = session.execute(
            select(RateLimitBucket.count, RateLimitBucket.window_start).where(RateLimitBucket.key == key)
        ).first()
        if row is None or row[0] < limit:
            return 0
        return _seconds_until(row[1] + window, now)
    return 0


@dataclass(frozen=True)
class Backoff:
    """A lockout rule: `threshold` failures lock the key for `base`, each further failure doubles the wait,
    never beyond `cap`."""

    threshold: int
    base: timedelta = timedelta(minutes=1)
    cap: timedelta = timedelta(hours=1)

    def lock_for(self, failures: int) -> timedelta:
        """How long `failures` failures in a row lock the key (zero below the threshold)."""
        if failures < self.threshold:
            return timedelta(0)
        doublings = min(failures - self.threshold, 32)
        return min(self.cap, self.base * (2**doublings))


def retry_after(session: Session, keys: list[str], *, now: datetime) -> int:
    """Whole seconds until every one of `keys` is unlocked; 0 when none is locked now."""
    until = session.scalar(
        select(AuthThrottle.locked_until)
        .where(AuthThrottle.key.in_(keys), AuthThrottle.locked_until > now)
        .order_by(AuthThrottle.locked_until.desc())
        .limit(1)
    )
    return 0 if until is None else _seconds_until(until, now)


def record_failure(session: Session, key: str, rule: Backoff, *, now: datetime) -> int:
    """Count one failure for `key` and lock it as `rule` says; returns the seconds it is now locked (0 if
    not). Failures older than a day no longer count."""
    throttle = session.get(AuthThrottle, key, with_for_update=True)
    if throttle is None:
        try:
            with session.begin_nested():
                throttle = AuthThrottle(key=key, failures=0, last_failure_at=now)
                session.add(throttle)
        except IntegrityError:  # a concurrent first failure: count on theirs
            throttle = session.get_one(AuthThrottle, key, with_for_update=True, populate_existing=True)
    if throttle.last_failure_at <= now - FAILURE_MEMORY:
        throttle.failures = 0
    throttle.failures += 1
    throttle.last_failure_at = now
    wait = rule.lock_for(throttle.failures)
    if wait:
        throttle.locked_until = now + wait
    session.flush()
    return _seconds_until(now + wait, now) if wait else 0


def clear_failures(session: Session, key: str) -> None:
    """Forget `key`'s failures and lockout (after a success)."""
    session.execute(delete(AuthThrottle).where(AuthThrottle.key == key))


def _seconds_until(moment: datetime, now: datetime) -> int:
    return max(1, math.ceil((moment - now).total_seconds()))
