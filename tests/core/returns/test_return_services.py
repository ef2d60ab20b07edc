"""The RMA lifecycle against a real database: request, approve or reject, receive into stock (resellable and
damaged units in the ledger), refund; validation, permissions, and the return read models."""

from __future__ import annotations

import re
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
from core.errors import DomainError, InvalidTransition, NotFound, PermissionDenied
from core.inventory.models import StockMovement
from core.inventory.queries import verify_ledger
from core.notifications.models import OutboxMessage
from core.orders.models import Order, OrderEvent
from core.returns.models import Refund
from core.returns.queries import (
    customer_return,
    customer_returns,
    order_returns,
    return_detail,
    returns_awaiting_action,
)
from core.returns.refunds import line_paid_amounts, refund_return
from core.returns.services import approve_return, receive_return, reject_return, request_return
from core.returns.status import ReturnStatus
from tests.conftest import drop_database, fresh_database_url
from tests.factories import NOW, make_customer, make_sku
from tests.inventory_factories import level, make_location
from tests.returns_factories import AGENT, CUSTOMER, make_delivered_order, make_shop


@pytest.fixture
def shop(db):
    return make_shop(db, return_window_days=30)


def received_lines(rma, *counts):
    """[(return_line_id, received, damaged)] for the return's lines in order."""
    return [(line.id, got, damaged) for line, (got, damaged) in zip(rma.lines, counts, strict=True)]


def test_return_lifecycle_end_to_end_restocks_writes_off_and_refunds(db, shop):
    channel, location = shop
    sku = make_sku(db, title="Blue mug")
    order = make_delivered_order(db, channel, location, [(sku, 2)])
    line = order.lines[0]
    assert level(db, location.id, sku.id) == (0, 0)

    rma = request_return(db, order, [(line.id, 2)], reason="damaged", actor=CUSTOMER, now=NOW)
    approve_return(db, rma.id, actor=AGENT, now=NOW + timedelta(hours=1))
    receive_return(
        db,
        rma.id,
        received_lines(rma, (2, 1)),
        location_id=location.id,
        actor=AGENT,
        now=NOW + timedelta(days=3),
    )

    assert level(db, location.id, sku.id) == (1, 0)  # +2 received, -1 damaged
    ledger = db.execute(
        select(StockMovement.kind, StockMovement.on_hand_delta, StockMovement.reference)
        .where(StockMovement.sku_id == sku.id, StockMovement.kind.in_(["return", "write_off"]))
        .order_by(StockMovement.id)
    ).all()
    assert [tuple(m) for m in ledger] == [
        ("return", 2, f"{rma.rma_number} received ({order.number})"),
        ("write_off", -1, f"{rma.rma_number} damaged ({order.number})"),
    ]
    assert verify_ledger(db) == []
    assert (rma.lines[0].quantity_received, rma.lines[0].quantity_damaged) == (2, 1)
    assert line.quantity_returned == 2
    assert order.status == "returned"
    assert (rma.status, rma.restock_location_id) == ("received", location.id)

    refund = refund_return(db, rma.id, actor=AGENT, now=NOW + timedelta(days=4))

    assert (refund.amount, refund.shipping_amount, refund.currency, refund.method) == (
        2000,
        0,
        "USD",
        "original",
    )
    assert refund.line_amounts == {str(line.id): 2000}
    assert order.refunded_total == 2000
    assert (rma.status, rma.closed_at) == ("refunded", NOW + timedelta(days=4))
    timeline = db.scalars(
        select(OrderEvent.message)
        .where(
            OrderEvent.order_id == order.id,
            OrderEvent.kind == "return_update",
            OrderEvent.visible_to_customer,
        )
        .order_by(OrderEvent.id)
    ).all()
    assert timeline == [
        f"Return {rma.rma_number} requested: 2 × Blue mug (arrived damaged)",
        f"Return {rma.rma_number} approved: send the items back with the return number on the slip",
        f"Return {rma.rma_number} received at Warehouse East: 2 items, 1 damaged and not restocked",
        f"Refund of 20.00 USD for return {rma.rma_number} to your original payment method",
    ]
    audits = db.scalars(select(AuditEntry.action).order_by(AuditEntry.id)).all()
    assert audits == ["return.request", "return.approve", "return.receive", "refund.create"]
    outbox = db.scalars(
        select(OutboxMessage.dedup_key).where(OutboxMessage.transport == "email").order_by(OutboxMessage.id)
    ).all()
    assert outbox == [
        f"return:{rma.id}:approved",
        f"return:{rma.id}:received",
        f"return:{rma.id}:refunded:{refund.id}",
    ]
    with pytest.raises(InvalidTransition, match="return cannot go from refunded to refunded"):
        refund_return(db, rma.id, actor=AGENT, now=NOW + timedelta(days=5))
    assert order.refunded_total == 2000
    assert len(db.scalars(select(Refund).where(Refund.order_id == order.id)).all()) == 1


