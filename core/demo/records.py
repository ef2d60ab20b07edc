"""What the demo builders keep in memory about the rows they wrote: locations, channels, SKUs, the persons
behind the orders, the plan of each order and its lines."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from core.orders.status import OrderStatus

S = OrderStatus
SHIPPED = frozenset({S.PARTIALLY_SHIPPED, S.SHIPPED, S.DELIVERED, S.PARTIALLY_RETURNED, S.RETURNED})
DELIVERED = frozenset({S.DELIVERED, S.PARTIALLY_RETURNED, S.RETURNED})
RETURNED = frozenset({S.PARTIALLY_RETURNED, S.RETURNED})

Known = tuple[int, str, str | None, str | None, dict[str, Any]]  # identity id, name, email, phone, address


@dataclass(slots=True)
class Location:
    id: int
    code: str
    name: str
    kind: str
    regions: list[str]
    priority: int
    city: str


@dataclass(slots=True)
class Channel:
    id: int
    code: str
    name: str
    kind: str
    return_window: int
    channel_returns: bool
    ship_from: list[Location]
    options: list[tuple[int, str, str, int, int, int, int]] = field(default_factory=list)
    pickup: tuple[int, str] = (0, "")

    @property
    def actor(self) -> str:
        return f"channel:{self.code}"


@dataclass(slots=True)
class Sku:
    id: int
    code: str
    product: str
    brand: str
    option: str | None
    price: int
    returnable: bool
    dropship: bool
    reorder_point: int
    reorder_quantity: int

    @property
    def title(self) -> str:
        return f"{self.product} - {self.option}" if self.option else self.product


@dataclass(slots=True)
class Person:
    customer_id: int
    first: str
    last: str
    email: str
    phone: str | None
    address: dict[str, Any]
    channels: list[str]
    identities: dict[str, Known] = field(default_factory=dict)
    first_order_at: datetime | None = None
    # The customer each channel's identity came in as: the person's own, or one of its own when intake could
    # not join it by an exact email or phone (identity resolution finds those afterwards).
    customers: dict[str, int] = field(default_factory=dict)


@dataclass(slots=True)
class Spec:
    """One order of the plan: when, the status it reaches, where and who."""

    placed_at: datetime
    status: OrderStatus
    channel: str
    person: Person | None
    afn: bool = False
    min_lines: int = 1
    split: bool = False
    ticket: str | None = None
    customer_id: int | None = None  # the customer of the identity the order came in with


@dataclass(slots=True)
class Line:
    id: int
    line_no: int
    sku: Sku
    channel_sku: str
    qty: int
    unit_price: int
    total: int
    tax: int = 0
    shipped: int = 0
    returned: int = 0
