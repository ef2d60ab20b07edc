"""Fixed-window rate limits kept in the database, so every web process shares them."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core.security.models import RateLimitBucket


def hit(session: Session, key: str, *, limit: int, window: timedelta, now: datetime) -> bool:
    """Count one attempt for `key`; True while the key is within `limit` attempts in the current window."""
    result = session.execute(
        update(RateLimitBucket)
        .where(RateLimitBucket.key == key, RateLimitBucket.window_start > now - window)
        .values(count=RateLimitBucket.count + 1)
        .returning(RateLimitBucket.count)
    ).first()
    if result is not None:
        return result[0] <= limit
    # No live window: start one (replacing an expired bucket); a concurrent starter makes us retry once.
    try:
        with session.begin_nested():
            bucket = session.get(RateLimitBucket, key)
            if bucket is None:
                session.add(RateLimitBucket(key=key, window_start=now, count=1))
            else:
                bucket.window_start, bucket.count = now, 1
    except IntegrityError:
        count = session.scalar(select(RateLimitBucket.count).where(RateLimitBucket.key == key)) or 0
        return count < limit
    return True
