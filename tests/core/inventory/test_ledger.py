"""The ledger against a real database: receipts, adjustments, shipments, and the ledger they sum to."""

from __future__ import annotations

import ast
import re
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update

from core.errors import DomainError, InsufficientStock, NotFound
from core.inventory.allocations import receive_stock
from core.inventory.ledger import adjust_stock, ship_reserved
from core.inventory.models import StockLevel, StockMovement
from core.inventory.queries import (
    ledger_for_sku,
    verify_ledger,
)
from core.inventory.reservations import reserve_stock
from tests.factories import NOW, make_sku
from tests.inventory_factories import level, make_location, make_stock

ACTOR = "ops@example.org"
ROOT = Path(__file__).resolve().parents[3]
# The ledger and the statements it runs write stock (and the demo seed, its generated ledger in bulk).
STOCK_WRITERS = {"core/inventory/ledger.py", "core/inventory/statements.py", "core/inventory/models.py"}
STOCK_WRITE = re.compile(
    r"\b(?:insert|update|delete)\(\s*(?:\w+\.)?Stock(?:Level|Movement)\b"
    r"|\bStock(?:Level|Movement)\("
    r"|\b(?:UPDATE|INSERT\s+INTO|DELETE\s+FROM)\s+stock_(?:levels|movements)\b",
    re.IGNORECASE,
)
# The statements module's stock writes, run by the ledger alone.
STATEMENT_WRITES = {"reserve_levels", "unreserve_levels", "record_reservations", "reserve_one_postgresql"}


def test_receive_stock_creates_level_and_receipt_movement(db):
    loc, sku = make_location(db), make_sku(db)
    state = receive_stock(db, loc.id, sku.id, 12, actor=ACTOR, now=NOW, reference="PO-1")
    assert (state.on_hand, state.reserved, state.available) == (12, 0, 12)
    receive_stock(db, loc.id, sku.id, 3, actor=ACTOR, now=NOW)
    assert level(db, loc.id, sku.id) == (15, 0)
    movements = db.execute(
        select(StockMovement.kind, StockMovement.on_hand_delta, StockMovement.reference)
        .where(StockMovement.sku_id == sku.id)
        .order_by(StockMovement.id)
    ).all()
    assert [tuple(m) for m in movements] == [("receipt", 12, "PO-1"), ("receipt", 3, None)]


@pytest.mark.parametrize("quantity", [0, -2])
def test_receive_stock_rejects_non_positive_quantity(db, quantity):
    with pytest.raises(DomainError, match="positive"):
        receive_stock(db, make_location(db).id, make_sku(db).id, quantity, actor=ACTOR, now=NOW)


def test_receive_stock_unknown_location_is_not_found(db):
    with pytest.raises(NotFound, match="location"):
        receive_stock(db, 987654, make_sku(db).id, 1, actor=ACTOR, now=NOW)


def test_receive_stock_refreshes_a_loaded_level(db):
    loc, sku = make_location(db), make_sku(db)
    make_stock(db, loc, sku.id, 2)
    loaded = db.scalars(select(StockLevel).where(StockLevel.sku_id == sku.id)).one()
    receive_stock(db, loc.id, sku.id, 5, actor=ACTOR, now=NOW)
    assert loaded.on_hand == 7


@pytest.mark.parametrize(
    ("kind", "delta", "expected"),
    [("adjustment", -3, (7, 0)), ("count", 2, (12, 0)), ("write_off", -1, (9, 0)), ("return", 4, (14, 0))],
)
def test_adjust_stock_changes_on_hand_by_kind(db, kind, delta, expected):
    loc, sku = make_location(db), make_sku(db)
    make_stock(db, loc, sku.id, 10)
    adjust_stock(db, loc.id, sku.id, delta, kind=kind, actor=ACTOR, now=NOW)
    assert level(db, loc.id, sku.id) == expected
    assert db.scalar(select(StockMovement.kind).order_by(StockMovement.id.desc()).limit(1)) == kind


