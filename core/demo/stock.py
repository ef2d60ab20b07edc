"""The demo's stock ledger. Units are received, reserved, shipped, released and returned by StockMovement
rows, so a level's on_hand is the sum of its on_hand_delta and its reserved the sum of its reserved_delta.
Levels live in memory until the last transaction, which writes them with their final counts and raises the
low-stock alerts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from core.demo.context import SeedContext
from core.demo.records import Location, Sku


@dataclass(slots=True)
class Level:
    id: int | None  # None until written (new level); else the existing row, updated at the end
    on_hand: int
    reserved: int
    reorder_point: int
    restock: int
    short: bool  # replenished only just enough: ends below its reorder point
    override: int | None
    touched: datetime


class Ledger:
    """Stock levels by (location id, SKU id), changed only through `movement`."""

    def __init__(self, ctx: SeedContext) -> None:
        self.rng = ctx.rng
        self.add = ctx.add
        self.next_id = ctx.next_id
        self.ago = ctx.ago
        self.stock: dict[tuple[int, int], Level] = {}
        self.po_number = 4100

    def movement(
        self,
        loc_id: int,
        sku_id: int,
        kind: str,
        on_hand: int,
        reserved: int,
        *,
        at: datetime,
        order_id: int | None = None,
        reference: str | None = None,
        actor: str = "system",
    ) -> None:
        level = self.stock[(loc_id, sku_id)]
        level.on_hand += on_hand
        level.reserved += reserved
        level.touched = max(level.touched, at)
        self.add(
            "stock_movements",
            {
                "id": self.next_id("stock_movements"),
                "location_id": loc_id,
                "sku_id": sku_id,
                "kind": kind,
                "on_hand_delta": on_hand,
                "reserved_delta": reserved,
                "order_id": order_id,
                "reference": reference,
                "actor": actor,
                "created_at": at,
            },
        )

    def receive(self, loc_id: int, sku_id: int, qty: int, at: datetime, reference: str | None = None) -> None:
        if reference is None:
            self.po_number += 1
            reference = f"PO-{self.po_number:05d}"
        self.movement(loc_id, sku_id, "receipt", qty, 0, at=at, reference=reference, actor="receiving")

    def make_available(self, loc_id: int, sku_id: int, qty: int, at: datetime) -> None:
        """Replenish before a reservation: a purchase order keeps stock above the reorder point.

        Short SKUs get just enough, so they stay below it (the low-stock alerts)."""
        level = self.stock[(loc_id, sku_id)]
        available = level.on_hand - level.reserved
        arrived = at - timedelta(seconds=self.rng.randint(7200, 108000))
        if level.short:
            if available < qty:
                self.receive(loc_id, sku_id, qty - available + self.rng.randint(0, 1), arrived)
        elif available - qty < level.reorder_point:
            self.receive(loc_id, sku_id, level.restock + max(0, qty - available), arrived)

    def write_levels(self, locations: dict[str, Location], skus: list[Sku]) -> list[dict[str, Any]]:
        """New levels as rows and the low-stock alerts; returns the updates of the levels that existed."""
        loc_by_id = {loc.id: loc for loc in locations.values()}
        updates: list[dict[str, Any]] = []
        for (loc_id, sku_id), level in self.stock.items():
            if level.id is None:
                self.add(
                    "stock_levels",
                    {
                        "id": self.next_id("stock_levels"),
                        "location_id": loc_id,
                        "sku_id": sku_id,
                        "on_hand": level.on_hand,
                        "reserved": level.reserved,
                        "reorder_point": level.override,
                        "updated_at": level.touched,
                    },
                )
            else:
                updates.append(
                    {
                        "id": level.id,
                        "on_hand": level.on_hand,
                        "reserved": level.reserved,
                        "updated_at": level.touched,
                    }
                )
        low = sorted(
            (
                (key, level)
                for key, level in self.stock.items()
                if loc_by_id[key[0]].kind != "dropship"
                and level.on_hand - level.reserved < level.reorder_point
            ),
            key=lambda item: (not item[1].short, item[1].on_hand - item[1].reserved, item[0]),
        )
        for n, ((loc_id, sku_id), level) in enumerate(low[:8]):
            available = level.on_hand - level.reserved
            self.add(
                "low_stock_alerts",
                {
                    "id": self.next_id("low_stock_alerts"),
                    "sku_id": sku_id,
                    "location_id": loc_id,
                    "available": available,
                    "reorder_point": level.reorder_point,
                    "suggested_quantity": level.restock,
                    "status": "ordered" if n % 4 == 3 else "open",
                    "reason": f"{available} available at {loc_by_id[loc_id].name}, below the reorder point "
                    f"of {level.reorder_point}",
                    "created_at": level.touched,
                    "resolved_at": None,
                },
            )
        for sku in skus[:2]:
            self.add(
                "low_stock_alerts",
                {
                    "id": self.next_id("low_stock_alerts"),
                    "sku_id": sku.id,
                    "location_id": locations["WH-EAST"].id,
                    "available": sku.reorder_point - 3,
                    "reorder_point": sku.reorder_point,
                    "suggested_quantity": sku.reorder_quantity,
                    "reason": "Below the reorder point after a busy weekend",
                    "status": "resolved",
                    "created_at": self.ago(40),
                    "resolved_at": self.ago(33),
                },
            )
        return updates
