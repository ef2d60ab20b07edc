"""The canonical order: what every channel adapter produces from its native payload.

Adapters are pure: a native dict in, these frozen dataclasses out, no database. Money is integer minor
units in the order's currency; times are timezone-aware.

Every amount the channel charged has a place, so that for every order whose lines the channel gave

    total = subtotal - discount_total + shipping_total + tax_total + sum(charge.amount for charge in charges)

(`expected_total`; with `taxes_included` the tax is inside the prices and is not added again). `charges` holds
what is neither merchandise, discount, shipping nor tax: fees (WooCommerce fee lines, Shopify additional fees,
Amazon COD fees), tips, gift wrapping, service charges (Square's that are not shipping), handling, duties,
and units removed from lines after the order was placed (refunds or edits that the channel's total already
leaves out: a negative charge of kind "removed"; the line keeps the units it was bought with and says how many
were removed in `removed_quantity`). A channel's total that still does not add up is the channel's to explain:
`totals_difference` gives the gap (None while the lines are not fetched), and intake holds such an order.

Canonical JSON (`crossdock orders show --json`) carries, beside the totals, `charges [{kind, title, amount,
tax}]` (amounts as decimal strings), `charges_total`, `taxes_included`, and per line `removed_quantity`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any


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
    removed_quantity: int = 0  # of `quantity`, units removed after the order was placed (refund, edit)


class ChargeKind(StrEnum):
    """What a charge on top of merchandise, discounts, shipping and tax is for."""

    FEE = "fee"  # a fee the buyer paid: WooCommerce fee line, Shopify additional fee, COD fee
    TIP = "tip"
    GIFT_WRAP = "gift_wrap"
    SERVICE_CHARGE = "service_charge"  # e.g. a Square service charge on an order that is not shipped
    HANDLING = "handling"
    DUTY = "duty"  # import duties the buyer paid at checkout
    REMOVED = "removed"  # units taken off lines after the order was placed (negative)
    OTHER = "other"  # a charge the channel names but does not type


@dataclass(frozen=True)
class CanonicalCharge:
    """An amount the buyer was charged (or, negative, credited) outside the lines, shipping and tax."""

    kind: str  # a ChargeKind value
    title: str  # the channel's own words, e.g. "Gift wrap", "Tip", "Payment surcharge"
    amount: int  # minor units, excluding tax (tax on it is in the order's tax_total)
    tax: int = 0  # the tax on this charge, already counted in tax_total (shown, not added again)


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
    # aware, in the zone the channel gave; None when the payload lacks it (a list limited by a fields
    # filter): the order is held with a warning, and the time it was received stands in until the channel
    # sends the full order
    placed_at: datetime | None
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
    charges: tuple[CanonicalCharge, ...] = ()  # fees, tips, gift wrap, service charges, removed units ...
    taxes_included: bool = False  # prices and shipping already include tax_total (VAT-style channels)
    lines_complete: bool = True  # False while the channel's lines are still to be fetched (held meanwhile)


def _charge_amount(charge: Any) -> int:
    """A charge's amount, whether a CanonicalCharge or the dict an order row stores."""
    if isinstance(charge, dict):
        return int(charge.get("amount") or 0)
    return int(charge.amount)


def charges_total(order: Any) -> int:
    """The sum of an order's charges (a CanonicalOrder, or an order row with a `charges` JSON list)."""
    return sum(_charge_amount(charge) for charge in (getattr(order, "charges", None) or ()))


def expected_total(order: Any) -> int:
    """What the order's total should be from its parts: the one place the charges arithmetic lives.

    subtotal - discount_total + shipping_total + tax_total (unless taxes_included) + charges. Works on a
    CanonicalOrder and on a stored order row alike."""
    tax = 0 if getattr(order, "taxes_included", False) else order.tax_total
    return order.subtotal - order.discount_total + order.shipping_total + tax + charges_total(order)


def totals_difference(order: Any) -> int | None:
    """total - expected_total(order): 0 when every charge has a place; None while lines are not fetched."""
    if not getattr(order, "lines_complete", True):
        return None
    return order.total - expected_total(order)
