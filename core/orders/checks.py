"""Pure checks on a canonical order before intake writes it: amounts in range (else PayloadError, nothing
written) and totals that agree with the order's own figures (else a hold warning that states them)."""

from __future__ import annotations

from core.channels.canonical import CanonicalOrder, charges_total, expected_total, totals_difference
from core.errors import PayloadError
from core.money import exponent, to_decimal_string

MAX_QUANTITY = 1_000_000  # units of one line
MAX_AMOUNT = 1_000_000_000  # minor units of any one amount (10 million in a two-decimal currency)
MAX_LINES = 2_000
TOTALS_TOLERANCE_PERCENT = 1


def check_ranges(order: CanonicalOrder) -> None:
    """PayloadError naming the first amount or quantity outside what an order can hold."""
    if len(order.lines) > MAX_LINES:
        raise PayloadError(f"an order has at most {MAX_LINES} lines, this one has {len(order.lines)}")
    amounts = {
        "subtotal": order.subtotal,
        "discount_total": order.discount_total,
        "shipping_total": order.shipping_total,
        "tax_total": order.tax_total,
        "total": order.total,
        "refunded_total": order.refunded_total,
    }
    for number, line in enumerate(order.lines, start=1):
        if not 0 <= line.quantity <= MAX_QUANTITY:
            raise PayloadError(f"line {number}: quantity {line.quantity} is outside 0 to {MAX_QUANTITY:,}")
        amounts.update(
            {
                f"line {number} unit_price": line.unit_price,
                f"line {number} discount": line.discount,
                f"line {number} tax": line.tax,
                f"line {number} total": line.total,
            }
        )
    for number, line in enumerate(order.returns, start=1):
        if not 0 <= line.quantity <= MAX_QUANTITY:
            raise PayloadError(f"return {number}: quantity {line.quantity} is outside 0 to {MAX_QUANTITY:,}")
        amounts[f"return {number} amount"] = line.amount
    for field, amount in amounts.items():
        if abs(amount) > MAX_AMOUNT:
            limit = to_decimal_string(MAX_AMOUNT, order.currency)
            raise PayloadError(
                f"{field}: {_shown(amount, order.currency)} is beyond ±{limit} {order.currency}"
            )


def totals_warning(order: CanonicalOrder) -> str | None:
    """A hold warning when the total is off from its parts (core.channels.canonical.expected_total:
    subtotal - discounts + shipping + tax + charges, tax left out where prices include it) by more than 1 %
    and more than one major unit, read either way about tax (a channel may not say whether its prices include
    it); None when it agrees, or while the order's lines are still to be fetched."""
    if totals_difference(order) is None:
        return None
    expected = expected_total(order)
    other_reading = expected + order.tax_total if order.taxes_included else expected - order.tax_total
    if not (_far(order.total, expected, order.currency) and _far(order.total, other_reading, order.currency)):
        return None
    shown = lambda amount: _shown(amount, order.currency)  # noqa: E731
    tax = "tax included" if order.taxes_included else f"tax {shown(order.tax_total)}"
    return (
        f"total {shown(order.total)} {order.currency} disagrees with subtotal {shown(order.subtotal)}"
        f" - discounts {shown(order.discount_total)} + shipping {shown(order.shipping_total)}"
        f" + {tax} + charges {shown(charges_total(order))} = {shown(expected)}"
    )


def _far(total: int, expected: int, currency: str) -> bool:
    gap = abs(total - expected)
    return gap > 10 ** exponent(currency) and gap * 100 > abs(expected) * TOTALS_TOLERANCE_PERCENT


def _shown(amount: int, currency: str) -> str:
    if abs(amount) < 10**20:
        return to_decimal_string(amount, currency)
    return f"a {len(str(abs(amount)))}-digit amount"
