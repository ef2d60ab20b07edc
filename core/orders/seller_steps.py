"""What staff must do by hand in a channel's own seller screens when Crossdock cannot tell the channel itself:
cancelling an order there, and issuing a refund a marketplace pays out (Amazon and eBay take the buyer's
money and give it back; we only record it). Pure text, per channel kind; no database."""

from __future__ import annotations

# Channel kinds whose adapter has a hook that tells the channel an order was cancelled. None has one yet:
# the channel learns the released stock (stock pushes), but the order itself is cancelled there by hand.
CANCEL_HOOK = "send_cancellation"

_CANCEL_STEPS: dict[str, tuple[str, ...]] = {
    "amazon": (
        "Sign in to Seller Central and open Orders > Manage Orders.",
        "Search for the Amazon order {ref}.",
        "Choose Cancel order, pick the reason 'Buyer canceled' (or 'No inventory'), and submit.",
    ),
    "ebay": (
        "Open Seller Hub > Orders and search for the eBay order {ref}.",
        "Under More actions choose Cancel order, pick 'Buyer asked to cancel' (or 'Out of stock'), confirm.",
        "eBay refunds the buyer itself once the cancellation goes through.",
    ),
    "shopify": (
        "Open the Shopify admin > Orders and search for {ref}.",
        "Choose More actions > Cancel order; leave 'Restock items' off (Crossdock has released the stock).",
        "Refund there only if no refund was recorded in Crossdock; untick 'Send a notification'.",
    ),
    "woocommerce": (
        "Open WooCommerce > Orders and open order {ref}.",
        "Set the status to Cancelled and click Update.",
    ),
    "square": (
        "Open the Square Dashboard > Orders and find order {ref}.",
        "Choose Cancel order (a paid order: Issue refund first if no refund was recorded in Crossdock).",
    ),
}

_REFUND_STEPS: dict[str, tuple[str, ...]] = {
    "amazon": (
        "Sign in to Seller Central and open Orders > Manage Orders.",
        "Search for the Amazon order {ref} and choose Refund order.",
        "Pick the refund reason '{reason_hint}' and enter {amount} for the items and shipping below.",
        "Submit: Amazon pays the buyer back and emails them; the refund is already recorded here.",
    ),
    "ebay": (
        "Open Seller Hub > Orders and search for the eBay order {ref}.",
        "Under More actions choose Send refund.",
        "Refund {amount} for the items and shipping listed below, with the reason '{reason_hint}'.",
        "Confirm: eBay pays the buyer back and emails them; the refund is already recorded here.",
    ),
}
_GENERIC_REFUND_STEPS = (
    "Open the order {ref} in the channel's seller screens.",
    "Issue a refund of {amount} for the items and shipping listed below, reason '{reason_hint}'.",
    "The channel pays the buyer back; the refund is already recorded here.",
)


def cancel_steps(kind: str, reference: str) -> list[str]:
    """The steps to cancel order `reference` in the channel's own screens; empty for our own web shop and
    point-of-sale imports, where there is nothing to cancel elsewhere."""
    return [step.format(ref=reference) for step in _CANCEL_STEPS.get(kind, ())]


def marketplace_refund_steps(kind: str, reference: str, amount: str, reason: str) -> list[str]:
    """The exact steps to pay out a refund recorded here in the marketplace's seller UI."""
    steps = _REFUND_STEPS.get(kind, _GENERIC_REFUND_STEPS)
    hint = reason.strip() or "Customer return"
    return [step.format(ref=reference, amount=amount, reason_hint=hint) for step in steps]
