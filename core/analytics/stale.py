"""Keeping the dashboard's summaries exact between refreshes: every write that changes a fact of a summed day
marks that day stale (StaleDay) in the same transaction, so the dashboard reads it live until the next
refresh sums it again (core.analytics.rollup).

Session events see every write: after a flush, the new, changed and deleted orders, order lines, shipments,
tracking events, return requests and lines, refunds and tickets; before a bulk UPDATE or DELETE of those, the
rows its WHERE selects. Which days a change touches:

- an order: the day it was placed (and was, when moved), and when placed before the watermark the days of
  every order of its customer (new customers and their lifetime revenue are counted on first-order days);
  the days of the tickets about it (their channel and SKUs);
- an order line, shipment or tracking event: its order's day; an order line also its order's tickets' days;
- a return request or line: the day of the request and of its order; a refund: its day;
- a ticket: the day it was opened.

A change of a SKU's cost changes the cost of goods of every day, and a change of the support calendar (time
zone, hours, holidays) every ticket's business-time durations: either drops the watermark, so everything is
read live until the next refresh (a full one). Bulk updates that set only a ticket's SLA breach times (the
SLA job, every minute) touch nothing summed.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, delete, event, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session, attributes

from core.analytics.clock import DAY, epoch
from core.analytics.models import RollupState, StaleDay
from core.catalog.models import Sku
from core.fulfillment.models import Shipment, TrackingEvent
from core.orders.models import Order, OrderLine
from core.returns.models import Refund, ReturnLine, ReturnRequest
from core.support.models import BusinessHours, Conversation, SupportCalendar, SupportHoliday

CALENDAR = (SupportCalendar, BusinessHours, SupportHoliday)
WATCHED = (
    Order,
    OrderLine,
    Shipment,
    TrackingEvent,
    ReturnRequest,
    ReturnLine,
    Refund,
    Conversation,
    Sku,
    *CALENDAR,
)
UNSUMMED_TICKET_COLUMNS = frozenset({"first_response_breached_at", "resolution_breached_at"})


class _Touched:
    """What a write touched, resolved to days by `days`."""

    def __init__(self) -> None:
        self.days: set[int] = set()
        self.orders: set[int] = set()  # their placing day and their tickets' days
        self.customers: set[int] = set()  # every day they ordered on
        self.returns: set[int] = set()
        self.shipments: set[int] = set()
        self.refunds: set[int] = set()
        self.tickets: set[int] = set()
        self.reset = False

    def moment(self, value: datetime | None) -> None:
        if value is not None:
            self.days.add(epoch(value) // DAY)

    def resolve(self, conn: Connection, through: int) -> set[int]:
        if self.tickets:
            for created in conn.scalars(
                select(Conversation.created_at).where(Conversation.id.in_(self.tickets))
            ):
                self.moment(created)
        if self.refunds:
            for created in conn.scalars(select(Refund.created_at).where(Refund.id.in_(self.refunds))):
                self.moment(created)
        days = set(self.days)
        if self.shipments:
            self.orders |= set(conn.scalars(select(Shipment.order_id).where(Shipment.id.in_(self.shipments))))
        if self.returns:
            for requested, order_id in conn.execute(
                select(ReturnRequest.requested_at, ReturnRequest.order_id).where(
                    ReturnRequest.id.in_(self.returns)
                )
            ):
                self.moment(requested)
                self.orders.add(order_id)
            days |= self.days
        if self.orders:
            for placed, customer_id in conn.execute(
                select(Order.placed_at, Order.customer_id).where(Order.id.in_(self.orders))
            ):
                days.add(epoch(placed) // DAY)
                if customer_id is not None and epoch(placed) // DAY < through:
                    self.customers.add(customer_id)
            days |= {
                epoch(c) // DAY
                for c in conn.scalars(
                    select(Conversation.created_at).where(Conversation.order_id.in_(self.orders))
                )
            }
        if self.customers:
            days |= {
                epoch(p) // DAY
                for p in conn.scalars(select(Order.placed_at).where(Order.customer_id.in_(self.customers)))
            }
        return {d for d in days if d < through}


def _watermark(conn: Connection) -> int | None:
    return conn.scalar(select(RollupState.through_day).where(RollupState.id == 1))


def _mark(conn: Connection, touched: _Touched) -> None:
    through = _watermark(conn)
    if through is None:
        return
    if touched.reset:
        conn.execute(delete(RollupState))
        return
    days = touched.resolve(conn, through)
    if not days:
        return
    rows = [{"day": d} for d in sorted(days)]
    if conn.dialect.name == "postgresql":
        conn.execute(pg_insert(StaleDay).on_conflict_do_nothing(), rows)
    else:
        conn.execute(sqlite_insert(StaleDay).on_conflict_do_nothing(), rows)


def _history_values(obj: Any, name: str) -> list[Any]:
    history = attributes.get_history(obj, name, passive=attributes.PASSIVE_NO_INITIALIZE)
    return [*(history.added or ()), *(history.unchanged or ()), *(history.deleted or ())]


def _changed(obj: Any, name: str) -> bool:
    return attributes.get_history(obj, name, passive=attributes.PASSIVE_NO_INITIALIZE).has_changes()


def _touch(touched: _Touched, obj: Any, deleted: bool) -> None:
    if isinstance(obj, Order):
        for placed in _history_values(obj, "placed_at"):
            touched.moment(placed)
        if deleted or _changed(obj, "customer_id") or _changed(obj, "placed_at"):
            touched.customers.update(c for c in _history_values(obj, "customer_id") if c is not None)
        if obj.id is not None and not deleted:
            touched.orders.add(obj.id)
    elif isinstance(obj, OrderLine | Shipment):
        touched.orders.update(v for v in _history_values(obj, "order_id") if v is not None)
    elif isinstance(obj, TrackingEvent):
        touched.shipments.update(v for v in _history_values(obj, "shipment_id") if v is not None)
    elif isinstance(obj, ReturnRequest):
        for requested in _history_values(obj, "requested_at"):
            touched.moment(requested)
        touched.orders.update(v for v in _history_values(obj, "order_id") if v is not None)
        if obj.id is not None and not deleted:
            touched.returns.add(obj.id)
    elif isinstance(obj, ReturnLine):
        touched.returns.update(v for v in _history_values(obj, "return_id") if v is not None)
    elif isinstance(obj, Refund):
        for created in _history_values(obj, "created_at"):
            touched.moment(created)
        if obj.id is not None and not deleted:
            touched.refunds.add(obj.id)
    elif isinstance(obj, Conversation):
        for created in _history_values(obj, "created_at"):
            touched.moment(created)
        if obj.id is not None and not deleted:
            touched.tickets.add(obj.id)
    elif isinstance(obj, Sku) and (deleted or _changed(obj, "cost")):
        touched.reset = True
    elif isinstance(obj, CALENDAR):
        touched.reset = True


@event.listens_for(Session, "after_flush")
def _after_flush(session: Session, _context: Any) -> None:
    touched = _Touched()
    changed = False
    for objects, deleted in ((session.new, False), (session.dirty, False), (session.deleted, True)):
        for obj in objects:
            if isinstance(obj, WATCHED) and (deleted or obj in session.new or session.is_modified(obj)):
                _touch(touched, obj, deleted)
                changed = True
    if changed:
        _mark(session.connection(), touched)


@event.listens_for(Session, "do_orm_execute")
def _bulk_write(state: Any) -> None:
    if not (state.is_update or state.is_delete):
        return
    entity = state.bind_arguments.get("mapper")
    model = entity.class_ if entity is not None else None
    if model not in WATCHED:
        return
    statement = state.statement
    values = getattr(statement, "_values", None) or {}
    names = {getattr(k, "key", str(k)) for k in values}
    if model is Conversation and state.is_update and names and names <= UNSUMMED_TICKET_COLUMNS:
        return
    conn = state.session.connection()
    if _watermark(conn) is None:
        return
    touched = _Touched()
    where = statement.whereclause
    if model is Sku:
        touched.reset = state.is_delete or "cost" in names
    elif model in CALENDAR:
        touched.reset = True
    else:
        table = model.__table__
        query = select(table.c.id) if where is None else select(table.c.id).where(where)
        ids = set(conn.scalars(query))
        if model is Order:
            touched.orders |= ids
            for key, value in values.items():
                if getattr(key, "key", None) == "customer_id":
                    new_customer = getattr(value, "value", None)
                    if new_customer is None:
                        touched.reset = True
                    else:
                        touched.customers.add(new_customer)
        elif model is Conversation:
            touched.tickets |= ids
        elif model is ReturnRequest:
            touched.returns |= ids
        elif model is ReturnLine:
            touched.returns |= set(conn.scalars(select(ReturnLine.return_id).where(ReturnLine.id.in_(ids))))
        elif model is TrackingEvent:
            touched.shipments |= set(
                conn.scalars(select(TrackingEvent.shipment_id).where(TrackingEvent.id.in_(ids)))
            )
        elif model is Shipment:
            touched.shipments |= ids
        elif model is OrderLine:
            touched.orders |= set(conn.scalars(select(OrderLine.order_id).where(OrderLine.id.in_(ids))))
        elif model is Refund:
            touched.refunds |= ids
    _mark(conn, touched)
