"""Read models for return screens: a customer's returns, one return with its lines and refunds, an order's
returns, and the console's queue of returns waiting for staff. Each in a fixed, small number of queries."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.catalog.models import Sku
from core.channels.models import Channel
from core.errors import NotFound
from core.inventory.models import Location
from core.orders.models import Order, OrderLine
from core.returns.models import Refund, ReturnLine, ReturnRequest
from core.returns.reasons import reason_labels
from core.returns.refunds import line_paid_amounts
from core.returns.services import RESOLUTIONS
from core.returns.status import ReturnStatus, can_transition

# What staff do next with a return in each waiting status.
NEXT_ACTIONS = {
    ReturnStatus.REQUESTED: "approve or reject",
    ReturnStatus.APPROVED: "receive",
    ReturnStatus.RECEIVED: "refund",
}


@dataclass(frozen=True)
class ReturnSummary:
    """One return in a list."""

    id: int
    rma_number: str
    order_id: int
    order_number: str
    channel_name: str
    customer_id: int | None
    status: str
    reason: str
    reason_label: str
    resolution: str
    requested_at: datetime
    units: int
    items: tuple[str, ...]  # "2 × Blue shirt"

    @property
    def next_action(self) -> str | None:
        return NEXT_ACTIONS.get(ReturnStatus(self.status))


@dataclass(frozen=True)
class ReturnLineView:
    id: int
    order_line_id: int
    sku_code: str | None
    title: str
    unit_price: int
    quantity: int
    quantity_received: int
    quantity_damaged: int


@dataclass(frozen=True)
class RefundView:
    id: int
    amount: int
    shipping_amount: int
    currency: str
    method: str
    created_at: datetime

    @property
    def total(self) -> int:
        return self.amount + self.shipping_amount


@dataclass(frozen=True)
class ReturnStep:
    """One step of the return's progress as the customer sees it: done steps carry their time."""

    status: str
    at: datetime | None

    @property
    def done(self) -> bool:
        return self.at is not None


@dataclass(frozen=True)
class ReturnDetail:
    id: int
    rma_number: str
    status: str
    order_id: int
    order_number: str
    customer_id: int | None
    currency: str
    channel_name: str
    return_instructions: str
    reason: str
    reason_label: str
    reason_text: str
    resolution: str
    resolution_label: str
    exchange_sku_code: str | None
    photo_path: str | None
    restock_location_code: str | None
    rejection_reason: str | None
    requested_at: datetime
    approved_at: datetime | None
    received_at: datetime | None
    closed_at: datetime | None
    lines: tuple[ReturnLineView, ...]
    refunds: tuple[RefundView, ...]

    @property
    def refunded(self) -> int:
        return sum(refund.total for refund in self.refunds)

    @property
    def steps(self) -> tuple[ReturnStep, ...]:
        """requested, approved, received, refunded; or requested, (approved,) rejected."""
        if self.status == ReturnStatus.REJECTED:
            steps = [ReturnStep("requested", self.requested_at)]
            if self.approved_at is not None:
                steps.append(ReturnStep("approved", self.approved_at))
            return (*steps, ReturnStep("rejected", self.closed_at))
        refunded_at = self.closed_at if self.status == ReturnStatus.REFUNDED else None
        return (
            ReturnStep("requested", self.requested_at),
            ReturnStep("approved", self.approved_at),
            ReturnStep("received", self.received_at),
            ReturnStep("refunded", refunded_at),
        )


def _summaries(
    session: Session, *where, newest_first: bool = True, limit: int | None = None
) -> list[ReturnSummary]:
    order_by = (
        (ReturnRequest.requested_at.desc(), ReturnRequest.id.desc())
        if newest_first
        else (ReturnRequest.requested_at, ReturnRequest.id)
    )
    query = (
        select(
            ReturnRequest.id,
            ReturnRequest.rma_number,
            ReturnRequest.order_id,
            Order.number,
            Channel.name,
            Order.customer_id,
            ReturnRequest.status,
            ReturnRequest.reason,
            ReturnRequest.resolution,
            ReturnRequest.requested_at,
        )
        .join(Order, Order.id == ReturnRequest.order_id)
        .join(Channel, Channel.id == Order.channel_id)
        .where(*where)
        .order_by(*order_by)
    )
    if limit is not None:
        query = query.limit(limit)
    rows = session.execute(query).all()
    items: dict[int, list[tuple[int, str]]] = {}
    if rows:
        for return_id, quantity, title in session.execute(
            select(ReturnLine.return_id, ReturnLine.quantity, OrderLine.title)
            .join(OrderLine, OrderLine.id == ReturnLine.order_line_id)
            .where(ReturnLine.return_id.in_([row.id for row in rows]))
            .order_by(ReturnLine.return_id, ReturnLine.id)
        ):
            items.setdefault(return_id, []).append((quantity, title))
    labels = reason_labels(session) if rows else {}
    return [
        ReturnSummary(
            id=row.id,
            rma_number=row.rma_number,
            order_id=row.order_id,
            order_number=row.number,
            channel_name=row.name,
            customer_id=row.customer_id,
            status=row.status,
            reason=row.reason,
            reason_label=labels.get(row.reason, row.reason),
            resolution=row.resolution,
            requested_at=row.requested_at,
            units=sum(qty for qty, _title in items.get(row.id, [])),
            items=tuple(f"{qty} × {title}" for qty, title in items.get(row.id, [])),
        )
        for row in rows
    ]


