"""Factories for returns tests: orders that really went through stock (allocated, shipped from a location,
delivered in a parcel), so that returns can be checked against the ledger."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.catalog.models import Sku
from core.channels.models import Channel
from core.fulfillment.models import Shipment, ShipmentLine
from core.inventory.allocations import allocate_order
from core.inventory.ledger import ship_reserved
from core.inventory.models import Location
from core.orders.models import Allocation, Order, OrderLine
from core.orders.services import change_order_status
from core.orders.status import OrderStatus
from core.security.roles import Actor
from tests.factories import NOW, make_channel, make_order
from tests.inventory_factories import link, make_location, make_stock

AGENT = Actor(label="agent@example.org", user_id=None, role="agent")
CUSTOMER = Actor(label="customer:1", role="customer")


def make_shop(session: Session, **channel_overrides: Any) -> tuple[Channel, Location]:
    """A channel served by one warehouse."""
    channel = make_channel(session, **channel_overrides)
    location = make_location(session, name="Warehouse East")
    link(session, channel, location)
    return channel, location


def make_delivered_order(
    session: Session,
    channel: Channel,
    location: Location,
    items: Sequence[tuple[Sku, int]],
    *,
    delivered_at: datetime | None = NOW - timedelta(days=3),
    shipped: bool = True,
    unit_price: int = 1000,
    discount_total: int = 0,
    shipping_total: int = 0,
    tax_per_line: int = 0,
    **overrides: Any,
) -> Order:
    """An order for (sku, quantity) items: stocked, allocated and shipped from `location` in one parcel,
    delivered at `delivered_at` (None: still in transit). `shipped=False` leaves it confirmed, not sent.

    Money: each line unit_price x quantity (+ tax_per_line); the order total is the lines less
    discount_total plus shipping_total plus tax.
    """
    subtotal = sum(unit_price * qty for _sku, qty in items)
    tax = tax_per_line * len(items)
    placed_at = (delivered_at or NOW) - timedelta(days=5)
    order = make_order(
        session,
        lines=0,
        channel_id=channel.id,
        placed_at=placed_at,
        email="buyer@example.org",
        subtotal=subtotal,
        discount_total=discount_total,
        shipping_total=shipping_total,
        tax_total=tax,
        total=subtotal - discount_total + shipping_total + tax,
        **overrides,
    )
    for i, (sku, qty) in enumerate(items, start=1):
        make_stock(session, location, sku.id, qty)
        session.add(
            OrderLine(
                order_id=order.id,
                line_no=i,
                sku_id=sku.id,
                title=sku.title,
                quantity=qty,
                unit_price=unit_price,
                tax=tax_per_line,
                total=unit_price * qty,
            )
        )
    session.flush()
    session.refresh(order)
    actor = "test"
    allocate_order(session, order, actor=actor, now=placed_at)
    assert order.status == OrderStatus.CONFIRMED
    if not shipped:
        return order
    shipped_at = placed_at + timedelta(days=1)
    shipment = Shipment(
        order_id=order.id,
        location_id=location.id,
        carrier="UPS",
        tracking_number=f"1Z{order.id:08d}",
        status="delivered" if delivered_at else "in_transit",
        shipped_at=shipped_at,
        delivered_at=delivered_at,
    )
    session.add(shipment)
    session.flush()
    allocations = session.execute(
        select(Allocation, OrderLine)
        .join(OrderLine, OrderLine.id == Allocation.order_line_id)
        .where(OrderLine.order_id == order.id)
    ).all()
    for allocation, line in allocations:
        ship_reserved(
            session,
            allocation.location_id,
            line.sku_id,
            allocation.quantity,
            order_id=order.id,
            actor=actor,
            now=shipped_at,
        )
        allocation.status = "shipped"
        line.quantity_shipped += allocation.quantity
        session.add(
            ShipmentLine(shipment_id=shipment.id, order_line_id=line.id, quantity=allocation.quantity)
        )
    change_order_status(session, order, OrderStatus.SHIPPED, actor=actor, now=shipped_at, why="shipped")
    if delivered_at is not None:
        change_order_status(
            session, order, OrderStatus.DELIVERED, actor=actor, now=delivered_at, why="delivered"
        )
    session.flush()
    return order
