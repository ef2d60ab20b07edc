"""Upserting a canonical order: creating and updating write the same columns, as core.orders.columns says."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, timedelta, timezone

import pytest
from sqlalchemy import select

from core.catalog.models import Sku
from core.catalog.services import add_listing
from core.channels.canonical import (
    CanonicalAddress,
    CanonicalBuyer,
    CanonicalCharge,
    CanonicalLine,
    CanonicalOrder,
    ChannelStatus,
)
from core.orders import upsert
from core.orders.columns import line_columns, order_columns
from core.orders.models import Order, OrderLine
from tests.factories import NOW, make_channel, make_sku

PLACED = NOW - timedelta(days=1)
ADDRESS = CanonicalAddress(name="Ada Lovelace", line1="12 St James's Square", city="London", country="GB")
BASE = CanonicalOrder(
    channel_kind="webshop",
    external_id="W-1",
    number="#1001",
    placed_at=PLACED.astimezone(timezone(timedelta(hours=-5))),
    updated_at=PLACED,
    currency="GBP",
    status=ChannelStatus.PENDING,  # unpaid: nothing reserved, the lines may still change
    raw_status="awaiting payment",
    buyer=CanonicalBuyer(name="Ada Lovelace", email="ada@example.org", phone="+44 20 7946 0000"),
    billing_address=ADDRESS,
    shipping_address=ADDRESS,
    lines=(
        CanonicalLine("L1", "ENGINE", "Analytical engine", 1, 10000, discount=500, tax=100, total=9500),
        CanonicalLine("L2", "CARDS", "Punched cards", 3, 200, total=600),
    ),
    shipping_method="Royal Mail",
    subtotal=10100,
    discount_total=500,
    shipping_total=300,
    tax_total=100,
    total=10000,
    note="leave with the porter",
    source="web",
)

# For every column of order_columns, the same order as the channel might send it with that column changed.
ORDER_CHANGES: dict[str, Callable[[CanonicalOrder], CanonicalOrder]] = {
    "channel_number": lambda c: replace(c, number="#1002"),
    "channel_status": lambda c: replace(c, raw_status="payment review"),
    "channel_state": lambda c: replace(c, status=ChannelStatus.CANCELLED),
    "hold_warnings": lambda c: replace(c, warnings=("unknown country 'XX'",)),
    "email": lambda c: replace(c, buyer=replace(c.buyer, email="ada.king@example.org")),
    "phone": lambda c: replace(c, buyer=replace(c.buyer, phone="+44 20 7946 0999")),
    "buyer_name": lambda c: replace(c, buyer=replace(c.buyer, name="Ada King")),
    "placed_at": lambda c: replace(c, placed_at=c.placed_at - timedelta(hours=2)),
    "placed_at_offset_minutes": lambda c: replace(c, placed_at=c.placed_at.astimezone(UTC)),
    "channel_updated_at": lambda c: replace(c, updated_at=NOW),
    "currency": lambda c: replace(c, currency="EUR"),
    "subtotal": lambda c: replace(c, subtotal=10200),
    "discount_total": lambda c: replace(c, discount_total=400),
    "shipping_total": lambda c: replace(c, shipping_total=250),
    "tax_total": lambda c: replace(c, tax_total=150),
    "total": lambda c: replace(c, total=9900),
    "billing_address": lambda c: replace(c, billing_address=replace(ADDRESS, postal_code="SW1Y 4LE")),
    "shipping_address": lambda c: replace(c, shipping_address=replace(ADDRESS, line2="Flat 2")),
    "refunded_total": lambda c: replace(c, refunded_total=250),
    "charges": lambda c: replace(c, charges=(CanonicalCharge("tip", "Tip", 200),), total=c.total + 200),
    "taxes_included": lambda c: replace(c, taxes_included=True),
    "shipping_method": lambda c: replace(c, shipping_method="Courier"),
    "fulfilled_by_channel": lambda c: replace(c, fulfilled_by_channel=True),
    "source": lambda c: replace(c, source="instagram"),
    "note": lambda c: replace(c, note=None),
}


def _first_line(
    change: Callable[[CanonicalLine], CanonicalLine],
) -> Callable[[CanonicalOrder], CanonicalOrder]:
    return lambda c: replace(c, lines=(change(c.lines[0]), *c.lines[1:]))


# For every column of line_columns the channel decides (line_no is the line's place, sku_id follows the
# listings): the order with that column of its first line changed.
LINE_CHANGES: dict[str, Callable[[CanonicalOrder], CanonicalOrder]] = {
    "external_id": _first_line(lambda line: replace(line, external_id="L9")),
    "channel_sku": _first_line(lambda line: replace(line, channel_sku="DIFFERENCE")),
    "title": _first_line(lambda line: replace(line, title="Difference engine")),
    "quantity": _first_line(lambda line: replace(line, quantity=2)),
    "unit_price": _first_line(lambda line: replace(line, unit_price=9000)),
    "discount": _first_line(lambda line: replace(line, discount=0)),
    "tax": _first_line(lambda line: replace(line, tax=0)),
    "total": _first_line(lambda line: replace(line, total=10000)),
    "quantity_removed": _first_line(lambda line: replace(line, removed_quantity=1)),
}


LISTED = ("ENGINE", "CARDS", "DIFFERENCE")


@pytest.fixture
def channel(db):
    """A web shop with every channel SKU of these orders listed."""
    shop = make_channel(db)
    for code in LISTED:
        add_listing(db, shop, code, make_sku(db, code=f"OUR-{code}").code, now=NOW)
    return shop


def stored_order(db, order_id: int) -> Order:
    db.flush()
    db.expire_all()  # read back what the database holds, not what the objects were told
    return db.get_one(Order, order_id)


def assert_written(db, order_id: int, canonical: CanonicalOrder) -> None:
    """The order's row and lines hold every column as columns.py describes them for `canonical`."""
    order = stored_order(db, order_id)
    columns = order_columns(canonical)
    assert {name: getattr(order, name) for name in columns} == columns
    listed = {code: db.scalar(select(Sku.id).where(Sku.code == f"OUR-{code}")) for code in LISTED}
    lines = line_columns(canonical, listed)
    stored = db.scalars(select(OrderLine).where(OrderLine.order_id == order_id).order_by(OrderLine.line_no))
    assert [{name: getattr(line, name) for name in lines[0]} for line in stored] == lines


