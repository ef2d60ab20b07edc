"""Fulfilment in the demo: which location ships which lines, when parcels leave, and each parcel with its
carrier, a valid-looking tracking number and the carrier's tracking events."""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from typing import Any

from core.demo.context import SeedContext
from core.demo.data.orders import CARRIER_HUBS, CARRIER_WORDS, DELIVERY_SPOTS, TRACKING_URLS, UPS_SHIPPERS
from core.demo.records import Channel, Line, Location
from core.demo.reference import Reference


def business_days(moment: datetime, days: int) -> datetime:
    """`moment` moved forward by `days` weekdays (a weekend start counts from Monday)."""
    while moment.weekday() >= 5:
        moment += timedelta(days=1)
    while days > 0:
        moment += timedelta(days=1)
        if moment.weekday() < 5:
            days -= 1
    return moment


def end_of_day(moment: datetime) -> datetime:
    return moment.replace(hour=23, minute=59, second=0)


def _ups_number(rng: random.Random, shipper: str, service: str) -> str:
    body = f"{shipper}{service}{rng.randrange(10**7):07d}"
    total = sum((int(c) if c.isdigit() else (ord(c) - 63) % 10) * (1 + i % 2) for i, c in enumerate(body))
    return f"1Z{body}{(10 - total % 10) % 10}"


def _usps_number(rng: random.Random) -> str:
    body = f"94001{rng.randrange(10**16):016d}"
    total = sum(int(c) * (3 if i % 2 == 0 else 1) for i, c in enumerate(reversed(body)))
    return f"{body}{(10 - total % 10) % 10}"


def _fedex_number(rng: random.Random) -> str:
    body = f"{rng.randrange(10**10, 10**11):011d}"
    total = sum(int(c) * (1, 3, 7)[i % 3] for i, c in enumerate(reversed(body)))
    return f"{body}{total % 11 % 10}"


def _dhl_number(rng: random.Random) -> str:
    body = rng.randrange(10**8, 10**9)
    return f"{body}{body % 7}"


