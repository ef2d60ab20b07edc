"""The channel adapters by kind: the one place that knows which module reads which channel.

What else a channel does (take stock pushes and shipment confirmations, be polled, sign webhooks) follows from
the optional hooks its module defines (see base.ChannelAdapter), looked up here by name: registering a module
is all a new channel needs."""

from __future__ import annotations

from typing import Any

from core.channels import (
    amazon,
    bigcommerce,
    ebay,
    pos_csv,
    shopify,
    square,
    walmart,
    webshop,
    woocommerce,
)
from core.channels.base import ChannelAdapter
from core.errors import PayloadError

ADAPTERS: dict[str, ChannelAdapter] = {
    module.KIND: module  # type: ignore[misc]
    for module in (shopify, amazon, ebay, woocommerce, square, pos_csv, webshop, walmart, bigcommerce)
}


def get_adapter(kind: str) -> ChannelAdapter:
    """The adapter for a channel kind; PayloadError for a kind no adapter reads."""
    try:
        return ADAPTERS[kind]
    except (KeyError, TypeError):
        raise PayloadError(
            f"unknown channel kind {kind!r}; known kinds: {', '.join(sorted(ADAPTERS))}"
        ) from None


def hook(kind: str, name: str) -> Any:
    """The optional hook `name` of a kind's adapter; None when it has none or no adapter reads the kind."""
    try:
        return getattr(get_adapter(kind), name, None)
    except PayloadError:
        return None


def kinds_with(name: str) -> list[str]:
    """The channel kinds whose adapter has the optional hook `name`, sorted."""
    return sorted(kind for kind, adapter in ADAPTERS.items() if getattr(adapter, name, None) is not None)
