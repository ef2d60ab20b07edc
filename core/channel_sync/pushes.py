"""Pushes to channels through the outbox (transport 'channel'): stock levels and shipment confirmations.

Rows are written in the transaction of the change that causes them: `stock_push` rows are armed by the
inventory area (one row per channel and SKU, naming the SKU, not a figure: left as it is while pending, so
many changes make one push), `shipment_confirmation` rows by `queue_shipment_confirmation`. The worker sends
them with `dispatch_channel_outbox`, one row at a time:
1. claim: in a short write transaction, take the oldest due row that is pending (or was being sent by a
   dispatcher whose lease ran out) (PostgreSQL: FOR UPDATE SKIP LOCKED; SQLite: under begin_write's lock),
   mark it `sending` and push its next attempt time forward by a lease, so no other dispatcher takes it
   while it is being sent; commit. No lock is held while talking to the channel.
2. send it through the channel's adapter hooks, looked up in the registry: `auth_headers`, then
   `send_stock` once per listing of the SKU with the channel's available to sell read at that moment (the
   latest figure, by the console's formula), or `send_shipment` with the payload (core.channels.outbound_base
   says what each takes).
3. finish, in a second write transaction with the row locked again: sent (a stock push records the figure
   it sent in its payload); or, if a stock change armed the row again while it was being sent (it is
   pending again: the figure sent may predate that change), left pending and due now so the newer figure
   goes out; or, on failure, attempts + 1, the next attempt after min(2**attempts x 30 s, 6 h) and the exact
   error in last_error; failed for good after 8 attempts or on a 4xx other than 429.
A dispatcher that dies mid-send leaves its row `sending`; it is taken again once the lease runs out.

A push that cannot go anywhere as the channel stands is `skipped`, not retried, with the reason in last_error:
the channel is inactive or has no base URL, its adapter has no such hook, the SKU has no listing on it, or its
credentials lack what a hook needs (the hook raised MissingCredentials). Trying again cannot help until ops
change the channel, so the rule for trying again is:
- a skipped stock push is armed again by the SKU's next stock change, like a sent one (the inventory area arms
  any row that is not pending); the dispatcher then sends it if the channel now has what it lacked, and
  otherwise skips it again at once, without a request;
- a skipped shipment confirmation is never armed again by itself: `crossdock outbox retry ID` queues it
  again once the channel is set up.

Where the ids a channel needs come from (its credentials, its listings) is said by each adapter module.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from core.catalog.models import Listing
from core.channels import registry
from core.channels.base import MissingCredentials
from core.channels.http import ChannelHttpError, HttpClient
from core.channels.models import Channel
from core.channels.outbound_base import OutboundError
from core.db import begin_write
from core.fulfillment.models import Shipment
from core.inventory.queries import available_to_sell
from core.notifications.models import SENDING, SKIPPED, OutboxMessage
from core.orders.models import REPLACEMENT_SOURCE, Order, OrderLine

log = logging.getLogger("crossdock.channels")

STOCK_PUSH = "stock_push"
SHIPMENT_CONFIRMATION = "shipment_confirmation"
MAX_ATTEMPTS = 8
RETRY_BASE = timedelta(seconds=30)
RETRY_CAP = timedelta(hours=6)
CLAIM_LEASE = timedelta(minutes=15)  # longer than one row's sends can take with the client's bounded retries


def retry_delay(attempts: int) -> timedelta:
    """How long to wait after the given number of failed attempts: 2**attempts x 30 s, at most 6 hours."""
    return min(RETRY_BASE * 2 ** min(attempts, 20), RETRY_CAP)


# --- queueing -----------------------------------------------------------------------------------------------


def queue_shipment_confirmation(
    session: Session, shipment: Shipment, *, now: datetime
) -> OutboxMessage | None:
    """Queue the shipment's confirmation to its channel, once; None when the channel takes none."""
    order = session.get(Order, shipment.order_id)
    if order is None or order.fulfilled_by_channel or not registry.hook(order.channel.kind, "send_shipment"):
        return None
    if order.source == REPLACEMENT_SOURCE:  # our own order: the channel has never heard of it
        return None
    key = f"shipconfirm:{shipment.id}"
    existing = session.scalar(select(OutboxMessage).where(OutboxMessage.dedup_key == key))
    if existing is not None:
        return existing
    by_id = {line.id: line for line in order.lines}
    shipped = [(by_id.get(s.order_line_id), s.quantity) for s in shipment.lines]
    if not shipped:  # a shipment recorded without lines ships the whole order
        shipped = [(line, line.quantity - line.quantity_cancelled) for line in order.lines]
    message = OutboxMessage(
        kind=SHIPMENT_CONFIRMATION,
        transport="channel",
        dedup_key=key,
        recipient=order.channel.code,
        subject=f"shipment {shipment.id} of order {order.number}",
        payload={
            "channel_id": order.channel_id,
            "channel": order.channel.code,
            "order_id": order.id,
            "order_external_id": order.external_id,
            "shipment_id": shipment.id,
            "carrier": shipment.carrier,
            "tracking_number": shipment.tracking_number,
            "tracking_url": shipment.tracking_url,
            "shipping_method": order.shipping_method,
            "shipped_at": (shipment.shipped_at or now).astimezone(UTC).isoformat(),
            "lines": [_shipped_line(line, quantity) for line, quantity in shipped if line is not None],
        },
        status="pending",
        attempts=0,
        next_attempt_at=now,
        created_at=now,
    )
    try:
        with session.begin_nested():
            session.add(message)
    except IntegrityError:  # queued concurrently by another transaction
        existing = session.scalar(select(OutboxMessage).where(OutboxMessage.dedup_key == key))
        if existing is None:
            raise
        return existing
    return message