def test_receive_return_of_part_of_an_order_makes_it_partially_returned(db, shop):
    shirt, cap = make_sku(db), make_sku(db)
    order = make_delivered_order(db, *shop, [(shirt, 1), (cap, 1)])
    rma = request_return(db, order, [(order.lines[0].id, 1)], reason="wrong_size", actor=CUSTOMER, now=NOW)
    approve_return(db, rma.id, actor=AGENT, now=NOW)

    receive_return(db, rma.id, received_lines(rma, (1, 0)), location_id=shop[1].id, actor=AGENT, now=NOW)

    assert order.status == "partially_returned"
    assert level(db, shop[1].id, shirt.id) == (1, 0)
    second = request_return(
        db, order, [(order.lines[1].id, 1)], reason="changed_mind", actor=CUSTOMER, now=NOW
    )
    approve_return(db, second.id, actor=AGENT, now=NOW)
    receive_return(
        db, second.id, received_lines(second, (1, 0)), location_id=shop[1].id, actor=AGENT, now=NOW
    )
    assert order.status == "returned"


def test_request_return_gives_a_unique_rma_number_and_a_customer_visible_entry(db, shop):
    customer = make_customer(db)
    order = make_delivered_order(db, *shop, [(make_sku(db), 3)], customer_id=customer.id)

    first = request_return(
        db,
        order,
        [(order.lines[0].id, 1)],
        reason="other",
        reason_text="  Gift, not wanted ",
        actor=CUSTOMER,
        now=NOW,
    )
    second = request_return(db, order, [(order.lines[0].id, 1)], reason="late", actor=CUSTOMER, now=NOW)

    assert re.fullmatch(r"RMA-[A-Z2-7]{8}", first.rma_number)
    assert first.rma_number != second.rma_number
    assert (first.status, first.customer_id, first.reason_text, first.requested_at) == (
        "requested",
        customer.id,
        "Gift, not wanted",
        NOW,
    )
    [line] = first.lines
    assert (line.order_line_id, line.quantity, line.quantity_received) == (order.lines[0].id, 1, 0)
    [audit] = db.scalars(select(AuditEntry).where(AuditEntry.entity_id == str(first.id))).all()
    assert (audit.action, audit.actor_label, audit.after["rma"]) == (
        "return.request",
        "customer:1",
        first.rma_number,
    )


def test_request_return_refuses_more_than_can_be_returned(db, shop):
    order = make_delivered_order(db, *shop, [(make_sku(db, title="Tee"), 2)])
    line = order.lines[0]
    request_return(db, order, [(line.id, 1)], reason="wrong_size", actor=CUSTOMER, now=NOW)

    with pytest.raises(DomainError, match=r"Tee: you asked to return 2, 1 can be returned$"):
        request_return(db, order, [(line.id, 1), (line.id, 1)], reason="wrong_size", actor=CUSTOMER, now=NOW)


def test_request_return_refuses_when_the_window_has_closed(db, shop):
    order = make_delivered_order(db, *shop, [(make_sku(db), 1)], delivered_at=NOW - timedelta(days=31))
    with pytest.raises(DomainError, match="return window closed"):
        request_return(db, order, [(order.lines[0].id, 1)], reason="changed_mind", actor=CUSTOMER, now=NOW)


def test_request_return_refuses_a_non_returnable_sku(db, shop):
    order = make_delivered_order(
        db, *shop, [(make_sku(db, title="Earrings", returnable=False), 1), (make_sku(db), 1)]
    )
    with pytest.raises(DomainError, match=r"Earrings: you asked to return 1, 0 can be returned \(Final sale"):
        request_return(db, order, [(order.lines[0].id, 1)], reason="changed_mind", actor=CUSTOMER, now=NOW)


