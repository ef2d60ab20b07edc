"""Read models for order screens; each loads what its screen shows in a fixed number of queries."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session, selectinload

from core.catalog.models import Sku
from core.channels.models import Channel
from core.errors import NotFound
from core.money import to_decimal_string
from core.orders.models import InboundPayload, Order, OrderEvent, OrderLine
from core.pagination import Page


def customer_orders(
    session: Session, customer_id: int, *, page: int = 1, per_page: int = 20, search: str = ""
) -> Page[Order]:
    """A customer's orders from every channel, newest first, optionally filtered by number or item title."""
    where = [Order.customer_id == customer_id]
    term = search.strip()
    if term:
        like = "%" + term.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        where.append(
            or_(
                func.lower(Order.number).like(like, escape="\\"),
                func.lower(Order.external_id).like(like, escape="\\"),
                Order.id.in_(
                    select(OrderLine.order_id).where(func.lower(OrderLine.title).like(like, escape="\\"))
                ),
            )
        )
    total = session.scalar(select(func.count()).select_from(Order).where(*where)) or 0
    items = session.scalars(
        select(Order)
        .where(*where)
        .options(selectinload(Order.lines), selectinload(Order.channel))
        .order_by(Order.placed_at.desc(), Order.id.desc())
        .limit(per_page)
        .offset((page - 1) * per_page)
    ).all()
    return Page(list(items), page, per_page, total)


def customer_order(session: Session, customer_id: int, number: str) -> Order:
    """One of the customer's orders by its number; NotFound for any order that is not theirs."""
    order = session.scalar(
        select(Order)
        .where(Order.number == number, Order.customer_id == customer_id)
        .options(selectinload(Order.lines), selectinload(Order.channel), selectinload(Order.shipments))
    )
    if order is None:
        raise NotFound("order not found")
    return order


def customer_timeline(session: Session, order: Order) -> list[OrderEvent]:
    """The timeline entries the customer may see, oldest first."""
    return list(
        session.scalars(
            select(OrderEvent)
            .where(OrderEvent.order_id == order.id, OrderEvent.visible_to_customer.is_(True))
            .order_by(OrderEvent.created_at, OrderEvent.id)
        )
    )


def staff_order(session: Session, order_id: int) -> Order:
    """An order with lines, shipments, customer and the full timeline, for staff; NotFound otherwise."""
    order = session.scalar(
        select(Order)
        .where(Order.id == order_id)
        .options(
            selectinload(Order.lines),
            selectinload(Order.channel),
            selectinload(Order.shipments),
            selectinload(Order.events),
            selectinload(Order.customer),
        )
    )
    if order is None:
        raise NotFound(f"order {order_id} not found")
    return order


@dataclass(frozen=True)
class ChannelKpi:
    channel: str
    orders: int
    revenue: int
    currency: str
    cancelled: int
    returned: int


def channel_kpis(session: Session, *, now: datetime, days: int = 30) -> list[ChannelKpi]:
    """Orders, revenue (main currency), cancellations and returns per channel over the last `days`."""
    since = now - timedelta(days=days)
    rows = session.execute(
        select(
            Channel.name,
            Order.currency,
            func.count(Order.id),
            func.coalesce(func.sum(Order.total), 0),
            func.count(Order.id).filter(Order.status == "cancelled"),
            func.count(Order.id).filter(Order.status.in_(["returned", "partially_returned"])),
        )
        .join(Channel, Channel.id == Order.channel_id)
        .where(Order.placed_at >= since)
        .group_by(Channel.name, Order.currency)
        .order_by(Channel.name, func.count(Order.id).desc())
    ).all()
    kpis: dict[str, ChannelKpi] = {}
    for name, currency, count, revenue, cancelled, returned in rows:
        kpis.setdefault(name, ChannelKpi(name, count, revenue, currency, cancelled, returned))
    return list(kpis.values())


