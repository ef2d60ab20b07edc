"""The demo seed: deterministic, every status present, and the stock ledger, totals and timelines coherent."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, select

from core import migrate
from core import models as m
from core.db import UTCDateTime, make_engine
from core.demo.seed import DEMO_ACCOUNTS, DEMO_PASSWORD, database_is_empty, seed_demo
from core.orders.services import format_order_number
from core.orders.status import OrderStatus, can_transition
from core.security.passwords import verify_password
from core.support.sla import DEFAULT_CALENDAR, Policy, Target, default_policy, due_dates

NOW = datetime(2025, 6, 2, 15, 30, tzinfo=UTC)
ORDERS = 300


def _fresh_engine(path: Path) -> Engine:
    engine = make_engine(f"sqlite:///{path}")
    migrate.upgrade(engine)
    return engine


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Two databases seeded alike, plus what database_is_empty said around the first seeding."""
    first = _fresh_engine(tmp_path_factory.mktemp("seed") / "a.db")
    second = _fresh_engine(tmp_path_factory.mktemp("seed") / "b.db")
    progress: list[int] = []
    empty_before = database_is_empty(first)
    stats = seed_demo(first, orders=ORDERS, seed=7, now=NOW, progress=progress.append)
    empty_after = database_is_empty(first)
    seed_demo(second, orders=ORDERS, seed=7, now=NOW)
    yield {
        "engine": first,
        "twin": second,
        "stats": stats,
        "progress": progress,
        "empty_before": empty_before,
        "empty_after": empty_after,
    }
    first.dispose()
    second.dispose()


def _rows(engine: Engine, statement: Any) -> list[Any]:
    with engine.connect() as conn:
        return list(conn.execute(statement).all())


