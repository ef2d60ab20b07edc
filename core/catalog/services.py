"""Catalog writes: products, SKUs and the channel listings that map channel SKUs to ours."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.catalog.models import Listing, Product, Sku
from core.channels.canonical import CanonicalOrder
from core.channels.models import Channel
from core.errors import DomainError, NotFound


def add_listing(
    session: Session, channel: Channel, channel_sku: str, sku_code: str, *, now: datetime
) -> Listing:
    """Map a channel SKU to one of ours (the caller re-processes orders held for it)."""
    sku = session.scalar(select(Sku).where(Sku.code == sku_code))
    if sku is None:
        raise NotFound(f"unknown SKU {sku_code!r}")
    channel_sku = channel_sku.strip()
    if not channel_sku:
        raise DomainError("the channel SKU is empty")
    listing = session.scalar(
        select(Listing).where(Listing.channel_id == channel.id, Listing.channel_sku == channel_sku)
    )
    if listing is not None:
        listing.sku_id, listing.active = sku.id, True
        return listing
    listing = Listing(channel_id=channel.id, channel_sku=channel_sku, sku_id=sku.id, created_at=now)
    session.add(listing)
    session.flush()
    return listing


def create_missing_listings(
    session: Session, channel: Channel, orders: Iterable[CanonicalOrder], *, now: datetime
) -> list[Listing]:
    """First backfill: a product, SKU (code = channel SKU) and listing for every unmapped channel SKU."""
    wanted: dict[str, tuple[str, int, str]] = {}
    for order in orders:
        for line in order.lines:
            if line.channel_sku:
                wanted.setdefault(line.channel_sku, (line.title, line.unit_price, order.currency))
    if not wanted:
        return []
    mapped = set(
        session.scalars(
            select(Listing.channel_sku).where(
                Listing.channel_id == channel.id, Listing.channel_sku.in_(wanted)
            )
        )
    )
    created = []
    for channel_sku, (title, price, currency) in sorted(wanted.items()):
        if channel_sku in mapped:
            continue
        sku = session.scalar(select(Sku).where(Sku.code == channel_sku[:64]))
        if sku is None:
            product = Product(title=(title or channel_sku)[:200], created_at=now)
            session.add(product)
            session.flush()
            sku = Sku(
                product_id=product.id,
                code=channel_sku[:64],
                title=(title or channel_sku)[:200],
                price=price,
                currency=currency,
                created_at=now,
            )
            session.add(sku)
            session.flush()
        listing = Listing(channel_id=channel.id, channel_sku=channel_sku, sku_id=sku.id, created_at=now)
        session.add(listing)
        created.append(listing)
    session.flush()
    return created
