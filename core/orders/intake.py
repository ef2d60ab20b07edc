"""Channel order intake: every payload stored raw first, then adapted and upserted idempotently.

Steps for one payload (`receive_payload` runs them in one transaction):
1. The raw body is stored as an InboundPayload before anything reads it; a repeated delivery id is answered
   as a duplicate at once, and a replayed body finds every order unchanged (status duplicate). When
   processing fails unexpectedly the transaction is rolled back and the payload alone is stored again,
   rejected with the error.
2. The channel's adapter turns the body into canonical orders (core.channels); an unreadable order is
   recorded as rejected with the adapter's reason.
3. Each canonical order is upserted by (channel, external id): the order's row is inserted first, with
   ON CONFLICT DO NOTHING on that unique key, so a replay, an update or a concurrent delivery of the same
   new order that loses the race inserts nothing (having written nothing else) and is applied as an update.
   A new order, the hot path, is written with Core statements compiled once and run on the driver's cursor
   (core.sql: one INSERT per table, the writes after the reservation in one batch) and no ORM objects.
4. Updates older than what we hold (by the channel's updated-at) are recorded on the timeline and ignored.
5. An order that can't be completed (unmapped SKU, unknown currency, missing address) is kept on hold with
   the reason; `reprocess_held_orders` completes it once the cause is fixed.
"""

from __future__ import annotations

import functools
import hashlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from core import sql
from core.audit.services import record_audit
from core.catalog.services import add_listing
from core.channels.base import Extracted, is_iso_currency
from core.channels.canonical import CanonicalAddress, CanonicalOrder, CanonicalShipment, ChannelStatus
from core.channels.models import Channel
from core.channels.registry import get_adapter
from core.customers.services import resolve_customer
from core.db import begin_write
from core.errors import DomainError, NotFound
from core.fulfillment.models import Shipment
from core.inventory.allocation import LineNeed, LocationStock
from core.inventory.allocations import (
    ListedSku,
    allocate_new_order,
    allocate_order,
    listed_skus_with_stock,
    release_order,
)
from core.notifications.models import OutboxMessage
from core.orders import events
from core.orders.models import InboundPayload, Order, OrderLine
from core.orders.services import change_order_status, format_order_number, record_status_change
from core.orders.status import CANCELLABLE_STATUSES, OrderStatus, can_transition
from core.security.roles import Actor

log = logging.getLogger("crossdock.intake")

MAX_PAYLOAD_BYTES = 2 * 1024 * 1024

# Payload statuses, as shown to ops.
RECEIVED, PROCESSED, DUPLICATE, NEEDS_ATTENTION, REJECTED = (
    "received",
    "processed",
    "duplicate",
    "needs_attention",
    "rejected",
)
UNMAPPED_PREFIX = "unmapped channel SKU"


@dataclass(frozen=True)
class IngestResult:
    """What happened to one order found in a payload (one JSON line of `crossdock import`)."""

    external_id: str | None
    status: str  # created, updated, duplicate, stale, needs_attention, rejected
    order_id: int | None = None
    error: str | None = None


