"""One order at a time, in placed-time order: its lines, totals, allocation, parcels, cancellation or
returns, ticket and timeline, with every stock movement. The milestones (confirmed, shipped, delivered,
returned ...) are timed from placement and squeezed to end before `now`."""

from __future__ import annotations

from collections import deque
from datetime import datetime, timedelta
from typing import Any

from core.demo.after_sales import AfterSales
from core.demo.channel_ids import ChannelIds, line_external_id, line_title
from core.demo.context import DAY, TICKET_ODDS, SeedContext, scaled_odds
from core.demo.data.orders import CHANNEL_STATUS, HOLD_REASONS, ORDER_NOTES, TAX_BASIS_POINTS, ZONE_MINUTES
from core.demo.data.reference import CHANNELS
from core.demo.people import People, compact
from core.demo.records import DELIVERED, RETURNED, SHIPPED, Channel, Line, Sku, Spec
from core.demo.reference import Reference
from core.demo.shipments import Parcels, business_days, end_of_day
from core.demo.stock import Ledger
from core.demo.support import Support
from core.money import to_decimal_string
from core.orders.events import CUSTOMER_VISIBLE_KINDS
from core.orders.services import format_order_number
from core.orders.status import OrderStatus, check_transition

S = OrderStatus


def _cad(minor: int) -> int:
    """A USD price in CAD, ending in .99."""
    return max(99, minor * 137 // 10000 * 100 + 99)


class OrderBuilder:
    """Builds each order of the plan into the current batch; `recent` keeps the last 40 orders built, for
    the inbound payloads and the outbox."""

    def __init__(
        self,
        ctx: SeedContext,
        ref: Reference,
        *,
        channel_ids: ChannelIds,
        ledger: Ledger,
        people: People,
        parcels: Parcels,
        after_sales: AfterSales,
        support: Support,
    ) -> None:
        self.ctx = ctx
        self.rng = ctx.rng
        self.now = ctx.now
        self.add = ctx.add
        self.next_id = ctx.next_id
        self.channel_ids = channel_ids
        self.ticket_odds = scaled_odds(ctx.n_orders, TICKET_ODDS)
        self.channels = ref.channels
        self.locations = ref.locations
        self.channel_skus = ref.channel_skus
        self.short_skus = ref.short_skus
        self.both_warehouses = ref.both_warehouses
        self.ledger = ledger
        self.people = people
        self.parcels = parcels
        self.after_sales = after_sales
        self.support = support
        self.recent: deque[dict[str, Any]] = deque(maxlen=40)

    def build_order(self, spec: Spec) -> None:
        """One order with its lines, allocations, shipments, returns, ticket, timeline and stock movements."""
        rng = self.rng
        ch = self.channels[spec.channel]
        order_id = self.next_id("orders")
        number = format_order_number(order_id)
        placed, status = spec.placed_at, spec.status
        pos = ch.kind == "square"
        identity_id = email = phone = address = None
        name = ""
        if spec.person is not None:
            identity_id, name, email, phone, address = self.people.identity(spec.person, ch, placed)
            spec.customer_id = spec.person.customers[ch.code]
        ship_to = None if pos or address is None else compact(address)
        country, region = (ship_to["country"], ship_to["region"]) if ship_to else ("US", "NY")
        currency = "CAD" if country == "CA" and ch.kind in ("amazon", "ebay") else "USD"
        external_id, channel_number = self.channel_ids.order_id(ch, country)
        lines = self._lines(ch, spec, currency)
        if pos:
            (option_id, option_name), option_code = ch.pickup, "in_store"
            price = low = high = dispatch = 0
        else:
            option_id, option_code, option_name, price, low, high, dispatch = rng.choices(
                ch.options, weights=[80, 15, 5][: len(ch.options)]
            )[0]

        subtotal = sum(line.total for line in lines)
        discount, code = 0, None
        if ch.kind in ("webshop", "shopify", "woocommerce") and rng.random() < 0.12:
            code, percent = rng.choice([("WELCOME10", 10), ("SPRING15", 15), ("LOYAL10", 10)])
            discount = subtotal * percent // 100
        shipping = price if currency == "USD" or not price else _cad(price)
        if ch.code in ("webshop", "shopify", "instagram") and option_code == "standard" and subtotal >= 7500:
            shipping = 0  # free standard shipping over 75.00
        tax = ((subtotal - discount) * TAX_BASIS_POINTS.get(region, 0) + 5000) // 10000
        for line in lines[:-1]:
            line.tax = tax * line.total // subtotal
        lines[-1].tax = tax - sum(line.tax for line in lines[:-1])
        total = subtotal - discount + shipping + tax

        # When each milestone happens, in seconds after placement; squeezed to end before now when needed.
        cancel_late = status == S.CANCELLED and not spec.afn and not pos and rng.random() < 0.55
        allocated = not spec.afn and (
            status in SHIPPED or status == S.CONFIRMED or cancel_late or (pos and status != S.CANCELLED)
        )
        groups = (
            self.parcels.plan_groups(ch, region if country == "US" else None, country, lines, spec.split)
            if allocated
            else []
        )
        ship_groups = (
            [] if pos or status not in SHIPPED else (groups[:1] if status == S.PARTIALLY_SHIPPED else groups)
        )
        off: dict[str, float] = {}
        must: list[str] = []

        def plan(key: str, seconds: float, required: bool = True) -> None:
            off[key] = seconds
            if required:
                must.append(key)

        if pos and groups:
            plan("sale", rng.uniform(30, 240))
        if status == S.ON_HOLD:
            plan("hold", rng.uniform(60, 900))
        if status == S.BACKORDERED:
            plan("backorder", rng.uniform(60, 600))
        if groups and not pos:
            plan("confirm", rng.uniform(120, 1800))
        if status == S.CANCELLED:
            after = off["confirm"] + rng.uniform(3600, 72000) if cancel_late else rng.uniform(600, 2 * DAY)
            plan("cancel", after)
        units = [(i, group[0].kind) for i, group in enumerate(ship_groups)]
        if spec.afn and status in SHIPPED:
            units = [(0, "amazon")]
        for i, kind in units:
            shipped = self.parcels.ship_time(placed + timedelta(seconds=off.get("confirm", 0)), kind, i)
            plan(f"ship{i}", (shipped - placed).total_seconds(), i == 0 or status != S.PARTIALLY_SHIPPED)
            days = rng.randint(max(low, 1), max(high, 1)) + (rng.randint(1, 4) if rng.random() < 0.06 else 0)
            arrives = business_days(shipped, days).replace(hour=rng.randint(14, 23), minute=rng.randrange(60))
            plan(f"deliver{i}", (arrives - placed).total_seconds(), status in DELIVERED)
        if status in RETURNED:
            counter = pos  # handed back at the till: the whole return takes minutes
            last = max((v for k, v in off.items() if k.startswith("deliver")), default=off.get("sale", 0))
            plan("ret_request", last + rng.uniform(1, min(ch.return_window - 1, 20)) * DAY, False)
            plan("ret_approve", off["ret_request"] + (60 if counter else rng.uniform(1800, 72000)), False)
            plan("ret_received", off["ret_approve"] + (60 if counter else rng.uniform(3, 9) * DAY))
            plan("ret_refund", off["ret_received"] + (60 if counter else rng.uniform(0.2, 2) * DAY))
        age = max((self.now - placed).total_seconds(), 2.0)
        limit = age - min(120.0, age * 0.1)
        peak = max((off[k] for k in must), default=0.0)
        factor = limit / peak if peak > limit else 1.0
        at = {k: placed + timedelta(seconds=round(v * factor)) for k, v in off.items()}

        events: list[tuple[datetime, int, dict[str, Any]]] = []
        state = {"status": S.PENDING.value}

        def event(
            kind: str,
            when: datetime,
            message: str,
            *,
            frm: str | None = None,
            to: str | None = None,
            actor: str = "system",
            info: dict[str, Any] | None = None,
        ) -> None:
            events.append(
                (
                    when,
                    len(events),
                    {
                        "order_id": order_id,
                        "kind": kind,
                        "from_status": frm,
                        "to_status": to,
                        "message": message,
                        "data": info or {},
                        "actor": actor,
                        "visible_to_customer": kind in CUSTOMER_VISIBLE_KINDS,
                        "created_at": when,
                    },
                )
            )

        def move(target: S, when: datetime, why: str, actor: str = "system") -> None:
            previous = state["status"]
            state["status"] = check_transition(previous, target).value
            event("status_changed", when, why, frm=previous, to=target.value, actor=actor)

        event(
            "placed",
            placed,
            f"Order placed on {ch.name}",
            to=S.PENDING.value,
            actor=ch.actor,
            info={
                "external_id": external_id,
                "total": to_decimal_string(total, currency),
                "currency": currency,
                **({"discount_code": code} if code else {}),
            },
        )
        hold_reason = rng.choice(HOLD_REASONS) if status == S.ON_HOLD else None
        if hold_reason:
            move(S.ON_HOLD, at["hold"], hold_reason)
        if status == S.BACKORDERED:
            short = lines[0]
            move(S.BACKORDERED, at["backorder"], f"not enough stock: {short.sku.code} wanted {short.qty}")

        allocations: list[dict[str, Any]] = []
        line_location: dict[int, int] = {}
        if groups:
            when = at["sale"] if pos else at["confirm"]
            for loc, group_lines, reason in groups:
                for line in group_lines:
                    self.ledger.make_available(loc.id, line.sku.id, line.qty, when)
                    if not pos:
                        self.ledger.movement(
                            loc.id,
                            line.sku.id,
                            "reservation",
                            0,
                            line.qty,
                            at=when,
                            order_id=order_id,
                            reference=number,
                        )
                    line_location[line.id] = loc.id
                    allocations.append(
                        {
                            "id": self.next_id("allocations"),
                            "order_line_id": line.id,
                            "location_id": loc.id,
                            "quantity": line.qty,
                            "status": "reserved",
                            "reason": reason,
                            "created_at": when,
                        }
                    )
            event(
                "allocated",
                when,
                "; ".join(dict.fromkeys(reason for *_, reason in groups)),
                info={
                    "strategy": "pickup" if pos else "default",
                    "allocations": [
                        {
                            "line_id": a["order_line_id"],
                            "location_id": a["location_id"],
                            "quantity": a["quantity"],
                            "reason": a["reason"],
                        }
                        for a in allocations
                    ],
                },
            )
            if not pos:
                move(S.CONFIRMED, when, "stock reserved")
        if pos and groups:
            for line in lines:
                self.ledger.movement(
                    line_location[line.id],
                    line.sku.id,
                    "shipment",
                    -line.qty,
                    0,
                    at=at["sale"],
                    order_id=order_id,
                    reference=f"{number} counter sale",
                )
                line.shipped = line.qty
            for allocation in allocations:
                allocation["status"] = "shipped"
            move(S.DELIVERED, at["sale"], "Sold and handed over at the Downtown Store counter")

        shipments: list[tuple[str, datetime]] = []
        facts = {
            "order_id": order_id,
            "country": country,
            "fast": high <= 3,
            "ch": ch,
            "low": low,
            "high": high,
            "dest": ship_to,
        }
        ordered_units = sorted(units, key=lambda unit: at[f"ship{unit[0]}"])
        for n_shipped, (i, _kind) in enumerate(ordered_units, start=1):
            loc, group_lines = (None, lines) if spec.afn else ship_groups[i][:2]
            shipped = at[f"ship{i}"]
            delivered = status in DELIVERED or (
                status == S.PARTIALLY_SHIPPED and at[f"deliver{i}"] < self.now - timedelta(hours=1)
            )
            carrier, tracking, first_to = self.parcels.write_shipment(
                facts,
                loc,
                group_lines,
                shipped,
                at[f"deliver{i}"],
                delivered=delivered,
                earliest=at.get("confirm", placed),
            )
            shipments.append((carrier, first_to))
            ids = {line.id for line in group_lines}
            for line in group_lines:
                line.shipped = line.qty
                if loc is not None:
                    self.ledger.movement(
                        loc.id,
                        line.sku.id,
                        "shipment",
                        -line.qty,
                        -line.qty,
                        at=shipped,
                        order_id=order_id,
                        reference=number,
                    )
            for allocation in allocations:
                if allocation["order_line_id"] in ids:
                    allocation["status"] = "shipped"
            who = ch.actor if spec.afn else "system"
            event(
                "shipped",
                shipped,
                f"Shipped with {carrier}, tracking {tracking}",
                actor=who,
                info={
                    "carrier": carrier,
                    "tracking_number": tracking,
                    "lines": [line.line_no for line in group_lines],
                },
            )
            if n_shipped < len(ordered_units) or status == S.PARTIALLY_SHIPPED:
                if state["status"] != S.PARTIALLY_SHIPPED:
                    move(S.PARTIALLY_SHIPPED, shipped, f"Shipped {n_shipped} of {len(groups)} parcels")
            else:
                why = "Shipped by Amazon (fulfilled by Amazon)" if spec.afn else "All lines shipped"
                move(S.SHIPPED, shipped, why, who)
        if units and status in DELIVERED:
            delivered_at = max(at[f"deliver{i}"] for i, _ in units)
            event("delivered", delivered_at, f"Delivered by {shipments[-1][0]}")
            move(S.DELIVERED, delivered_at, "All parcels delivered")

        refunded = 0
        if status == S.CANCELLED:
            refunded = self.after_sales.cancel(
                order_id,
                number,
                ch,
                lines,
                allocations,
                when=at["cancel"],
                paid=cancel_late,
                money=(total, shipping, currency),
                move=move,
                event=event,
            )
        elif status in RETURNED:
            refunded = self.after_sales.returns(
                order_id,
                number,
                ch,
                spec,
                lines,
                shipped_from=line_location,
                at=at,
                currency=currency,
                money=(subtotal, discount, shipping),
                move=move,
                event=event,
            )
        elif status == S.DELIVERED and not ch.channel_returns and not pos:
            delivered_at = max(at[k] for k in at if k.startswith("deliver"))
            self.after_sales.open_return(
                order_id, ch, spec, lines, line_location, delivered_at=delivered_at, event=event
            )
        if spec.person is not None and (spec.ticket or rng.random() < self.ticket_odds):
            self.support.order_ticket(spec, order_id, number, lines, at=at, shipments=shipments)
        self.support.note_delivery(spec, order_id, number, lines, at=at)

        for line in lines:
            self.add(
                "order_lines",
                {
                    "id": line.id,
                    "order_id": order_id,
                    "line_no": line.line_no,
                    "external_id": line_external_id(ch, order_id, line),
                    "sku_id": line.sku.id,
                    "channel_sku": line.channel_sku,
                    "title": line_title(ch, line.sku),
                    "quantity": line.qty,
                    "unit_price": line.unit_price,
                    "discount": 0,
                    "tax": line.tax,
                    "total": line.total,
                    "quantity_shipped": line.shipped,
                    "quantity_returned": line.returned,
                    "quantity_cancelled": line.qty if status == S.CANCELLED else 0,
                },
            )
        self.ctx.out["allocations"] += allocations
        events.sort(key=lambda item: (item[0], item[1]))
        for *_, row in events:
            row["id"] = self.next_id("order_events")
            self.add("order_events", row)
        updated = events[-1][0]
        words = CHANNEL_STATUS.get(ch.kind)
        channel_status = status.value if words is None else words.get(status.value, words["*"])
        dispatch_by = business_days(placed, dispatch)
        self.add(
            "orders",
            {
                "id": order_id,
                "channel_id": ch.id,
                "external_id": external_id,
                "number": number,
                "channel_number": channel_number,
                "status": state["status"],
                "channel_status": channel_status,
                "hold_reason": hold_reason,
                "customer_id": spec.customer_id,
                "identity_id": identity_id,
                "email": email,
                "phone": phone,
                "buyer_name": name,
                "placed_at": placed,
                "placed_at_offset_minutes": ZONE_MINUTES.get(ch.kind, 0),
                "channel_updated_at": None if ch.kind == "webshop" else updated,
                "currency": currency,
                "subtotal": subtotal,
                "discount_total": discount,
                "shipping_total": shipping,
                "tax_total": tax,
                "total": total,
                "refunded_total": refunded,
                "billing_address": ship_to,
                "shipping_address": ship_to,
                "shipping_method": option_name,
                "shipping_option_id": option_id,
                "fulfilled_by_channel": spec.afn,
                "source": CHANNELS[ch.code][8],
                "pickup_location_id": self.locations["STORE-DT"].id if pos else None,
                "note": rng.choice(ORDER_NOTES) if rng.random() < 0.03 else None,
                "expected_dispatch_by": None if pos else end_of_day(dispatch_by),
                "promised_delivery_from": None
                if pos
                else business_days(dispatch_by, max(low, 1)).replace(hour=0, minute=0, second=0),
                "promised_delivery_to": None if pos else end_of_day(business_days(dispatch_by, max(high, 1))),
                "created_at": placed
                if pos
                else min(placed + timedelta(seconds=rng.randint(1, 90)), self.now),
                "updated_at": updated,
            },
        )
        self.recent.append(
            {
                "order_id": order_id,
                "channel": ch,
                "external_id": external_id,
                "number": number,
                "placed": placed,
                "email": email,
                "total": total,
                "currency": currency,
                "channel_status": channel_status,
                "lines": [(line.channel_sku, line.qty, line.unit_price) for line in lines],
            }
        )

    def _lines(self, ch: Channel, spec: Spec, currency: str) -> list[Line]:
        """1-4 distinct SKUs the channel lists, popular ones more often; a split order ends with one stocked
        in both warehouses, a backordered one starts with a SKU that is out of stock."""
        rng = self.rng
        listed, cum = self.channel_skus[ch.code]
        count = max(spec.min_lines, rng.choices((1, 2, 3, 4), weights=(20, 30, 30, 20))[0])
        returnable_only = spec.status in RETURNED
        picked: list[tuple[Sku, str]] = []
        if spec.status == S.BACKORDERED:
            picked.append(rng.choice([item for item in listed if item[0].id in self.short_skus]))
        for _try in range(40):
            if len(picked) >= count - spec.split:
                break
            sku, channel_sku = rng.choices(listed, cum_weights=cum)[0]
            if all(sku.id != p.id for p, _ in picked) and (sku.returnable or not returnable_only):
                picked.append((sku, channel_sku))
        if spec.split:
            sku = rng.choice([s for s in self.both_warehouses if all(s.id != p.id for p, _ in picked)])
            picked.append((sku, f"AMZ-{sku.code}" if ch.kind == "amazon" else sku.code))
        lines = []
        for n, (sku, channel_sku) in enumerate(picked, start=1):
            qty = rng.choices((1, 2, 3, 4), weights=(76, 17, 5, 2))[0]
            price = sku.price if currency == "USD" else _cad(sku.price)
            lines.append(Line(self.next_id("order_lines"), n, sku, channel_sku, qty, price, price * qty))
        return lines