def _shipped_line(line: OrderLine, quantity: int) -> dict[str, Any]:
    return {"line_item_id": line.external_id, "channel_sku": line.channel_sku, "quantity": quantity}


# --- dispatch -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DispatchResult:
    """Rows claimed in one dispatch, and how each ended: sent, to be retried, failed for good, or skipped."""

    claimed: int = 0
    sent: int = 0
    retrying: int = 0
    failed: int = 0
    skipped: int = 0


@dataclass(frozen=True)
class _Claimed:
    id: int
    kind: str
    recipient: str
    payload: dict[str, Any]
    attempts: int


@dataclass(frozen=True)
class _Outcome:
    ok: bool
    reference: str | None = None  # the channel's id for what was created
    error: str | None = None  # why it failed, or why it was skipped
    permanent: bool = False
    quantity: int | None = None  # a stock push: the figure sent
    skipped: bool = False  # nowhere to send it (module docstring): nothing was sent, no retry


class _Nowhere(Exception):
    """The push cannot go anywhere as the channel stands (module docstring); the text says why."""


@dataclass(frozen=True)
class _Target:
    """What sending needs from the channel, read before any request so no session stays open."""

    code: str
    kind: str
    base_url: str | None
    credentials: dict[str, Any]
    listings: tuple[tuple[str, str | None], ...]  # (channel SKU, channel listing id)
    quantity: int | None = None  # a stock push: the channel's available to sell of the SKU, read now


def dispatch_channel_outbox(
    session_factory: sessionmaker[Session],
    *,
    now: datetime,
    clients: Mapping[str, HttpClient] | None = None,
    batch: int = 50,
) -> DispatchResult:
    """Send up to `batch` due channel rows (module docstring); `clients` by channel code, for tests."""
    claimed = sent = retrying = failed = skipped = 0
    for _ in range(batch):
        row = _claim(session_factory, now)
        if row is None:
            break
        claimed += 1
        outcome = _deliver(session_factory, row, now=now, clients=clients or {})
        status = _finish(session_factory, row, outcome, now=now)
        sent += status == "sent"
        retrying += status == "retrying"
        failed += status == "failed"
        skipped += status == SKIPPED
    return DispatchResult(claimed, sent, retrying, failed, skipped)


def _claim(factory: sessionmaker[Session], now: datetime) -> _Claimed | None:
    with factory() as session:
        begin_write(session)
        stmt = (
            select(OutboxMessage)
            .where(
                OutboxMessage.transport == "channel",
                OutboxMessage.status.in_(("pending", SENDING)),
                OutboxMessage.next_attempt_at <= now,
            )
            .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
            .limit(1)
        )
        if session.get_bind().dialect.name == "postgresql":
            stmt = stmt.with_for_update(skip_locked=True)
        row = session.scalars(stmt).first()
        if row is None:
            session.rollback()
            return None
        claimed = _Claimed(row.id, row.kind, row.recipient, copy.deepcopy(row.payload or {}), row.attempts)
        row.status, row.next_attempt_at = SENDING, now + CLAIM_LEASE
        session.commit()
    return claimed


def _finish(factory: sessionmaker[Session], claimed: _Claimed, outcome: _Outcome, *, now: datetime) -> str:
    with factory() as session:
        begin_write(session)
        row = session.get(OutboxMessage, claimed.id, with_for_update=True)
        if row is None or row.status not in ("pending", SENDING):
            session.rollback()
            return "gone"
        replaced = row.status == "pending"  # armed again by a stock change while it was being sent
        row.status = "pending"
        attempt = row.attempts + 1
        where = f"{claimed.kind} #{claimed.id} to {claimed.recipient}"
        if (outcome.ok or outcome.skipped) and replaced:
            row.next_attempt_at = now
            status = "retrying"
            log.info(
                "%s: %s (attempt %d), stock changed meanwhile: trying the newer figure",
                where,
                "sent" if outcome.ok else "skipped",
                attempt,
            )
        elif outcome.skipped:
            row.status, row.last_error, row.message_id = SKIPPED, outcome.error, None
            status = SKIPPED
            log.info("%s: skipped: %s", where, outcome.error)
        elif outcome.ok:
            row.status, row.sent_at, row.last_error = "sent", now, None
            row.message_id = (outcome.reference or "")[:200] or None
            if outcome.quantity is not None:
                row.payload = {**(row.payload or {}), "quantity": outcome.quantity}
            status = "sent"
            log.info("%s: sent (attempt %d) %s", where, attempt, outcome.reference or "")
        else:
            row.attempts = attempt
            row.last_error = outcome.error
            if (outcome.permanent and not replaced) or attempt >= MAX_ATTEMPTS:
                row.status = "failed"
                status = "failed"
                log.error("%s: attempt %d failed, giving up: %s", where, attempt, outcome.error)
            else:
                row.next_attempt_at = now + retry_delay(attempt)
                status = "retrying"
                log.warning(
                    "%s: attempt %d failed, next at %s: %s",
                    where,
                    attempt,
                    row.next_attempt_at.isoformat(),
                    outcome.error,
                )
        session.commit()
    return status


