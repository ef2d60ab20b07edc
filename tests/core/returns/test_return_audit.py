"""Every step of a return records its own audit entry: who, what, on which entity, before and after."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import pytest
from sqlalchemy import select

from core.audit.models import AuditEntry
from core.orders.models import Order
from core.returns.models import ReturnRequest
from core.returns.refunds import refund_return
from core.returns.services import approve_return, receive_return, reject_return, request_return
from core.security.roles import Actor
from tests.factories import NOW, make_sku
from tests.returns_factories import CUSTOMER, make_delivered_order, make_shop

CLERK = Actor(label="clerk@example.org", user_id=None, role="agent", ip_address="192.0.2.9")
STEPS = ("request", "approve", "receive", "refund")


@dataclass
class Done:
    order: Order
    rma: ReturnRequest
    location_code: str
    refund_id: int | None = None


def take_steps(db, last: str) -> Done:
    """A delivered order of two mugs, its return taken through the steps up to `last` ('reject' rejects it
    once requested), one hour apart."""
    channel, location = make_shop(db, return_window_days=30)
    order = make_delivered_order(db, channel, location, [(make_sku(db, title="Mug"), 2)])
    rma = request_return(db, order, [(order.lines[0].id, 2)], reason="wrong_size", actor=CUSTOMER, now=NOW)
    done = Done(order, rma, location.code)
    at = NOW
    for step in ("reject",) if last == "reject" else STEPS[1 : STEPS.index(last) + 1]:
        at += timedelta(hours=1)
        if step == "reject":
            reject_return(db, rma.id, "Tags removed", actor=CLERK, now=at)
        elif step == "approve":
            approve_return(db, rma.id, actor=CLERK, now=at)
        elif step == "receive":
            [line] = rma.lines
            receive_return(db, rma.id, [(line.id, 2, 1)], location_id=location.id, actor=CLERK, now=at)
        else:
            done.refund_id = refund_return(db, rma.id, actor=CLERK, now=at).id
    return done


@pytest.mark.parametrize(
    ("last", "actor", "action", "entity", "before", "after"),
    [
        (
            "request",
            "customer:1",
            "return.request",
            lambda d: ("return", str(d.rma.id)),
            None,
            lambda d: {
                "rma": d.rma.rma_number,
                "order": d.order.number,
                "lines": {str(d.order.lines[0].id): 2},
                "reason": "wrong_size",
                "resolution": "refund",
            },
        ),
        (
            "approve",
            "clerk@example.org",
            "return.approve",
            lambda d: ("return", str(d.rma.id)),
            {"status": "requested"},
            lambda d: {"status": "approved"},
        ),
        (
            "reject",
            "clerk@example.org",
            "return.reject",
            lambda d: ("return", str(d.rma.id)),
            {"status": "requested"},
            lambda d: {"status": "rejected", "reason": "Tags removed"},
        ),
        (
            "receive",
            "clerk@example.org",
            "return.receive",
            lambda d: ("return", str(d.rma.id)),
            {"status": "approved"},
            lambda d: {
                "status": "received",
                "location": d.location_code,
                "lines": {str(d.rma.lines[0].id): {"received": 2, "damaged": 1}},
            },
        ),
        (
            "refund",
            "clerk@example.org",
            "refund.create",
            lambda d: ("order", str(d.order.id)),
            {"refunded_total": 0},
            lambda d: {
                "refunded_total": 2000,
                "refund_id": d.refund_id,
                "rma": d.rma.rma_number,
                "amount": 2000,
                "shipping_amount": 0,
                "method": "original",
                "currency": "USD",
            },
        ),
    ],
)
def test_return_step_records_its_audit_entry(db, last, actor, action, entity, before, after):
    done = take_steps(db, last)

    entry = db.scalars(select(AuditEntry).order_by(AuditEntry.id.desc()).limit(1)).one()

    assert (entry.actor_label, entry.action) == (actor, action)
    assert (entry.entity_type, entry.entity_id) == entity(done)
    assert (entry.before, entry.after) == (before, after(done))
    if actor == CLERK.label:
        assert entry.ip_address == CLERK.ip_address


def test_return_steps_each_leave_one_entry_in_order(db):
    take_steps(db, "refund")

    actions = db.scalars(select(AuditEntry.action).order_by(AuditEntry.id)).all()

    assert actions == ["return.request", "return.approve", "return.receive", "refund.create"]
