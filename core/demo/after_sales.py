"""What happens to an order after the sale: cancellations that release stock, returns (ours with an RMA, or
the marketplace's own) that come back into stock or are written off, and the refunds."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from core.demo.context import BASE62, DAY, Existing, SeedContext, Staff
from core.demo.data.orders import CANCEL_REASONS, REJECTION_REASONS, RETURN_REASON_TEXTS, RETURN_REASONS
from core.demo.records import Channel, Line, Spec
from core.demo.reference import Reference
from core.demo.stock import Ledger
from core.money import to_decimal_string
from core.orders.status import OrderStatus

S = OrderStatus


def _money(minor: int, currency: str) -> str:
    return f"{to_decimal_string(minor, currency)} {currency}"


class AfterSales:
    """Cancellations, returns and refunds of the order being built; timeline entries go through its
    `move` and `event` callbacks."""

    def __init__(
        self, ctx: SeedContext, existing: Existing, ref: Reference, ledger: Ledger, agents: list[Staff]
    ) -> None:
        self.ctx = ctx
        self.rng = ctx.rng
        self.now = ctx.now
        self.add = ctx.add
        self.next_id = ctx.next_id
        self.rma_numbers = existing.rma_numbers
        self.loc_by_id = ref.loc_by_id
        self.skus = ref.skus
        self.ledger = ledger
        self.agents = agents

    def cancel(
        self,
        order_id: int,
        number: str,
        ch: Channel,
        lines: list[Line],
        allocations: list[dict[str, Any]],
        *,
        when: datetime,
        paid: bool,
        money: tuple[int, int, str],
        move: Callable[..., None],
        event: Callable[..., None],
    ) -> int:
        """Cancel; a paid order's reservations are released and its payment refunded. Returns the refund."""
        rng = self.rng
        total, shipping, currency = money
        agent = (
            rng.choice(self.agents)
            if paid and ch.kind in ("webshop", "shopify", "woocommerce") and (rng.random() < 0.6)
            else None
        )
        why = rng.choice(CANCEL_REASONS)
        move(S.CANCELLED, when, why, agent[1] if agent else "system" if ch.kind == "webshop" else ch.actor)
        sku_of = {line.id: line.sku.id for line in lines}
        for allocation in allocations:
            allocation["status"] = "released"
            self.ledger.movement(
                allocation["location_id"],
                sku_of[allocation["order_line_id"]],
                "release",
                0,
                -allocation["quantity"],
                at=when,
                order_id=order_id,
                reference="order cancelled",
            )
        if allocations:
            units = sum(a["quantity"] for a in allocations)
            event("released", when, f"order cancelled: {units} reserved units released")
        if agent is not None:
            self.ctx.audit(
                agent,
                "order.cancel",
                "order",
                order_id,
                when=when,
                before={"status": "confirmed"},
                after={"status": "cancelled", "reason": why},
            )
        if not paid:
            return 0
        refunded_at = min(when + timedelta(minutes=2), self.now)
        amounts = {str(line.id): line.total + line.tax for line in lines}
        self._refund(
            order_id,
            None,
            total - shipping,
            shipping,
            currency,
            lines=amounts,
            reason=f"Order {number} cancelled",
            ch=ch,
            agent=agent,
            when=refunded_at,
        )
        event("refunded", refunded_at, f"Refunded {_money(total, currency)}")
        return total

    def returns(
        self,
        order_id: int,
        number: str,
        ch: Channel,
        spec: Spec,
        lines: list[Line],
        *,
        shipped_from: dict[int, int],
        at: dict[str, datetime],
        currency: str,
        money: tuple[int, int, int],
        move: Callable[..., None],
        event: Callable[..., None],
    ) -> int:
        """A received return (our RMA, or the marketplace's own); returns the amount refunded.

        `shipped_from` maps each order line to the location that shipped it, where the units come back."""
        rng = self.rng
        line_location = shipped_from
        subtotal, discount, shipping = money
        full = spec.status == S.RETURNED or len(lines) < 2
        chosen = [
            (line, line.qty)
            for line in (
                lines
                if full
                else sorted(rng.sample(lines, rng.randint(1, len(lines) - 1)), key=lambda line: line.line_no)
            )
        ]
        reason = rng.choices(list(RETURN_REASONS), weights=list(RETURN_REASONS.values()))[0]
        damaged = reason == "damaged"
        summary = ", ".join(f"{qty} x {line.sku.title}" for line, qty in chosen)
        amounts: dict[str, int] = {}
        for line, qty in chosen:
            base = line.total * qty // line.qty
            amounts[str(line.id)] = base - discount * base // subtotal + line.tax * qty // line.qty
            line.returned = qty
        items = sum(amounts.values())
        ship_back = shipping if full and reason in ("damaged", "not_as_described") else 0
        target = S.RETURNED if spec.status == S.RETURNED else S.PARTIALLY_RETURNED
        requested, approved, received, refunded_at = (
            at[k] for k in ("ret_request", "ret_approve", "ret_received", "ret_refund")
        )
        place = self.loc_by_id.get(line_location.get(chosen[0][0].id, 0))
        why = reason.replace("_", " ")

        def restock(label: str) -> None:  # received units go back on hand; damaged ones are written off
            for line, qty in chosen:
                if line.id in line_location:
                    loc_id, sku_id = line_location[line.id], line.sku.id
                    self.ledger.movement(
                        loc_id,
                        sku_id,
                        "return",
                        qty,
                        0,
                        at=received,
                        order_id=order_id,
                        reference=f"{label} received ({number})",
                        actor="receiving",
                    )
                    if damaged:
                        self.ledger.movement(
                            loc_id,
                            sku_id,
                            "write_off",
                            -qty,
                            0,
                            at=received,
                            order_id=order_id,
                            reference=f"{label} damaged ({number})",
                            actor="receiving",
                        )

        if ch.channel_returns:
            event(
                "return_update", requested, f"Return opened on {ch.name}: {summary} ({why})", actor=ch.actor
            )
            where, by = ("Amazon's fulfilment centre", ch.actor) if place is None else (place.name, "system")
            event("return_update", received, f"Return received at {where}", actor=by)
            move(target, received, f"{ch.name} return received")
            restock(f"{ch.name} return")
            self._refund(
                order_id,
                None,
                items,
                ship_back,
                currency,
                lines=amounts,
                reason=f"{ch.name} return ({why})",
                ch=ch,
                agent=None,
                when=refunded_at,
            )
            event(
                "refunded",
                refunded_at,
                f"{ch.name} refunded {_money(items + ship_back, currency)}",
                actor=ch.actor,
            )
            return items + ship_back

        rma_id, rma = self.next_id("return_requests"), self._rma_number()
        agent = rng.choice(self.agents)
        resolution = rng.choices(["refund", "store_credit", "exchange"], [85, 8, 7])[0]
        first_sku = chosen[0][0].sku
        siblings = [s.id for s in self.skus if s.product == first_sku.product and s.id != first_sku.id]
        exchange = rng.choice(siblings) if resolution == "exchange" and siblings else None
        resolution = "refund" if resolution == "exchange" and exchange is None else resolution
        paid_back = resolution != "exchange" and rng.random() < 0.85
        customer = spec.customer_id
        got = [(line.id, qty, qty, qty * damaged) for line, qty in chosen]
        self._rma_rows(
            rma_id,
            rma,
            order_id,
            customer,
            got,
            status="refunded" if paid_back else "received",
            reason=reason,
            resolution=resolution,
            exchange=exchange,
            restock=place.id if place else None,
            times=(requested, approved, received, refunded_at if paid_back else None),
        )
        restock(rma)
        event(
            "return_update",
            requested,
            f"Return {rma} requested: {summary} ({why})",
            actor=f"customer:{customer}" if customer else agent[1],
            info={"rma": rma},
        )
        event(
            "return_update",
            approved,
            f"Return {rma} approved; prepaid label emailed",
            actor=agent[1],
            info={"rma": rma},
        )
        self.ctx.audit(
            agent,
            "return.approve",
            "return",
            rma_id,
            when=approved,
            before={"status": "requested"},
            after={"status": "approved"},
        )
        where = place.name if place else "the warehouse"
        units = sum(qty for _, qty in chosen)
        words = f"{units} item{'s' if units != 1 else ''}" + (", damaged, not restocked" if damaged else "")
        event("return_update", received, f"Return {rma} received at {where}: {words}", info={"rma": rma})
        move(target, received, f"Return {rma} received")
        if not paid_back:
            return 0
        method = "store_credit" if resolution == "store_credit" else "original"
        self._refund(
            order_id,
            rma_id,
            items,
            ship_back,
            currency,
            lines=amounts,
            reason=f"Return {rma} ({why})",
            ch=ch,
            agent=agent,
            when=refunded_at,
            method=method,
        )
        self.ctx.audit(
            agent,
            "refund.create",
            "order",
            order_id,
            when=refunded_at,
            after={"amount": to_decimal_string(items + ship_back, currency), "rma": rma},
        )
        event(
            "return_update",
            refunded_at,
            f"Refund of {_money(items + ship_back, currency)} for {rma}",
            actor=agent[1],
            info={"rma": rma},
        )
        return items + ship_back

    def open_return(
        self,
        order_id: int,
        ch: Channel,
        spec: Spec,
        lines: list[Line],
        line_location: dict[int, int],
        *,
        delivered_at: datetime,
        event: Callable[..., None],
    ) -> None:
        """Some delivered orders have a return in progress (requested, approved) or one that was rejected."""
        rng = self.rng
        days = (self.now - delivered_at).total_seconds() / DAY
        returnable = [line for line in lines if line.sku.returnable]
        if not returnable:
            return
        if days < ch.return_window and rng.random() < 0.06:
            requested = delivered_at + timedelta(days=rng.uniform(0.2, max(0.3, days * 0.9)))
            status = (
                "requested"
                if self.now - requested < timedelta(days=2)
                else rng.choices(["approved", "rejected"], [85, 15])[0]
            )
            rejection = REJECTION_REASONS[1]
        elif days >= ch.return_window + 2 and rng.random() < 0.012:
            late = rng.uniform(0.5, days - ch.return_window)
            requested = delivered_at + timedelta(days=ch.return_window + late)
            status, rejection = "rejected", REJECTION_REASONS[0]
        else:
            return
        requested = min(requested.replace(microsecond=0), self.now - timedelta(minutes=30))
        line = rng.choice(returnable)
        qty = rng.randint(1, line.qty)
        reason = rng.choices(list(RETURN_REASONS), weights=list(RETURN_REASONS.values()))[0]
        decided = min(
            requested + timedelta(seconds=rng.randint(3600, 108000)), self.now - timedelta(minutes=5)
        )
        rma_id, rma = self.next_id("return_requests"), self._rma_number()
        customer = spec.customer_id
        self._rma_rows(
            rma_id,
            rma,
            order_id,
            customer,
            [(line.id, qty, 0, 0)],
            status=status,
            reason=reason,
            resolution="refund",
            exchange=None,
            restock=line_location.get(line.id),
            times=(
                requested,
                decided if status == "approved" else None,
                None,
                decided if status == "rejected" else None,
            ),
            rejection=rejection if status == "rejected" else None,
        )
        event(
            "return_update",
            requested,
            f"Return {rma} requested: {qty} x {line.sku.title} ({reason.replace('_', ' ')})",
            actor=f"customer:{customer}" if customer else "system",
            info={"rma": rma},
        )
        if status != "requested":
            agent = rng.choice(self.agents)
            word = "approved; prepaid label emailed" if status == "approved" else f"rejected: {rejection}"
            event("return_update", decided, f"Return {rma} {word}", actor=agent[1], info={"rma": rma})
            action = "return.approve" if status == "approved" else "return.reject"
            self.ctx.audit(
                agent,
                action,
                "return",
                rma_id,
                when=decided,
                before={"status": "requested"},
                after={"status": status},
            )

    def _rma_rows(
        self,
        rma_id: int,
        rma: str,
        order_id: int,
        customer: int | None,
        lines: list[tuple[int, int, int, int]],
        *,
        status: str,
        reason: str,
        resolution: str,
        exchange: int | None,
        restock: int | None,
        times: tuple[datetime | None, ...],
        rejection: str | None = None,
    ) -> None:
        """A return request and its lines: (order line id, quantity, received, damaged)."""
        requested, approved, received, closed = times
        self.add(
            "return_requests",
            {
                "id": rma_id,
                "rma_number": rma,
                "order_id": order_id,
                "customer_id": customer,
                "status": status,
                "reason": reason,
                "reason_text": self.rng.choice(RETURN_REASON_TEXTS[reason]),
                "resolution": resolution,
                "exchange_sku_id": exchange,
                "photo_path": f"returns/{rma}.jpg" if reason == "damaged" else None,
                "restock_location_id": restock,
                "rejection_reason": rejection,
                "requested_at": requested,
                "approved_at": approved,
                "received_at": received,
                "closed_at": closed,
            },
        )
        for line_id, qty, got, broken in lines:
            self.add(
                "return_lines",
                {
                    "id": self.next_id("return_lines"),
                    "return_id": rma_id,
                    "order_line_id": line_id,
                    "quantity": qty,
                    "quantity_received": got,
                    "quantity_damaged": broken,
                },
            )

    def _rma_number(self) -> str:
        while True:
            rma = "RMA-" + "".join(self.rng.choices("ABCDEFGHJKLMNPQRSTUVWXYZ23456789", k=6))
            if rma not in self.rma_numbers:
                self.rma_numbers.add(rma)
                return rma

    def _refund(
        self,
        order_id: int,
        return_id: int | None,
        amount: int,
        shipping: int,
        currency: str,
        *,
        lines: dict[str, int],
        reason: str,
        ch: Channel,
        agent: Staff | None,
        when: datetime,
        method: str = "original",
    ) -> None:
        rng = self.rng
        refs: dict[str, Callable[[], str]] = {
            "amazon": lambda: f"amzn1.refund.{rng.getrandbits(64):016x}",
            "ebay": lambda: f"5{rng.randrange(10**11):011d}",
            "shopify": lambda: str(9_000_000_000_000 + rng.randrange(10**12)),
            "woocommerce": lambda: str(rng.randint(30_000, 99_999)),
            "square": lambda: "".join(rng.choices(BASE62, k=24)),
        }
        self.add(
            "refunds",
            {
                "id": self.next_id("refunds"),
                "order_id": order_id,
                "return_id": return_id,
                "amount": amount,
                "shipping_amount": shipping,
                "currency": currency,
                "method": method,
                "line_amounts": lines,
                "reason": reason,
                "external_ref": refs.get(ch.kind, lambda: f"re_{rng.getrandbits(96):024x}")(),
                "actor": agent[1] if agent else ch.actor,
                "created_at": when,
            },
        )
