"""The daily summaries give the dashboard exactly the live figures: on the hand-built data set of
test_analytics_queries, for several periods and channels, and after new and changed orders, returns and
tickets arrive (before a refresh, when the changed days are marked stale and read live, and after it)."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from core.analytics import queries, rollup
from core.analytics.models import OrderDay, RollupState, StaleDay, TicketDay
from core.analytics.refresh import refresh
from core.analytics.rules import Period
from core.orders.models import Order
from core.returns.models import Refund, ReturnLine, ReturnRequest
from core.support.models import Conversation, SupportHoliday
from tests.core.analytics.test_analytics_queries import NOW, PERIOD, World, at
from tests.factories import make_customer

PERIODS = (
    PERIOD,
    Period(date(2026, 10, 1), date(2026, 11, 20)),  # up to today: the open day is read live
    Period(date(2026, 11, 9), date(2026, 11, 15)),
    Period(date(2026, 11, 18), date(2026, 11, 25)),  # mostly after the watermark
)
CHANNELS = ("", "alpha", "beta")


@pytest.fixture
def world(db: Session) -> World:
    return World(db)


def board(db: Session, period: Period, channel: str) -> queries.Dashboard:
    return queries.dashboard(db, queries.resolve_filters(db, period, channel), now=NOW)


def live_board(db: Session, period: Period, channel: str) -> queries.Dashboard:
    """The dashboard with the summaries ignored (the watermark dropped in a savepoint rolled back after)."""
    nested = db.begin_nested()
    db.execute(delete(RollupState))
    try:
        return board(db, period, channel)
    finally:
        nested.rollback()


def assert_all_equal_live(db: Session) -> None:
    for period in PERIODS:
        for channel in CHANNELS:
            assert board(db, period, channel) == live_board(db, period, channel), (period, channel)


def test_the_summaries_give_the_live_figures(db: Session, world: World) -> None:
    before = {(p, c): board(db, p, c) for p in PERIODS for c in CHANNELS}
    result = refresh(db, now=NOW)
    assert result.through == date(2026, 11, 20)
    assert result.days > 0
    assert db.scalar(select(func.count()).select_from(OrderDay)) > 0
    assert db.scalar(select(func.sum(TicketDay.tickets))) > 0
    window = rollup.split(db, PERIOD.start_at, PERIOD.end_at)
    assert window.summary == ((rollup.day_of(PERIOD.start_at), rollup.day_of(PERIOD.end_at)),)
    assert window.live == ()
    for (period, channel), live in before.items():
        assert board(db, period, channel) == live, (period, channel)
    # A second refresh with nothing new sums nothing again.
    assert refresh(db, now=NOW).days == 0
    # The figures do come from the summaries: a summary changed by hand shows.
    db.execute(update(OrderDay).values(orders=OrderDay.orders + 1))
    assert board(db, PERIOD, "") != before[(PERIOD, "")]


def test_new_and_changed_facts_are_read_live_until_the_next_refresh(db: Session, world: World) -> None:
    refresh(db, now=NOW)
    newcomer = make_customer(db)
    old = world.o1.customer_id
    # An order placed on a summed day by a new customer and one by a known customer; an order today.
    world._order(world.a, newcomer, at(11, 6, 15), 2500, "delivered", [(world.s2, 1)])
    extra = world._order(
        world.b, db.get(type(newcomer), old), at(11, 8, 9), 700, "delivered", [(world.s1, 3)]
    )
    world._order(world.a, newcomer, at(11, 20, 9), 900, "confirmed", [(world.s1, 1)])
    # A cancellation, a shipment, a return with a refund and tickets on summed days and today.
    world.o2.status = "cancelled"
    world._ship(extra, at(11, 9, 10), "T9", event=True, promise=at(11, 9, 9))
    rma = ReturnRequest(
        rma_number="RMA-2", order_id=world.o2.id, reason="wrong_size", requested_at=at(11, 9, 9)
    )
    db.add(rma)
    db.flush()
    db.add(ReturnLine(return_id=rma.id, order_line_id=world.o2.lines[0].id, quantity=1))
    db.add(
        Refund(order_id=world.o2.id, return_id=rma.id, amount=400, currency="USD", created_at=at(11, 10, 8))
    )
    world.o2.refunded_total = 400
    world._ticket(at(11, 5, 11), "damaged", world.o6, None)
    world._ticket(at(11, 13, 14), "return", extra, None, solved=at(11, 13, 16))
    world._ticket(at(11, 20, 10), "damaged", world.o6, None)
    db.flush()
    stale = set(db.scalars(select(StaleDay.day)))
    assert rollup.day_of(at(11, 6)) in stale and rollup.day_of(at(11, 9)) in stale
    assert rollup.day_of(at(11, 20)) not in stale  # today is read live anyway
    assert_all_equal_live(db)
    refresh(db, now=NOW)
    assert db.scalar(select(func.count()).select_from(StaleDay)) == 0
    assert_all_equal_live(db)


def test_bulk_updates_and_a_cost_change_keep_the_figures_exact(db: Session, world: World) -> None:
    refresh(db, now=NOW)
    merged = make_customer(db)
    db.execute(update(Order).where(Order.id.in_([world.o2.id, world.o6.id])).values(customer_id=merged.id))
    assert db.scalar(select(func.count()).select_from(StaleDay)) > 0
    assert_all_equal_live(db)
    refresh(db, now=NOW)
    world.s1.cost = 700  # the cost of goods of every day changes: everything is live until a refresh
    db.flush()
    assert db.get(RollupState, rollup.STATE_ID) is None
    assert_all_equal_live(db)
    refresh(db, now=NOW)
    assert db.get(RollupState, rollup.STATE_ID) is not None
    assert_all_equal_live(db)


def test_a_refresh_since_a_day_sums_it_again_and_a_past_now_reads_live(db: Session, world: World) -> None:
    refresh(db, now=NOW)
    result = refresh(db, now=NOW, since=date(2026, 11, 1))
    assert result.days == 19
    assert_all_equal_live(db)
    # Asked for an earlier "now", the lifetime revenue summed up to the watermark cannot be used.
    earlier = at(11, 16, 12)
    filters = queries.resolve_filters(db, PERIOD, "")
    summed = queries.dashboard(db, filters, now=earlier)
    nested = db.begin_nested()
    db.execute(delete(RollupState))
    live = queries.dashboard(db, filters, now=earlier)
    nested.rollback()
    assert summed == live


def test_a_ticket_answered_later_and_a_calendar_change_keep_the_figures_exact(
    db: Session, world: World
) -> None:
    refresh(db, now=NOW)
    db.expire_all()  # as after a commit: the changed ticket's opening time is not loaded
    ticket = db.scalars(select(Conversation).where(Conversation.created_at == at(11, 12, 13))).one()
    ticket.first_responded_at = at(11, 13, 15)
    ticket.category = "damaged"
    ticket.status, ticket.solved_at = "solved", at(11, 14, 10)  # it leaves the backlog
    db.flush()
    assert rollup.day_of(at(11, 12)) in set(db.scalars(select(StaleDay.day)))
    assert_all_equal_live(db)
    refresh(db, now=NOW)
    db.add(SupportHoliday(day=date(2026, 11, 10), name="A holiday"))
    db.flush()
    assert db.get(RollupState, rollup.STATE_ID) is None
    assert_all_equal_live(db)
    refresh(db, now=NOW)
    assert_all_equal_live(db)
