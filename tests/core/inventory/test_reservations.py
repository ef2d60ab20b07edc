"""Reservations against a real database: all or nothing, never oversold, given back."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select, update

from core.errors import DomainError, InsufficientStock
from core.inventory.models import StockMovement
from core.inventory.queries import (
    verify_ledger,
)
from core.inventory.reservations import release_reservation, reserve_stock
from core.notifications.models import OutboxMessage
from tests.factories import NOW, make_sku
from tests.inventory_factories import level, make_location, make_stock, pushes

ACTOR = "ops@example.org"


def test_reserve_stock_reserves_and_writes_reservation_movements(db):
    a, b, sku1, sku2 = make_location(db), make_location(db), make_sku(db), make_sku(db)
    make_stock(db, a, sku1.id, 5)
    make_stock(db, b, sku2.id, 5)
    reserve_stock(
        db, [(a.id, sku1.id, 2), (b.id, sku2.id, 3), (a.id, sku1.id, 1)], order_id=None, actor=ACTOR, now=NOW
    )
    assert level(db, a.id, sku1.id) == (5, 3)
    assert level(db, b.id, sku2.id) == (5, 3)
    reservations = db.execute(
        select(StockMovement.sku_id, StockMovement.reserved_delta)
        .where(StockMovement.kind == "reservation")
        .order_by(StockMovement.id)
    ).all()
    assert [tuple(r) for r in reservations] == [(sku1.id, 3), (sku2.id, 3)]  # same pair summed: one update


def test_reserve_stock_is_all_or_nothing_and_lists_every_short_line(db):
    loc = make_location(db)
    lamp, rug, vase = make_sku(db, code="LAMP"), make_sku(db, code="RUG"), make_sku(db, code="VASE")
    make_stock(db, loc, lamp.id, 5)
    make_stock(db, loc, rug.id, 1)
    with pytest.raises(InsufficientStock) as exc:
        reserve_stock(
            db,
            [(loc.id, lamp.id, 2), (loc.id, rug.id, 2), (loc.id, vase.id, 1)],
            order_id=None,
            actor=ACTOR,
            now=NOW,
        )
    assert exc.value.lines == [("RUG", 2, 1), ("VASE", 1, 0)]
    assert level(db, loc.id, lamp.id) == (5, 0)  # the lamp, admitted before the refusal, was given back
    assert (
        db.scalar(select(func.count()).select_from(StockMovement).where(StockMovement.kind == "reservation"))
        == 0
    )
    assert verify_ledger(db) == []


def test_a_refused_single_reservation_writes_nothing(db, shop):
    # One pair is one statement on PostgreSQL: its ledger row and push are written only when it matched.
    channel, east, _west = shop
    sku = make_sku(db, code="LAST")
    make_stock(db, east, sku.id, 2)
    reserve_stock(db, [(east.id, sku.id, 2)], order_id=None, actor=ACTOR, now=NOW)
    db.execute(update(OutboxMessage).values(status="sent", attempts=1))
    ledger_rows = db.scalar(select(func.count()).select_from(StockMovement))
    with pytest.raises(InsufficientStock) as exc:
        reserve_stock(db, [(east.id, sku.id, 1)], order_id=None, actor=ACTOR, now=NOW)
    assert exc.value.lines == [("LAST", 1, 0)]
    db.expire_all()
    assert level(db, east.id, sku.id) == (2, 2)
    assert db.scalar(select(func.count()).select_from(StockMovement)) == ledger_rows
    [push] = pushes(db, channel.id, sku.id)
    assert (push.status, push.attempts) == ("sent", 1)  # not armed again by the refusal
    assert verify_ledger(db) == []


def test_reserve_stock_rejects_non_positive_quantity(db):
    with pytest.raises(DomainError, match="positive"):
        reserve_stock(db, [(1, 1, 0)], order_id=None, actor=ACTOR, now=NOW)


def test_release_reservation_returns_units_to_available(db):
    loc, sku = make_location(db), make_sku(db)
    make_stock(db, loc, sku.id, 5)
    reserve_stock(db, [(loc.id, sku.id, 3)], order_id=None, actor=ACTOR, now=NOW)
    state = release_reservation(db, loc.id, sku.id, 2, order_id=None, actor=ACTOR, now=NOW)
    assert (state.on_hand, state.reserved, state.available) == (5, 1, 4)
    with pytest.raises(DomainError, match="fewer are reserved"):
        release_reservation(db, loc.id, sku.id, 2, order_id=None, actor=ACTOR, now=NOW)
