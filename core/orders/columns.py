"""The canonical order as row values: the one description of the columns a channel decides, written by the
intake both when it creates an order and when it updates one (a new column is added here, and only here)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from core.channels.canonical import CanonicalAddress, CanonicalCharge, CanonicalOrder


def order_columns(canonical: CanonicalOrder) -> dict[str, Any]:
    """The order row's columns that come from the channel, as stored (truncated to the columns' lengths)."""
    placed = {}
    if canonical.placed_at is not None:  # else the order keeps the time we hold (on create: received)
        offset = canonical.placed_at.utcoffset()
        placed = {
            "placed_at": canonical.placed_at,
            "placed_at_offset_minutes": int(offset.total_seconds() // 60) if offset else 0,
        }
    return {
        "channel_number": canonical.number,
        "channel_status": canonical.raw_status[:64],
        "channel_state": canonical.status.value,
        "hold_warnings": list(canonical.warnings),
        "email": canonical.buyer.email,
        "phone": canonical.buyer.phone,
        "buyer_name": (canonical.buyer.name or "")[:200],
        **placed,
        "channel_updated_at": canonical.updated_at,
        "currency": canonical.currency,
        "subtotal": canonical.subtotal,
        "discount_total": canonical.discount_total,
        "shipping_total": canonical.shipping_total,
        "tax_total": canonical.tax_total,
        "total": canonical.total,
        "billing_address": address_value(canonical.billing_address),
        "shipping_address": address_value(canonical.shipping_address),
        "refunded_total": canonical.refunded_total,
        "charges": [charge_value(charge) for charge in canonical.charges],
        "taxes_included": canonical.taxes_included,
        "shipping_method": (canonical.shipping_method or None) and canonical.shipping_method[:100],
        "fulfilled_by_channel": canonical.fulfilled_by_channel,
        "source": canonical.source,
        "note": canonical.note,
    }


def line_columns(canonical: CanonicalOrder, mapping: dict[str, int]) -> list[dict[str, Any]]:
    """The columns of the order's lines, numbered from 1; `sku_id` is ours where the channel SKU is listed
    (`mapping`: channel SKU -> SKU id), every other column comes from the channel."""
    return [
        {
            "line_no": index,
            "external_id": line.external_id,
            "channel_sku": line.channel_sku,
            "sku_id": mapping.get(line.channel_sku) if line.channel_sku else None,
            "title": (line.title or line.channel_sku or "Item")[:300],
            "quantity": line.quantity,
            "unit_price": line.unit_price,
            "discount": line.discount,
            "tax": line.tax,
            "total": line.total,
            "quantity_removed": line.removed_quantity,
        }
        for index, line in enumerate(canonical.lines, start=1)
    ]


def lines_differ(stored: Sequence[Any], lines: Sequence[dict[str, Any]]) -> bool:
    """Whether the stored lines differ from `lines` (line_columns) in any column from the channel.

    `sku_id` is not compared: it follows from the listings (a held order's lines are mapped when a listing
    is added), not from the channel."""
    if len(stored) != len(lines):
        return True
    return any(
        getattr(line, name) != value
        for line, wanted in zip(stored, lines, strict=True)
        for name, value in wanted.items()
        if name != "sku_id"
    )


def address_value(address: CanonicalAddress | None) -> dict[str, Any] | None:
    """An address as its JSON column holds it: the parts given."""
    # vars(), not asdict(): the fields are plain strings, and asdict deep-copies each one
    return None if address is None else {k: v for k, v in vars(address).items() if v is not None}


def charge_value(charge: CanonicalCharge) -> dict[str, Any]:
    """A charge as the order's `charges` JSON column holds it."""
    return {"kind": charge.kind, "title": charge.title[:200], "amount": charge.amount, "tax": charge.tax}