def order_by_external_id(session: Session, channel_code: str, external_id: str) -> Order:
    """An order by its channel's code and the channel's own id, or NotFound."""
    order = session.scalar(
        select(Order)
        .join(Channel, Channel.id == Order.channel_id)
        .where(Channel.code == channel_code, Order.external_id == external_id)
        .options(selectinload(Order.lines), selectinload(Order.shipments), selectinload(Order.customer))
    )
    if order is None:
        raise NotFound(f"no order {external_id!r} on channel {channel_code!r}")
    return order


def canonical_order_json(session: Session, order: Order) -> dict[str, Any]:
    """The canonical order as JSON (DESIGN.md): money as decimal strings, times in ISO 8601."""
    money = functools.partial(to_decimal_string, currency=order.currency)
    sku_codes = dict(
        session.execute(
            select(Sku.id, Sku.code).where(Sku.id.in_({line.sku_id for line in order.lines if line.sku_id}))
        ).all()
    )
    address = order.shipping_address or {}
    customer = order.customer
    return {
        "id": order.id,
        "number": order.number,
        "channel": order.channel.code,
        "external_id": order.external_id,
        "status": order.status,
        "hold_reason": order.hold_reason,
        "placed_at": order.placed_at.astimezone(
            timezone(timedelta(minutes=order.placed_at_offset_minutes))
        ).isoformat(),
        "currency": order.currency,
        "subtotal": money(order.subtotal),
        "discount_total": money(order.discount_total),
        "shipping_total": money(order.shipping_total),
        "tax_total": money(order.tax_total),
        "total": money(order.total),
        "customer": {
            "id": customer.id if customer else None,
            "name": order.buyer_name or (customer.name if customer else None),
            "email": order.email,
        },
        "shipping_address": {
            key: address.get(key)
            for key in ("name", "line1", "line2", "city", "region", "postal_code", "country")
        }
        if order.shipping_address
        else None,
        "lines": [
            {
                "sku": sku_codes.get(line.sku_id) if line.sku_id else None,
                "channel_sku": line.channel_sku,
                "title": line.title,
                "quantity": line.quantity,
                "unit_price": money(line.unit_price),
                "total": money(line.total),
            }
            for line in order.lines
        ],
        "fulfilled_by_channel": order.fulfilled_by_channel,
        "shipments": [
            {"carrier": s.carrier, "tracking_number": s.tracking_number, "status": s.status}
            for s in order.shipments
        ],
    }


PAYLOAD_STATUSES = ("received", "processed", "duplicate", "needs_attention", "rejected")


def inbound_payloads(
    session: Session, *, status: str | None = None, page: int = 1, per_page: int = 50
) -> Page[InboundPayload]:
    """Inbound channel payloads, newest first, optionally in one processing status."""
    where = [InboundPayload.status == status] if status in PAYLOAD_STATUSES else []
    total = session.scalar(select(func.count()).select_from(InboundPayload).where(*where)) or 0
    items = session.scalars(
        select(InboundPayload)
        .where(*where)
        .order_by(InboundPayload.received_at.desc(), InboundPayload.id.desc())
        .limit(per_page)
        .offset((page - 1) * per_page)
    ).all()
    return Page(list(items), page, per_page, total)


def payload_status_counts(session: Session) -> dict[str, int]:
    """How many inbound payloads are in each processing status."""
    counts = dict.fromkeys(PAYLOAD_STATUSES, 0)
    counts.update(
        session.execute(select(InboundPayload.status, func.count()).group_by(InboundPayload.status)).all()
    )
    return counts


def held_orders(session: Session, *, limit: int = 200) -> list[Order]:
    """Orders on hold, oldest first, with their channel and lines (what ops must fix)."""
    return list(
        session.scalars(
            select(Order)
            .where(Order.status == "on_hold")
            .options(selectinload(Order.channel), selectinload(Order.lines))
            .order_by(Order.placed_at, Order.id)
            .limit(limit)
        )
    )
