"""Ids in each channel's own shape: order numbers, buyer ids, order line ids, and the line titles channels
show. Never repeats an order id a channel already has."""

from __future__ import annotations

import hashlib
from collections import Counter

from core.demo.context import ALNUM, BASE62, Existing, SeedContext
from core.demo.records import Channel, Line, Person, Sku


class ChannelIds:
    """Channel-native ids, from the seeded random generator and running numbers per channel."""

    def __init__(self, ctx: SeedContext, existing: Existing) -> None:
        self.rng = ctx.rng
        self.counters: Counter[str] = Counter()
        self.external_ids = existing.external_ids

    def order_id(self, ch: Channel, country: str) -> tuple[str, str | None]:
        """The channel's own order id in its usual shape, and the number it shows the buyer if different."""
        rng = self.rng
        while True:
            number = None
            if ch.kind == "amazon":
                prefix = rng.choice(("701", "702") if country == "CA" else ("111", "112", "113", "114"))
                external = f"{prefix}-{rng.randrange(10**7):07d}-{rng.randrange(10**7):07d}"
            elif ch.kind == "ebay":
                external = f"{rng.randint(10, 27):02d}-{rng.randrange(10**5):05d}-{rng.randrange(10**5):05d}"
            elif ch.kind == "shopify":  # Instagram orders come through the same Shopify store
                self.counters["shopify"] += 1
                external = str(5_600_000_000_000 + self.counters["shopify"] * 104_729 + rng.randrange(1000))
                number = f"#{1000 + self.counters['shopify']}"
            elif ch.kind == "woocommerce":
                self.counters["woocommerce"] += rng.randint(1, 3)
                external = number = str(20_000 + self.counters["woocommerce"])
            elif ch.kind == "square":
                external = "".join(rng.choices(BASE62, k=24))
                number = external[:4].upper()
            else:
                self.counters[ch.kind] += 1
                external = str(100_000 + self.counters[ch.kind])
            if (ch.id, external) not in self.external_ids:
                self.external_ids.add((ch.id, external))
                return external, number

    def buyer_id(self, ch: Channel, person: Person) -> str:
        rng = self.rng
        if ch.kind == "shopify":
            return str(7_100_000_000_000 + rng.randrange(10**12))
        if ch.kind == "amazon":
            return "A" + "".join(rng.choices(ALNUM, k=13))
        if ch.kind == "ebay":
            family = "".join(c for c in person.last if c.isalnum())
            return f"{person.first[0]}{family}_{rng.randint(1, 999)}".lower()
        if ch.kind == "square":
            return "".join(rng.choices(ALNUM, k=26))
        self.counters[f"buyer:{ch.code}"] += 1
        return str(1000 + self.counters[f"buyer:{ch.code}"] * 3)


def line_title(ch: Channel, sku: Sku) -> str:
    if ch.kind == "amazon":
        option = f", {sku.option.replace(' / ', ', ')}" if sku.option else ""
        return f"{sku.brand} {sku.product}{option}"
    return sku.title


def line_external_id(ch: Channel, order_id: int, line: Line) -> str:
    ids = {
        "amazon": f"{30_000_000_000_000 + line.id * 7919:014d}",
        "shopify": str(13_500_000_000_000 + line.id * 37),
        "ebay": str(10_000_000_000 + line.id * 13),
        "woocommerce": str(50_000 + line.id),
        "square": hashlib.sha256(f"{order_id}:{line.line_no}".encode()).hexdigest()[:22].upper(),
    }
    return ids.get(ch.kind, f"{order_id}-{line.line_no}")
