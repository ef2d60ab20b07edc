"""Every charge has a place: subtotal - discounts + shipping + tax + charges = total, for every order of every
channel, over the project's fixtures and the public samples in ../shared/data/channels.

A folder's documents are read together, as one `crossdock import` call would (Amazon getOrderItems join their
orders, BigCommerce products and shipping addresses theirs). An order whose lines the channel has not given
yet can't add up: it must be held for them (a "not fetched" warning) instead."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.channels.canonical import CanonicalOrder, expected_total, totals_difference
from core.channels.registry import ADAPTERS, get_adapter
from tests.conftest import SHARED_DATA
from tests.fixtures import CHANNELS

SHARED_CHANNELS = SHARED_DATA / "channels"


def _folders(root: Path) -> list[Path]:
    if not root.is_dir():
        return []
    return sorted(p for p in root.iterdir() if p.is_dir() and p.name in ADAPTERS)


def _documents(folder: Path) -> list[str]:
    return [p.read_text(encoding="utf-8") for p in sorted(folder.iterdir()) if p.suffix in (".json", ".csv")]


def _orders(folder: Path) -> list[CanonicalOrder]:
    extracted = get_adapter(folder.name).extract(_documents(folder))
    return [item.order for item in extracted if item.order is not None]


def _check(folder: Path) -> dict[str, str]:
    """Each order's external id -> what it needed to add up (its charge kinds, 'taxes included', or
    'lines not fetched'); fails on any order that does not add up."""
    orders = _orders(folder)
    assert orders, f"{folder} holds no order"
    needed: dict[str, str] = {}
    for order in orders:
        difference = totals_difference(order)
        if difference is None:
            assert any("not fetched" in w for w in order.warnings), (folder.name, order.external_id)
            needed[order.external_id] = "lines not fetched (held)"
            continue
        assert difference == 0, (
            f"{folder.name} {order.external_id}: total {order.total} != expected {expected_total(order)} "
            f"(subtotal {order.subtotal}, discounts {order.discount_total}, shipping {order.shipping_total}, "
            f"tax {order.tax_total}, charges {order.charges})"
        )
        parts = sorted({charge.kind for charge in order.charges})
        if order.taxes_included:
            parts.append("taxes included")
        if any(line.removed_quantity for line in order.lines):
            parts.append("removed units")
        needed[order.external_id] = ", ".join(parts) or "nothing extra"
    return needed


@pytest.mark.parametrize("folder", _folders(CHANNELS), ids=lambda p: p.name)
def test_every_fixture_order_adds_up(folder: Path) -> None:
    print(f"{folder.name}: {_check(folder)}")  # which fixture needed what, shown with -s


def test_every_fixture_channel_is_checked() -> None:
    assert {p.name for p in _folders(CHANNELS)} == set(ADAPTERS)


@pytest.mark.parametrize(
    "name", [p.name for p in _folders(SHARED_CHANNELS)] or ["(absent)"], ids=lambda name: name
)
def test_every_public_sample_order_adds_up(shared_data: Path, name: str) -> None:
    folder = shared_data / "channels" / name
    needed = _check(folder)
    print(f"{name}: {needed}")  # which sample needed what, shown with -s
