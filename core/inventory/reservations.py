"""Reservations: units set aside for orders, all or nothing, and given back; written by the ledger."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.orm import Session

from core.errors import DomainError, InsufficientStock
from core.inventory import ledger
from core.inventory.ledger import LevelState
from core.inventory.statements import Batch
from core.inventory.stock_push import queue_stock_pushes


def reserve_stock(
    session: Session,
    requests: Sequence[tuple[int, int, int]],
    *,
    order_id: int | None,
    actor: str,
    now: datetime,
    queued: Batch | None = None,
) -> list[LevelState]:
    """Reserve every (location_id, sku_id, quantity) or none of them.

    Requests for the same (location, SKU) are summed, then each pair gets ONE conditional UPDATE
    (`reserved = reserved + q WHERE on_hand - reserved >= q`) in ascending (location_id, sku_id) order, so
    concurrent reservers lock rows in the same order and cannot deadlock (ledger.reserve_levels: one round
    trip on PostgreSQL, the pairs admitted before a refusal given back in this transaction). If any pair is
    refused, nothing is reserved and InsufficientStock lists every short pair as (SKU code, wanted,
    available). The ledger rows and the arming of the stock pushes are added to `queued` (the caller's
    batch) when given.
    """
    wanted: dict[tuple[int, int], int] = {}
    for location_id, sku_id, quantity in requests:
        if quantity <= 0:
            raise DomainError("quantity reserved must be positive")
        wanted[(location_id, sku_id)] = wanted.get((location_id, sku_id), 0) + quantity
    if not wanted:
        return []
    states, short = ledger.reserve_levels(
        session, sorted(wanted.items()), order_id=order_id, actor=actor, now=now, queued=queued
    )
    if short:
        raise InsufficientStock(ledger.shortage(session, short))
    return states


def release_reservation(
    session: Session,
    location_id: int,
    sku_id: int,
    quantity: int,
    *,
    order_id: int | None,
    actor: str,
    now: datetime,
    reference: str | None = None,
) -> LevelState:
    """Give reserved units back to available (a 'release')."""
    if quantity <= 0:
        raise DomainError("quantity released must be positive")
    state = ledger.record_release(
        session, location_id, sku_id, quantity, order_id=order_id, actor=actor, now=now, reference=reference
    )
    if state is None:
        raise DomainError(
            f"cannot release {quantity} units of SKU {sku_id} at location {location_id}: fewer are reserved"
        )
    queue_stock_pushes(session, [(location_id, sku_id)], now=now)
    return state