def test_request_return_refuses_an_order_whose_marketplace_handles_returns(db):
    channel, location = make_shop(db, name="eBay", returns_handled_by_channel=True)
    order = make_delivered_order(db, channel, location, [(make_sku(db), 1)])
    with pytest.raises(DomainError, match="Returns of eBay orders are handled by eBay"):
        request_return(db, order, [(order.lines[0].id, 1)], reason="damaged", actor=CUSTOMER, now=NOW)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"reason": "too_expensive"}, "choose a reason for the return"),
        ({"reason": "other"}, "tell us a little about the reason"),
        ({"reason": "other", "reason_text": "   "}, "tell us a little about the reason"),
        ({"reason_text": "x" * 2001}, "the reason text is too long"),
        ({"resolution": "cash"}, "choose how we should make it right"),
        ({"resolution": "exchange"}, "choose the variant you would like instead"),
        ({"exchange_sku_id": 1}, "an item to exchange for is only chosen for an exchange"),
        ({"photo_path": "../../etc/passwd"}, "the photo could not be attached"),
        ({"photo_path": "/etc/passwd"}, "the photo could not be attached"),
        ({"lines": []}, "choose at least one item to return"),
        ({"lines": "zero"}, "the quantity to return must be 1 or more"),
        ({"lines": "foreign"}, r"item \d+ is not on order"),
    ],
)
def test_request_return_validates_its_input(db, shop, changes, message):
    order = make_delivered_order(db, *shop, [(make_sku(db), 1)])
    kwargs = {"lines": [(order.lines[0].id, 1)], "reason": "wrong_size"} | changes
    if kwargs["lines"] == "zero":
        kwargs["lines"] = [(order.lines[0].id, 0)]
    elif kwargs["lines"] == "foreign":
        other = make_delivered_order(db, *shop, [(make_sku(db), 1)])
        kwargs["lines"] = [(other.lines[0].id, 1)]

    with pytest.raises(DomainError, match=message):
        request_return(db, order, actor=CUSTOMER, now=NOW, **kwargs)


def test_request_return_exchange_must_be_a_variant_of_a_returned_item(db, shop):
    medium = make_sku(db, code="TEE-M")
    large = make_sku(db, code="TEE-L", product_id=medium.product_id)
    unrelated = make_sku(db)
    order = make_delivered_order(db, *shop, [(medium, 1)])
    line_id = order.lines[0].id

    with pytest.raises(DomainError, match="another variant of an item you are returning"):
        request_return(
            db,
            order,
            [(line_id, 1)],
            reason="wrong_size",
            resolution="exchange",
            exchange_sku_id=unrelated.id,
            actor=CUSTOMER,
            now=NOW,
        )
    rma = request_return(
        db,
        order,
        [(line_id, 1)],
        reason="wrong_size",
        resolution="exchange",
        exchange_sku_id=large.id,
        photo_path="returns/tee.jpg",
        actor=CUSTOMER,
        now=NOW,
    )
    assert (rma.resolution, rma.exchange_sku_id, rma.photo_path) == ("exchange", large.id, "returns/tee.jpg")


def test_reject_return_needs_a_reason_and_follows_the_status_table(db, shop):
    order = make_delivered_order(db, *shop, [(make_sku(db), 2)])
    rma = request_return(db, order, [(order.lines[0].id, 1)], reason="changed_mind", actor=CUSTOMER, now=NOW)

    with pytest.raises(DomainError, match="say why"):
        reject_return(db, rma.id, "  ", actor=AGENT, now=NOW)
    approve_return(db, rma.id, actor=AGENT, now=NOW)
    with pytest.raises(InvalidTransition, match="from approved to approved"):
        approve_return(db, rma.id, actor=AGENT, now=NOW)
    reject_return(db, rma.id, "Item shows signs of wear", actor=AGENT, now=NOW)

    assert (rma.status, rma.rejection_reason, rma.closed_at) == ("rejected", "Item shows signs of wear", NOW)
    with pytest.raises(InvalidTransition, match="from rejected to received"):
        receive_return(db, rma.id, received_lines(rma, (1, 0)), location_id=shop[1].id, actor=AGENT, now=NOW)
    message = db.scalars(select(OrderEvent.message).order_by(OrderEvent.id.desc())).first()
    assert message == f"Return {rma.rma_number} rejected: Item shows signs of wear"


