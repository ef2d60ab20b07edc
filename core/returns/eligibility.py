"""Return eligibility rules: what of each order line may be returned now under the channel's return policy,
and why not in words. Pure functions over plain data, no database: `core.returns.services.return_eligibility`
gathers the facts of an order, the portal and console show the result, and `request_return` enforces it.

Order rules, in order:
  1. A cancelled order has nothing to return.
  2. A channel that handles its own returns, or an order the channel fulfilled itself, gets the channel's
     instructions instead of our form.
  3. The line rules below; then an order with nothing sent at all gets "request a cancellation instead"
     (or just "not shipped yet" once it can no longer be cancelled).

Line rules:
  - What reached the customer (`line_deliveries`): each parcel's units once delivered; a parcel returned to
    sender or not yet sent counts nothing; one that left us but is not delivered counts as on its way. A line
    without parcel rows takes its shipped units (every unit not cancelled, when the channel says the whole
    order went out) as delivered when the order was delivered, else as on their way.
  - Each delivery's units may be returned for `window_days` from that delivery, the last moment included.
  - Units already received back or in an open (requested or approved) return are used up, oldest delivery
    first: what may be returned is the units in an open window, at most the units delivered less those used.
  - A line without a SKU of ours, or whose SKU is final sale, is refused whatever its units.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from core.orders.status import CANCELLABLE_STATUSES, OrderStatus

# Our order statuses under which the channel says every line went out, for orders with no parcel rows.
SHIPPED_ORDER_STATUSES = frozenset(
    {OrderStatus.SHIPPED, OrderStatus.DELIVERED, OrderStatus.PARTIALLY_RETURNED, OrderStatus.RETURNED}
)
# Shipment statuses of a parcel that has not left us yet.
NOT_SENT_SHIPMENT_STATUSES = frozenset({"pending", "packed", "info_received", "cancelled"})
RETURNED_TO_SENDER = "returned_to_sender"

NO_SKU = "This item can't be returned online: contact us."
FINAL_SALE = "Final sale: this item can't be returned."
ON_ITS_WAY = "On its way: it can be returned once it's delivered."
NOT_SHIPPED = "Not shipped yet."
IN_A_RETURN = "Already in a return request."
ALREADY_RETURNED = "Already returned."
CANCELLED = "This order was cancelled: there is nothing to return."
CANCEL_INSTEAD = "This order hasn't shipped yet: request a cancellation instead."
NOT_SHIPPED_ORDER = "This order hasn't shipped yet."


@dataclass(frozen=True)
class ReturnPolicy:
    """The channel's return policy."""

    channel_name: str
    window_days: int
    handled_by_channel: bool = False
    instructions: str = ""


@dataclass(frozen=True)
class Parcel:
    """One parcel's units of an order line."""

    units: int
    status: str
    shipped_at: datetime | None = None
    delivered_at: datetime | None = None


@dataclass(frozen=True)
class LineFacts:
    """An order line as the rules see it."""

    order_line_id: int
    sku_id: int | None
    title: str
    quantity: int
    quantity_shipped: int = 0
    quantity_cancelled: int = 0
    quantity_returned: int = 0  # units received back
    in_open_returns: int = 0  # units in returns requested or approved, not yet received
    final_sale: bool = False
    parcels: tuple[Parcel, ...] = ()


@dataclass(frozen=True)
class OrderFacts:
    """An order as the rules see it; `delivered_at` only matters for lines without parcel rows."""

    order_id: int
    status: str
    lines: tuple[LineFacts, ...]
    fulfilled_by_channel: bool = False
    delivered_at: datetime | None = None


@dataclass(frozen=True)
class Deliveries:
    """What of one line reached the customer: (units, delivered at) per delivery, and units on their way."""

    delivered: tuple[tuple[int, datetime], ...] = ()
    in_transit: int = 0

    @property
    def units(self) -> int:
        return sum(units for units, _at in self.delivered)


@dataclass(frozen=True)
class LineEligibility:
    """What may be returned of one order line, and why not (or why not more) in words."""

    order_line_id: int
    sku_id: int | None
    title: str
    quantity: int
    delivered: int  # units delivered (whatever the window)
    returned: int  # units already received back
    in_open_returns: int  # units in returns requested or approved, not yet received
    returnable: int
    return_by: datetime | None  # last moment of the window for the units still returnable
    reason: str | None


@dataclass(frozen=True)
class ReturnEligibility:
    """An order's return eligibility under its channel's policy.

    `handled_by_channel`: the marketplace takes the return; show `instructions` instead of our form.
    `cancellation_instead`: nothing has shipped; offer a cancellation request.
    """

    order_id: int
    eligible: bool
    reason: str | None
    window_days: int
    handled_by_channel: bool
    instructions: str | None
    cancellation_instead: bool
    lines: tuple[LineEligibility, ...]

    def returnable(self, order_line_id: int) -> int:
        return next((ln.returnable for ln in self.lines if ln.order_line_id == order_line_id), 0)


