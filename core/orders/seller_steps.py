"""What staff must do by hand in a channel's own seller screens when Crossdock cannot tell the channel itself:
cancelling an order there, and giving back the money of a refund recorded here (a marketplace such as Amazon
or eBay holds the buyer's money and pays it out; a shop's payment is refunded in its admin). Pure text, per
channel kind; no database."""

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
        "Pick the refund reason '{reason_hint}' and enter {amount} ({what}).",
        "Submit: Amazon pays the buyer back and emails them; the refund is already recorded here.",
    ),
    "ebay": (
        "Open Seller Hub > Orders and search for the eBay order {ref}.",
        "Under More actions choose Send refund.",
        "Refund {amount} ({what}) with the reason '{reason_hint}'.",
        "Confirm: eBay pays the buyer back and emails them; the refund is already recorded here.",
    ),
    "shopify": (
        "Open the Shopify admin > Orders, open {ref} and choose Refund.",
        "Enter {amount} ({what}), reason '{reason_hint}'; untick 'Send a notification' (we emailed them).",
        "Click Refund: Shopify returns the money through the original payment.",
    ),
    "woocommerce": (
        "Open WooCommerce > Orders, open order {ref} and click Refund.",
        "Enter {amount} ({what}) with the reason '{reason_hint}'.",
        "Click 'Refund via' the payment gateway (a manual refund only records it).",
    ),
    "square": (
        "Open the Square Dashboard > Transactions and find the payment for order {ref}.",
        "Choose Issue refund and enter {amount} ({what}), reason '{reason_hint}'.",
        "Confirm: Square returns the money to the card.",
    ),
}
# A marketplace of a kind with no steps above: the outline still holds.
_GENERIC_MARKETPLACE_STEPS = (
    "Open the order {ref} in the marketplace's seller screens.",
    "Issue a refund of {amount} ({what}), reason '{reason_hint}'.",
    "The marketplace pays the buyer back; the refund is already recorded here.",
)


def cancel_steps(kind: str, reference: str) -> list[str]:
    """The steps to cancel order `reference` in the channel's own screens; empty for our own web shop and
    point-of-sale imports, where there is nothing to cancel elsewhere."""
    return [step.format(ref=reference) for step in _CANCEL_STEPS.get(kind, ())]


def refund_steps(
    kind: str, reference: str, amount: str, what: str, reason: str, *, marketplace: bool
) -> list[str]:
    """The exact steps to give the money back in the channel's seller screens for a refund recorded here
    (Crossdock takes no payments): a marketplace pays it out, a shop's payment is refunded there; empty for
    our own web shop and till imports."""
    steps = _REFUND_STEPS.get(kind, _GENERIC_MARKETPLACE_STEPS if marketplace else ())
    hint = reason.strip() or "Customer return"
    return [step.format(ref=reference, amount=amount, what=what, reason_hint=hint) for step in steps]
