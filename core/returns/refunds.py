"""Refunds: what each order line was paid, and refunding a received return (once), within what is left of
what was paid after earlier refunds. Lock order as in core.returns.services: the order, its lines, the return.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.audit.services import record_audit
from core.errors import DomainError
from core.money import format_money
from core.notifications.services import queue_return_refunded
from core.orders.models import Order
from core.returns.models import Refund
from core.returns.services import REASONS, lock_return, record_return_event, require_staff
from core.returns.status import ReturnStatus, check_transition
from core.security.roles import Actor

REFUND_METHODS = {"original": "to your original payment method", "store_credit": "as store credit"}


def line_paid_amounts(order: Order) -> dict[int, int]:
    """What the customer paid for each line, in minor units: the order total less shipping, split over the
    lines in proportion to (line total + line tax), rounded down.

    A line total is unit price x quantity net of the line's own discount, so each line carries its share of
    order-level discounts, and tax is included whether the channel's prices include it or not; the shares
    never add up to more than was paid.
    """
    lines = list(order.lines)
    weights = {line.id: max(line.total + line.tax, 0) for line in lines}
    total_weight = sum(weights.values())
    goods = max(order.total - order.shipping_total, 0)
    if not total_weight or not goods:
        return dict.fromkeys(weights, 0)
    return {line_id: goods * weight // total_weight for line_id, weight in weights.items()}


def _already_refunded(session: Session, order_id: int) -> tuple[dict[int, int], int]:
    """Per order line, and for shipping, what earlier refunds of the order gave back."""
    per_line: dict[int, int] = {}
    shipping = 0
    for line_amounts, shipping_amount in session.execute(
        select(Refund.line_amounts, Refund.shipping_amount).where(Refund.order_id == order_id)
    ):
        shipping += shipping_amount
        for key, amount in (line_amounts or {}).items():
            per_line[int(key)] = per_line.get(int(key), 0) + int(amount)
    return per_line, shipping


def _is_amount(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def refund_return(
    session: Session,
    return_id: int,
    *,
    line_amounts: Mapping[int, int] | None = None,
    shipping_amount: int = 0,
    method: str | None = None,
    actor: Actor,
    now: datetime,
) -> Refund:
    """Refund a received return (once: the return moves to refunded) and record the Refund.

    `line_amounts` maps order line ids of the return to minor units; by default each line gets what was paid
    for the units received (line_paid_amounts x received / quantity, rounded down). An exchange has no default
    (the replacement settles it): give the amounts to refund a difference. `method` defaults to store credit
    for a store-credit return, else the original payment. Refused: a line not in the return, a line or the
    shipping beyond what is left of what was paid for it after earlier refunds, more than the order's total
    less what it already refunded, or nothing at all. Order.refunded_total grows by items + shipping.
    """
    require_staff(actor)
    order, order_lines, rma = lock_return(session, return_id)
    check_transition(rma.status, ReturnStatus.REFUNDED)
    method = method or ("store_credit" if rma.resolution == "store_credit" else "original")
    if method not in REFUND_METHODS:
        raise DomainError(f"refund method must be one of {', '.join(REFUND_METHODS)}")
    paid = line_paid_amounts(order)
    refunded_lines, refunded_shipping = _already_refunded(session, order.id)
    left = {line_id: paid.get(line_id, 0) - refunded_lines.get(line_id, 0) for line_id in order_lines}
    in_return = {line.order_line_id: line for line in rma.lines}

    def money(minor: int) -> str:
        return format_money(minor, order.currency)

    if line_amounts is None:
        if rma.resolution == "exchange":
            raise DomainError("an exchange is settled with the replacement item: give the amounts to refund")
        amounts = {
            line_id: max(
                0,
                min(
                    paid.get(line_id, 0) * line.quantity_received // order_lines[line_id].quantity,
                    left[line_id],
                ),
            )
            for line_id, line in sorted(in_return.items())
            if line.quantity_received
        }
    else:
        amounts = {}
        for key, amount in line_amounts.items():
            line_id = int(key)
            if line_id not in in_return:
                raise DomainError(f"order line {line_id} is not part of return {rma.rma_number}")
            if not _is_amount(amount):
                raise DomainError("refund amounts must be whole minor units, 0 or more")
            if amount > left[line_id]:
                raise DomainError(
                    f"{order_lines[line_id].title}: at most {money(max(left[line_id], 0))} can be refunded"
                )
            amounts[line_id] = amount
    if not _is_amount(shipping_amount):
        raise DomainError("the shipping refund must be whole minor units, 0 or more")
    shipping_left = max(order.shipping_total - refunded_shipping, 0)
    if shipping_amount > shipping_left:
        raise DomainError(f"at most {money(shipping_left)} of shipping can be refunded")
    items = sum(amounts.values())
    total = items + shipping_amount
    if total <= 0:
        raise DomainError("there is nothing to refund")
    order_left = order.total - order.refunded_total
    if total > order_left:
        raise DomainError(
            f"at most {money(max(order_left, 0))} can still be refunded on order {order.number}"
        )
    refund = Refund(
        order_id=order.id,
        return_id=rma.id,
        amount=items,
        shipping_amount=shipping_amount,
        currency=order.currency,
        method=method,
        line_amounts={str(line_id): amount for line_id, amount in sorted(amounts.items())},
        reason=f"Return {rma.rma_number} ({REASONS.get(rma.reason, rma.reason)})",
        actor=actor.label,
        created_at=now,
    )
    session.add(refund)
    order.refunded_total += total
    order.updated_at = now
    rma.status = ReturnStatus.REFUNDED
    rma.closed_at = now
    session.flush()
    record_return_event(
        session,
        order,
        rma,
        f"Refund of {money(total)} for return {rma.rma_number} {REFUND_METHODS[method]}",
        actor=actor,
        now=now,
        refund_id=refund.id,
    )
    record_audit(
        session,
        actor,
        "refund.create",
        "order",
        order.id,
        now=now,
        before={"refunded_total": order.refunded_total - total},
        after={
            "refunded_total": order.refunded_total,
            "refund_id": refund.id,
            "rma": rma.rma_number,
            "amount": items,
            "shipping_amount": shipping_amount,
            "method": method,
            "currency": order.currency,
        },
    )
    queue_return_refunded(session, rma, refund, now=now)
    return refund
