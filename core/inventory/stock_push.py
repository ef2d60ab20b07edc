"""Stock pushes: after a stock change, one coalesced 'stock_push' outbox row per (channel, SKU) for the
channels served by the locations that changed; the worker sends the figure (core.channels.outbound)."""

from __future__ import annotations

from collections.abc import Collection, Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import String, bindparam, case, cast, func, literal, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from core.catalog.models import Sku
from core.channels.models import Channel, channel_locations
from core.notifications.models import SENDING, OutboxMessage

DIALECTS = ("postgresql", "sqlite")

_outbox = OutboxMessage.__table__


def stock_pushes(
    dialect: str,
    *,
    location_ids: Any = None,
    sku_ids: Any = None,
    only_if: Any = None,
) -> Any:
    """One INSERT ... SELECT arming a 'stock_push' per (channel served by any of `location_ids`, SKU in
    `sku_ids`): the row says which figure to push, not the figure. The dispatcher computes available to sell
    when it sends (core.channels.outbound), so whatever happened before that goes out in one push of the
    latest value, and a stock change costs its writer no aggregate over the SKU's levels, under the level's
    row lock, for every channel.

    A row already pending is left as it is (nothing written: the push it promises will read the latest
    figure). A row the worker finished (sent, failed) is armed again from scratch; one it is sending right now
    is marked pending again, keeping its lease, so the worker sends once more when it finishes (the figure it
    read may predate this change). Rows go in dedup-key order: one lock order for every writer.

    By default `location_ids` and `sku_ids` are expanding parameters of those names; `only_if` is a condition
    the rows need (in a data-modifying CTE: the reservation's UPDATE matched)."""
    if dialect not in DIALECTS:
        raise NotImplementedError(f"no upsert for {dialect}")
    channels, skus = Channel.__table__, Sku.__table__
    if location_ids is None:
        location_ids = bindparam("location_ids", expanding=True)
    if sku_ids is None:
        sku_ids = bindparam("sku_ids", expanding=True)
    served = select(channel_locations.c.channel_id).where(channel_locations.c.location_id.in_(location_ids))
    json_object = func.json_build_object if dialect == "postgresql" else func.json_object
    dedup_key = "stock:" + cast(channels.c.id, String) + ":" + cast(skus.c.id, String) + ":pending"
    rows = (
        select(
            literal("stock_push"),
            literal("channel"),
            dedup_key,
            channels.c.code,
            "stock of SKU " + cast(skus.c.id, String),
            json_object("channel_id", channels.c.id, "channel", channels.c.code, "sku_id", skus.c.id),
            literal("pending"),
            literal(0),
            bindparam("now", type_=_outbox.c.next_attempt_at.type),
            bindparam("now", type_=_outbox.c.created_at.type),
        )
        .select_from(channels.join(skus, skus.c.id.in_(sku_ids)))
        .where(channels.c.active, channels.c.id.in_(served), *(() if only_if is None else (only_if,)))
        .order_by(dedup_key)
    )
    stmt = (postgresql_insert if dialect == "postgresql" else sqlite_insert)(_outbox).from_select(
        [
            "kind",
            "transport",
            "dedup_key",
            "recipient",
            "subject",
            "payload",
            "status",
            "attempts",
            "next_attempt_at",
            "created_at",
        ],
        rows,
    )
    sending = _outbox.c.status == SENDING
    return stmt.on_conflict_do_update(
        index_elements=["dedup_key"],
        set_={
            "status": "pending",
            "attempts": case((sending, _outbox.c.attempts), else_=0),
            "next_attempt_at": case(
                (sending, _outbox.c.next_attempt_at), else_=stmt.excluded.next_attempt_at
            ),
            "last_error": case((sending, _outbox.c.last_error), else_=None),
        },
        where=_outbox.c.status != "pending",
    )


_STOCK_PUSHES = {dialect: stock_pushes(dialect) for dialect in DIALECTS}


def stock_push_params(touched: Collection[tuple[int, int]], *, now: datetime) -> dict[str, Any]:
    """The parameters of stock_pushes() for the touched (location, SKU) pairs."""
    return {
        "location_ids": sorted({loc for loc, _ in touched}),
        "sku_ids": sorted({sku for _, sku in touched}),
        "now": now,
    }


def queue_stock_pushes(session: Session, touched: Iterable[tuple[int, int]], *, now: datetime) -> None:
    """Arm one coalesced 'stock_push' per (channel, SKU) for the channels served by the touched locations
    (one statement whatever the number of SKUs and channels; the figure is read when it is sent)."""
    touched = set(touched)
    if not touched:
        return
    dialect = session.get_bind().dialect.name
    if dialect not in _STOCK_PUSHES:
        raise NotImplementedError(f"no upsert for {dialect}")
    session.flush()  # the statement below doesn't autoflush (a buffer just changed)
    session.execute(_STOCK_PUSHES[dialect], stock_push_params(touched, now=now))
