"""The business the demo runs: locations, channels with their shipping options, the catalog, each channel's
listings, and the opening stock of every carried (location, SKU)."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import timedelta

from core.demo.context import ALNUM, HISTORY_DAYS, Existing, SeedContext
from core.demo.data.reference import CHANNELS, LOCATIONS, PRODUCT_BLURBS, PRODUCTS, SHIPPING_OPTIONS
from core.demo.data.support import SLA_CHANNEL_OVERRIDES
from core.demo.records import Channel, Location, Sku
from core.demo.stock import Ledger, Level

_SIZE_CODES = {
    "Small": "SM",
    "Medium": "MD",
    "Large": "LG",
    "Twin": "TW",
    "Queen": "QN",
    "King": "KG",
    "Standard": "STD",
}


@dataclass
class Reference:
    locations: dict[str, Location]  # by code
    loc_by_id: dict[int, Location]
    channels: dict[str, Channel]  # by code
    skus: list[Sku]
    sku_by_id: dict[int, Sku]
    short_skus: set[int]  # stocked SKUs kept just above zero: the low-stock alerts and backorders
    carried: set[tuple[int, int]]  # (location id, SKU id) with a stock level
    both_warehouses: list[Sku]  # stocked in WH-EAST and WH-WEST: what a split order ends with
    channel_skus: dict[
        str, tuple[list[tuple[Sku, str]], list[float]]
    ]  # listed (SKU, channel SKU), cum weights


def build_reference(ctx: SeedContext, existing: Existing, ledger: Ledger) -> Reference:
    """Locations, channels, catalog, listings and opening stock (receipts into `ledger`)."""
    locations = _locations(ctx, existing)
    channels = _channels(ctx, existing, locations)
    skus, short_skus, carried = _catalog(ctx, existing, locations)
    west = locations["WH-WEST"].id
    ref = Reference(
        locations=locations,
        loc_by_id={loc.id: loc for loc in locations.values()},
        channels=channels,
        skus=skus,
        sku_by_id={sku.id: sku for sku in skus},
        short_skus=short_skus,
        carried=carried,
        both_warehouses=[
            s for s in skus if not s.dropship and (west, s.id) in carried and s.id not in short_skus
        ],
        channel_skus={},
    )
    _listings(ctx, existing, ref)
    _opening_stock(ctx, ledger, existing, ref)
    return ref


def _upc(item: int) -> str:
    body = f"08401{item:06d}"
    total = sum(int(c) * (3 if i % 2 == 0 else 1) for i, c in enumerate(body))
    return f"{body}{(10 - total % 10) % 10}"


def _code_part(label: str) -> str:
    """A colour or size as it appears in a SKU code: Navy -> NAV, Heather Grey -> HG, L/XL -> LXL."""
    words = label.replace("/", " ").split()
    if label in _SIZE_CODES:
        return _SIZE_CODES[label]
    if len(words) > 1 and not label[0].isdigit() and "/" not in label:
        return "".join(w[0] for w in words).upper()
    if label.isalpha() and len(label) > 3:
        return label[:3].upper()
    return "".join(ch for ch in label if ch.isalnum()).upper()


def _locations(ctx: SeedContext, existing: Existing) -> dict[str, Location]:
    locations: dict[str, Location] = {}
    for code, name, kind, method, regions, priority, email, address in LOCATIONS:
        loc_id = existing.locations.get(code) or ctx.next_id("locations")
        locations[code] = Location(loc_id, code, name, kind, regions, priority, address["city"])
        if code not in existing.locations:
            ctx.add(
                "locations",
                {
                    "id": loc_id,
                    "code": code,
                    "name": name,
                    "kind": kind,
                    "fulfillment_method": method,
                    "regions": regions,
                    "priority": priority,
                    "email": email,
                    "address": {"name": name, **address},
                    "active": True,
                    "created_at": ctx.ago(400),
                },
            )
    return locations


def _channels(ctx: SeedContext, existing: Existing, locations: dict[str, Location]) -> dict[str, Channel]:
    channels: dict[str, Channel] = {}
    for code, (
        name,
        kind,
        market,
        window,
        by_channel,
        instructions,
        buffer,
        locs,
        _source,
        _share,
    ) in CHANNELS.items():
        ch_id = existing.channels.get(code) or ctx.next_id("channels")
        shippers = [locations[c] for c in locs if locations[c].kind in ("warehouse", "3pl")]
        ship_from = sorted(shippers, key=lambda loc: loc.priority)
        channel = channels[code] = Channel(ch_id, code, name, kind, window, by_channel, ship_from)
        secret = f"{ctx.rng.getrandbits(256):064x}"
        if code not in existing.channels:
            ctx.add(
                "channels",
                {
                    "id": ch_id,
                    "code": code,
                    "name": name,
                    "kind": kind,
                    "sender_name": name,
                    "credentials": {},
                    "webhook_secret": secret,
                    "base_url": "https://shop.crossdock.example" if kind == "webshop" else None,
                    "poll_cursor": ctx.now - timedelta(minutes=4) if market else None,
                    "is_marketplace": market,
                    "return_window_days": window,
                    "returns_handled_by_channel": by_channel,
                    "return_instructions": instructions,
                    "stock_buffer_units": buffer[0],
                    "stock_buffer_percent": buffer[1],
                    "stock_floor": buffer[2],
                    "active": True,
                    "created_at": ctx.ago(365),
                },
            )
            if code in SLA_CHANNEL_OVERRIDES:
                minutes, round_the_clock = SLA_CHANNEL_OVERRIDES[code]
                ctx.add(
                    "sla_channel_overrides",
                    {
                        "channel_id": ch_id,
                        "first_response_minutes": minutes,
                        "resolution_minutes": None,
                        "round_the_clock": round_the_clock,
                    },
                )
        for loc_id in (locations[loc_code].id for loc_code in locs):
            if (ch_id, loc_id) not in existing.channel_locations:
                ctx.add("channel_locations", {"channel_id": ch_id, "location_id": loc_id})
        for opt_code, opt_name, price, low, high, dispatch, pickup in SHIPPING_OPTIONS[code]:
            opt_id = existing.options.get((ch_id, opt_code)) or ctx.next_id("shipping_options")
            if pickup:
                channel.pickup = (opt_id, opt_name)
            else:
                channel.options.append((opt_id, opt_code, opt_name, price, low, high, dispatch))
            if (ch_id, opt_code) not in existing.options:
                ctx.add(
                    "shipping_options",
                    {
                        "id": opt_id,
                        "channel_id": ch_id,
                        "code": opt_code,
                        "name": opt_name,
                        "price": price,
                        "currency": "USD",
                        "min_business_days": low,
                        "max_business_days": high,
                        "dispatch_business_days": dispatch,
                        "is_pickup": pickup,
                    },
                )
    return channels


def _catalog(
    ctx: SeedContext, existing: Existing, locations: dict[str, Location]
) -> tuple[list[Sku], set[int], set[tuple[int, int]]]:
    """Products and SKUs; returns the SKUs, the short ones, and which locations carry which SKU."""
    rng = ctx.rng
    skus: list[Sku] = []
    item = 0
    for prefix, title, brand, price, sizes, colours, flags in PRODUCTS:
        variants = [(c, s) for c in (colours or [None]) for s in (sizes or [None])]
        codes = [
            "-".join([prefix] + [_code_part(p) for p in (c, s and s.split(":")[0]) if p]) for c, s in variants
        ]
        product_id = next((existing.sku_products[c] for c in codes if c in existing.sku_products), None)
        if product_id is None:
            product_id = ctx.next_id("products")
            ctx.add(
                "products",
                {
                    "id": product_id,
                    "title": title,
                    "brand": brand,
                    "created_at": ctx.ago(380),
                    "description": f"{title} by {brand}. {PRODUCT_BLURBS[brand]}",
                },
            )
        for (colour, size), code in zip(variants, codes, strict=True):
            item += 1
            label, _, size_price = (size or "").partition(":")
            option = " / ".join(p for p in (colour, label) if p) or None
            unit = int(size_price) if size_price else price
            sku = Sku(
                existing.skus.get(code) or ctx.next_id("skus"),
                code,
                title,
                brand,
                option,
                unit,
                "final_sale" not in flags,
                "dropship" in flags,
                rng.randint(8, 25),
                rng.randint(40, 120),
            )
            skus.append(sku)
            if code not in existing.skus:
                ctx.add(
                    "skus",
                    {
                        "id": sku.id,
                        "product_id": product_id,
                        "code": code,
                        "title": sku.title,
                        "option": option,
                        "barcode": _upc(item),
                        "price": unit,
                        "currency": "USD",
                        "cost": unit * rng.randint(32, 48) // 100,
                        "weight_grams": (
                            rng.randint(60, 250) * 100 if sku.dropship else rng.randint(2, 60) * 50
                        ),
                        "returnable": sku.returnable,
                        "dropship_location_id": locations["DS-ACME"].id if sku.dropship else None,
                        "reorder_point": sku.reorder_point,
                        "reorder_quantity": sku.reorder_quantity,
                        "lead_time_days": rng.choice([5, 7, 10, 14, 21]),
                        "active": True,
                        "created_at": ctx.ago(380),
                    },
                )
    stocked = [sku for sku in skus if not sku.dropship]
    short_skus = {sku.id for sku in rng.sample(stocked, 6)}
    carried: set[tuple[int, int]] = set()
    for sku in skus:
        homes = (
            ["DS-ACME"]
            if sku.dropship
            else ["WH-EAST"]
            + [
                code
                for code, odds in (("WH-WEST", 0.85), ("3PL-CENTRAL", 0.3), ("STORE-DT", 0.4))
                if rng.random() < odds
            ]
        )
        carried.update((locations[code].id, sku.id) for code in homes)
    return skus, short_skus, carried


def _listings(ctx: SeedContext, existing: Existing, ref: Reference) -> None:
    """Each channel's SKUs: our code, Amazon seller SKUs, and the channel's own listing ids."""
    rng = ctx.rng
    rank = list(range(len(ref.skus)))
    rng.shuffle(rank)
    store = ref.locations["STORE-DT"].id
    ebay_items: dict[str, str] = {}
    shopify_variant, woo_id = 41_000_000_000_000 + rng.randrange(10**9), 1200
    for ch in ref.channels.values():
        listed: list[tuple[Sku, str]] = []
        weights: list[float] = []
        for sku, popularity in zip(ref.skus, rank, strict=True):
            if (ch.kind in ("amazon", "ebay") and sku.dropship) or (
                ch.kind == "square" and (store, sku.id) not in ref.carried
            ):
                continue
            channel_sku = f"AMZ-{sku.code}" if ch.kind == "amazon" else sku.code
            listing_id: str | None = None
            if ch.kind == "amazon":
                listing_id = "B0" + "".join(rng.choices(ALNUM, k=8))
            elif ch.kind == "ebay":
                item_id = f"{rng.choice('23')}{rng.randrange(10**11):011d}"
                listing_id = ebay_items.setdefault(sku.product, item_id)  # one listing per product
            elif ch.kind == "shopify":
                shopify_variant += rng.randint(1000, 900_000)
                listing_id = str(shopify_variant)
            elif ch.kind == "woocommerce":
                woo_id += rng.randint(1, 4)
                listing_id = str(woo_id)
            elif ch.kind == "square":
                listing_id = "".join(rng.choices(ALNUM, k=24))
            listed.append((sku, channel_sku))
            # A few best sellers, a long tail, and cheap things sell more often than furniture.
            weights.append((3000 / sku.price) ** 0.7 / (popularity + 6) ** 0.9)
            if (ch.id, channel_sku) not in existing.listings:
                ctx.add(
                    "listings",
                    {
                        "id": ctx.next_id("listings"),
                        "channel_id": ch.id,
                        "channel_sku": channel_sku,
                        "sku_id": sku.id,
                        "channel_listing_id": listing_id,
                        "active": True,
                        "created_at": ctx.ago(360),
                    },
                )
        ref.channel_skus[ch.code] = (listed, list(itertools.accumulate(weights)))


def _opening_stock(ctx: SeedContext, ledger: Ledger, existing: Existing, ref: Reference) -> None:
    """A level for every carried (location, SKU), each new one starting with a receipt."""
    rng = ctx.rng
    start = ctx.ago(HISTORY_DAYS + 5)
    for loc_id, sku_id in sorted(ref.carried):
        sku, kind = ref.sku_by_id[sku_id], ref.loc_by_id[loc_id].kind
        short = sku_id in ref.short_skus
        if kind == "store":
            rp, restock, override, qty = 3, 10, 3, rng.randint(6, 18)
        elif kind == "dropship":
            rp, restock, override, qty = 20, 200, None, rng.randint(150, 400)
        else:
            rp, restock, override = sku.reorder_point, sku.reorder_quantity, None
            qty = rng.randint(10, 30) if short else rng.randint(40, 160)
        level_id, on_hand, reserved = existing.levels.get((loc_id, sku_id), (None, 0, 0))
        level = Level(level_id, on_hand, reserved, rp, restock, short, override, start)
        ledger.stock[(loc_id, sku_id)] = level
        if level_id is not None:
            continue
        ledger.receive(
            loc_id,
            sku_id,
            qty,
            start,
            "Supplier stock feed" if kind == "dropship" else "Opening stock count",
        )