@pytest.mark.parametrize(
    ("kind", "delta", "message"),
    [
        ("write_off", 2, "negative"),
        ("return", -2, "positive"),
        ("theft", -1, "unknown"),
        ("adjustment", 0, "non-zero"),
    ],
)
def test_adjust_stock_rejects_wrong_sign_or_kind(db, kind, delta, message):
    loc, sku = make_location(db), make_sku(db)
    make_stock(db, loc, sku.id, 5)
    with pytest.raises(DomainError, match=message):
        adjust_stock(db, loc.id, sku.id, delta, kind=kind, actor=ACTOR, now=NOW)


def test_adjust_stock_cannot_remove_reserved_units(db):
    loc, sku = make_location(db), make_sku(db, code="LAMP-1")
    make_stock(db, loc, sku.id, 5)
    reserve_stock(db, [(loc.id, sku.id, 4)], order_id=None, actor=ACTOR, now=NOW)
    with pytest.raises(InsufficientStock) as exc:
        adjust_stock(db, loc.id, sku.id, -2, kind="write_off", actor=ACTOR, now=NOW)
    assert exc.value.lines == [("LAMP-1", 2, 1)]
    assert level(db, loc.id, sku.id) == (5, 4)


def test_ship_reserved_takes_units_out_of_on_hand_and_reserved(db):
    loc, sku = make_location(db), make_sku(db)
    make_stock(db, loc, sku.id, 5)
    reserve_stock(db, [(loc.id, sku.id, 3)], order_id=None, actor=ACTOR, now=NOW)
    ship_reserved(db, loc.id, sku.id, 3, order_id=None, actor=ACTOR, now=NOW)
    assert level(db, loc.id, sku.id) == (2, 0)
    with pytest.raises(DomainError, match="fewer are reserved"):
        ship_reserved(db, loc.id, sku.id, 1, order_id=None, actor=ACTOR, now=NOW)
    assert verify_ledger(db) == []


def test_verify_ledger_finds_a_level_changed_behind_the_ledger(db):
    loc, sku = make_location(db), make_sku(db)
    make_stock(db, loc, sku.id, 5)
    assert verify_ledger(db) == []
    db.execute(update(StockLevel).where(StockLevel.sku_id == sku.id).values(on_hand=7))
    [mismatch] = verify_ledger(db)
    assert (mismatch.sku_id, mismatch.on_hand, mismatch.ledger_on_hand) == (sku.id, 7, 5)


def test_ledger_for_sku_lists_newest_first(db):
    loc, sku = make_location(db, code="WH-L"), make_sku(db)
    make_stock(db, loc, sku.id, 5)
    reserve_stock(db, [(loc.id, sku.id, 2)], order_id=None, actor=ACTOR, now=NOW + timedelta(minutes=1))
    entries = ledger_for_sku(db, sku.id)
    assert [(e.kind, e.on_hand_delta, e.reserved_delta, e.location_code) for e in entries] == [
        ("reservation", 0, 2, "WH-L"),
        ("receipt", 5, 0, "WH-L"),
    ]
    assert len(ledger_for_sku(db, sku.id, limit=1)) == 1


def test_the_ledger_is_the_only_writer_of_stock():
    sources = [
        path
        for folder in ("core", "agent_console", "portal", "api", "cli")
        for path in (ROOT / folder).rglob("*.py")
        if not {"demo", "migrations"} & set(path.relative_to(ROOT).parts)
    ]
    assert len(sources) > 50  # the scan found the code
    writers = {
        str(path.relative_to(ROOT))
        for path in sources
        if STOCK_WRITE.search(path.read_text(encoding="utf-8"))
    }
    assert writers <= STOCK_WRITERS
    runners = {str(path.relative_to(ROOT)) for path in sources if _statement_writes(path)}
    assert runners == {"core/inventory/ledger.py"}
    assert STOCK_WRITE.search("session.execute(update(StockLevel).values(on_hand=0))")


def _statement_writes(path: Path) -> set[str]:
    """The stock writes of core.inventory.statements that the module imports or calls."""
    used = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module == "core.inventory.statements":
            used |= {alias.name for alias in node.names}
        elif (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id == "statements"
        ):
            used.add(node.attr)
    return used & STATEMENT_WRITES