def _deliver(
    factory: sessionmaker[Session], claimed: _Claimed, *, now: datetime, clients: Mapping[str, HttpClient]
) -> _Outcome:
    try:
        target = _target(factory, claimed)
        try:
            if claimed.kind == STOCK_PUSH:
                return _send_stock(target, claimed, now=now, clients=clients)
            if claimed.kind == SHIPMENT_CONFIRMATION:
                return _send_shipment(target, claimed, clients=clients)
        except MissingCredentials as exc:
            raise _Nowhere(f"channel {target.code!r} has no {exc}") from None
        return _Outcome(False, error=f"unknown channel message kind {claimed.kind!r}", permanent=True)
    except _Nowhere as exc:
        return _Outcome(False, error=str(exc), skipped=True)
    except ChannelHttpError as exc:
        return _Outcome(False, error=str(exc), permanent=not exc.retryable)
    except OutboundError as exc:
        return _Outcome(False, error=str(exc), permanent=exc.permanent)
    except (KeyError, TypeError, ValueError) as exc:
        return _Outcome(False, error=f"bad payload: {type(exc).__name__}: {exc}", permanent=True)


def _target(factory: sessionmaker[Session], claimed: _Claimed) -> _Target:
    with factory() as session:
        channel_id = claimed.payload.get("channel_id")
        channel = session.get(Channel, channel_id) if channel_id else None
        if channel is None:
            channel = session.scalar(select(Channel).where(Channel.code == claimed.recipient))
        if channel is None:
            raise OutboundError(f"channel {claimed.recipient!r} not found", permanent=True)
        if not channel.active:
            raise _Nowhere(f"channel {channel.code!r} is not active")
        listings: tuple[tuple[str, str | None], ...] = ()
        quantity = None
        if claimed.kind == STOCK_PUSH:
            sku_id = int(claimed.payload["sku_id"])
            rows = session.execute(
                select(Listing.channel_sku, Listing.channel_listing_id)
                .where(Listing.channel_id == channel.id, Listing.sku_id == sku_id, Listing.active.is_(True))
                .order_by(Listing.id)
            ).all()
            listings = tuple((sku, listing_id) for sku, listing_id in rows)
            quantity = available_to_sell(session, channel, sku_id)
        target = _Target(
            channel.code, channel.kind, channel.base_url, dict(channel.credentials or {}), listings, quantity
        )
        session.rollback()
    return target


def _client(target: _Target, clients: Mapping[str, HttpClient]) -> HttpClient:
    if target.code in clients:
        return clients[target.code]
    if not target.base_url:
        raise _Nowhere(f"channel {target.code!r} has no base URL")
    try:
        return HttpClient(target.base_url, max_wait=30.0)
    except ValueError as exc:
        raise OutboundError(f"channel {target.code!r}: {exc}", permanent=True) from None


def _auth_headers(target: _Target) -> dict[str, str]:
    auth_headers = registry.hook(target.kind, "auth_headers")
    if auth_headers is None:
        return {}
    return auth_headers(target.credentials)


def _send_stock(
    target: _Target, claimed: _Claimed, *, now: datetime, clients: Mapping[str, HttpClient]
) -> _Outcome:
    send_stock = registry.hook(target.kind, "send_stock")
    if send_stock is None:
        raise _Nowhere(f"a {target.kind} channel takes no stock push")
    if not target.listings:
        raise _Nowhere(f"the SKU is not listed on channel {target.code!r}")
    client, headers = _client(target, clients), _auth_headers(target)
    references = []
    for channel_sku, listing_id in target.listings:
        push = {
            "channel_sku": channel_sku,
            "channel_listing_id": listing_id,
            "quantity": target.quantity,
            "occurred_at": now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        }
        response = send_stock(client, headers, target.credentials, push)
        references.append(f"{channel_sku}: HTTP {response.status}")
    return _Outcome(
        True, reference=f"{target.quantity} units: " + "; ".join(references), quantity=target.quantity
    )


def _send_shipment(target: _Target, claimed: _Claimed, *, clients: Mapping[str, HttpClient]) -> _Outcome:
    send_shipment = registry.hook(target.kind, "send_shipment")
    if send_shipment is None:
        raise _Nowhere(f"a {target.kind} channel takes no shipment confirmation")
    client, headers = _client(target, clients), _auth_headers(target)
    reference = send_shipment(client, headers, target.credentials, dict(claimed.payload))
    return _Outcome(True, reference=reference)
