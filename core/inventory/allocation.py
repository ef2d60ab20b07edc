"""Allocation rules: which locations ship which order lines, and why. Pure functions over plain data.

Strategies live in `STRATEGIES` and all share one signature: (lines, locations, ship_to) -> AllocationPlan.

default
  1. Drop-ship lines go to their supplier (a shortfall when the supplier lacks the units).
  2. Every other line ships from ONE location when some location has all of them (fewest parcels). Among those
     the winner serves the ship-to region (a "US-CA" match beats a "US" match beats none), then has the lowest
     priority number, then the most units of the order's SKUs, then the lowest id (deterministic).
  3. Otherwise a greedy cover: repeatedly take the location that can ship the most whole lines (then
     units), with the same tie-breaks, until every line is covered or no location has anything left (the
     rest are shortfalls).
pickup
  Everything from the pick-up store, which is the only location given.

Drop-ship supplier locations (kind "dropship") only ever ship their own SKUs.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field


@dataclass(frozen=True)
class LineNeed:
    """Units of one order line still to allocate."""

    line_id: int
    sku_id: int
    quantity: int
    dropship_location_id: int | None = None


@dataclass(frozen=True)
class LocationStock:
    """A candidate location and its available units per SKU."""

    location_id: int
    name: str
    kind: str
    priority: int
    regions: tuple[str, ...] = ()
    available: Mapping[int, int] = field(default_factory=dict)


@dataclass(frozen=True)
class ShipTo:
    """Where the parcel goes: ISO country code and optional "US-CA" style region code."""

    country: str | None = None
    region: str | None = None

    @classmethod
    def from_address(cls, address: Mapping[str, object] | None) -> ShipTo:
        """From a canonical address dict (country "US", region "CA" or "US-CA")."""
        if not address:
            return cls()
        country = str(address.get("country") or "").upper() or None
        region = str(address.get("region") or "").upper() or None
        if region and "-" not in region and country:
            region = f"{country}-{region}"
        return cls(country=country, region=region)


@dataclass(frozen=True)
class PlannedAllocation:
    line_id: int
    location_id: int
    quantity: int
    reason: str


@dataclass(frozen=True)
class Shortfall:
    line_id: int
    sku_id: int
    wanted: int
    available: int


@dataclass(frozen=True)
class AllocationPlan:
    parts: tuple[PlannedAllocation, ...] = ()
    shortfalls: tuple[Shortfall, ...] = ()

    @property
    def complete(self) -> bool:
        return not self.shortfalls


Strategy = Callable[[Sequence[LineNeed], Sequence[LocationStock], ShipTo], AllocationPlan]


def _lines(n: int) -> str:
    return "1 line" if n == 1 else f"{n} lines"


def served_region(location: LocationStock, ship_to: ShipTo) -> str | None:
    """The most specific ship-to code the location serves, or None."""
    for code in (ship_to.region, ship_to.country):
        if code and code in location.regions:
            return code
    return None


def _region_rank(location: LocationStock, ship_to: ShipTo) -> int:
    code = served_region(location, ship_to)
    if code is None:
        return 2
    return 0 if code == ship_to.region else 1


def _needs_by_sku(lines: Sequence[LineNeed]) -> dict[int, int]:
    needs: dict[int, int] = {}
    for line in lines:
        needs[line.sku_id] = needs.get(line.sku_id, 0) + line.quantity
    return needs


def _rank(location: LocationStock, ship_to: ShipTo, stock: int) -> tuple[int, int, int, int]:
    return (_region_rank(location, ship_to), location.priority, -stock, location.location_id)


def _stock_of(location: LocationStock, skus: Mapping[int, int]) -> int:
    return sum(location.available.get(sku, 0) for sku in skus)


def _single_location_reason(
    best: LocationStock, runner_up: LocationStock | None, ship_to: ShipTo, n_lines: int, stock: dict[int, int]
) -> str:
    if runner_up is None:
        only = "the line" if n_lines == 1 else f"all {n_lines} lines"
        return f"{best.name}: only location with {only} in stock"
    region = served_region(best, ship_to)
    words = [f"serves {region}" if region else f"all {_lines(n_lines)} in stock", f"priority {best.priority}"]
    decided_by_region = _region_rank(best, ship_to) < _region_rank(runner_up, ship_to)
    if not decided_by_region and best.priority == runner_up.priority:
        words.append(f"most stock ({stock[best.location_id]} units)")
    return f"{best.name}: " + ", ".join(words)


def _allocate_dropship(
    lines: Sequence[LineNeed], locations: Sequence[LocationStock]
) -> tuple[list[PlannedAllocation], list[Shortfall]]:
    by_id = {location.location_id: location for location in locations}
    left: dict[tuple[int, int], int] = {}
    parts: list[PlannedAllocation] = []
    shortfalls: list[Shortfall] = []
    for line in lines:
        supplier_id = line.dropship_location_id
        assert supplier_id is not None
        supplier = by_id.get(supplier_id)
        key = (supplier_id, line.sku_id)
        have = left.get(key, supplier.available.get(line.sku_id, 0) if supplier else 0)
        if supplier is not None and have >= line.quantity:
            left[key] = have - line.quantity
            parts.append(
                PlannedAllocation(
                    line.line_id,
                    supplier_id,
                    line.quantity,
                    f"{supplier.name}: drop-ship supplier of this SKU",
                )
            )
        else:
            shortfalls.append(Shortfall(line.line_id, line.sku_id, line.quantity, have))
    return parts, shortfalls


def _take(
    lines: Sequence[LineNeed], remaining: Mapping[int, int], available: Mapping[int, int]
) -> tuple[list[tuple[LineNeed, int]], int, int]:
    """What one location can ship of the remaining lines: (line, units) pairs, whole lines, units."""
    left = dict(available)
    taken: list[tuple[LineNeed, int]] = []
    whole = units = 0
    for line in lines:
        want = remaining.get(line.line_id, 0)
        have = left.get(line.sku_id, 0)
        if want <= 0 or have <= 0:
            continue
        qty = min(want, have)
        left[line.sku_id] = have - qty
        taken.append((line, qty))
        whole += qty == want
        units += qty
    return taken, whole, units


def _split_share(
    whole: int, n_lines: int, partial: list[tuple[LineNeed, int]], remaining: Mapping[int, int]
) -> str:
    """ "2 of 3 lines", "2 of 3 lines and 4 of 5 units of another", "4 of 5 units of a line", ..."""
    if not partial:
        return f"{whole} of {n_lines} lines"
    line, qty = partial[0]
    units = f"{qty} of {remaining[line.line_id]} units"
    if whole:
        return f"{whole} of {n_lines} lines and " + (
            f"{units} of another" if len(partial) == 1 else f"part of {len(partial)} more"
        )
    return f"{units} of a line" if len(partial) == 1 else f"part of {len(partial)} of {n_lines} lines"


def _split(
    lines: Sequence[LineNeed], locations: Sequence[LocationStock], ship_to: ShipTo
) -> tuple[list[PlannedAllocation], list[Shortfall]]:
    """Greedy cover: the location shipping the most whole lines (then units) first, until nothing is left."""
    remaining = {line.line_id: line.quantity for line in lines}
    candidates = list(locations)
    parts: list[PlannedAllocation] = []
    n_lines = len(lines)
    while any(remaining.values()) and candidates:
        best = None
        best_key: tuple[int, ...] | None = None
        for location in candidates:
            taken, whole, units = _take(lines, remaining, location.available)
            if not taken:
                continue
            key = (-whole, -units, *_rank(location, ship_to, units))
            if best_key is None or key < best_key:
                best, best_key = (location, taken, whole), key
        if best is None:
            break
        location, taken, whole = best
        candidates.remove(location)
        partial = [(line, qty) for line, qty in taken if qty < remaining[line.line_id]]
        reason = f"split: {location.name} had " + _split_share(whole, n_lines, partial, remaining)
        for line, qty in taken:
            remaining[line.line_id] -= qty
            parts.append(PlannedAllocation(line.line_id, location.location_id, qty, reason))
    shortfalls = []
    for line in lines:
        if remaining[line.line_id] > 0:
            allocated = line.quantity - remaining[line.line_id]
            shortfalls.append(Shortfall(line.line_id, line.sku_id, line.quantity, allocated))
    return parts, shortfalls


def allocate_default(
    lines: Sequence[LineNeed], locations: Sequence[LocationStock], ship_to: ShipTo
) -> AllocationPlan:
    """Drop-ship lines to their supplier; the rest from one location if any has it all, else split."""
    lines = [line for line in lines if line.quantity > 0]
    dropship = [line for line in lines if line.dropship_location_id is not None]
    own = [line for line in lines if line.dropship_location_id is None]
    parts, shortfalls = _allocate_dropship(dropship, locations)
    if own:
        stores = [location for location in locations if location.kind != "dropship"]
        needs = _needs_by_sku(own)
        stock = {location.location_id: _stock_of(location, needs) for location in stores}
        whole = [
            location
            for location in stores
            if all(location.available.get(sku, 0) >= qty for sku, qty in needs.items())
        ]
        if whole:
            whole.sort(key=lambda location: _rank(location, ship_to, stock[location.location_id]))
            best = whole[0]
            runner_up = whole[1] if len(whole) > 1 else None
            reason = _single_location_reason(best, runner_up, ship_to, len(own), stock)
            parts += [
                PlannedAllocation(line.line_id, best.location_id, line.quantity, reason) for line in own
            ]
        else:
            split_parts, split_short = _split(own, stores, ship_to)
            parts += split_parts
            shortfalls += split_short
    return AllocationPlan(tuple(parts), tuple(shortfalls))


def allocate_pickup(
    lines: Sequence[LineNeed], locations: Sequence[LocationStock], ship_to: ShipTo
) -> AllocationPlan:
    """Everything from the pick-up store (the one location given); whatever it lacks is short."""
    lines = [line for line in lines if line.quantity > 0]
    store = locations[0] if locations else None
    left = dict(store.available) if store else {}
    parts: list[PlannedAllocation] = []
    shortfalls: list[Shortfall] = []
    for line in lines:
        have = left.get(line.sku_id, 0)
        if store is not None and have >= line.quantity:
            left[line.sku_id] = have - line.quantity
            parts.append(
                PlannedAllocation(
                    line.line_id, store.location_id, line.quantity, f"{store.name}: store pick-up"
                )
            )
        else:
            shortfalls.append(Shortfall(line.line_id, line.sku_id, line.quantity, have))
    return AllocationPlan(tuple(parts), tuple(shortfalls))


STRATEGIES: dict[str, Strategy] = {"default": allocate_default, "pickup": allocate_pickup}


def plan_allocation(
    lines: Sequence[LineNeed], locations: Sequence[LocationStock], ship_to: ShipTo, strategy: str = "default"
) -> AllocationPlan:
    """The plan of the named strategy (ValueError for an unknown name)."""
    try:
        rule = STRATEGIES[strategy]
    except KeyError:
        raise ValueError(f"unknown allocation strategy {strategy!r}") from None
    return rule(lines, locations, ship_to)
