"""The intake's hot-path statements: Core statements built once, run on the driver's cursor (core.sql).

A webhook's order runs these by the dozen, where SQLAlchemy's per-statement cost would exceed SQLite's
(measured by the ingest benchmark); every other write of the orders area goes through the Session. Nothing
here autoflushes: callers flush first when the session holds pending changes these statements must see.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Executable, bindparam, insert, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from core import sql
from core.channels.models import Channel
from core.notifications.models import OutboxMessage
from core.orders.events import Timeline
from core.orders.models import InboundPayload, Order, OrderEvent, OrderLine

# The intake's writes after a new order's reservation run together (one round trip on PostgreSQL);
# core.inventory's allocation takes the same batch.
Batch = sql.Batch
batch = sql.batch

_channels = Channel.__table__
_payloads = InboundPayload.__table__
_orders = Order.__table__
_lines = OrderLine.__table__
_DIALECT_INSERTS = (("postgresql", postgresql_insert), ("sqlite", sqlite_insert))

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
    for dialect, make in _DIALECT_INSERTS
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
# A new order's row goes in first: losing the race to a concurrent delivery of the same order leaves no row
# (the database decides on the unique key, waiting for the other transaction on PostgreSQL), nothing else
# written yet.
_INSERT_NEW_ORDER = {
    dialect: sql.Prepared(
        make(_orders)
        .on_conflict_do_nothing(index_elements=["channel_id", "external_id"])
        .returning(_orders.c.id)
    )
    for dialect, make in _DIALECT_INSERTS
}
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
_INSERT_EVENTS = sql.Prepared(insert(OrderEvent.__table__))
_QUEUE_CONFIRMATION = {
    dialect: sql.Prepared(make(OutboxMessage.__table__).on_conflict_do_nothing(index_elements=["dedup_key"]))
    for dialect, make in _DIALECT_INSERTS
}

# Lines per INSERT: bounds the statements kept (one per count up to this) and the parameters per statement
# (SQLite allows 32,766); a longer order takes several INSERTs.
LINES_PER_INSERT = 50


@functools.cache
def _insert_lines(count: int, columns: tuple[str, ...]) -> sql.Prepared:
    """One INSERT of `count` lines returning (line_no, id); parameters are `<column>_<n>`.

    Returning line_no with the id: a multi-row INSERT ... RETURNING gives no row order on SQLite."""
    rows = [
        {
            **{c: bindparam(f"{c}_{n}", type_=_lines.c[c].type) for c in columns},
            "quantity_shipped": 0,
            "quantity_returned": 0,
            "quantity_cancelled": 0,
        }
        for n in range(count)
    ]
    return sql.Prepared(insert(_lines).values(rows).returning(_lines.c.line_no, _lines.c.id))


def _dialect(session: Session) -> str:
    return session.get_bind().dialect.name


def active_channel_id(session: Session, code: str) -> int | None:
    """The id of the active channel with this code."""
    found = sql.run(session, _ACTIVE_CHANNEL_ID, {"code": code})
    return found[0][0] if found else None


def insert_payload(session: Session, values: dict[str, Any]) -> int | None:
    """Insert a payload row (every column given); its id, or None when its delivery id was seen before."""
    if not values["delivery_id"]:  # nothing to collide with: NULL delivery ids are never equal under the key
        return int(sql.run(session, _INSERT_PAYLOAD, values)[0][0])
    inserted = sql.run(session, _INSERT_DELIVERY[_dialect(session)], values)
    return inserted[0][0] if inserted else None


def settle_payload(
    session: Session, payload_id: int, status: str, error: str | None, order_id: int | None, now: datetime
) -> None:
    """Write a payload's outcome."""
    sql.run(
        session,
        _SETTLE_PAYLOAD,
        {"p_id": payload_id, "p_status": status, "p_error": error, "p_order_id": order_id, "p_now": now},
    )


def attach_payload(session: Session, values: dict[str, Any]) -> InboundPayload:
    """The payload row just inserted with `values` (its id among them), attached to the session as loaded:
    the same object a flush would give, without the unit of work's cost."""
    payload: InboundPayload = sql.attach_loaded(session, InboundPayload, values)
    return payload


def insert_new_order(session: Session, values: dict[str, Any]) -> int | None:
    """Insert an order row (every column given); its id, or None when (channel, external id) exists."""
    inserted = sql.run(session, _INSERT_NEW_ORDER[_dialect(session)], values)
    return inserted[0][0] if inserted else None


def insert_lines(session: Session, order_id: int, lines: Sequence[dict[str, Any]]) -> dict[int, int]:
    """Insert the order's lines (all with the same columns), LINES_PER_INSERT a statement; line_no -> id."""
    line_ids: dict[int, int] = {}
    if not lines:
        return line_ids
    columns = ("order_id", *lines[0])
    for start in range(0, len(lines), LINES_PER_INSERT):
        chunk = lines[start : start + LINES_PER_INSERT]
        values = {
            f"{column}_{n}": order_id if column == "order_id" else line[column]
            for n, line in enumerate(chunk)
            for column in columns
        }
        line_ids.update(sql.run(session, _insert_lines(len(chunk), columns), values))
    return line_ids


def append_timeline(queued: Batch, timeline: Timeline) -> None:
    """Queue the timeline's entries (one executemany INSERT) and start it afresh."""
    if timeline.rows:
        queued.add_many(_INSERT_EVENTS, timeline.rows)
        timeline.rows = []


@functools.cache
def _prepared(statement: Executable) -> sql.Prepared:
    return sql.Prepared(statement)


def execute(session: Session, statement: Executable, values: dict[str, Any]) -> list[tuple[Any, ...]]:
    """Run a statement another area built once (core.customers' resolution, in the intake's hot path) on the
    driver's cursor; its rows. Each statement is kept prepared: pass only statements built once."""
    return sql.run(session, _prepared(statement), values)


def complete_order(
    queued: Batch,
    order_id: int,
    *,
    number: str,
    status: str,
    customer_id: int | None,
    identity_id: int | None,
    now: datetime,
) -> None:
    """Queue the new order's row completed: its number, final status and customer."""
    queued.add(
        _COMPLETE_ORDER,
        {
            "p_id": order_id,
            "p_number": number,
            "p_status": status,
            "p_customer_id": customer_id,
            "p_identity_id": identity_id,
            "p_now": now,
        },
    )


def queue_confirmation(session: Session, values: dict[str, Any], queued: Batch | None = None) -> None:
    """Insert an outbox row (every column given) unless its dedup key is queued already; added to `queued`
    when given."""
    with sql.joining(session, queued) as writes:
        writes.add(_QUEUE_CONFIRMATION[_dialect(session)], values)
