"""Factories for stock tests: locations, stock received through the real service, channel-location links."""

from __future__ import annotations

import itertools
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from core.channels.models import Channel, channel_locations
from core.inventory.allocations import receive_stock
from core.inventory.models import Location, StockLevel
from core.notifications.models import OutboxMessage
from core.orders.models import Order, OrderLine
from tests.factories import NOW, make_order

_seq = itertools.count(1)


def make_location(session: Session, **overrides: Any) -> Location:
    n = next(_seq)
    fields = {
        "code": f"LOC-{n}",
        "name": f"Location {n}",
        "kind": "warehouse",
        "fulfillment_method": "in_house",
        "regions": [],
        "priority": 100,
    }
    location = Location(**(fields | overrides))
    session.add(location)
    session.flush()
    return location


def link(session: Session, channel: Channel, *locations: Location) -> None:
    """Make the locations serve the channel."""
    session.execute(
        insert(channel_locations), [{"channel_id": channel.id, "location_id": loc.id} for loc in locations]
    )
    session.flush()


def make_stock(session: Session, location: Location, sku_id: int, on_hand: int) -> None:
    """Receive `on_hand` units through the ledger, as a real receipt would."""
    receive_stock(session, location.id, sku_id, on_hand, actor="test", now=NOW, reference="initial stock")


def level(session: Session, location_id: int, sku_id: int) -> tuple[int, int]:
    """(on_hand, reserved) straight from the database."""
    row = session.execute(
        select(StockLevel.on_hand, StockLevel.reserved).where(
            StockLevel.location_id == location_id, StockLevel.sku_id == sku_id
        )
    ).first()
    return (row.on_hand, row.reserved) if row else (0, 0)


def make_order_for(
    session: Session, channel: Channel, items: list[tuple[int, int]], **overrides: Any
) -> Order:
    """An order on the channel with one line per (sku_id, quantity)."""
    order = make_order(session, lines=0, channel_id=channel.id, **overrides)
    for i, (sku_id, quantity) in enumerate(items, start=1):
        session.add(
            OrderLine(
                order_id=order.id,
                line_no=i,
                sku_id=sku_id,
                title=f"Item {i}",
                quantity=quantity,
                unit_price=1000,
                total=1000 * quantity,
            )
        )
    session.flush()
    session.refresh(order)
    return order


def pushes(session: Session, channel_id: int, sku_id: int) -> list[OutboxMessage]:
    """The coalesced stock push of (channel, SKU), while it is armed."""
    return list(
        session.scalars(
            select(OutboxMessage).where(OutboxMessage.dedup_key == f"stock:{channel_id}:{sku_id}:pending")
        )
    )