# Statements of the intake's hot path, built once (building and cache-keying a statement per call costs more
# than running it).
_channels = Channel.__table__
_payloads = InboundPayload.__table__
_orders = Order.__table__
_lines = OrderLine.__table__
_ACTIVE_CHANNEL_ID = sql.Prepared(
    select(_channels.c.id).where(_channels.c.code == bindparam("code"), _channels.c.active.is_(True))
)
_INSERT_PAYLOAD = sql.Prepared(insert(_payloads).returning(_payloads.c.id))
# With a delivery id: a repeated one (even from a concurrent request) inserts nothing and returns no id.
_INSERT_DELIVERY = {
    dialect: sql.Prepared(
        make(_payloads)
        .on_conflict_do_nothing(index_elements=["channel_id", "delivery_id"])
        .returning(_payloads.c.id)
    )
    for dialect, make in (("postgresql", postgresql_insert), ("sqlite", sqlite_insert))
}
_SETTLE_PAYLOAD = sql.Prepared(
    update(_payloads)
    .where(_payloads.c.id == bindparam("p_id"))
    .values(
        status=bindparam("p_status", type_=_payloads.c.status.type),
        error=bindparam("p_error", type_=_payloads.c.error.type),
        order_id=bindparam("p_order_id", type_=_payloads.c.order_id.type),
        processed_at=bindparam("p_now", type_=_payloads.c.processed_at.type),
    )
)
_ORDER_ID = select(_orders.c.id).where(
    _orders.c.channel_id == bindparam("channel_id"), _orders.c.external_id == bindparam("external_id")
)
# A new order's row goes in first: losing the race to a concurrent delivery of the same order leaves no row
# (the database decides on the unique key, waiting for the other transaction on PostgreSQL), nothing else
# written yet.
_INSERT_NEW_ORDER = {
    dialect: sql.Prepared(
        make(_orders)
        .on_conflict_do_nothing(index_elements=["channel_id", "external_id"])
        .returning(_orders.c.id)
    )
    for dialect, make in (("postgresql", postgresql_insert), ("sqlite", sqlite_insert))
}
# Returning line_no with the id: a batch INSERT ... RETURNING gives no row order on SQLite (asking for one
# makes SQLAlchemy send one INSERT per line).
_LINE_COLUMNS = (
    "order_id",
    "line_no",
    "external_id",
    "sku_id",
    "channel_sku",
    "title",
    "quantity",
    "unit_price",
    "discount",
    "tax",
    "total",
)


# Lines per INSERT: bounds the statements kept (one per count up to this) and the parameters per statement
# (SQLite allows 32,766); a longer order takes several INSERTs.
LINES_PER_INSERT = 50


@functools.cache
def _insert_lines(count: int) -> sql.Prepared:
    """One INSERT of `count` lines returning (line_no, id); parameters are `<column>_<n>`."""
    rows = [
        {
            **{c: bindparam(f"{c}_{n}", type_=_lines.c[c].type) for c in _LINE_COLUMNS},
            "quantity_shipped": 0,
            "quantity_returned": 0,
            "quantity_cancelled": 0,
        }
        for n in range(count)
    ]
    return sql.Prepared(insert(_lines).values(rows).returning(_lines.c.line_no, _lines.c.id))


_COMPLETE_ORDER = sql.Prepared(
    update(_orders)
    .where(_orders.c.id == bindparam("p_id"))
    .values(
        number=bindparam("p_number", type_=_orders.c.number.type),
        status=bindparam("p_status", type_=_orders.c.status.type),
        customer_id=bindparam("p_customer_id", type_=_orders.c.customer_id.type),
        identity_id=bindparam("p_identity_id", type_=_orders.c.identity_id.type),
        updated_at=bindparam("p_now", type_=_orders.c.updated_at.type),
    )
)
_QUEUE_CONFIRMATION = {
    dialect: sql.Prepared(make(OutboxMessage.__table__).on_conflict_do_nothing(index_elements=["dedup_key"]))
    for dialect, make in (("postgresql", postgresql_insert), ("sqlite", sqlite_insert))
}


def get_channel(session: Session, code: str) -> Channel:
    """An active channel by code, or NotFound."""
    session.flush()  # the Core query below doesn't autoflush
    found = sql.run(session, _ACTIVE_CHANNEL_ID, {"code": code})
    if not found:
        raise NotFound(f"unknown channel {code!r}")
    return session.get_one(Channel, found[0][0])  # from the identity map when this session has it already


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
    """Store the raw body; returns (payload, is_new). A delivery id seen before returns the first payload."""
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
    if not delivery_id:  # nothing to collide with: NULL delivery ids are never equal under the unique key
        return _attach_payload(session, values, sql.run(session, _INSERT_PAYLOAD, values)[0][0]), True
    inserted = sql.run(session, _INSERT_DELIVERY[session.get_bind().dialect.name], values)
    if inserted:
        return _attach_payload(session, values, inserted[0][0]), True
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


