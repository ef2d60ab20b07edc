"""Drop-ship: the purchase order emailed to the supplier with a signed, no-login confirmation link, and the
supplier's confirmation, which ships what is reserved there (core.fulfillment.services.mark_shipped).
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import date, datetime, timedelta
from typing import Any

from itsdangerous import BadSignature, SignatureExpired, TimestampSigner, URLSafeTimedSerializer
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.audit.services import record_audit
from core.catalog.models import Sku
from core.errors import DomainError, NotFound
from core.fulfillment import events
from core.fulfillment.models import Shipment
from core.fulfillment.queries import get_location, ship_to
from core.fulfillment.services import (
    SHIPPED_BY_DROPSHIP,
    check_shippable,
    lock_order,
    mark_shipped,
    reserved_allocations,
)
from core.fulfillment.status import OPEN_SHIPMENT_STATUSES
from core.inventory.models import Location
from core.notifications.models import OutboxMessage
from core.orders.models import Allocation, Order, OrderLine
from core.security.roles import Actor

DROPSHIP_SALT = "dropship-confirm"
DROPSHIP_LINK_MAX_AGE = timedelta(days=30)


class InvalidLink(DomainError):
    """A supplier's confirmation link that is forged, damaged or older than 30 days."""


class _ClockSigner(TimestampSigner):
    """A timestamp signer reading the caller's clock (`now`): links age by the time services are given."""

    def __init__(self, *args: Any, now: datetime, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._now = int(now.timestamp())

    def get_timestamp(self) -> int:
        return self._now


def _link_serializer(secret: str, now: datetime) -> URLSafeTimedSerializer:
    if not secret:
        raise ValueError("a secret key is required to sign drop-ship links")
    return URLSafeTimedSerializer(secret, salt=DROPSHIP_SALT, signer=_ClockSigner, signer_kwargs={"now": now})


def make_dropship_token(secret: str, order_id: int, location_id: int, *, now: datetime) -> str:
    """A signed token naming one order and one supplier location, dated `now`."""
    return _link_serializer(secret, now).dumps({"order": order_id, "location": location_id})


def read_dropship_token(secret: str, token: str, *, now: datetime) -> tuple[int, int]:
    """(order id, location id) of a token; InvalidLink when forged, damaged or past 30 days old."""
    try:
        value = _link_serializer(secret, now).loads(token, max_age=int(DROPSHIP_LINK_MAX_AGE.total_seconds()))
    except SignatureExpired as exc:
        raise InvalidLink("this confirmation link has expired: ask us for a new one") from exc
    except BadSignature as exc:
        raise InvalidLink("this confirmation link is not valid") from exc
    if (
        not isinstance(value, dict)
        or not isinstance(value.get("order"), int)
        or not isinstance(value.get("location"), int)
    ):
        raise InvalidLink("this confirmation link is not valid")
    return value["order"], value["location"]


def _po_lines(session: Session, order_id: int, location_id: int) -> list[dict[str, Any]]:
    """The order's units reserved at the supplier, one entry per line."""
    rows = session.execute(
        select(OrderLine.line_no, Sku.code, OrderLine.title, func.sum(Allocation.quantity))
        .join(OrderLine, OrderLine.id == Allocation.order_line_id)
        .outerjoin(Sku, Sku.id == OrderLine.sku_id)
        .where(
            OrderLine.order_id == order_id,
            Allocation.location_id == location_id,
            Allocation.status == "reserved",
        )
        .group_by(OrderLine.line_no, Sku.code, OrderLine.title)
        .order_by(OrderLine.line_no)
    ).all()
    return [{"sku": code or "", "title": title, "quantity": int(units)} for _no, code, title, units in rows]


def send_purchase_order(
    session: Session,
    order_id: int,
    location_id: int,
    *,
    secret: str,
    base_url: str,
    actor: Actor,
    now: datetime,
) -> OutboxMessage:
    """Queue the purchase order email to the drop-ship supplier: ship-to, lines and a signed confirm link.

    One per order and supplier (dedup key po:<order>:<location>): asking again returns the queued message
    and records nothing. The link is `base_url` + "/" + token and stays valid for 30 days. Audited.
    """
    order = session.get(Order, order_id)
    if order is None:
        raise NotFound(f"order {order_id} not found")
    location = get_location(session, location_id)
    if location.fulfillment_method != "dropship":
        raise DomainError(f"{location.name} is not a drop-ship supplier")
    if not location.email:
        raise DomainError(f"{location.name} has no email address for purchase orders")
    dedup_key = f"po:{order.id}:{location.id}"
    queued = session.scalars(select(OutboxMessage).where(OutboxMessage.dedup_key == dedup_key)).first()
    if queued is not None:
        return queued
    check_shippable(order)
    lines = _po_lines(session, order.id, location.id)
    if not lines:
        raise DomainError(f"order {order.number} has nothing reserved at {location.name}")
    token = make_dropship_token(secret, order.id, location.id, now=now)
    message = OutboxMessage(
        kind="dropship_po",
        transport="email",
        dedup_key=dedup_key,
        recipient=location.email,
        subject=f"Purchase order {order.number}",
        payload={
            "order_id": order.id,
            "order_number": order.number,
            "placed_at": order.placed_at.isoformat(),
            "supplier": {"code": location.code, "name": location.name},
            "ship_to": ship_to(order),
            "shipping_method": order.shipping_method,
            "note": order.note,
            "dispatch_by": order.expected_dispatch_by.isoformat() if order.expected_dispatch_by else None,
            "lines": lines,
            "confirm_url": f"{base_url.rstrip('/')}/{token}",
            "link_expires_at": (now + DROPSHIP_LINK_MAX_AGE).isoformat(),
        },
        status="pending",
        attempts=0,
        next_attempt_at=now,
        created_at=now,
    )
    session.add(message)
    events.purchase_order_sent(session, order, location, actor=actor.label, now=now)
    session.flush()
    record_audit(
        session,
        actor,
        "order.purchase_order_sent",
        "order",
        order.id,
        now=now,
        after={"location_id": location.id, "recipient": message.recipient, "outbox_id": message.id},
    )
    return message


def confirm_dropship_shipment(
    session: Session,
    token: str,
    *,
    secret: str,
    carrier: str,
    tracking_number: str,
    now: datetime,
    holidays: Collection[date] = (),
) -> Shipment:
    """The supplier's no-login confirmation: read the signed link, then ship what is reserved there.

    Idempotent: once the supplier's units have shipped, confirming again returns that parcel unchanged. The
    shipment is audited as done by the supplier ("supplier:<location code>").
    InvalidLink for a forged, damaged or expired link; DomainError when the order was cancelled meanwhile.
    """
    order_id, location_id = read_dropship_token(secret, token, now=now)
    location = session.get(Location, location_id)
    if location is None or session.get(Order, order_id) is None:
        raise InvalidLink("this confirmation link is not valid")
    order = lock_order(session, order_id)
    if not reserved_allocations(session, order.id, location.id):
        shipped = session.scalars(
            select(Shipment)
            .where(
                Shipment.order_id == order.id,
                Shipment.location_id == location.id,
                Shipment.status.not_in([s.value for s in OPEN_SHIPMENT_STATUSES]),
            )
            .order_by(Shipment.id.desc())
        ).first()
        if shipped is not None:
            return shipped
        raise DomainError(f"order {order.number} has nothing left to ship from {location.name}")
    [shipment] = mark_shipped(
        session,
        order.id,
        location_id=location.id,
        carrier=carrier,
        tracking_number=tracking_number,
        actor=Actor(label=f"supplier:{location.code}"[:100]),
        now=now,
        holidays=holidays,
        source=SHIPPED_BY_DROPSHIP,
    )
    return shipment
