"""Low-stock alerts against a real database: opening, no duplicates, resolution, per-location points,
suggested quantities from sales, and the managers' digest."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from core import migrate
from core.audit.models import AuditEntry
from core.db import begin_write, make_engine, make_session_factory
from core.errors import DomainError
from core.inventory.alerts import (
    channel_sales,
    check_low_stock,
    low_stock_digest,
    mark_alert_ordered,
    open_alerts,
)
from core.inventory.allocations import allocate_order, receive_stock
from core.inventory.ledger import adjust_stock
from core.inventory.models import LowStockAlert, StockLevel
from core.inventory.replenishment import ChannelSales
from core.security.roles import Actor
from tests.conftest import drop_database, fresh_database_url
from tests.factories import NOW, make_channel, make_sku
from tests.inventory_factories import link, make_location, make_order_for, make_stock

MANAGER = Actor(label="manager@example.org", role="manager")


def alerts_of(db, sku) -> list[LowStockAlert]:
    return list(
        db.scalars(select(LowStockAlert).where(LowStockAlert.sku_id == sku.id).order_by(LowStockAlert.id))
    )


def write_off(db, location, sku, units):
    adjust_stock(db, location.id, sku.id, -units, kind="write_off", actor="test", now=NOW)


@pytest.fixture
def stocked(db):
    """A SKU with reorder point 10 and lead time 10 days: 8 at WH-A (serves the web shop), 4 at WH-B."""
    web = make_channel(db, code="web-al")
    a = make_location(db, code="WH-A")
    b = make_location(db, code="WH-B")
    link(db, web, a)
    sku = make_sku(db, reorder_point=10, lead_time_days=10)
    make_stock(db, a, sku.id, 8)
    make_stock(db, b, sku.id, 4)
    return web, a, b, sku


def test_check_low_stock_opens_an_alert_when_available_falls_below_the_sku_point(db, stocked):
    _web, _a, b, sku = stocked
    assert check_low_stock(db, [sku.id], now=NOW).opened == []
    write_off(db, b, sku, 3)

    result = check_low_stock(db, [sku.id], now=NOW)

    [alert] = result.opened
    assert (alert.location_id, alert.available, alert.reorder_point, alert.status) == (None, 9, 10, "open")
    assert alert.suggested_quantity == 2  # no sales: enough to get back above the point
    assert alert.created_at == NOW


def test_check_low_stock_does_not_open_an_alert_at_the_point(db, stocked):
    _web, _a, b, sku = stocked
    write_off(db, b, sku, 2)  # 10 available, point 10
    assert check_low_stock(db, [sku.id], now=NOW).opened == []
    assert alerts_of(db, sku) == []


def test_check_low_stock_counts_available_not_on_hand(db, stocked):
    web, _a, _b, sku = stocked
    order = make_order_for(db, web, [(sku.id, 3)])
    allocate_order(db, order, actor="test", now=NOW)  # 3 of WH-A's 8 reserved: 9 available, 12 on hand

    [alert] = check_low_stock(db, [sku.id], now=NOW).opened
    assert alert.available == 9


def test_check_low_stock_keeps_one_standing_alert_and_refreshes_its_figures(db, stocked):
    _web, _a, b, sku = stocked
    write_off(db, b, sku, 3)
    check_low_stock(db, [sku.id], now=NOW)
    write_off(db, b, sku, 1)

    result = check_low_stock(db, [sku.id], now=NOW + timedelta(hours=1))
    again = check_low_stock(db, [sku.id], now=NOW + timedelta(hours=2))

    assert result.opened == [] and [a.available for a in result.updated] == [8]
    assert (again.opened, again.updated, again.resolved) == ([], [], [])
    [alert] = alerts_of(db, sku)
    assert (alert.available, alert.created_at) == (8, NOW)


def test_check_low_stock_resolves_when_stock_rises_back_above_the_point(db, stocked):
    _web, a, b, sku = stocked
    write_off(db, b, sku, 4)  # 8 available
    check_low_stock(db, [sku.id], now=NOW)
    receive_stock(db, a.id, sku.id, 2, actor="test", now=NOW)  # 10: at the point, still low
    assert check_low_stock(db, [sku.id], now=NOW).resolved == []
    receive_stock(db, a.id, sku.id, 1, actor="test", now=NOW)  # 11: above

    later = NOW + timedelta(days=1)
    [resolved] = check_low_stock(db, [sku.id], now=later).resolved

    assert (resolved.status, resolved.resolved_at) == ("resolved", later)
    write_off(db, a, sku, 5)
    [reopened] = check_low_stock(db, [sku.id], now=later).opened
    assert [x.status for x in alerts_of(db, sku)] == ["resolved", "open"]
    assert reopened.available == 6


def test_check_low_stock_checks_a_location_point_on_its_own(db, stocked):
    _web, a, b, sku = stocked
    sku.reorder_point = 6
    db.scalars(
        select(StockLevel).where(StockLevel.location_id == b.id, StockLevel.sku_id == sku.id)
    ).one().reorder_point = 5

    [alert] = check_low_stock(db, [sku.id], now=NOW).opened

    # WH-B: 4 < 5; the SKU's point applies to WH-A's 8 alone, which is fine
    assert (alert.location_id, alert.available, alert.reorder_point) == (b.id, 4, 5)
    write_off(db, a, sku, 3)
    [total] = check_low_stock(db, [sku.id], now=NOW).opened
    assert (total.location_id, total.available, total.reorder_point) == (None, 5, 6)


def test_check_low_stock_suggests_a_quantity_from_28_days_of_sales_per_channel(db, stocked):
    web, _a, b, sku = stocked
    amazon = make_channel(db, code="amazon-al")
    make_order_for(db, web, [(sku.id, 28)], placed_at=NOW - timedelta(days=10))
    make_order_for(db, amazon, [(sku.id, 14)], placed_at=NOW - timedelta(days=3))
    make_order_for(db, web, [(sku.id, 100)], placed_at=NOW - timedelta(days=2), status="cancelled")
    make_order_for(db, web, [(sku.id, 50)], placed_at=NOW - timedelta(days=40))
    write_off(db, b, sku, 3)  # 9 available

    [alert] = check_low_stock(db, [sku.id], now=NOW).opened

    # 42 units / 28 days = 1.5/day; ceil(1.5 x (10 + 7) + 1.5 x 7) = 36; 36 - 9 = 27
    assert alert.suggested_quantity == 27
    assert alert.reason.startswith("1.50/day over 28 days (web-al 1.00, amazon-al 0.50)")
    assert alert.reason.endswith("= 36, − 9 available = 27 → order 27")


def test_channel_sales_nets_cancelled_units_and_splits_the_last_week(db, stocked):
    web, _a, _b, sku = stocked
    order = make_order_for(db, web, [(sku.id, 5)], placed_at=NOW - timedelta(days=2))
    order.lines[0].quantity_cancelled = 1
    make_order_for(db, web, [(sku.id, 3)], placed_at=NOW - timedelta(days=20))
    db.flush()

    assert channel_sales(db, [sku.id], now=NOW) == {sku.id: [ChannelSales("web-al", 7, 4)]}


def test_check_low_stock_ignores_dropship_and_inactive_skus(db):
    location = make_location(db)
    supplier = make_location(db, kind="dropship", fulfillment_method="dropship")
    dropship = make_sku(db, reorder_point=5, dropship_location_id=supplier.id)
    retired = make_sku(db, reorder_point=5, active=False)
    make_stock(db, location, retired.id, 1)

    assert check_low_stock(db, [dropship.id, retired.id], now=NOW).opened == []


def test_check_low_stock_of_every_sku_resolves_alerts_whose_point_was_removed(db, stocked):
    _web, _a, b, sku = stocked
    other = make_sku(db, reorder_point=3)
    write_off(db, b, sku, 3)

    result = check_low_stock(db, None, now=NOW)

    assert sorted(a.sku_id for a in result.opened) == sorted([sku.id, other.id])
    sku.reorder_point = None
    [resolved] = check_low_stock(db, None, now=NOW).resolved
    assert resolved.sku_id == sku.id


def test_mark_alert_ordered_keeps_it_standing_without_a_duplicate(db, stocked):
    _web, a, b, sku = stocked
    write_off(db, b, sku, 3)
    [alert] = check_low_stock(db, [sku.id], now=NOW).opened

    mark_alert_ordered(db, alert.id, actor=MANAGER, now=NOW)

    assert check_low_stock(db, [sku.id], now=NOW).opened == []
    assert alert.status == "ordered"
    with pytest.raises(DomainError, match="only an open alert"):
        mark_alert_ordered(db, alert.id, actor=MANAGER, now=NOW)
    [entry] = db.scalars(select(AuditEntry).where(AuditEntry.action == "stock.alert_ordered")).all()
    assert (entry.actor_label, entry.entity_id) == ("manager@example.org", str(alert.id))
    receive_stock(db, a.id, sku.id, 20, actor="test", now=NOW)
    assert check_low_stock(db, [sku.id], now=NOW).resolved == [alert]


def test_open_alerts_lists_standing_alerts_with_sku_and_location(db, stocked):
    _web, _a, b, sku = stocked
    db.scalars(
        select(StockLevel).where(StockLevel.location_id == b.id, StockLevel.sku_id == sku.id)
    ).one().reorder_point = 5
    write_off(db, b, sku, 3)
    check_low_stock(db, [sku.id], now=NOW)

    views = open_alerts(db)

    assert {(v.sku_code, v.location_code, v.available, v.status) for v in views} == {
        (sku.code, None, 8, "open"),
        (sku.code, "WH-B", 1, "open"),
    }


def test_low_stock_digest_lists_alerts_new_ones_and_fast_movers(db, stocked):
    web, _a, b, sku = stocked
    hot = make_sku(db, title="Hot item")
    make_order_for(db, web, [(hot.id, 2)], placed_at=NOW - timedelta(days=20))
    make_order_for(db, web, [(hot.id, 6)], placed_at=NOW - timedelta(days=1))
    write_off(db, b, sku, 3)
    [old] = check_low_stock(db, [sku.id], now=NOW - timedelta(days=3)).opened

    digest = low_stock_digest(db, now=NOW)

    assert [a.id for a in digest.alerts] == [old.id]
    assert digest.new_alert_ids == frozenset()
    [mover] = digest.fast_movers
    assert (mover.sku_id, mover.sku_title, mover.available) == (hot.id, "Hot item", 0)
    assert [c.channel for c in mover.channels] == ["web-al"]
    assert not digest.is_empty


# --- real concurrency ---------------------------------------------------------------------------------------


@pytest.fixture
def committed(tmp_path) -> Iterator[sessionmaker[Session]]:
    """A fresh, migrated database whose sessions really commit (SQLite file or PostgreSQL)."""
    url, needs_drop = fresh_database_url(tmp_path, "alerts")
    engine = make_engine(url, pool_size=10, max_overflow=0)
    try:
        migrate.upgrade(engine)
        yield make_session_factory(engine)
    finally:
        engine.dispose()
        drop_database(url, needs_drop)


def test_check_low_stock_from_8_threads_at_once_opens_exactly_one_alert(committed):
    with committed() as session:
        location = make_location(session)
        sku = make_sku(session, reorder_point=10)
        make_stock(session, location, sku.id, 4)
        sku_id = sku.id
        session.commit()
    barrier = threading.Barrier(8)

    def check(_i: int) -> int:
        barrier.wait()
        with committed() as session:
            begin_write(session)
            opened = len(check_low_stock(session, [sku_id], now=NOW).opened)
            session.commit()
            return opened

    with ThreadPoolExecutor(max_workers=8) as pool:
        assert sorted(pool.map(check, range(8))) == [0] * 7 + [1]
    with committed() as session:
        assert len(alerts_of(session, sku)) == 1
