"""Refunds: what each order line was paid, refunding a received return (once), and staff refunding an order
directly (whole, per line and quantity, shipping), each within what is left of what was paid after earlier
refunds. Staff refund an order when their role has the refund permission, up to the role's limit per order
(the built-in agent's is CROSSDOCK_AGENT_REFUND_LIMIT; managers and admins have none).
Lock order as in core.returns.services: the order, its lines, the return.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.audit.services import record_audit
from core.errors import DomainError, PermissionDenied
from core.money import format_money, to_minor
from core.notifications.services import queue_order_refunded, queue_return_refunded
from core.orders import events
from core.orders.models import Order, OrderLine
from core.returns.models import Refund
from core.returns.reasons import reason_labels
from core.returns.services import lock_order, lock_return, record_return_event, require_staff
from core.returns.status import ReturnStatus, check_transition
from core.security.permissions import Permission, actor_grant, agent_refund_limit_text
from core.security.roles import Actor

REFUND_METHODS = {"original": "to your original payment method", "store_credit": "as store credit"}
# A marketplace (Amazon, eBay) holds the buyer's money: the refund is recorded here and paid out there.
MARKETPLACE_METHOD = "marketplace"
REFUND_REASON_MAX = 300


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


def refunded_so_far(session: Session, order_id: int) -> tuple[dict[int, int], int]:
    """Per order line, and for shipping, what earlier refunds of the order gave back."""
    return _refunded(
        session.execute(
            select(Refund.line_amounts, Refund.shipping_amount).where(Refund.order_id == order_id)
        )
    )


def _refunded(refunds: Iterable[tuple[Mapping[str, int] | None, int]]) -> tuple[dict[int, int], int]:
    """Sums (line_amounts, shipping_amount) pairs: per order line, and for shipping."""
    per_line: dict[int, int] = {}
    shipping = 0
    for line_amounts, shipping_amount in refunds:
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
    refunded_lines, refunded_shipping = refunded_so_far(session, order.id)
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
        reason=f"Return {rma.rma_number} ({reason_labels(session).get(rma.reason, rma.reason)})",
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


def agent_refund_limit(currency: str, environ: Mapping[str, str] | None = None) -> int:
    """What the built-in agent role may refund on one order, in minor units of `currency`:
    CROSSDOCK_AGENT_REFUND_LIMIT (an amount such as "100.00", read in the order's currency), else 100.00; an
    unreadable value counts as the default."""
    return _limit_in(agent_refund_limit_text(environ), currency)


def _limit_in(amount: str, currency: str) -> int:
    try:
        return max(to_minor(amount, currency), 0)
    except (ValueError, DomainError):  # more decimals than the currency has: whole units
        return max(to_minor(amount.split(".", maxsplit=1)[0] or "0", currency), 0)


def refund_limit(session: Session, actor: Actor, currency: str) -> int | None:
    """The most `actor` may have refunded on one order, in minor units of `currency` (None: no limit: a role
    without one, or the system); PermissionDenied for anyone who is not staff or whose role may not refund."""
    require_staff(actor)
    grant = actor_grant(session, actor, os.environ)
    if grant is None:
        return None
    if not grant.allows(Permission.REFUND):
        raise PermissionDenied(f"your role ({grant.name}) may not refund orders")
    return None if grant.refund_limit is None else _limit_in(grant.refund_limit, currency)


@dataclass(frozen=True)
class RefundableLine:
    """What is left to refund on one order line: paid, already refunded, left, and per unit."""

    line: OrderLine
    paid: int
    refunded: int

    @property
    def left(self) -> int:
        return max(self.paid - self.refunded, 0)

    def for_units(self, quantity: int) -> int:
        """What `quantity` units give back: their share of what was paid, within what is left."""
        return min(self.paid * quantity // self.line.quantity if self.line.quantity else 0, self.left)


def refundable_lines(
    session: Session, order: Order, *, refunds: Sequence[Refund] | None = None
) -> tuple[list[RefundableLine], int]:
    """Per line what is left to refund, and the shipping left to refund; `refunds`: the order's refunds when
    the caller has loaded them already."""
    paid = line_paid_amounts(order)
    if refunds is None:
        refunded, refunded_shipping = refunded_so_far(session, order.id)
    else:
        refunded, refunded_shipping = _refunded((r.line_amounts, r.shipping_amount) for r in refunds)
    lines = [RefundableLine(line, paid.get(line.id, 0), refunded.get(line.id, 0)) for line in order.lines]
    return lines, max(order.shipping_total - refunded_shipping, 0)


def refund_order(
    session: Session,
    order_id: int,
    *,
    quantities: Mapping[int, int] | None = None,
    shipping: bool = False,
    full: bool = False,
    reason: str,
    method: str = "original",
    actor: Actor,
    now: datetime,
) -> Refund:
    """Staff refund an order: `full` gives back all that is left; else `quantities` maps order line ids to
    units (each worth its share of what was paid, line_paid_amounts / quantity, within what is left) and
    `shipping` adds the shipping left. A reason is required and shown to the customer.

    Refused: nothing to refund, a line not on the order, more units than the line has, and for an agent a
    refund that takes the order's refunds past the role's refund limit (PermissionDenied, names the limit). A
    marketplace order's refund is recorded with method 'marketplace' (paid out in the marketplace's seller
    UI, which also emails the buyer); any other is emailed to the customer. On the order's timeline (seen
    by the customer) and in the audit log; Order.refunded_total grows by the amount.
    """
    require_staff(actor)
    reason = (reason or "").strip()
    if not reason:
        raise DomainError("give a reason for the refund: the customer sees it")
    if len(reason) > REFUND_REASON_MAX:
        raise DomainError(f"the reason is too long (at most {REFUND_REASON_MAX} characters)")
    order, order_lines = lock_order(session, order_id)
    marketplace = order.channel.is_marketplace
    if marketplace:
        method = MARKETPLACE_METHOD
    elif method not in REFUND_METHODS:
        raise DomainError(f"refund method must be one of {', '.join(REFUND_METHODS)}")
    lines, shipping_left = refundable_lines(session, order)
    by_id = {entry.line.id: entry for entry in lines}

    def money(minor: int) -> str:
        return format_money(minor, order.currency)

    amounts: dict[int, int] = {}
    units: dict[int, int] = {}
    if full:
        amounts = {entry.line.id: entry.left for entry in lines if entry.left}
        shipping_amount = shipping_left
    else:
        for key, quantity in (quantities or {}).items():
            line_id = int(key)
            if line_id not in by_id:
                raise DomainError(f"item {line_id} is not on order {order.number}")
            if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity < 0:
                raise DomainError("quantities to refund must be whole numbers, 0 or more")
            entry = by_id[line_id]
            if quantity > entry.line.quantity:
                raise DomainError(f"{entry.line.title}: the order has {entry.line.quantity}, not {quantity}")
            if not quantity:
                continue
            if not entry.left:
                raise DomainError(f"{entry.line.title} has already been refunded in full")
            amounts[line_id] = entry.for_units(quantity)
            units[line_id] = quantity
        if shipping and not shipping_left:
            raise DomainError("the shipping has already been refunded (or there was none)")
        shipping_amount = shipping_left if shipping else 0
    items = sum(amounts.values())
    total = items + shipping_amount
    if total <= 0:
        raise DomainError("there is nothing to refund: choose items, shipping, or the whole order")
    order_left = order.total - order.refunded_total
    if total > order_left:
        raise DomainError(
            f"at most {money(max(order_left, 0))} can still be refunded on order {order.number}"
        )
    limit = refund_limit(session, actor, order.currency)
    if limit is not None and order.refunded_total + total > limit:
        after = money(order.refunded_total + total)
        who = "agents" if actor.role == "agent" else f"the {actor.role} role"
        raise PermissionDenied(
            f"{who} can refund up to {money(limit)} on an order; this would make {after}: "
            "ask a manager to make this refund"
        )
    refund = Refund(
        order_id=order.id,
        amount=items,
        shipping_amount=shipping_amount,
        currency=order.currency,
        method=method,
        line_amounts={str(line_id): amount for line_id, amount in sorted(amounts.items())},
        reason=reason,
        actor=actor.label,
        created_at=now,
    )
    session.add(refund)
    before = order.refunded_total
    order.refunded_total += total
    order.updated_at = now
    session.flush()
    parts = [
        f"{units.get(line_id) or order_lines[line_id].quantity} × {order_lines[line_id].title}"
        for line_id in sorted(amounts)
    ] + (["shipping"] if shipping_amount else [])
    where = f", paid back through {order.channel.name}" if marketplace else f" {REFUND_METHODS[method]}"
    events.record_event(
        session,
        order,
        "refunded",
        f"Refund of {money(total)}{where} ({', '.join(parts)}): {reason}",
        actor=actor.label,
        now=now,
        data={"refund_id": refund.id, "amount": total, "method": method},
    )
    record_audit(
        session,
        actor,
        "refund.create",
        "order",
        order.id,
        now=now,
        before={"refunded_total": before},
        after={
            "refunded_total": order.refunded_total,
            "refund_id": refund.id,
            "amount": items,
            "shipping_amount": shipping_amount,
            "lines": {str(i): a for i, a in sorted(amounts.items())},
            "method": method,
            "reason": reason,
            "currency": order.currency,
        },
    )
    if not marketplace:
        queue_order_refunded(session, order, refund, now=now)
    return refund
