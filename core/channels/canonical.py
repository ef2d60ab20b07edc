"""The canonical order: what every channel adapter produces from its native payload.

Adapters are pure: a native dict in, these frozen dataclasses out, no database. Money is integer minor
units in the order's currency; times are timezone-aware.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum


class ChannelStatus(StrEnum):
    """The order's state as the channel reports it, reduced to what intake acts on."""

    PENDING = "pending"  # placed, not yet paid / authorised
    PAID = "paid"  # paid or authorised; ready to fulfil
    SHIPPED = "shipped"  # the channel reports it shipped (by us earlier, or by the channel itself)
    CANCELLED = "cancelled"
    REFUNDED = "refunded"  # fully refunded


@dataclass(frozen=True)
class CanonicalAddress:
    name: str | None = None
    company: str | None = None
    line1: str | None = None
    line2: str | None = None
    city: str | None = None
    region: str | None = None
    postal_code: str | None = None
    country: str | None = None  # ISO 3166-1 alpha-2, upper case
    phone: str | None = None


@dataclass(frozen=True)
class CanonicalBuyer:
    name: str | None = None
    email: str | None = None  # lower-cased; None when the channel withholds it
    phone: str | None = None
    external_id: str | None = None  # the channel's own customer/buyer id, when it has one
    email_is_relay: bool = False  # a marketplace relay address (e.g. ...@marketplace.amazon.com)


@dataclass(frozen=True)
class CanonicalLine:
    external_id: str | None  # the channel's line-item id
    channel_sku: str | None  # the seller SKU as the channel knows it (mapped to our SKU through listings)
    title: str
    quantity: int
    unit_price: int  # minor units, before discounts, excluding tax where the channel separates it
    discount: int = 0  # minor units, for the whole line
    tax: int = 0  # minor units, for the whole line
    total: int = 0  # minor units: unit_price * quantity - discount


@dataclass(frozen=True)
class CanonicalShipment:
    carrier: str | None
    tracking_number: str | None
    shipped_at: datetime | None = None


@dataclass(frozen=True)
class CanonicalReturnLine:
    """A line handed back (e.g. a POS in-store return): channel SKU, quantity and amount refunded."""

    external_id: str | None
    channel_sku: str | None
    title: str
    quantity: int
    amount: int  # minor units refunded for this line


@dataclass(frozen=True)
class CanonicalOrder:
    channel_kind: (
        str  # the adapter that produced it: shopify, amazon, ebay, woocommerce, square, pos_csv, webshop
    )
    external_id: str  # the channel's own id for the order, the one its API fetches it by
    number: str | None  # the number the channel shows the buyer (Shopify "#1001", Woo "727"), if different
    placed_at: datetime  # aware, in the zone the channel gave
    updated_at: datetime | None  # the channel's last-modified time: newer updates win, older are ignored
    currency: str  # ISO 4217
    status: ChannelStatus
    raw_status: str  # the channel's own status words, for the timeline and support
    buyer: CanonicalBuyer
    billing_address: CanonicalAddress | None
    shipping_address: CanonicalAddress | None
    lines: tuple[CanonicalLine, ...]
    shipping_method: str | None  # the channel's shipping service/level label or code
    subtotal: int
    discount_total: int
    shipping_total: int
    tax_total: int
    total: int
    fulfilled_by_channel: bool = False  # e.g. Amazon FBA/AFN: never allocated from our stock
    refunded_total: int = 0
    shipments: tuple[CanonicalShipment, ...] = ()
    returns: tuple[CanonicalReturnLine, ...] = ()
    source: str | None = None  # sub-channel inside the channel, e.g. Shopify source_name "instagram"
    note: str | None = None
    warnings: tuple[str, ...] = field(
        default=()
    )  # things intake must hold the order for (missing address, ...)