def test_receive_return_before_approval_is_refused(db, shop):
    order = make_delivered_order(db, *shop, [(make_sku(db), 1)])
    rma = request_return(db, order, [(order.lines[0].id, 1)], reason="changed_mind", actor=CUSTOMER, now=NOW)
    with pytest.raises(InvalidTransition, match="from requested to received"):
        receive_return(db, rma.id, received_lines(rma, (1, 0)), location_id=shop[1].id, actor=AGENT, now=NOW)


@pytest.mark.parametrize("action", ["approve", "reject", "receive", "refund"])
def test_staff_actions_on_a_return_refuse_a_customer(db, shop, action):
    order = make_delivered_order(db, *shop, [(make_sku(db), 1)])
    rma = request_return(db, order, [(order.lines[0].id, 1)], reason="changed_mind", actor=CUSTOMER, now=NOW)
    calls = {
        "approve": lambda: approve_return(db, rma.id, actor=CUSTOMER, now=NOW),
        "reject": lambda: reject_return(db, rma.id, "no", actor=CUSTOMER, now=NOW),
        "receive": lambda: receive_return(db, rma.id, [], location_id=shop[1].id, actor=CUSTOMER, now=NOW),
        "refund": lambda: refund_return(db, rma.id, actor=CUSTOMER, now=NOW),
    }
    with pytest.raises(PermissionDenied):
        calls[action]()
    assert rma.status == "requested"


@pytest.mark.parametrize(
    ("counts", "message"),
    [
        ((2, 0), "between 0 and 1 units can be received"),
        ((1, 2), "damaged units must be between 0 and the 1 received"),
        ((0, 0), "nothing was received: reject the return instead"),
        ((-1, 0), "between 0 and 1 units can be received"),
    ],
)
def test_receive_return_validates_the_counts(db, shop, counts, message):
    order = make_delivered_order(db, *shop, [(make_sku(db), 1)])
    rma = request_return(db, order, [(order.lines[0].id, 1)], reason="damaged", actor=CUSTOMER, now=NOW)
    approve_return(db, rma.id, actor=AGENT, now=NOW)

    with pytest.raises(DomainError, match=message):
        receive_return(db, rma.id, received_lines(rma, counts), location_id=shop[1].id, actor=AGENT, now=NOW)
    assert rma.status == "approved"


def test_receive_return_refuses_an_unknown_line_or_an_inactive_location(db, shop):
    order = make_delivered_order(db, *shop, [(make_sku(db), 1)])
    rma = request_return(db, order, [(order.lines[0].id, 1)], reason="damaged", actor=CUSTOMER, now=NOW)
    approve_return(db, rma.id, actor=AGENT, now=NOW)
    closed = make_location(db, name="Old store", active=False)

    with pytest.raises(DomainError, match="is not part of return"):
        receive_return(db, rma.id, [(999999, 1, 0)], location_id=shop[1].id, actor=AGENT, now=NOW)
    with pytest.raises(DomainError, match="Old store is not an active location"):
        receive_return(db, rma.id, received_lines(rma, (1, 0)), location_id=closed.id, actor=AGENT, now=NOW)
    with pytest.raises(NotFound):
        receive_return(db, rma.id, received_lines(rma, (1, 0)), location_id=999999, actor=AGENT, now=NOW)


def received_return(db, shop, items, returned, *, reason="wrong_size", resolution="refund", **order_kwargs):
    """A delivered order and a return of `returned` [(line index, qty)], approved and fully received."""
    order = make_delivered_order(db, *shop, items, **order_kwargs)
    rma = request_return(
        db,
        order,
        [(order.lines[i].id, q) for i, q in returned],
        reason=reason,
        resolution=resolution,
        exchange_sku_id=items[0][0].id if resolution == "exchange" else None,
        actor=CUSTOMER,
        now=NOW,
    )
    approve_return(db, rma.id, actor=AGENT, now=NOW)
    receive_return(
        db,
        rma.id,
        [(line.id, line.quantity, 0) for line in rma.lines],
        location_id=shop[1].id,
        actor=AGENT,
        now=NOW,
    )
    return order, rma


