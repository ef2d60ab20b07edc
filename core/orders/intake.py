"""Channel order intake: every payload stored raw first, then adapted and upserted idempotently.

Steps for one payload (`receive_payload` runs them in one transaction):
1. The raw body is stored as an InboundPayload before anything reads it; a repeated delivery id is answered
   as a duplicate at once, and a replayed body finds every order unchanged (status duplicate). When
   processing fails unexpectedly the transaction is rolled back and the payload alone is stored again,
   rejected with the error.
2. The channel's adapter turns the body into canonical orders (core.channels); an unreadable order is
   recorded as rejected with the adapter's reason.
3. Each canonical order is upserted by (channel, external id) (core.orders.upsert): created, updated, found
   unchanged, or, older than what we hold, recorded and ignored; an order that can't be completed is kept on
   hold with the reason.
4. The payload's outcome is written on it.
The statements of this hot path are in core.orders.statements, the order's columns in core.orders.columns.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from core.audit.services import record_audit
from core.catalog.services import add_listing
from core.channels.base import Extracted
from core.channels.models import Channel
from core.channels.registry import get_adapter
from core.db import begin_write
from core.errors import DomainError, NotFound
from core.orders import statements
from core.orders.models import InboundPayload
from core.orders.upsert import (
    DUPLICATE,
    NEEDS_ATTENTION,
    PROCESSED,
    RECEIVED,
    REJECTED,
    IngestResult,
    ingest_order,
    reprocess_held_orders,
)
from core.privacy.pii import mask_card_numbers
from core.security.roles import Actor

log = logging.getLogger("crossdock.intake")

MAX_PAYLOAD_BYTES = 2 * 1024 * 1024


def get_channel(session: Session, code: str) -> Channel:
    """An active channel by code, or NotFound."""
    session.flush()  # the Core query below doesn't autoflush
    channel_id = statements.active_channel_id(session, code)
    if channel_id is None:
        raise NotFound(f"unknown channel {code!r}")
    return session.get_one(Channel, channel_id)  # from the identity map when this session has it already


def store_payload(
    session: Session,
    channel: Channel,
    body: str,
    *,
    source: str,
    now: datetime,
    delivery_id: str | None = None,
    topic: str | None = None,
    filename: str | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[InboundPayload, bool]:
    """Store the raw body; returns (payload, is_new). A delivery id seen before returns the first payload.
    A full card number in a payment field is kept as its last four digits only (PCI DSS: no stored PAN)."""
    body = mask_card_numbers(body)
    values = {
        "channel_id": channel.id,
        "channel_code": channel.code,
        "source": source,
        "delivery_id": delivery_id,
        "topic": topic,
        "filename": filename,
        "body": body,
        "headers": headers or {},
        "sha256": hashlib.sha256(body.encode("utf-8")).hexdigest(),
        "status": RECEIVED,
        "error": None,
        "order_id": None,
        "received_at": now,
        "processed_at": None,
    }
    session.flush()  # the statements below don't autoflush
    payload_id = statements.insert_payload(session, values)
    if payload_id is not None:
        return statements.attach_payload(session, {**values, "id": payload_id}), True
    # A delivery id seen before (PostgreSQL waits for a concurrent insert of it to commit or roll back).
    seen = session.scalar(
        select(InboundPayload).where(
            InboundPayload.channel_id == channel.id, InboundPayload.delivery_id == delivery_id
        )
    )
    if seen is None:
        raise RuntimeError(f"delivery {delivery_id!r} conflicted on its key but cannot be found")
    return seen, False


@dataclass
class Received:
    """What `receive_payload` did with one body."""

    payload: InboundPayload
    is_new: bool  # False: a delivery id seen before; `payload` is the first delivery's
    results: list[IngestResult]
    failure: str | None = None  # processing raised: the payload is kept, rejected, with this error


def receive_payload(
    session: Session,
    channel: Channel,
    body: str,
    *,
    source: str,
    now: datetime,
    delivery_id: str | None = None,
    topic: str | None = None,
    filename: str | None = None,
    headers: dict[str, str] | None = None,
) -> Received:
    """Store a body and process it in one transaction (one commit, so one disk flush, per webhook), which
    the caller starts with nothing else in it (it is rolled back on failure) and commits.

    The payload row is written first. When processing fails unexpectedly the whole transaction is rolled
    back and the payload is stored again, alone, marked rejected with the error, for the caller to commit:
    nothing half-processed is kept, the payload always is. (Not a savepoint around processing: on SQLite a
    savepoint makes every page written inside it go through a statement journal: about a third of the
    time SQLite spent on an order's statements.) The caller answers the channel only after the commit: a
    crash before it means no answer, and the channel delivers again."""
    stored = {
        "source": source,
        "now": now,
        "delivery_id": delivery_id,
        "topic": topic,
        "filename": filename,
        "headers": headers,
    }
    payload, is_new = store_payload(session, channel, body, **stored)
    if not is_new:
        return Received(payload, False, [])
    try:
        [(_, results)] = process_payloads(session, channel, [payload], now=now)
    except Exception as exc:
        log.exception("payload %s failed", payload.id)
        error = f"{type(exc).__name__}: {exc}"
        session.expunge(payload)  # attached by hand, so the rollback would keep it, with an id now unused
        session.rollback()
        begin_write(session)
        payload, is_new = store_payload(session, channel, body, **stored)
        if is_new:
            _write_outcome(session, payload, REJECTED, error[:4000], None, now)
        return Received(payload, is_new, [], failure=error)
    return Received(payload, True, results)


def process_payloads(
    session: Session,
    channel: Channel,
    payloads: Sequence[InboundPayload],
    *,
    now: datetime,
    actor: str | None = None,
) -> list[tuple[InboundPayload, list[IngestResult]]]:
    """Adapt and ingest stored payloads read together (Amazon v0 order items join their orders)."""
    actor = actor or f"channel:{channel.code}"
    adapter = get_adapter(channel.kind)
    outcome: list[tuple[InboundPayload, list[IngestResult]]] = []
    bodies = [p.body for p in payloads]
    results_by_payload: dict[int, list[IngestResult]] = {}
    supporting: list[tuple[InboundPayload, set[str]]] = []
    for index, payload in enumerate(payloads):
        others = bodies[:index] + bodies[index + 1 :]
        extracted = _extract_joined(adapter, payload.body, others)
        contributes = _contributes_to(adapter, payload.body, others) if _holds_no_order(extracted) else set()
        if contributes:
            supporting.append((payload, contributes))
            continue
        results_by_payload[id(payload)] = [
            _ingest_extracted(session, channel, item, now=now, actor=actor) for item in extracted
        ]
    by_external_id = {r.external_id: r for results in results_by_payload.values() for r in results}
    for payload, contributes in supporting:
        results_by_payload[id(payload)] = [
            by_external_id.get(ext, IngestResult(ext, REJECTED, None, "joined order not found"))
            for ext in sorted(contributes)
        ]
    outcome = []
    for payload in payloads:
        results = results_by_payload[id(payload)]
        _settle_payload(session, payload, results, now)
        outcome.append((payload, results))
    return outcome


def _holds_no_order(extracted: list[Extracted]) -> bool:
    return all(item.order is None for item in extracted)


def _contributes_to(adapter: Any, body: str, others: list[str]) -> set[str]:
    """External ids of orders in the other bodies that this body changes when read with them (order items)."""
    if not others:
        return set()
    without = {i.order.external_id: i.order for i in adapter.extract(others) if i.order is not None}
    with_body = {
        i.order.external_id: i.order for i in adapter.extract([*others, body]) if i.order is not None
    }
    return {ext for ext, order in with_body.items() if without.get(ext) != order}


def _extract_joined(adapter: Any, body: str, others: list[str]) -> list[Extracted]:
    """The orders in `body`, each joined with whatever the other bodies of the same call add to it."""
    own = adapter.extract([body])
    if not others or all(item.order is None for item in own):
        return own
    joined = {
        item.order.external_id: item for item in adapter.extract([body, *others]) if item.order is not None
    }
    return [joined.get(item.order.external_id, item) if item.order is not None else item for item in own]


def _settle_payload(
    session: Session, payload: InboundPayload, results: list[IngestResult], now: datetime
) -> None:
    """Record the payload's outcome: one Core UPDATE, mirrored on the object as its committed state (so
    there is nothing left for a flush to write)."""
    statuses = {r.status for r in results}
    if results and all(r.to_fetch for r in results):
        status = RECEIVED  # announces orders still to be fetched (core.channel_sync.polling)
    elif not results or statuses == {REJECTED}:
        status = REJECTED
    elif NEEDS_ATTENTION in statuses:
        status = NEEDS_ATTENTION
    elif statuses <= {DUPLICATE, "stale"}:
        status = DUPLICATE
    else:
        status = PROCESSED
    errors = [f"{r.external_id or 'document'}: {r.error}" for r in results if r.error]
    error = "; ".join(errors)[:4000] or (None if results else "no order found in payload")
    order_id = next((r.order_id for r in results if r.order_id), None)
    session.flush()  # the payload's own pending changes first, so the UPDATE below has the last word
    _write_outcome(session, payload, status, error, order_id, now)


def _write_outcome(
    session: Session,
    payload: InboundPayload,
    status: str,
    error: str | None,
    order_id: int | None,
    now: datetime,
) -> None:
    """One Core UPDATE of the payload's outcome, mirrored on the object as its committed state: nothing is
    left for a flush to write, and the row is right even when the object no longer matches it."""
    statements.settle_payload(session, payload.id, status, error, order_id, now)
    for name, value in (("status", status), ("error", error), ("order_id", order_id), ("processed_at", now)):
        set_committed_value(payload, name, value)


def _ingest_extracted(
    session: Session,
    channel: Channel,
    item: Extracted,
    *,
    now: datetime,
    actor: str,
) -> IngestResult:
    if item.order is None:
        if item.fetch is not None:  # a webhook naming an order: fetch_announced_orders fetches it
            return IngestResult(item.fetch, NEEDS_ATTENTION, None, item.error, to_fetch=True)
        external_id = _guess_external_id(item.native)
        return IngestResult(external_id, REJECTED, None, item.error)
    try:
        return ingest_order(session, channel, item.order, now=now, actor=actor)
    except DomainError as exc:
        return IngestResult(item.order.external_id, REJECTED, None, str(exc))


def _guess_external_id(native: dict) -> str | None:
    for key in ("id", "orderId", "AmazonOrderId", "order_id", "receipt_id"):  # receipt_id: the till CSV
        value = native.get(key)
        if isinstance(value, str | int) and not isinstance(value, bool):
            return str(value)
    return None


def mark_payload_failed(session: Session, payload_id: int, error: str, *, now: datetime) -> None:
    """Record that processing a stored payload failed unexpectedly; it stays for a retry."""
    payload = session.get(InboundPayload, payload_id)
    if payload is not None:
        _write_outcome(session, payload, REJECTED, error[:4000], None, now)


def map_channel_sku(
    session: Session, channel_id: int, channel_sku: str, sku_code: str, *, actor: Actor, now: datetime
) -> list[int]:
    """Map a channel SKU to ours (audited) and release the orders held for it; returns released order ids."""
    channel = session.get(Channel, channel_id)
    if channel is None:
        raise NotFound(f"channel {channel_id} not found")
    listing = add_listing(session, channel, channel_sku, sku_code, now=now)
    record_audit(
        session,
        actor,
        "listing.mapped",
        "channel",
        channel.id,
        now=now,
        after={"channel_sku": listing.channel_sku, "sku_id": listing.sku_id},
    )
    released = reprocess_held_orders(session, channel.id, now=now, actor=actor.label)
    for order_id in released:
        record_audit(
            session,
            actor,
            "order.hold_released",
            "order",
            order_id,
            now=now,
            after={"reason": f"listing {listing.channel_sku} mapped"},
        )
    return released
