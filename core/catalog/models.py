"""Products, their SKUs (sellable variants) and the channel listings that map a channel's SKU to ours."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.db import Base, utcnow


class Product(Base):
    __tablename__ = "products"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    brand: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    skus: Mapped[list[Sku]] = relationship(back_populates="product", order_by="Sku.id")


class Sku(Base):
    """A sellable unit: one variant of a product. `code` is our SKU."""

    __tablename__ = "skus"

    id: Mapped[int] = mapped_column(primary_key=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"), index=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    title: Mapped[str] = mapped_column(String(200))
    option: Mapped[str | None] = mapped_column(String(100))  # e.g. "Size M / Blue"
    barcode: Mapped[str | None] = mapped_column(String(32))
    price: Mapped[int] = mapped_column(default=0)  # minor units
    currency: Mapped[str] = mapped_column(String(3), default="USD")
    cost: Mapped[int] = mapped_column(default=0)  # minor units, for stock valuation
    weight_grams: Mapped[int] = mapped_column(default=0)
    returnable: Mapped[bool] = mapped_column(default=True)
    dropship_location_id: Mapped[int | None] = mapped_column(ForeignKey("locations.id"))
    reorder_point: Mapped[int | None]
    reorder_quantity: Mapped[int | None]
    lead_time_days: Mapped[int] = mapped_column(default=7)
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    product: Mapped[Product] = relationship(back_populates="skus")


class Listing(Base):
    """A channel's SKU for one of ours: how an inbound order line finds our SKU."""

    __tablename__ = "listings"
    __table_args__ = (UniqueConstraint("channel_id", "channel_sku"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    channel_id: Mapped[int] = mapped_column(ForeignKey("channels.id"))
    channel_sku: Mapped[str] = mapped_column(String(128))
    sku_id: Mapped[int] = mapped_column(ForeignKey("skus.id"), index=True)
    channel_listing_id: Mapped[str | None] = mapped_column(
        String(128)
    )  # ASIN, eBay item id, Shopify variant id
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    sku: Mapped[Sku] = relationship()