def test_change_tables_cover_every_column_the_channel_decides() -> None:
    assert set(ORDER_CHANGES) == set(order_columns(BASE))
    assert set(LINE_CHANGES) == set(line_columns(BASE, {})[0]) - {"line_no", "sku_id"}


def test_ingest_order_writes_every_column_on_create(db, channel) -> None:
    result = upsert.ingest_order(db, channel, BASE, now=NOW, actor="test")
    assert result.status == "created"
    assert_written(db, result.order_id, BASE)
    assert all(line.sku_id for line in stored_order(db, result.order_id).lines)


@pytest.mark.parametrize("column", sorted(ORDER_CHANGES))
def test_ingest_order_update_writes_each_order_column(db, channel, column: str) -> None:
    created = upsert.ingest_order(db, channel, BASE, now=NOW, actor="test")
    changed = ORDER_CHANGES[column](BASE)
    assert order_columns(changed)[column] != order_columns(BASE)[column]
    result = upsert.ingest_order(db, channel, changed, now=NOW, actor="test")
    assert result.order_id == created.order_id
    assert result.status == ("duplicate" if column == "channel_updated_at" else "updated")
    assert_written(db, created.order_id, changed)


@pytest.mark.parametrize("column", sorted(LINE_CHANGES))
def test_ingest_order_update_writes_each_line_column(db, channel, column: str) -> None:
    created = upsert.ingest_order(db, channel, BASE, now=NOW, actor="test")
    changed = LINE_CHANGES[column](BASE)
    result = upsert.ingest_order(db, channel, changed, now=NOW, actor="test")
    assert result.status == "updated"
    assert_written(db, created.order_id, changed)
    assert "lines_changed" in [e.kind for e in stored_order(db, created.order_id).events]


def test_ingest_order_same_order_again_changes_nothing(db, channel) -> None:
    created = upsert.ingest_order(db, channel, BASE, now=NOW, actor="test")
    again = upsert.ingest_order(db, channel, BASE, now=NOW + timedelta(minutes=5), actor="test")
    assert (again.status, again.order_id) == ("duplicate", created.order_id)
    assert stored_order(db, created.order_id).updated_at == NOW
