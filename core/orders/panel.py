"""The order panel staff act from (beside a ticket and on the console order page): what each action allows
now and why not, refunds left per line, the emails the customer got, the hold's problems, returns allowed,
linked tickets and the steps to take in the channel's own screens. A fixed number of queries."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload, selectinload

from core.errors import NotFound, PermissionDenied
from core.money import format_money
from core.notifications.models import OutboxMessage
from core.orders.actions import (
    cancel_problem,
    channel_takes_cancellations,
    hold_problems,
    not_shipped_problem,
    order_emails,
    replacement_problem,
    unmapped_channel_skus,
)
from core.orders.models import Order
from core.orders.seller_steps import cancel_steps, refund_steps
from core.orders.status import OrderStatus
from core.returns.eligibility import ReturnEligibility
from core.returns.models import Refund
from core.returns.reasons import DEFAULT_REASONS, offered_reasons
from core.returns.refunds import RefundableLine, refund_limit, refundable_lines
from core.returns.services import RESOLUTIONS, return_eligibility
from core.security.roles import Actor
from core.support.models import Conversation

# Statuses in which something may have reached the customer, so a return can be opened.
RETURN_STATUSES = frozenset(
    {
        OrderStatus.PARTIALLY_SHIPPED,
        OrderStatus.SHIPPED,
        OrderStatus.DELIVERED,
        OrderStatus.PARTIALLY_RETURNED,
    }
)


@dataclass(frozen=True)
class OrderPanel:
    """Everything the order panel shows and offers."""

    order: Order
    cancel_problem: str | None  # None: it can be cancelled
    channel_told: bool  # the channel's adapter takes cancellations
    cancel_steps: list[str]  # by hand in the channel's screens, when it can't be told
    refund_lines: list[RefundableLine]
    shipping_left: int
    order_left: int
    refund_limit: int | None  # for the viewer; None: no limit
    may_refund: bool  # the viewer's role may refund orders
    marketplace: bool
    refunds: list[Refund]
    refund_steps: dict[int, list[str]]  # refund id -> the steps to give the money back in the channel
    address_problem: str | None  # None: the address can be changed
    replacement_problem: str | None  # None: replacement items can be sent
    holds: list[tuple[str, str]]
    unmapped: list[str]  # channel SKUs of a held order to map on the page
    emails: list[OutboxMessage] | None  # None: not loaded (the outbox has no index by order)
    returnable: ReturnEligibility | None
    tickets: list[Conversation]
    cancel_request: Conversation | None
    reasons: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_REASONS))
    resolutions: dict[str, str] = field(default_factory=lambda: dict(RESOLUTIONS))

    @property
    def can_refund(self) -> bool:
        return self.order_left > 0

    @property
    def open_cancel_request(self) -> bool:
        return self.cancel_request is not None and self.cancel_request.status in ("open", "pending")


def _refund_what(refund: Refund, titles: dict[int, str]) -> str:
    """What a refund was for, in words: the items' titles and the shipping."""
    parts = [titles.get(int(line_id), "an item") for line_id in sorted(refund.line_amounts or {}, key=int)]
    if refund.shipping_amount:
        parts.append("shipping")
    return ", ".join(parts) or "the order"


def order_panel(
    session: Session, order_id: int, *, actor: Actor, now: datetime, with_emails: bool = False
) -> OrderPanel:
    """The panel for one order as `actor` sees it, with the emails sent about it only when asked (finding
    them reads the whole outbox); NotFound when there is no such order."""
    order = session.scalar(
        select(Order)
        .where(Order.id == order_id)
        .options(selectinload(Order.lines), joinedload(Order.channel), selectinload(Order.shipments))
    )
    if order is None:
        raise NotFound(f"order {order_id} not found")
    channel = order.channel
    refunds = list(
        session.scalars(
            select(Refund).where(Refund.order_id == order.id).order_by(Refund.created_at, Refund.id)
        )
    )
    lines, shipping_left = refundable_lines(session, order, refunds=refunds)
    reference = order.channel_number or order.external_id
    titles = {line.id: line.title for line in order.lines}
    steps = {
        refund.id: refund_steps(
            channel.kind,
            reference,
            format_money(refund.amount + refund.shipping_amount, refund.currency),
            _refund_what(refund, titles),
            refund.reason,
            marketplace=refund.method == "marketplace",
        )
        for refund in refunds
    }
    address_problem = (
        f"{channel.name} ships this order: change the address there"
        if order.fulfilled_by_channel
        else not_shipped_problem(session, order)
    )
    tickets = list(
        session.scalars(
            select(Conversation)
            .where(Conversation.order_id == order.id)
            .order_by(Conversation.created_at.desc(), Conversation.id.desc())
            .limit(20)
        )
    )
    cancel_request = next((t for t in tickets if t.category == "cancel"), None)
    try:
        limit, may_refund = refund_limit(session, actor, order.currency), True
    except PermissionDenied:
        limit, may_refund = 0, False
    return OrderPanel(
        order=order,
        cancel_problem=cancel_problem(session, order),
        channel_told=channel_takes_cancellations(channel.kind),
        cancel_steps=cancel_steps(channel.kind, reference),
        refund_lines=lines,
        shipping_left=shipping_left,
        order_left=max(order.total - order.refunded_total, 0),
        refund_limit=limit,
        may_refund=may_refund,
        marketplace=channel.is_marketplace,
        refunds=refunds,
        refund_steps=steps,
        address_problem=address_problem,
        replacement_problem=replacement_problem(order),
        holds=hold_problems(order),
        unmapped=unmapped_channel_skus(order) if order.status == OrderStatus.ON_HOLD else [],
        emails=order_emails(session, order.id) if with_emails else None,
        returnable=return_eligibility(session, order, now=now) if order.status in RETURN_STATUSES else None,
        tickets=tickets,
        cancel_request=cancel_request,
        reasons=offered_reasons(session),
    )