def customer_returns(session: Session, customer_id: int) -> list[ReturnSummary]:
    """A customer's returns, on orders from every channel, newest first."""
    return _summaries(session, Order.customer_id == customer_id)


def order_returns(session: Session, order_id: int) -> list[ReturnSummary]:
    """The returns of one order, newest first."""
    return _summaries(session, ReturnRequest.order_id == order_id)


def returns_awaiting_action(session: Session, *, limit: int = 100) -> list[ReturnSummary]:
    """Returns waiting for staff (to approve or reject, to receive, to refund), oldest first."""
    return _summaries(session, ReturnRequest.status.in_(list(NEXT_ACTIONS)), newest_first=False, limit=limit)


def _detail(session: Session, *where) -> ReturnDetail:
    row = session.execute(
        select(
            ReturnRequest,
            Order.number,
            Order.currency,
            Order.customer_id,
            Channel.name,
            Channel.return_instructions,
        )
        .join(Order, Order.id == ReturnRequest.order_id)
        .join(Channel, Channel.id == Order.channel_id)
        .where(*where)
    ).first()
    if row is None:
        raise NotFound("return not found")
    rma, number, currency, customer_id, channel_name, instructions = row
    lines = session.execute(
        select(
            ReturnLine.id,
            ReturnLine.order_line_id,
            Sku.code,
            OrderLine.title,
            OrderLine.unit_price,
            ReturnLine.quantity,
            ReturnLine.quantity_received,
            ReturnLine.quantity_damaged,
        )
        .join(OrderLine, OrderLine.id == ReturnLine.order_line_id)
        .outerjoin(Sku, Sku.id == OrderLine.sku_id)
        .where(ReturnLine.return_id == rma.id)
        .order_by(ReturnLine.id)
    ).all()
    refunds = session.execute(
        select(
            Refund.id,
            Refund.amount,
            Refund.shipping_amount,
            Refund.currency,
            Refund.method,
            Refund.created_at,
        )
        .where(Refund.return_id == rma.id)
        .order_by(Refund.id)
    ).all()
    exchange_code = (
        session.scalar(select(Sku.code).where(Sku.id == rma.exchange_sku_id))
        if rma.exchange_sku_id is not None
        else None
    )
    location_code = (
        session.scalar(select(Location.code).where(Location.id == rma.restock_location_id))
        if rma.restock_location_id is not None
        else None
    )
    return ReturnDetail(
        id=rma.id,
        rma_number=rma.rma_number,
        status=rma.status,
        order_id=rma.order_id,
        order_number=number,
        customer_id=customer_id,
        currency=currency,
        channel_name=channel_name,
        return_instructions=instructions,
        reason=rma.reason,
        reason_label=reason_labels(session).get(rma.reason, rma.reason),
        reason_text=rma.reason_text,
        resolution=rma.resolution,
        resolution_label=RESOLUTIONS.get(rma.resolution, rma.resolution),
        exchange_sku_code=exchange_code,
        photo_path=rma.photo_path,
        restock_location_code=location_code,
        rejection_reason=rma.rejection_reason,
        requested_at=rma.requested_at,
        approved_at=rma.approved_at,
        received_at=rma.received_at,
        closed_at=rma.closed_at,
        lines=tuple(ReturnLineView(*line) for line in lines),
        refunds=tuple(RefundView(*refund) for refund in refunds),
    )


def return_detail(session: Session, return_id: int) -> ReturnDetail:
    """One return with its lines and refunds, for staff; NotFound otherwise."""
    return _detail(session, ReturnRequest.id == return_id)


def customer_return(session: Session, customer_id: int, rma_number: str) -> ReturnDetail:
    """One of the customer's returns by its RMA number; NotFound for any return that is not theirs."""
    return _detail(
        session, ReturnRequest.rma_number == rma_number.strip().upper(), Order.customer_id == customer_id
    )


def return_by_rma(session: Session, rma_number: str) -> ReturnDetail:
    """A return by its RMA number whoever it belongs to (the caller checks access, e.g. a guest's token)."""
    return _detail(session, ReturnRequest.rma_number == rma_number.strip().upper())


def exchange_options(session: Session, order: Order) -> dict[int, list[Sku]]:
    """Per order line, the other active variants of the same product it could be exchanged for."""
    sku_ids = {line.sku_id for line in order.lines if line.sku_id}
    if not sku_ids:
        return {}
    products = dict(session.execute(select(Sku.id, Sku.product_id).where(Sku.id.in_(sku_ids))).all())
    siblings = session.scalars(
        select(Sku).where(Sku.product_id.in_(set(products.values())), Sku.active.is_(True)).order_by(Sku.code)
    ).all()
    options: dict[int, list[Sku]] = {}
    for line in order.lines:
        if line.sku_id in products:
            options[line.id] = [
                s for s in siblings if s.product_id == products[line.sku_id] and s.id != line.sku_id
            ]
    return options


def refund_defaults(session: Session, detail: ReturnDetail) -> dict[int, int]:
    """Per order line, what refund_return gives by default: what was paid for the units received (the
    service also caps it at what earlier refunds left). None for an exchange, which has no default."""
    if detail.resolution == "exchange" or not can_transition(detail.status, "refunded"):
        return {}
    order = session.get(Order, detail.order_id)
    if order is None:
        return {}
    paid = line_paid_amounts(order)
    quantity = {line.id: line.quantity for line in order.lines}
    return {
        line.order_line_id: paid.get(line.order_line_id, 0)
        * line.quantity_received
        // max(quantity.get(line.order_line_id, 1), 1)
        for line in detail.lines
        if line.quantity_received
    }