def _table_contents(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    contents = {}
    for table in m.Base.metadata.sorted_tables:
        columns = [c for c in table.c if not (table.name == "users" and c.name == "password_hash")]
        contents[table.name] = _rows(engine, select(*columns).order_by(*table.primary_key.columns))
    return contents


def test_database_is_empty_true_before_seeding_and_false_after(seeded: dict[str, Any]) -> None:
    assert seeded["empty_before"] is True
    assert seeded["empty_after"] is False


def test_seed_demo_is_deterministic_for_the_same_seed_and_now(seeded: dict[str, Any]) -> None:
    query = select(m.Order.number, m.Order.total, m.Order.email, m.Order.status).order_by(m.Order.id)
    assert _rows(seeded["engine"], query) == _rows(seeded["twin"], query)
    emails = select(m.Customer.email).order_by(m.Customer.id)
    assert _rows(seeded["engine"], emails) == _rows(seeded["twin"], emails)
    assert _table_contents(seeded["engine"]) == _table_contents(seeded["twin"])


def test_seed_demo_reports_counts_and_progress_for_every_order(seeded: dict[str, Any]) -> None:
    stats = seeded["stats"]
    assert stats.counts["orders"] == ORDERS
    assert stats.counts["channels"] == 7
    assert stats.counts["customers"] >= 50
    assert sum(seeded["progress"]) == ORDERS
    assert stats.orders_per_second > 0


def test_seed_demo_shows_every_order_status(seeded: dict[str, Any]) -> None:
    statuses = {status for (status,) in _rows(seeded["engine"], select(m.Order.status).distinct())}
    assert statuses == {status.value for status in OrderStatus}


def test_seed_demo_stock_levels_equal_the_sum_of_their_movements(seeded: dict[str, Any]) -> None:
    engine = seeded["engine"]
    ledger = {
        (loc, sku): (on_hand, reserved)
        for loc, sku, on_hand, reserved in _rows(
            engine,
            select(
                m.StockMovement.location_id,
                m.StockMovement.sku_id,
                func.sum(m.StockMovement.on_hand_delta),
                func.sum(m.StockMovement.reserved_delta),
            ).group_by(m.StockMovement.location_id, m.StockMovement.sku_id),
        )
    }
    held: dict[tuple[int, int], int] = defaultdict(int)
    reserved_allocations = (
        select(m.Allocation.location_id, m.OrderLine.sku_id, m.Allocation.quantity)
        .join(m.OrderLine, m.OrderLine.id == m.Allocation.order_line_id)
        .where(m.Allocation.status == "reserved")
    )
    for loc, sku, qty in _rows(engine, reserved_allocations):
        held[(loc, sku)] += qty
    levels = _rows(
        engine,
        select(m.StockLevel.location_id, m.StockLevel.sku_id, m.StockLevel.on_hand, m.StockLevel.reserved),
    )
    assert levels
    for loc, sku, on_hand, reserved in levels:
        assert ledger[(loc, sku)] == (on_hand, reserved)
        assert reserved == held.get((loc, sku), 0)
        assert 0 <= reserved <= on_hand
    assert set(ledger) == {(loc, sku) for loc, sku, _, _ in levels}
    assert any(reserved > 0 for *_, reserved in levels)


def test_seed_demo_order_totals_add_up(seeded: dict[str, Any]) -> None:
    engine = seeded["engine"]
    line_sums = dict(
        _rows(
            engine, select(m.OrderLine.order_id, func.sum(m.OrderLine.total)).group_by(m.OrderLine.order_id)
        )
    )
    line_taxes = dict(
        _rows(engine, select(m.OrderLine.order_id, func.sum(m.OrderLine.tax)).group_by(m.OrderLine.order_id))
    )
    orders = _rows(
        engine,
        select(
            m.Order.id,
            m.Order.subtotal,
            m.Order.discount_total,
            m.Order.shipping_total,
            m.Order.tax_total,
            m.Order.total,
            m.Order.refunded_total,
        ),
    )
    for order_id, subtotal, discount, shipping, tax, total, refunded in orders:
        assert subtotal == line_sums[order_id]
        assert tax == line_taxes[order_id]
        assert total == subtotal - discount + shipping + tax
        assert 0 <= refunded <= total
    bad_lines = _rows(
        engine,
        select(m.OrderLine.id).where(
            m.OrderLine.total != m.OrderLine.unit_price * m.OrderLine.quantity - m.OrderLine.discount
        ),
    )
    assert bad_lines == []


def test_seed_demo_casey_buys_on_several_channels_and_signs_in_as_a_customer(seeded: dict[str, Any]) -> None:
    engine = seeded["engine"]
    [(customer_id, role, verified)] = _rows(
        engine,
        select(m.User.customer_id, m.User.role, m.User.email_verified_at).where(
            m.User.email == "customer@example.com"
        ),
    )
    assert role == "customer" and customer_id is not None and verified is not None
    orders = _rows(
        engine,
        select(m.Channel.kind, m.Order.status, m.Order.fulfilled_by_channel)
        .join(m.Channel, m.Channel.id == m.Order.channel_id)
        .where(m.Order.customer_id == customer_id),
    )
    assert len({kind for kind, _, _ in orders}) >= 3
    assert ("amazon", "delivered", True) in orders
    assert {"delivered", "shipped"} <= {status for _, status, _ in orders}


def test_seed_demo_demo_accounts_verify_with_the_demo_password(seeded: dict[str, Any]) -> None:
    users = dict(_rows(seeded["engine"], select(m.User.email, m.User.password_hash)))
    roles = dict(_rows(seeded["engine"], select(m.User.email, m.User.role)))
    for email, role in DEMO_ACCOUNTS:
        assert roles[email] == role
        assert users[email].startswith("$argon2")
        assert verify_password(users[email], DEMO_PASSWORD)


def test_seed_demo_never_allocates_orders_fulfilled_by_amazon(seeded: dict[str, Any]) -> None:
    engine = seeded["engine"]
    fulfilled = (
        select(m.Order.id)
        .join(m.Channel, m.Channel.id == m.Order.channel_id)
        .where(m.Order.fulfilled_by_channel.is_(True))
    )
    assert _rows(engine, fulfilled.where(m.Channel.kind == "amazon"))
    allocated = _rows(
        engine,
        select(m.Allocation.id)
        .join(m.OrderLine, m.OrderLine.id == m.Allocation.order_line_id)
        .where(m.OrderLine.order_id.in_(fulfilled)),
    )
    assert allocated == []
    movements = _rows(engine, select(m.StockMovement.id).where(m.StockMovement.order_id.in_(fulfilled)))
    assert movements == []


def test_seed_demo_order_numbers_derive_from_ids(seeded: dict[str, Any]) -> None:
    for order_id, number in _rows(seeded["engine"], select(m.Order.id, m.Order.number)):
        assert number == format_order_number(order_id)


def test_seed_demo_datetimes_are_aware_and_none_is_after_now(seeded: dict[str, Any]) -> None:
    future_ok = {
        "promised_delivery_from",
        "promised_delivery_to",
        "expected_dispatch_by",
        "estimated_from",
        "estimated_to",
        "first_estimated_from",
        "first_estimated_to",
        "first_response_due_at",
        "resolution_due_at",
    }
    checked = 0
    for table in m.Base.metadata.sorted_tables:
        for column in table.c:
            if not isinstance(column.type, UTCDateTime):
                continue
            for (value,) in _rows(seeded["engine"], select(column).where(column.is_not(None))):
                assert value.tzinfo is not None and value.utcoffset().total_seconds() == 0
                if column.name not in future_ok:
                    assert value <= NOW, f"{table.name}.{column.name} = {value} is after now"
                checked += 1
    assert checked > 1000


def test_seed_demo_timelines_start_placed_and_follow_the_status_machine(seeded: dict[str, Any]) -> None:
    engine = seeded["engine"]
    events: dict[int, list[tuple[str, str | None, str | None]]] = defaultdict(list)
    for order_id, kind, frm, to in _rows(
        engine,
        select(
            m.OrderEvent.order_id, m.OrderEvent.kind, m.OrderEvent.from_status, m.OrderEvent.to_status
        ).order_by(m.OrderEvent.id),
    ):
        events[order_id].append((kind, frm, to))
    for order_id, status in _rows(engine, select(m.Order.id, m.Order.status)):
        timeline = events[order_id]
        assert timeline[0][0] == "placed"
        current = "pending"
        for kind, frm, to in timeline[1:]:
            if kind == "status_changed":
                assert frm == current and can_transition(frm, to)
                current = to
        assert current == status


def test_seed_demo_shipments_have_tracking_and_unique_event_keys(seeded: dict[str, Any]) -> None:
    engine = seeded["engine"]
    counts = dict(
        _rows(engine, select(m.TrackingEvent.shipment_id, func.count()).group_by(m.TrackingEvent.shipment_id))
    )
    shipments = _rows(engine, select(m.Shipment.id, m.Shipment.carrier, m.Shipment.tracking_number))
    assert shipments
    for shipment_id, carrier, tracking in shipments:
        assert carrier and tracking
        assert 2 <= counts[shipment_id] <= 6


def test_seed_demo_force_seeding_into_a_seeded_database_adds_a_second_data_set(tmp_path: Path) -> None:
    engine = _fresh_engine(tmp_path / "force.db")
    seed_demo(engine, orders=40, seed=1, now=NOW)
    stats = seed_demo(engine, orders=40, seed=1, now=NOW)
    assert stats.counts["orders"] == 40
    assert "channels" not in stats.counts and "users" not in stats.counts
    assert _rows(engine, select(func.count()).select_from(m.Order)) == [(80,)]
    for level_id, on_hand, reserved in _rows(
        engine, select(m.StockLevel.id, m.StockLevel.on_hand, m.StockLevel.reserved)
    ):
        [(moved_on_hand, moved_reserved)] = _rows(
            engine,
            select(func.sum(m.StockMovement.on_hand_delta), func.sum(m.StockMovement.reserved_delta))
            .join(
                m.StockLevel,
                (m.StockLevel.location_id == m.StockMovement.location_id)
                & (m.StockLevel.sku_id == m.StockMovement.sku_id),
            )
            .where(m.StockLevel.id == level_id),
        )
        assert (moved_on_hand, moved_reserved) == (on_hand, reserved)
    engine.dispose()


def test_seed_demo_ticket_due_dates_follow_the_sla_policy(seeded: dict[str, Any]) -> None:
    engine = seeded["engine"]
    amazon = Policy(Target(24 * 60, round_the_clock=True), None)
    [(override_minutes,)] = _rows(
        engine,
        select(m.SlaChannelOverride.first_response_minutes)
        .join(m.Channel, m.Channel.id == m.SlaChannelOverride.channel_id)
        .where(m.Channel.code == "amazon"),
    )
    assert override_minutes == 24 * 60
    rows = _rows(
        engine,
        select(
            m.Conversation.created_at,
            m.Conversation.priority,
            m.Channel.code,
            m.Conversation.first_response_due_at,
            m.Conversation.resolution_due_at,
            m.Conversation.status,
            m.Conversation.sla_paused_at,
        )
        .outerjoin(m.Order, m.Order.id == m.Conversation.order_id)
        .outerjoin(m.Channel, m.Channel.id == m.Order.channel_id),
    )
    assert rows
    for created, priority, channel, first, resolution, status, paused_at in rows:
        override = amazon if channel == "amazon" else None
        assert (first, resolution) == due_dates(
            created, default_policy(priority), DEFAULT_CALENDAR, override=override
        )
        assert (paused_at is None) == (status == "open")


def test_seed_demo_cross_channel_duplicates_are_merged_by_identity_resolution(seeded: dict[str, Any]) -> None:
    """The seed writes each identity intake could not join by exact keys as a customer of its own (made when
    the identity came in, under its name); identity resolution at the end of seeding merges them into their
    person's customer: every merge is the live code's, and none merges two persons."""
    engine = seeded["engine"]
    made_with_identity = (
        select(m.Identity.id)
        .where(m.Identity.created_at == m.Customer.created_at, m.Identity.name == m.Customer.name)
        .exists()
    )
    duplicates = {
        customer_id for (customer_id,) in _rows(engine, select(m.Customer.id).where(made_with_identity))
    }
    merges = _rows(
        engine, select(m.CustomerMerge.source_customer_id, m.CustomerMerge.actor, m.CustomerMerge.reason)
    )
    assert duplicates and merges
    assert all(actor == "demo seed" and reason.startswith("identity match") for _, actor, reason in merges)
    merged = {source for source, _, _ in merges}
    assert merged <= duplicates  # never a person merged into another
    assert len(merged) >= 0.8 * len(duplicates)
    assert seeded["stats"].resolution.links_made == len(merges)
    active = _rows(engine, select(m.Customer.id).where(m.Customer.merged_into_id.is_(None)))
    orders_of_merged = _rows(engine, select(m.Order.id).where(m.Order.customer_id.in_(merged)))
    assert orders_of_merged == [] and len(active) == seeded["stats"].counts["customers"] - len(merges)
