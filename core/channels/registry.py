"""The channel adapters by kind: the one place that knows which module reads which channel."""

from __future__ import annotations

from core.channels import amazon, ebay, pos_csv, shopify, square, webshop, woocommerce
from core.channels.base import ChannelAdapter
from core.errors import PayloadError

ADAPTERS: dict[str, ChannelAdapter] = {
    module.KIND: module  # type: ignore[misc]
    for module in (shopify, amazon, ebay, woocommerce, square, pos_csv, webshop)
}


def get_adapter(kind: str) -> ChannelAdapter:
    """The adapter for a channel kind; PayloadError for a kind no adapter reads."""
    try:
        return ADAPTERS[kind]
    except (KeyError, TypeError):
        raise PayloadError(
            f"unknown channel kind {kind!r}; known kinds: {', '.join(sorted(ADAPTERS))}"
        ) from None