def test_line_paid_amounts_share_order_discounts_over_the_lines(db, shop):
    order = make_delivered_order(
        db,
        *shop,
        [(make_sku(db), 2), (make_sku(db), 1)],
        unit_price=1000,
        discount_total=300,
        shipping_total=500,
        tax_per_line=100,
    )
    # total 3000 - 300 + 500 + 200 = 3400; goods 2900 split 2100 : 1100
    assert list(line_paid_amounts(order).values()) == [2900 * 2100 // 3200, 2900 * 1100 // 3200]


def test_refund_return_by_default_refunds_what_was_paid_for_the_units_received(db, shop):
    order, rma = received_return(
        db, shop, [(make_sku(db), 2), (make_sku(db), 2)], [(0, 1)], discount_total=400, shipping_total=500
    )
    # goods paid: 4000 - 400 = 3600, 1800 per line, 900 per unit

    refund = refund_return(db, rma.id, actor=AGENT, now=NOW)

    assert (refund.amount, refund.line_amounts) == (900, {str(order.lines[0].id): 900})
    assert order.refunded_total == 900
    assert refund.reason == f"Return {rma.rma_number} (wrong size)"


def test_refund_return_with_amounts_and_shipping_never_more_than_paid(db, shop):
    order, rma = received_return(db, shop, [(make_sku(db), 2)], [(0, 1)], shipping_total=500)
    line_id = order.lines[0].id

    with pytest.raises(DomainError, match=r"at most 20.00 USD can be refunded"):
        refund_return(db, rma.id, line_amounts={line_id: 2001}, actor=AGENT, now=NOW)
    with pytest.raises(DomainError, match=r"at most 5.00 USD of shipping"):
        refund_return(db, rma.id, line_amounts={line_id: 1000}, shipping_amount=501, actor=AGENT, now=NOW)
    with pytest.raises(DomainError, match="is not part of return"):
        refund_return(db, rma.id, line_amounts={line_id + 1000: 1}, actor=AGENT, now=NOW)
    with pytest.raises(DomainError, match="there is nothing to refund"):
        refund_return(db, rma.id, line_amounts={line_id: 0}, actor=AGENT, now=NOW)
    with pytest.raises(DomainError, match="refund method must be"):
        refund_return(db, rma.id, method="cash", actor=AGENT, now=NOW)

    refund = refund_return(
        db,
        rma.id,
        line_amounts={line_id: 2000},
        shipping_amount=500,
        method="store_credit",
        actor=AGENT,
        now=NOW,
    )

    assert (refund.amount, refund.shipping_amount, refund.method) == (2000, 500, "store_credit")
    assert order.refunded_total == 2500 == order.total
    second = request_return(db, order, [(line_id, 1)], reason="changed_mind", actor=CUSTOMER, now=NOW)
    approve_return(db, second.id, actor=AGENT, now=NOW)
    receive_return(
        db, second.id, received_lines(second, (1, 0)), location_id=shop[1].id, actor=AGENT, now=NOW
    )
    with pytest.raises(DomainError, match="there is nothing to refund"):
        refund_return(db, second.id, actor=AGENT, now=NOW)
    assert order.refunded_total == 2500


def test_refund_return_of_store_credit_return_defaults_to_store_credit(db, shop):
    _order, rma = received_return(db, shop, [(make_sku(db), 1)], [(0, 1)], resolution="store_credit")
    assert refund_return(db, rma.id, actor=AGENT, now=NOW).method == "store_credit"


def test_refund_return_of_an_exchange_needs_explicit_amounts(db, shop):
    order, rma = received_return(db, shop, [(make_sku(db), 1)], [(0, 1)], resolution="exchange")
    with pytest.raises(DomainError, match="an exchange is settled with the replacement"):
        refund_return(db, rma.id, actor=AGENT, now=NOW)
    assert (
        refund_return(db, rma.id, line_amounts={order.lines[0].id: 250}, actor=AGENT, now=NOW).amount == 250
    )


# --- read models --------------------------------------------------------------------------------------------


def test_customer_returns_lists_their_returns_newest_first(db, shop):
    customer, stranger = make_customer(db), make_customer(db)
    mine = make_delivered_order(db, *shop, [(make_sku(db, title="Mug"), 2)], customer_id=customer.id)
    theirs = make_delivered_order(db, *shop, [(make_sku(db), 1)], customer_id=stranger.id)
    older = request_return(db, mine, [(mine.lines[0].id, 1)], reason="damaged", actor=CUSTOMER, now=NOW)
    newer = request_return(
        db, mine, [(mine.lines[0].id, 1)], reason="late", actor=CUSTOMER, now=NOW + timedelta(hours=1)
    )
    request_return(db, theirs, [(theirs.lines[0].id, 1)], reason="late", actor=CUSTOMER, now=NOW)

    returns = customer_returns(db, customer.id)

    assert [r.rma_number for r in returns] == [newer.rma_number, older.rma_number]
    assert (returns[0].order_number, returns[0].items, returns[0].units, returns[0].reason_label) == (
        mine.number,
        ("1 × Mug",),
        1,
        "arrived late",
    )
    assert [r.id for r in order_returns(db, mine.id)] == [newer.id, older.id]


def test_customer_return_of_another_customer_is_not_found(db, shop):
    customer, stranger = make_customer(db), make_customer(db)
    order = make_delivered_order(db, *shop, [(make_sku(db), 1)], customer_id=customer.id)
    rma = request_return(db, order, [(order.lines[0].id, 1)], reason="damaged", actor=CUSTOMER, now=NOW)

    assert customer_return(db, customer.id, rma.rma_number.lower()).id == rma.id
    with pytest.raises(NotFound):
        customer_return(db, stranger.id, rma.rma_number)


def test_return_detail_shows_lines_refunds_and_steps(db, shop):
    order, rma = received_return(db, shop, [(make_sku(db, code="MUG-9", title="Mug"), 2)], [(0, 2)])
    refund_return(db, rma.id, shipping_amount=0, actor=AGENT, now=NOW + timedelta(days=1))

    detail = return_detail(db, rma.id)

    assert (detail.order_number, detail.status, detail.restock_location_code) == (
        order.number,
        "refunded",
        shop[1].code,
    )
    assert [(ln.sku_code, ln.title, ln.quantity, ln.quantity_received) for ln in detail.lines] == [
        ("MUG-9", "Mug", 2, 2)
    ]
    assert detail.refunded == 2000
    assert [(s.status, s.done) for s in detail.steps] == [
        ("requested", True),
        ("approved", True),
        ("received", True),
        ("refunded", True),
    ]
    with pytest.raises(NotFound):
        return_detail(db, 999999)


def test_returns_awaiting_action_lists_open_work_oldest_first(db, shop):
    order = make_delivered_order(db, *shop, [(make_sku(db), 5)])
    line_id = order.lines[0].id
    waiting = request_return(
        db, order, [(line_id, 1)], reason="late", actor=CUSTOMER, now=NOW - timedelta(days=2)
    )
    approved = request_return(
        db, order, [(line_id, 1)], reason="late", actor=CUSTOMER, now=NOW - timedelta(days=1)
    )
    approve_return(db, approved.id, actor=AGENT, now=NOW)
    rejected = request_return(db, order, [(line_id, 1)], reason="late", actor=CUSTOMER, now=NOW)
    reject_return(db, rejected.id, "duplicate", actor=AGENT, now=NOW)

    queue = returns_awaiting_action(db)

    assert [(r.id, r.next_action) for r in queue] == [
        (waiting.id, "approve or reject"),
        (approved.id, "receive"),
    ]
    assert ReturnStatus(queue[0].status) == ReturnStatus.REQUESTED


# --- real concurrency ---------------------------------------------------------------------------------------


@pytest.fixture
def committed(tmp_path) -> Iterator[sessionmaker[Session]]:
    """A fresh, migrated database whose sessions really commit (SQLite file or PostgreSQL)."""
    url, needs_drop = fresh_database_url(tmp_path, "returns")
    engine = make_engine(url, pool_size=10, max_overflow=0)
    try:
        migrate.upgrade(engine)
        yield make_session_factory(engine)
    finally:
        engine.dispose()
        drop_database(url, needs_drop)


def test_request_return_from_8_threads_at_once_returns_each_unit_once(committed):
    with committed() as session:
        order = make_delivered_order(session, *make_shop(session), [(make_sku(session), 2)])
        order_id, line_id = order.id, order.lines[0].id
        session.commit()
    barrier = threading.Barrier(8)

    def request(_i: int) -> str:
        barrier.wait()
        with committed() as session:
            begin_write(session)
            try:
                request_return(
                    session,
                    session.get(Order, order_id),
                    [(line_id, 1)],
                    reason="late",
                    actor=CUSTOMER,
                    now=NOW,
                )
            except DomainError:
                return "refused"
            session.commit()
            return "requested"

    with ThreadPoolExecutor(max_workers=8) as pool:
        assert sorted(pool.map(request, range(8))) == ["refused"] * 6 + ["requested"] * 2
    with committed() as session:
        assert len(order_returns(session, order_id)) == 2
