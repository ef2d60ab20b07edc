"""Return eligibility rules, no database: what reached the customer, the window from each delivery, partial
and open returns, final sale, and the order-level answers (cancelled, marketplace returns, nothing sent)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from core.returns.eligibility import (
    ALREADY_RETURNED,
    CANCEL_INSTEAD,
    CANCELLED,
    FINAL_SALE,
    IN_A_RETURN,
    NO_SKU,
    NOT_SHIPPED,
    NOT_SHIPPED_ORDER,
    ON_ITS_WAY,
    Deliveries,
    LineFacts,
    OrderFacts,
    Parcel,
    ReturnPolicy,
    line_deliveries,
    line_eligibility,
    order_eligibility,
)

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
DAY = timedelta(days=1)
SHOP = ReturnPolicy(channel_name="Web shop", window_days=30)


def mug(**overrides) -> LineFacts:
    """Line 1: three mugs (SKU 7) unless overridden."""
    return LineFacts(**({"order_line_id": 1, "sku_id": 7, "title": "Mug", "quantity": 3} | overrides))


def delivered(*deliveries: tuple[int, timedelta]) -> Deliveries:
    """(units, days ago delivered) per delivery."""
    return Deliveries(tuple((units, NOW - ago) for units, ago in deliveries))


# --- what reached the customer --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("parcel", "expected"),
    [
        (Parcel(2, "delivered", NOW - 5 * DAY, NOW - 2 * DAY), Deliveries(((2, NOW - 2 * DAY),), 0)),
        (Parcel(2, "in_transit", NOW - DAY, None), Deliveries((), 2)),
        (Parcel(2, "out_for_delivery", None, None), Deliveries((), 2)),  # left us, no ship time recorded
        (Parcel(2, "pending", NOW - DAY, None), Deliveries((), 2)),  # a ship time means it left
        (Parcel(2, "pending", None, None), Deliveries((), 0)),
        (Parcel(2, "packed", None, None), Deliveries((), 0)),
        (Parcel(2, "info_received", None, None), Deliveries((), 0)),
        (Parcel(2, "cancelled", None, None), Deliveries((), 0)),
        (Parcel(2, "returned_to_sender", NOW - 5 * DAY, None), Deliveries((), 0)),
        (Parcel(2, "returned_to_sender", NOW - 5 * DAY, NOW - DAY), Deliveries((), 0)),
    ],
)
def test_line_deliveries_count_a_parcel_by_its_state(parcel, expected):
    line = mug(quantity=2, quantity_shipped=2, parcels=(parcel,))

    assert line_deliveries(line, "shipped", NOW) == expected


def test_line_deliveries_add_up_every_parcel_of_the_line():
    parcels = (
        Parcel(1, "delivered", NOW - 9 * DAY, NOW - 8 * DAY),
        Parcel(1, "in_transit", NOW - DAY),
        Parcel(1, "delivered", NOW - 3 * DAY, NOW - 2 * DAY),
    )

    result = line_deliveries(mug(parcels=parcels), "partially_shipped", None)

    assert result == Deliveries(((1, NOW - 8 * DAY), (1, NOW - 2 * DAY)), 1)
    assert result.units == 2


@pytest.mark.parametrize(
    ("shipped", "cancelled", "status", "order_delivered_at", "expected"),
    [
        (3, 0, "delivered", NOW - DAY, Deliveries(((3, NOW - DAY),), 0)),
        (2, 0, "partially_shipped", NOW - DAY, Deliveries(((2, NOW - DAY),), 0)),
        (3, 0, "shipped", None, Deliveries((), 3)),
        (0, 1, "delivered", NOW - DAY, Deliveries(((2, NOW - DAY),), 0)),  # the channel says it all went out
        (0, 0, "returned", NOW - DAY, Deliveries(((3, NOW - DAY),), 0)),
        (0, 0, "partially_returned", None, Deliveries((), 3)),
        (0, 0, "confirmed", NOW - DAY, Deliveries((), 0)),
        (0, 0, "pending", None, Deliveries((), 0)),
    ],
)
def test_line_deliveries_without_parcels_follow_the_order(
    shipped, cancelled, status, order_delivered_at, expected
):
    line = mug(quantity_shipped=shipped, quantity_cancelled=cancelled)

    assert line_deliveries(line, status, order_delivered_at) == expected


# --- one line -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ago", "returnable"),
    [
        (timedelta(0), 3),
        (29 * DAY, 3),
        (30 * DAY, 3),  # the last moment of the window is still in it
        (30 * DAY + timedelta(seconds=1), 0),
        (90 * DAY, 0),
    ],
)
def test_line_eligibility_window_runs_window_days_from_delivery(ago, returnable):
    result = line_eligibility(mug(), delivered((3, ago)), window_days=30, now=NOW)

    assert (result.delivered, result.returnable) == (3, returnable)
    if returnable:
        assert (result.return_by, result.reason) == (NOW - ago + 30 * DAY, None)
    else:
        closed = NOW - ago + 30 * DAY
        assert result.return_by is None
        assert result.reason == f"The 30-day return window closed on {closed:%d %b %Y}."


@pytest.mark.parametrize(
    ("window_days", "ago", "returnable"),
    [(0, timedelta(0), 1), (0, timedelta(seconds=1), 0), (14, 14 * DAY, 1), (14, 15 * DAY, 0)],
)
def test_line_eligibility_window_follows_the_policy_length(window_days, ago, returnable):
    result = line_eligibility(mug(quantity=1), delivered((1, ago)), window_days=window_days, now=NOW)

    assert result.returnable == returnable


@pytest.mark.parametrize(
    ("returned", "in_open", "returnable", "reason"),
    [
        (0, 0, 3, None),
        (1, 0, 2, None),
        (0, 2, 1, None),
        (1, 1, 1, None),
        (3, 0, 0, ALREADY_RETURNED),
        (1, 2, 0, IN_A_RETURN),
        (0, 3, 0, IN_A_RETURN),
        (4, 0, 0, ALREADY_RETURNED),  # more back than delivered never goes negative
    ],
)
def test_line_eligibility_subtracts_units_returned_and_in_open_returns(returned, in_open, returnable, reason):
    line = mug(quantity_returned=returned, in_open_returns=in_open)

    result = line_eligibility(line, delivered((3, 2 * DAY)), window_days=30, now=NOW)

    assert (result.returnable, result.reason) == (returnable, reason)
    assert (result.returned, result.in_open_returns) == (returned, in_open)


@pytest.mark.parametrize(
    ("deliveries", "returned", "returnable", "return_by"),
    [
        # one unit 40 days ago (window closed), two 5 days ago: the two recent ones may go back
        (((1, 40 * DAY), (2, 5 * DAY)), 0, 2, NOW + 25 * DAY),
        # a unit already back counts against the oldest delivery first
        (((1, 40 * DAY), (2, 5 * DAY)), 1, 2, NOW + 25 * DAY),
        (((1, 40 * DAY), (2, 5 * DAY)), 2, 1, NOW + 25 * DAY),
        # both windows open: the later one is the return-by
        (((1, 20 * DAY), (2, 5 * DAY)), 0, 3, NOW + 25 * DAY),
        (((1, 20 * DAY), (2, 5 * DAY)), 1, 2, NOW + 25 * DAY),
    ],
)
def test_line_eligibility_gives_each_delivery_its_own_window(deliveries, returned, returnable, return_by):
    line = mug(quantity_returned=returned)

    result = line_eligibility(line, delivered(*deliveries), window_days=30, now=NOW)

    assert (result.delivered, result.returnable, result.return_by) == (3, returnable, return_by)


def test_line_eligibility_names_the_latest_window_that_closed():
    result = line_eligibility(mug(), delivered((1, 50 * DAY), (2, 40 * DAY)), window_days=30, now=NOW)

    assert result.reason == f"The 30-day return window closed on {NOW - 10 * DAY:%d %b %Y}."


@pytest.mark.parametrize(
    ("line", "deliveries", "reason"),
    [
        (mug(sku_id=None), delivered((3, DAY)), NO_SKU),
        (mug(final_sale=True), delivered((3, DAY)), FINAL_SALE),
        (mug(sku_id=None, final_sale=True), delivered((3, DAY)), NO_SKU),
        (mug(final_sale=True), Deliveries((), 3), FINAL_SALE),
        (mug(), Deliveries((), 3), ON_ITS_WAY),
        (mug(), Deliveries((), 0), NOT_SHIPPED),
        (mug(in_open_returns=1), Deliveries((), 3), ON_ITS_WAY),
    ],
)
def test_line_eligibility_refuses_with_a_reason(line, deliveries, reason):
    result = line_eligibility(line, deliveries, window_days=30, now=NOW)

    assert (result.returnable, result.reason) == (0, reason)


# --- the order ------------------------------------------------------------------------------------------


def order(*lines: LineFacts, status: str = "delivered", **overrides) -> OrderFacts:
    return OrderFacts(
        **({"order_id": 9, "status": status, "lines": lines, "delivered_at": NOW - DAY} | overrides)
    )


def test_order_eligibility_of_a_delivered_order_lists_each_line():
    result = order_eligibility(
        order(mug(quantity_shipped=3), mug(order_line_id=2, sku_id=8, quantity=1, final_sale=True)),
        SHOP,
        now=NOW,
    )

    assert (result.eligible, result.reason, result.window_days) == (True, None, 30)
    assert [(ln.order_line_id, ln.returnable, ln.reason) for ln in result.lines] == [
        (1, 3, None),
        (2, 0, FINAL_SALE),
    ]
    assert (result.returnable(1), result.returnable(2), result.returnable(99)) == (3, 0, 0)


@pytest.mark.parametrize(
    ("facts", "policy", "reason", "handled", "instructions", "cancel_instead"),
    [
        (order(mug(quantity_shipped=3), status="cancelled"), SHOP, CANCELLED, False, None, False),
        (
            order(mug(quantity_shipped=3)),
            ReturnPolicy("Amazon", 30, handled_by_channel=True, instructions="  Use Your Orders.\n"),
            "Returns of Amazon orders are handled by Amazon.",
            True,
            "Use Your Orders.",
            False,
        ),
        (
            order(mug(quantity_shipped=3), fulfilled_by_channel=True),
            ReturnPolicy("Amazon", 30),
            "Returns of Amazon orders are handled by Amazon.",
            True,
            "Start your return from your Amazon account, under your orders.",
            False,
        ),
        (order(mug(), status="confirmed"), SHOP, CANCEL_INSTEAD, False, None, True),
        (order(mug(), status="pending"), SHOP, CANCEL_INSTEAD, False, None, True),
        (
            order(mug(quantity_shipped=3, parcels=(Parcel(3, "packed"),)), status="partially_shipped"),
            SHOP,
            NOT_SHIPPED_ORDER,
            False,
            None,
            False,
        ),
    ],
)
def test_order_eligibility_blocks_the_whole_order(
    facts, policy, reason, handled, instructions, cancel_instead
):
    result = order_eligibility(facts, policy, now=NOW)

    assert not result.eligible
    assert (result.reason, result.handled_by_channel, result.instructions) == (reason, handled, instructions)
    assert result.cancellation_instead is cancel_instead
    assert [(ln.returnable, ln.delivered, ln.reason) for ln in result.lines] == [(0, 0, reason)]


def test_order_eligibility_of_a_cancelled_order_wins_over_marketplace_returns():
    policy = ReturnPolicy("Amazon", 30, handled_by_channel=True)

    result = order_eligibility(order(mug(), status="cancelled"), policy, now=NOW)

    assert (result.reason, result.handled_by_channel) == (CANCELLED, False)


def test_order_eligibility_with_a_parcel_on_its_way_is_not_a_cancellation():
    facts = order(mug(parcels=(Parcel(3, "in_transit", NOW - DAY),)), status="shipped")

    result = order_eligibility(facts, SHOP, now=NOW)

    assert (result.eligible, result.cancellation_instead) == (False, False)
    assert result.reason == f"Nothing on this order can be returned now: {ON_ITS_WAY}"


def test_order_eligibility_gathers_each_reason_once_when_nothing_can_go_back():
    facts = order(
        mug(quantity_shipped=3, quantity_returned=3),
        mug(order_line_id=2, quantity_shipped=1, quantity=1, quantity_returned=1),
        mug(order_line_id=3, quantity_shipped=1, quantity=1, sku_id=None),
    )

    result = order_eligibility(facts, SHOP, now=NOW)

    assert not result.eligible
    assert result.reason == f"Nothing on this order can be returned now: {ALREADY_RETURNED} {NO_SKU}"
