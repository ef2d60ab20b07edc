"""A channel's sync log for its settings page: the last webhook and poll received, and its pushes (stock
levels, shipment confirmations) sent, pending, failed or skipped, with the reasons, read from where they
are kept: `inbound_payloads` (every payload, raw, with its result), the channel's poll cursor, and the outbox
rows of transport 'channel' (addressed to the channel's code)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.channels.models import Channel
from core.notifications.models import OutboxMessage
from core.orders.models import InboundPayload

RECENT = 10  # payloads and problem pushes listed


@dataclass(frozen=True)
class PayloadSeen:
    """One payload the channel sent, as the log lists it."""

    id: int
    source: str
    topic: str | None
    status: str
    error: str | None
    received_at: datetime


@dataclass(frozen=True)
class PushProblem:
    """A push that failed or was skipped, and why."""

    id: int
    kind: str
    status: str
    attempts: int
    reason: str | None
    at: datetime


@dataclass(frozen=True)
class SyncLog:
    """What the channel's settings page shows about its traffic."""

    last_webhook: PayloadSeen | None
    last_poll: PayloadSeen | None
    poll_cursor: datetime | None
    recent: list[PayloadSeen]
    pushes: dict[str, int]  # status -> count
    push_problems: list[PushProblem]


def _seen(row: InboundPayload) -> PayloadSeen:
    return PayloadSeen(row.id, row.source, row.topic, row.status, row.error, row.received_at)


def channel_sync_log(session: Session, channel: Channel) -> SyncLog:
    """The channel's sync log, in five queries whatever its history."""
    payloads = select(InboundPayload).where(InboundPayload.channel_id == channel.id)
    newest = InboundPayload.received_at.desc(), InboundPayload.id.desc()

    def last(source: str) -> PayloadSeen | None:
        row = session.scalar(payloads.where(InboundPayload.source == source).order_by(*newest).limit(1))
        return None if row is None else _seen(row)

    recent = [_seen(row) for row in session.scalars(payloads.order_by(*newest).limit(RECENT))]
    pushes = OutboxMessage.transport == "channel", OutboxMessage.recipient == channel.code
    counts = dict(
        session.execute(
            select(OutboxMessage.status, func.count()).where(*pushes).group_by(OutboxMessage.status)
        ).all()
    )
    problems = session.scalars(
        select(OutboxMessage)
        .where(
            *pushes, OutboxMessage.status.in_(("failed", "skipped")) | OutboxMessage.last_error.is_not(None)
        )
        .order_by(OutboxMessage.next_attempt_at.desc(), OutboxMessage.id.desc())
        .limit(RECENT)
    )
    return SyncLog(
        last_webhook=last("webhook"),
        last_poll=last("poll"),
        poll_cursor=channel.poll_cursor,
        recent=recent,
        pushes={
            status: counts.get(status, 0) for status in ("sent", "pending", "sending", "failed", "skipped")
        },
        push_problems=[
            PushProblem(m.id, m.kind, m.status, m.attempts, m.last_error, m.next_attempt_at) for m in problems
        ],
    )
