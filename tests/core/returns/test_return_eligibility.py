"""Return eligibility under the channel's policy: window from delivery, non-returnable SKUs, returns the
marketplace handles, unshipped orders, units already returned or in open returns."""

from __future__ import annotations

from datetime import timedelta

import pytest

from core.fulfillment.models import Shipment, ShipmentLine
from core.orders.services import change_order_status
from core.returns.services import reject_return, request_return, return_eligibility
from tests.factories import NOW, make_sku
from tests.inventory_factories import make_order_for
from tests.returns_factories import AGENT, CUSTOMER, make_delivered_order, make_shop


@pytest.fixture
def shop(db):
    return make_shop(db, return_window_days=30)


def test_return_eligibility_allows_delivered_units_within_the_window(db, shop):
    sku = make_sku(db)
    delivered_at = NOW - timedelta(days=3)
    order = make_delivered_order(db, *shop, [(sku, 2)], delivered_at=delivered_at)

    result = return_eligibility(db, order, now=NOW)

    assert result.eligible and result.reason is None and result.window_days == 30
    [line] = result.lines
    assert (line.delivered, line.returnable, line.reason) == (2, 2, None)
    assert line.return_by == delivered_at + timedelta(days=30)
    assert result.returnable(line.order_line_id) == 2


@pytest.mark.parametrize(
    ("age", "eligible"),
    [(timedelta(days=30), True), (timedelta(days=30, seconds=1), False), (timedelta(days=90), False)],
)
def test_return_eligibility_closes_when_the_window_ends(db, shop, age, eligible):
    order = make_delivered_order(db, *shop, [(make_sku(db), 1)], delivered_at=NOW - age)

    result = return_eligibility(db, order, now=NOW)

    assert result.eligible is eligible
    if not eligible:
        closed = f"{NOW - age + timedelta(days=30):%d %b %Y}"
        assert result.lines[0].reason == f"The 30-day return window closed on {closed}."
        assert (
            result.reason
            == f"Nothing on this order can be returned now: The 30-day return window closed on {closed}."
        )


def test_return_eligibility_refuses_non_returnable_skus(db, shop):
    final_sale = make_sku(db, returnable=False)
    normal = make_sku(db)
    order = make_delivered_order(db, *shop, [(final_sale, 1), (normal, 1)])

    result = return_eligibility(db, order, now=NOW)

    assert result.eligible
    assert [(ln.returnable, ln.reason) for ln in result.lines] == [
        (0, "Final sale: this item can't be returned."),
        (1, None),
    ]


def test_return_eligibility_shows_the_marketplace_instructions_when_it_handles_returns(db):
    channel, location = make_shop(
        db, name="Amazon", returns_handled_by_channel=True, return_instructions="Use Your Orders on Amazon."
    )
    order = make_delivered_order(db, channel, location, [(make_sku(db), 1)])

    result = return_eligibility(db, order, now=NOW)

    assert not result.eligible
    assert result.handled_by_channel
    assert result.instructions == "Use Your Orders on Amazon."
    assert result.reason == "Returns of Amazon orders are handled by Amazon."
    assert [ln.returnable for ln in result.lines] == [0]


def test_return_eligibility_of_an_order_the_channel_fulfilled_points_to_the_channel(db):
    channel, _location = make_shop(db, name="Amazon")
    order = make_order_for(db, channel, [(make_sku(db).id, 1)], fulfilled_by_channel=True, status="delivered")

    result = return_eligibility(db, order, now=NOW)

    assert result.handled_by_channel
    assert result.instructions == "Start your return from your Amazon account, under your orders."


def test_return_eligibility_of_an_unshipped_order_offers_cancellation_instead(db, shop):
    order = make_delivered_order(db, *shop, [(make_sku(db), 1)], shipped=False)

    result = return_eligibility(db, order, now=NOW)

    assert not result.eligible and result.cancellation_instead
    assert result.reason == "This order hasn't shipped yet: request a cancellation instead."


def test_return_eligibility_of_a_parcel_in_transit_waits_for_delivery(db, shop):
    order = make_delivered_order(db, *shop, [(make_sku(db), 1)], delivered_at=None)

    result = return_eligibility(db, order, now=NOW)

    assert not result.eligible and not result.cancellation_instead
    assert result.lines[0].reason == "On its way: it can be returned once it's delivered."


def test_return_eligibility_counts_open_returns_but_not_rejected_ones(db, shop):
    order = make_delivered_order(db, *shop, [(make_sku(db), 3)])
    line = order.lines[0]
    first = request_return(db, order, [(line.id, 2)], reason="wrong_size", actor=CUSTOMER, now=NOW)

    assert return_eligibility(db, order, now=NOW).lines[0].returnable == 1
    request_return(db, order, [(line.id, 1)], reason="changed_mind", actor=CUSTOMER, now=NOW)
    full = return_eligibility(db, order, now=NOW)
    assert (full.eligible, full.lines[0].in_open_returns, full.lines[0].reason) == (
        False,
        3,
        "Already in a return request.",
    )
    reject_return(db, first.id, "Tags removed", actor=AGENT, now=NOW)
    assert return_eligibility(db, order, now=NOW).lines[0].returnable == 2


def test_return_eligibility_gives_each_parcel_its_own_window(db, shop):
    order = make_delivered_order(db, *shop, [(make_sku(db), 3)], delivered_at=NOW - timedelta(days=5))
    line = order.lines[0]
    [recent] = order.shipments
    recent.lines[0].quantity = 2
    early = Shipment(
        order_id=order.id,
        status="delivered",
        shipped_at=NOW - timedelta(days=45),
        delivered_at=NOW - timedelta(days=40),
    )
    early.lines.append(ShipmentLine(order_line_id=line.id, quantity=1))
    db.add(early)
    db.flush()

    [result] = return_eligibility(db, order, now=NOW).lines

    assert (result.delivered, result.returnable) == (3, 2)
    assert result.return_by == NOW - timedelta(days=5) + timedelta(days=30)


def test_return_eligibility_without_parcels_uses_the_time_the_order_was_delivered(db, shop):
    channel, _location = shop
    recent = make_order_for(db, channel, [(make_sku(db).id, 2)])
    change_order_status(
        db, recent, "delivered", actor="channel", now=NOW - timedelta(days=2), why="delivered"
    )
    old = make_order_for(db, channel, [(make_sku(db).id, 2)])
    change_order_status(db, old, "delivered", actor="channel", now=NOW - timedelta(days=40), why="delivered")

    assert return_eligibility(db, recent, now=NOW).lines[0].returnable == 2
    assert not return_eligibility(db, old, now=NOW).eligible


def test_return_eligibility_of_a_cancelled_order_is_nothing(db, shop):
    order = make_order_for(db, shop[0], [(make_sku(db).id, 1)], status="cancelled")

    result = return_eligibility(db, order, now=NOW)

    assert not result.eligible and not result.cancellation_instead
    assert result.reason == "This order was cancelled: there is nothing to return."


def test_return_eligibility_ignores_a_parcel_returned_to_sender(db, shop):
    order = make_delivered_order(db, *shop, [(make_sku(db), 1)], delivered_at=None)
    [parcel] = order.shipments
    parcel.status = "returned_to_sender"
    db.flush()

    result = return_eligibility(db, order, now=NOW)

    assert not result.eligible
    assert [ln.delivered for ln in result.lines] == [0]