def line_deliveries(line: LineFacts, order_status: str, order_delivered_at: datetime | None) -> Deliveries:
    """What of the line reached the customer, from its parcels, else from the order's status and delivery."""
    if line.parcels:
        delivered = []
        in_transit = 0
        for parcel in line.parcels:
            if parcel.status == RETURNED_TO_SENDER:
                continue  # the carrier brought it back: the customer never had it
            if parcel.delivered_at is not None:
                delivered.append((parcel.units, parcel.delivered_at))
            elif parcel.shipped_at is not None or parcel.status not in NOT_SENT_SHIPMENT_STATUSES:
                in_transit += parcel.units
        return Deliveries(tuple(delivered), in_transit)
    shipped = line.quantity_shipped
    if not shipped and order_status in SHIPPED_ORDER_STATUSES:
        shipped = line.quantity - line.quantity_cancelled
    if shipped and order_delivered_at is not None:
        return Deliveries(((shipped, order_delivered_at),), 0)
    return Deliveries((), shipped)


def line_eligibility(
    line: LineFacts, deliveries: Deliveries, *, window_days: int, now: datetime
) -> LineEligibility:
    """How many units of the line may be returned at `now`, and the reason when not (or not more)."""
    window = timedelta(days=window_days)
    delivered = deliveries.units
    used = line.quantity_returned + line.in_open_returns
    open_windows = [(units, at + window) for units, at in deliveries.delivered if now <= at + window]
    in_window = sum(units for units, _by in open_windows)
    returnable = max(0, min(in_window, delivered - used))
    return_by = max((by for _units, by in open_windows), default=None)
    reason = None
    if line.sku_id is None:
        returnable, reason = 0, NO_SKU
    elif line.final_sale:
        returnable, reason = 0, FINAL_SALE
    elif returnable == 0:
        if not delivered:
            reason = ON_ITS_WAY if deliveries.in_transit else NOT_SHIPPED
        elif used >= delivered:
            reason = IN_A_RETURN if line.in_open_returns else ALREADY_RETURNED
        else:
            closed = max(at for _units, at in deliveries.delivered) + window
            reason = f"The {window_days}-day return window closed on {closed:%d %b %Y}."
    return LineEligibility(
        line.order_line_id,
        line.sku_id,
        line.title,
        line.quantity,
        delivered,
        line.quantity_returned,
        line.in_open_returns,
        returnable,
        return_by,
        reason,
    )


def _blocked(
    order: OrderFacts,
    policy: ReturnPolicy,
    reason: str,
    *,
    handled_by_channel: bool = False,
    instructions: str | None = None,
    cancellation_instead: bool = False,
) -> ReturnEligibility:
    """Nothing on the order may be returned, for one reason given on every line."""
    lines = tuple(
        LineEligibility(
            line.order_line_id,
            line.sku_id,
            line.title,
            line.quantity,
            0,
            line.quantity_returned,
            0,
            0,
            None,
            reason,
        )
        for line in order.lines
    )
    return ReturnEligibility(
        order_id=order.order_id,
        eligible=False,
        reason=reason,
        window_days=policy.window_days,
        handled_by_channel=handled_by_channel,
        instructions=instructions,
        cancellation_instead=cancellation_instead,
        lines=lines,
    )


def order_eligibility(order: OrderFacts, policy: ReturnPolicy, *, now: datetime) -> ReturnEligibility:
    """Per line, how many units of the order may be returned at `now` under the policy (rules above)."""
    if order.status == OrderStatus.CANCELLED:
        return _blocked(order, policy, CANCELLED)
    if policy.handled_by_channel or order.fulfilled_by_channel:
        name = policy.channel_name
        return _blocked(
            order,
            policy,
            f"Returns of {name} orders are handled by {name}.",
            handled_by_channel=True,
            instructions=policy.instructions.strip()
            or f"Start your return from your {name} account, under your orders.",
        )
    results = []
    anything_sent = False
    for line in order.lines:
        deliveries = line_deliveries(line, order.status, order.delivered_at)
        anything_sent = anything_sent or bool(deliveries.units or deliveries.in_transit)
        results.append(line_eligibility(line, deliveries, window_days=policy.window_days, now=now))
    if not anything_sent:
        cancellable = order.status in CANCELLABLE_STATUSES
        return _blocked(
            order,
            policy,
            CANCEL_INSTEAD if cancellable else NOT_SHIPPED_ORDER,
            cancellation_instead=cancellable,
        )
    eligible = any(line.returnable for line in results)
    reason = None
    if not eligible:
        reasons = list(dict.fromkeys(line.reason for line in results if line.reason))
        reason = "Nothing on this order can be returned now: " + " ".join(reasons)
    return ReturnEligibility(
        order_id=order.order_id,
        eligible=eligible,
        reason=reason,
        window_days=policy.window_days,
        handled_by_channel=False,
        instructions=None,
        cancellation_instead=False,
        lines=tuple(results),
    )