def _attach_payload(session: Session, values: dict[str, Any], payload_id: int) -> InboundPayload:
    """The row just inserted, attached to the session as a loaded InboundPayload: the same object a flush
    would give, without the unit of work's cost on the webhook's hot path."""
    payload: InboundPayload = sql.attach_loaded(session, InboundPayload, {**values, "id": payload_id})
    return payload


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
    if not results or statuses == {REJECTED}:
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
    sql.run(
        session,
        _SETTLE_PAYLOAD,
        {"p_id": payload.id, "p_status": status, "p_error": error, "p_order_id": order_id, "p_now": now},
    )
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


def ingest_order(
    session: Session, channel: Channel, canonical: CanonicalOrder, *, now: datetime, actor: str
) -> IngestResult:
    """Create or update one order from its canonical form; idempotent and safe under concurrent delivery.

    The order is inserted by its unique key (channel, external id) before anything else is written for it;
    when it exists already (a replay, an update, or a concurrent delivery that got there first) no row is
    inserted and ours is applied as an update."""
    new = _create_order(session, channel, canonical, now=now, actor=actor)
    if new is not None:
        _after_create(session, channel, new, canonical, now=now)
        status = NEEDS_ATTENTION if new.status == OrderStatus.ON_HOLD else "created"
        return IngestResult(canonical.external_id, status, new.id, new.hold_reason)
    order_id = _find_order_id(session, channel.id, canonical.external_id)
    if order_id is None:
        raise RuntimeError(f"order {canonical.external_id} conflicted on its key but cannot be found")
    order = session.get_one(Order, order_id)
    return _update_order(session, order, canonical, now=now, actor=actor)


def _find_order_id(session: Session, channel_id: int, external_id: str) -> int | None:
    session.flush()  # the Core query below doesn't autoflush
    return (
        session.connection()
        .execute(_ORDER_ID, {"channel_id": channel_id, "external_id": external_id})
        .scalar()
    )


def _address(address: CanonicalAddress | None) -> dict[str, Any] | None:
    # vars(), not asdict(): the fields are plain strings, and asdict deep-copies each one
    return None if address is None else {k: v for k, v in vars(address).items() if v is not None}


def _hold_reasons(
    currency: str, warnings: Sequence[str], lines: Sequence[tuple[int, str | None, int | None]]
) -> list[str]:
    """Why the order can't be completed yet: the adapter's warnings, an unknown currency, unmapped lines.

    `lines` are (line_no, channel SKU, our SKU id)."""
    reasons = list(warnings)
    if not is_iso_currency(currency):
        reasons.append(f"unknown currency {currency!r}")
    reasons += [f"line {line_no} has no SKU" for line_no, channel_sku, _sku_id in lines if not channel_sku]
    unmapped = sorted({channel_sku for _no, channel_sku, sku_id in lines if channel_sku and sku_id is None})
    if unmapped:
        reasons.append(f"{UNMAPPED_PREFIX}: {', '.join(unmapped)}")
    return list(dict.fromkeys(reasons))


def _map_skus(session: Session, channel_id: int, channel_skus: set[str]) -> dict[str, int]:
    listed, _stock = listed_skus_with_stock(session, channel_id, channel_skus)
    return {code: sku.sku_id for code, sku in listed.items()}


def _line_fields(canonical: CanonicalOrder, mapping: dict[str, int]) -> list[dict[str, Any]]:
    """The columns of the order's lines, numbered from 1, mapped to our SKUs where listed."""
    return [
        {
            "line_no": index,
            "external_id": line.external_id,
            "channel_sku": line.channel_sku,
            "sku_id": mapping.get(line.channel_sku) if line.channel_sku else None,
            "title": (line.title or line.channel_sku or "Item")[:300],
            "quantity": line.quantity,
            "unit_price": line.unit_price,
            "discount": line.discount,
            "tax": line.tax,
            "total": line.total,
        }
        for index, line in enumerate(canonical.lines, start=1)
    ]


def _build_lines(session: Session, channel: Channel, canonical: CanonicalOrder) -> list[OrderLine]:
    mapping = _map_skus(
        session, channel.id, {line.channel_sku for line in canonical.lines if line.channel_sku}
    )
    return [OrderLine(**fields) for fields in _line_fields(canonical, mapping)]