class Parcels:
    """Allocation groups, ship times, and the shipments with their lines and tracking events."""

    def __init__(self, ctx: SeedContext, ref: Reference) -> None:
        self.rng = ctx.rng
        self.now = ctx.now
        self.add = ctx.add
        self.next_id = ctx.next_id
        self.locations = ref.locations
        self.carried = ref.carried

    def plan_groups(
        self, ch: Channel, state: str | None, country: str, lines: list[Line], split: bool
    ) -> list[tuple[Location, list[Line], str]]:
        """Which location ships which lines, and why (the default allocation rule, in short)."""
        if ch.kind == "square":
            return [(self.locations["STORE-DT"], lines, "Downtown Store: sold at the counter")]
        region = f"{country}-{state}" if state else country
        drop = [line for line in lines if line.sku.dropship]
        rest = [line for line in lines if not line.sku.dropship]
        groups: list[tuple[Location, list[Line], str]] = []

        def carries(loc: Location, some: list[Line]) -> bool:
            return all((loc.id, line.sku.id) in self.carried for line in some)

        if rest:
            n = len(rest)
            regional = next((loc for loc in ch.ship_from if region in loc.regions), None)
            if regional is not None and carries(regional, rest):
                first, reason = regional, f"{regional.name}: serves {region}, priority {regional.priority}"
            else:
                first = next(loc for loc in ch.ship_from if carries(loc, rest))
                every = "the line" if n == 1 else f"all {n} lines"
                reason = (
                    f"{first.name}: only location with {every} in stock"
                    if regional is not None
                    else f"{first.name}: {every} in stock, priority {first.priority}"
                )
            if split and n >= 2:
                second = self.locations["WH-WEST" if first.code == "WH-EAST" else "WH-EAST"]
                moved = [line for line in rest[1:] if carries(second, [line])][-1:]
                kept = [line for line in rest if line not in moved]
                groups.append((first, kept, f"split: {first.name} had {len(kept)} of {n} lines"))
                groups.append((second, moved, f"split: {second.name} had the remaining line"))
            else:
                groups.append((first, rest, reason))
        if drop:
            supplier = self.locations["DS-ACME"]
            groups.append((supplier, drop, f"{supplier.name}: drop-ship supplier of this SKU"))
        return groups

    def ship_time(self, confirmed: datetime, kind: str, index: int) -> datetime:
        low, high = {"3pl": (8, 40), "dropship": (24, 72), "amazon": (4, 30)}.get(kind, (2, 26))
        moment = confirmed + timedelta(
            seconds=round(3600 * (self.rng.uniform(low, high) + index * self.rng.uniform(0, 10)))
        )
        if kind != "amazon" and moment.weekday() >= 5:  # our docks are closed at weekends
            moment += timedelta(days=7 - moment.weekday())
        return moment

    def _carrier(self, order: dict[str, Any], loc: Location | None) -> tuple[str, str]:
        rng = self.rng
        if loc is None:
            return "Amazon Logistics", f"TBA{rng.randrange(10**11, 10**12)}"
        if order["country"] == "CA":
            carrier = rng.choices(["DHL", "UPS"], [6, 4])[0]
        elif order["fast"]:
            carrier = rng.choices(["UPS", "FedEx"], [6, 4])[0]
        elif order["ch"].kind == "ebay":
            carrier = rng.choices(["USPS", "UPS"], [6, 4])[0]
        elif loc.kind in ("3pl", "dropship"):
            carrier = rng.choices(["FedEx", "UPS"], [6, 4])[0]
        else:
            carrier = rng.choices(["UPS", "USPS", "FedEx"], [45, 40, 15])[0]
        if carrier == "UPS":
            return carrier, _ups_number(rng, UPS_SHIPPERS[loc.code], "02" if order["fast"] else "03")
        return carrier, {"USPS": _usps_number, "FedEx": _fedex_number, "DHL": _dhl_number}[carrier](rng)

    def write_shipment(
        self,
        order: dict[str, Any],
        loc: Location | None,
        lines: list[Line],
        shipped: datetime,
        arrives: datetime,
        *,
        delivered: bool,
        earliest: datetime,
    ) -> tuple[str, str, datetime]:
        """A parcel with its lines and 2-6 tracking events; returns (carrier, tracking, first estimate).

        `order` has the order's id, country, whether its option is fast, channel, option's business days
        (low, high) and destination (dest)."""
        rng = self.rng
        carrier, tracking = self._carrier(order, loc)
        shipment_id = self.next_id("shipments")
        first_from = business_days(shipped, max(order["low"], 1)).replace(hour=0, minute=0, second=0)
        first_to = end_of_day(business_days(shipped, max(order["high"], 1)))
        overdue = not delivered and arrives < self.now
        if overdue and rng.random() < 0.7:  # running late but still moving: it arrives after now
            arrives, overdue = self.now + timedelta(seconds=rng.randint(3 * 3600, 40 * 3600)), False
        words = CARRIER_WORDS[carrier]
        origin = loc.city if loc is not None else rng.choice(CARRIER_HUBS[carrier])
        dest = order["dest"] or {"city": "New York", "region": "NY"}
        here = f"{dest['city']}, {dest['region']}"
        label_at = max(earliest + timedelta(minutes=5), shipped - timedelta(seconds=rng.randint(1800, 14400)))
        points = [
            ("info_received", label_at, words["info_received"], origin),
            ("in_transit", shipped, words["in_transit"], origin),
        ]
        out_at = arrives - timedelta(seconds=rng.randint(7200, 21600))
        room = out_at - timedelta(days=1) > shipped + timedelta(hours=2)
        failed = delivered and rng.random() < 0.05 and room
        if not failed and rng.random() < 0.6:
            points.append(
                (
                    "in_transit",
                    shipped + (arrives - shipped) * rng.uniform(0.3, 0.6),
                    words["hub"],
                    rng.choice(CARRIER_HUBS[carrier]),
                )
            )
        out_at = min(max(points[-1][1] + timedelta(minutes=20), out_at), arrives - timedelta(minutes=1))
        if failed:
            tried = out_at - timedelta(days=1)
            points += [
                ("out_for_delivery", tried, words["out_for_delivery"], here),
                ("failed_attempt", tried + timedelta(hours=4), words["failed_attempt"], here),
            ]
        points.append(("out_for_delivery", out_at, words["out_for_delivery"], here))
        if delivered:
            spot = rng.choice(DELIVERY_SPOTS)
            points.append(("delivered", arrives, f"{words['delivered']}: {spot}", here))
        else:
            points = [point for point in points if point[1] < self.now]
        if overdue:  # stuck: the carrier reports a problem
            last = points[-1][1]
            points.append(
                (
                    "exception",
                    last + (self.now - last) * rng.uniform(0.3, 0.9),
                    words["exception"],
                    rng.choice(CARRIER_HUBS[carrier]),
                )
            )
        est_to = max(first_to, end_of_day(arrives if not overdue else self.now + timedelta(days=2)))
        notified = first_to + timedelta(hours=2) if est_to > first_to else None
        self.add(
            "shipments",
            {
                "id": shipment_id,
                "order_id": order["order_id"],
                "location_id": loc.id if loc is not None else None,
                "carrier": carrier,
                "tracking_number": tracking,
                "tracking_url": TRACKING_URLS[carrier].format(tracking),
                "status": points[-1][0],
                "packed_at": label_at,
                "shipped_at": shipped,
                "delivered_at": arrives if delivered else None,
                "estimated_from": first_from,
                "estimated_to": est_to,
                "first_estimated_from": first_from,
                "first_estimated_to": first_to,
                "delay_notified_at": notified if notified is not None and notified < self.now else None,
                "created_at": label_at,
            },
        )
        for line in lines:
            self.add(
                "shipment_lines",
                {
                    "id": self.next_id("shipment_lines"),
                    "shipment_id": shipment_id,
                    "order_line_id": line.id,
                    "quantity": line.qty,
                },
            )
        for n, (status, when, said, place) in enumerate(points):
            self.add(
                "tracking_events",
                {
                    "id": self.next_id("tracking_events"),
                    "shipment_id": shipment_id,
                    "status": status,
                    "carrier_status": said[:100],
                    "description": said,
                    "location": place,
                    "occurred_at": when,
                    "dedup_key": f"{n}:{status}:{int(when.timestamp())}",
                    "raw": {"carrier": carrier, "event": said},
                    "created_at": when,
                },
            )
        return carrier, tracking, first_to
