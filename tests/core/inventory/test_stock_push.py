"""Stock pushes armed in the outbox by every movement: one per channel and SKU, coalesced."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import update

from core.inventory.ledger import adjust_stock
from core.inventory.reservations import release_reservation, reserve_stock
from core.notifications.models import OutboxMessage
from tests.factories import NOW, make_channel, make_sku
from tests.inventory_factories import link, make_stock, pushes

ACTOR = "ops@example.org"


def test_every_movement_arms_one_coalesced_stock_push_per_channel(db, shop):
    channel, east, _west = shop
    other = make_channel(db)  # not served by east: gets no push
    inactive = make_channel(db, active=False)
    link(db, inactive, east)
    sku = make_sku(db)
    make_stock(db, east, sku.id, 10)
    reserve_stock(db, [(east.id, sku.id, 3)], order_id=None, actor=ACTOR, now=NOW)
    [push] = pushes(db, channel.id, sku.id)
    assert (push.kind, push.transport, push.status, push.recipient, push.next_attempt_at) == (
        "stock_push",
        "channel",
        "pending",
        "webshop-t",
        NOW,
    )
    # the SKU to push, not a figure: the dispatcher reads available to sell when it sends
    assert push.payload == {"channel_id": channel.id, "channel": channel.code, "sku_id": sku.id}
    assert pushes(db, other.id, sku.id) == pushes(db, inactive.id, sku.id) == []
    later = NOW + timedelta(minutes=1)
    db.execute(update(OutboxMessage).values(attempts=2, last_error="HTTP 503"))  # pending, in back-off
    release_reservation(db, east.id, sku.id, 1, order_id=None, actor=ACTOR, now=later)
    db.expire_all()
    [again] = pushes(db, channel.id, sku.id)
    assert (again.id, again.status, again.attempts, again.last_error, again.next_attempt_at) == (
        push.id,
        "pending",
        2,
        "HTTP 503",
        NOW,
    )  # left as it was: one push, back-off kept


def test_stock_push_rearms_a_row_the_worker_finished(db, shop):
    channel, east, _west = shop
    sku = make_sku(db)
    make_stock(db, east, sku.id, 10)
    later = NOW + timedelta(minutes=1)
    for finished in ("sent", "failed"):
        db.execute(update(OutboxMessage).values(status=finished, attempts=8, last_error="HTTP 400"))
        adjust_stock(db, east.id, sku.id, -1, kind="write_off", actor=ACTOR, now=later)
        db.expire_all()
        [push] = pushes(db, channel.id, sku.id)
        assert (push.status, push.attempts, push.last_error, push.next_attempt_at) == (
            "pending",
            0,
            None,
            later,
        ), finished


def test_stock_push_being_sent_is_marked_to_go_again_keeping_its_lease(db, shop):
    channel, east, _west = shop
    sku = make_sku(db)
    make_stock(db, east, sku.id, 10)
    lease_end = NOW + timedelta(minutes=15)
    db.execute(update(OutboxMessage).values(status="sending", attempts=1, next_attempt_at=lease_end))
    reserve_stock(db, [(east.id, sku.id, 2)], order_id=None, actor=ACTOR, now=NOW + timedelta(minutes=1))
    db.expire_all()
    [push] = pushes(db, channel.id, sku.id)
    assert (push.status, push.attempts, push.next_attempt_at) == ("pending", 1, lease_end)