@dataclass
class _NewOrder:
    """An order created in this transaction, held as plain data until `_after_create` completes its row."""

    id: int
    number: str
    status: str
    hold_reason: str | None
    customer_id: int | None
    identity_id: int | None
    email: str | None
    shipping_address: dict[str, Any] | None
    needs: list[LineNeed]  # what allocation will reserve: every line, all of it
    listed: dict[str, ListedSku]
    locations: list[LocationStock]  # where the SKUs may ship from, as read with the listings
    timeline: events.Timeline


def _create_order(
    session: Session, channel: Channel, canonical: CanonicalOrder, *, now: datetime, actor: str
) -> _NewOrder | None:
    """Write the new order (None when a concurrent delivery inserted it first), its customer and lines.

    Held when it can't be completed yet. Its number (derived from the id), final status and customer are
    written by `_after_create`, with its timeline."""
    listed, locations = listed_skus_with_stock(
        session, channel.id, {line.channel_sku for line in canonical.lines if line.channel_sku}
    )
    lines = _line_fields(canonical, {code: sku.sku_id for code, sku in listed.items()})
    reasons = _hold_reasons(
        canonical.currency,
        canonical.warnings,
        [(line["line_no"], line["channel_sku"], line["sku_id"]) for line in lines],
    )
    hold_reason = "; ".join(reasons) or None
    offset = canonical.placed_at.utcoffset()
    shipping_address = _address(canonical.shipping_address)
    inserted = sql.run(
        session,
        _INSERT_NEW_ORDER[session.get_bind().dialect.name],
        {
            "channel_id": channel.id,
            "external_id": canonical.external_id,
            "number": f"new-{canonical.external_id}"[:32],
            "channel_number": canonical.number,
            "status": OrderStatus.ON_HOLD.value if reasons else OrderStatus.PENDING.value,
            "channel_status": canonical.raw_status[:64],
            "channel_state": canonical.status.value,
            "hold_reason": hold_reason,
            "hold_warnings": list(canonical.warnings),
            "email": canonical.buyer.email,
            "phone": canonical.buyer.phone,
            "buyer_name": (canonical.buyer.name or "")[:200],
            "placed_at": canonical.placed_at,
            "placed_at_offset_minutes": int(offset.total_seconds() // 60) if offset else 0,
            "channel_updated_at": canonical.updated_at,
            "currency": canonical.currency,
            "subtotal": canonical.subtotal,
            "discount_total": canonical.discount_total,
            "shipping_total": canonical.shipping_total,
            "tax_total": canonical.tax_total,
            "total": canonical.total,
            "refunded_total": canonical.refunded_total,
            "billing_address": _address(canonical.billing_address),
            "shipping_address": shipping_address,
            "shipping_method": (canonical.shipping_method or None) and canonical.shipping_method[:100],
            "fulfilled_by_channel": canonical.fulfilled_by_channel,
            "source": canonical.source,
            "note": canonical.note,
            "created_at": now,
            "updated_at": now,
        },
    )
    if not inserted:
        return None
    order_id = inserted[0][0]
    customer_id, identity_id = resolve_customer(
        session, channel.id, canonical.buyer, canonical.shipping_address or canonical.billing_address, now=now
    )
    line_ids: dict[int, int] = {}
    for start in range(0, len(lines), LINES_PER_INSERT):
        chunk = lines[start : start + LINES_PER_INSERT]
        values = {
            f"{column}_{n}": order_id if column == "order_id" else line[column]
            for n, line in enumerate(chunk)
            for column in _LINE_COLUMNS
        }
        line_ids.update(sql.run(session, _insert_lines(len(chunk)), values))
    timeline = events.Timeline(order_id, actor=actor, now=now)
    timeline.add(
        "placed",
        f"Order placed on {channel.name} ({canonical.raw_status})",
        data={"external_id": canonical.external_id, "channel_number": canonical.number},
    )
    status = OrderStatus.PENDING.value
    if hold_reason:
        status = record_status_change(timeline, status, OrderStatus.ON_HOLD, why=hold_reason)
    for shipped in canonical.shipments:
        _add_channel_shipment(session, order_id, shipped, timeline, now=now)
    if canonical.shipments:
        session.flush()
    return _NewOrder(
        id=order_id,
        number=format_order_number(order_id),
        status=status,
        hold_reason=hold_reason,
        customer_id=customer_id,
        identity_id=identity_id,
        email=canonical.buyer.email,
        shipping_address=shipping_address,
        needs=[
            LineNeed(
                line_ids[line["line_no"]],
                line["sku_id"],
                line["quantity"],
                listed[line["channel_sku"]].dropship_location_id,
            )
            for line in lines
            if line["sku_id"] is not None and line["quantity"] > 0
        ],
        listed=listed,
        locations=locations,
        timeline=timeline,
    )


def _add_channel_shipment(
    session: Session, order_id: int, shipped: CanonicalShipment, timeline: events.Timeline, *, now: datetime
) -> None:
    """A parcel the channel already sent for a new order, and its 'shipped' timeline entry."""
    session.add(
        Shipment(
            order_id=order_id,
            carrier=shipped.carrier,
            tracking_number=shipped.tracking_number,
            status="in_transit",
            shipped_at=shipped.shipped_at or now,
            created_at=now,
        )
    )
    timeline.add(
        "shipped",
        f"Shipped by the channel: {shipped.carrier or 'carrier'} {shipped.tracking_number or ''}".strip(),
    )


def _after_create(
    session: Session, channel: Channel, order: _NewOrder, canonical: CanonicalOrder, *, now: datetime
) -> None:
    """_after_change for a new order, then its row completed (number, status, customer) and its timeline
    appended.

    A new order holds no stock, so a cancellation has nothing to release."""
    with sql.batch(session) as queued:  # the writes after the reservation: one round trip on PostgreSQL
        target = _target_status(order.status, canonical)
        if target is not None:
            why = f"channel reports {canonical.raw_status}"
            order.status = record_status_change(order.timeline, order.status, target, why=why)
        elif order.status == OrderStatus.PENDING and canonical.status == ChannelStatus.PAID:
            if canonical.fulfilled_by_channel:
                why = f"paid; {channel.name} fulfils it: nothing is allocated from our stock"
                order.status = record_status_change(
                    order.timeline, order.status, OrderStatus.CONFIRMED, why=why
                )
            else:
                order.status = allocate_new_order(
                    session,
                    order.id,
                    order.shipping_address,
                    order.needs,
                    order.listed,
                    order.locations,
                    timeline=order.timeline,
                    now=now,
                    queued=queued,
                )
                if order.status == OrderStatus.CONFIRMED and order.email:
                    queue_order_confirmation(
                        session, order.id, order.number, order.email, now=now, queued=queued
                    )
        order.timeline.write(session, queued)
        queued.add(
            _COMPLETE_ORDER,
            {
                "p_id": order.id,
                "p_number": order.number,
                "p_status": order.status,
                "p_customer_id": order.customer_id,
                "p_identity_id": order.identity_id,
                "p_now": now,
            },
        )


def _add_channel_shipments(
    session: Session, order: Order, canonical: CanonicalOrder, *, now: datetime, actor: str
) -> None:
    known = {(s.carrier, s.tracking_number) for s in order.shipments}
    for shipped in canonical.shipments:
        if (shipped.carrier, shipped.tracking_number) in known:
            continue
        shipment = Shipment(
            order_id=order.id,
            carrier=shipped.carrier,
            tracking_number=shipped.tracking_number,
            status="in_transit",
            shipped_at=shipped.shipped_at or now,
            created_at=now,
        )
        session.add(shipment)
        order.shipments.append(shipment)
        events.record_event(
            session,
            order,
            "shipped",
            f"Shipped by the channel: {shipped.carrier or 'carrier'} {shipped.tracking_number or ''}".strip(),
            actor=actor,
            now=now,
        )


def _target_status(status: str, canonical: CanonicalOrder) -> OrderStatus | None:
    """The status the channel's news moves an order in `status` to, when the status table allows it."""
    wanted: OrderStatus | None = None
    if (
        canonical.status in (ChannelStatus.CANCELLED, ChannelStatus.REFUNDED)
        and status in CANCELLABLE_STATUSES
    ):
        wanted = OrderStatus.CANCELLED
    elif canonical.status == ChannelStatus.SHIPPED and status != OrderStatus.ON_HOLD:
        wanted = OrderStatus.SHIPPED
    if wanted is None or wanted.value == status or not can_transition(status, wanted):
        return None
    return wanted


def _after_change(
    session: Session, order: Order, canonical: CanonicalOrder, *, now: datetime, actor: str
) -> None:
    """Follow the channel's news: cancel (releasing stock), mark shipped, or reserve stock once paid."""
    order.channel_state = canonical.status.value
    target = _target_status(order.status, canonical)
    if target is not None:
        if target == OrderStatus.CANCELLED:
            release_order(session, order, actor=actor, now=now)
        change_order_status(
            session, order, target, actor=actor, now=now, why=f"channel reports {canonical.raw_status}"
        )
        return
    allocate_if_ready(session, order, now=now, actor=actor)


def allocate_if_ready(session: Session, order: Order, *, now: datetime, actor: str) -> None:
    """Reserve stock for a paid, pending order (confirmed or backordered) and queue its confirmation."""
    if order.status != OrderStatus.PENDING or order.channel_state != ChannelStatus.PAID:
        return
    if order.fulfilled_by_channel:
        why = f"paid; {order.channel.name} fulfils it: nothing is allocated from our stock"
        change_order_status(session, order, OrderStatus.CONFIRMED, actor=actor, now=now, why=why)
        return
    allocate_order(session, order, actor=actor, now=now)
    if order.status == OrderStatus.CONFIRMED and order.email:
        queue_order_confirmation(session, order.id, order.number, order.email, now=now)


def queue_order_confirmation(
    session: Session,
    order_id: int,
    number: str,
    email: str,
    *,
    now: datetime,
    queued: sql.Batch | None = None,
) -> None:
    """The 'order confirmed' email, queued once per order (the dedup key makes a second queueing a no-op);
    added to `queued` when given."""
    with sql.joining(session, queued) as writes:
        writes.add(
            _QUEUE_CONFIRMATION[session.get_bind().dialect.name],
            {
                "kind": "order_confirmed",
                "transport": "email",
                "dedup_key": f"order:{order_id}:confirmed",
                "recipient": email,
                "subject": f"Your order {number} is confirmed",
                "payload": {"order_id": order_id},
                "status": "pending",
                "attempts": 0,
                "next_attempt_at": now,
                "created_at": now,
            },
        )


def _update_order(
    session: Session, order: Order, canonical: CanonicalOrder, *, now: datetime, actor: str
) -> IngestResult:
    if canonical.updated_at and order.channel_updated_at and canonical.updated_at < order.channel_updated_at:
        events.record_event(
            session,
            order,
            "stale_update_ignored",
            f"Ignored an update from {canonical.updated_at.isoformat()}: we already have "
            f"{order.channel_updated_at.isoformat()}",
            actor=actor,
            now=now,
        )
        return IngestResult(canonical.external_id, "stale", order.id, None)
    changes = _apply_changes(session, order, canonical, now=now, actor=actor)
    previous = order.status
    _after_change(session, order, canonical, now=now, actor=actor)
    if not changes and order.status == previous:
        return IngestResult(canonical.external_id, DUPLICATE, order.id, None)
    order.channel_updated_at = canonical.updated_at or order.channel_updated_at
    order.updated_at = now
    status = NEEDS_ATTENTION if order.status == OrderStatus.ON_HOLD else "updated"
    return IngestResult(canonical.external_id, status, order.id, order.hold_reason)


def _apply_changes(
    session: Session, order: Order, canonical: CanonicalOrder, *, now: datetime, actor: str
) -> list[str]:
    changes: list[str] = []
    if canonical.raw_status[:64] != order.channel_status:
        changes.append(f"channel status {order.channel_status or '—'} → {canonical.raw_status}")
        order.channel_status = canonical.raw_status[:64]
    new_address = _address(canonical.shipping_address)
    if new_address != order.shipping_address:
        order.shipping_address = new_address
        events.record_event(
            session,
            order,
            "address_changed",
            "Shipping address changed by the channel",
            actor=actor,
            now=now,
            data={"address": new_address},
        )
        changes.append("shipping address")
    if canonical.refunded_total != order.refunded_total:
        events.record_event(
            session,
            order,
            "refund_recorded",
            f"Channel refunded {canonical.refunded_total - order.refunded_total} (minor units) in total",
            actor=actor,
            now=now,
            data={"refunded_total": canonical.refunded_total},
        )
        order.refunded_total = canonical.refunded_total
        changes.append("refund")
    totals = ("subtotal", "discount_total", "shipping_total", "tax_total", "total")
    if any(getattr(order, f) != getattr(canonical, f) for f in totals):
        for field in totals:
            setattr(order, field, getattr(canonical, field))
        changes.append("totals")
    if _lines_differ(order, canonical):
        if order.status in (OrderStatus.PENDING, OrderStatus.ON_HOLD, OrderStatus.BACKORDERED):
            order.lines = _build_lines(session, order.channel, canonical)
            events.record_event(
                session, order, "lines_changed", "Order lines changed by the channel", actor=actor, now=now
            )
            changes.append("lines")
        else:
            events.record_event(
                session,
                order,
                "lines_change_ignored",
                f"The channel changed the lines but the order is already {order.status}: check by hand",
                actor=actor,
                now=now,
            )
    before = len(order.shipments)
    _add_channel_shipments(session, order, canonical, now=now, actor=actor)
    if len(order.shipments) != before:
        changes.append("shipments")
    if changes:
        session.flush()
        recheck_hold(session, order, canonical.warnings, now=now, actor=actor)
    return changes


def _lines_differ(order: Order, canonical: CanonicalOrder) -> bool:
    ours = [(line.external_id, line.channel_sku, line.quantity, line.total) for line in order.lines]
    theirs = [(line.external_id, line.channel_sku, line.quantity, line.total) for line in canonical.lines]
    return ours != theirs


def recheck_hold(
    session: Session, order: Order, warnings: Sequence[str] | None = None, *, now: datetime, actor: str
) -> bool:
    """Re-map a held order's lines; release the hold when nothing is missing any more. True if released.

    `warnings` are the adapter's warnings from the newest payload; None keeps those of the current hold."""
    if order.status != OrderStatus.ON_HOLD:
        return False
    unmapped = {line.channel_sku for line in order.lines if line.sku_id is None and line.channel_sku}
    mapping = _map_skus(session, order.channel_id, unmapped)
    for line in order.lines:
        if line.sku_id is None and line.channel_sku in mapping:
            line.sku_id = mapping[line.channel_sku]
    if warnings is None:
        warnings = list(order.hold_warnings or [])
    order.hold_warnings = list(warnings)
    reasons = _hold_reasons(
        order.currency, warnings, [(line.line_no, line.channel_sku, line.sku_id) for line in order.lines]
    )
    if reasons:
        order.hold_reason = "; ".join(reasons)
        return False
    order.hold_reason = None
    change_order_status(session, order, OrderStatus.PENDING, actor=actor, now=now, why="hold cleared")
    return True


def reprocess_held_orders(session: Session, channel_id: int, *, now: datetime, actor: str) -> list[int]:
    """Retry every order of the channel held for unmapped SKUs (after a listing was added); ids released."""
    held = session.scalars(
        select(Order).where(
            Order.channel_id == channel_id,
            Order.status == OrderStatus.ON_HOLD,
            Order.hold_reason.like(f"%{UNMAPPED_PREFIX}%"),
        )
    ).all()
    released = []
    for order in held:
        if recheck_hold(session, order, now=now, actor=actor):
            allocate_if_ready(session, order, now=now, actor=actor)
            released.append(order.id)
    return released


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
