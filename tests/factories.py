"""Factories for test data: `make_x(session, **overrides)` adds a valid row and flushes it."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session

from core.catalog.models import Product, Sku
from core.channels.models import Channel
from core.customers.models import Customer
from core.orders.models import Order, OrderLine
from core.orders.services import format_order_number
from core.security.models import User
from core.security.passwords import hash_password

PASSWORD = "correct-horse-battery"
_PASSWORD_HASH = hash_password(PASSWORD)  # hashed once: argon2 is slow on purpose
_seq = itertools.count(1)
NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def _n() -> int:
    return next(_seq)


def make_channel(session: Session, **overrides: Any) -> Channel:
    n = _n()
    fields = {"code": f"shop{n}", "name": f"Shop {n}", "kind": "webshop", "webhook_secret": "s3cret"}
    channel = Channel(**(fields | overrides))
    session.add(channel)
    session.flush()
    return channel


def make_customer(session: Session, **overrides: Any) -> Customer:
    n = _n()
    customer = Customer(**({"name": f"Customer {n}", "email": f"customer{n}@example.org"} | overrides))
    session.add(customer)
    session.flush()
    return customer


def make_user(session: Session, role: str = "agent", **overrides: Any) -> User:
    n = _n()
    if role == "customer" and "customer_id" not in overrides:
        overrides["customer_id"] = make_customer(session).id
    fields = {
        "email": f"{role}{n}@example.org",
        "name": f"{role.title()} {n}",
        "password_hash": _PASSWORD_HASH,
        "role": role,
        "email_verified_at": NOW,
    }
    user = User(**(fields | overrides))
    session.add(user)
    session.flush()
    return user


def make_sku(session: Session, **overrides: Any) -> Sku:
    n = _n()
    product = Product(title=f"Product {n}")
    session.add(product)
    session.flush()
    sku = Sku(
        **({"product_id": product.id, "code": f"SKU-{n}", "title": f"Product {n}", "price": 1999} | overrides)
    )
    session.add(sku)
    session.flush()
    return sku


def make_order(session: Session, *, lines: int = 1, **overrides: Any) -> Order:
    """An order with `lines` lines of 1 x 19.99, numbered like real ones."""
    n = _n()
    if "channel_id" not in overrides:
        overrides["channel_id"] = make_channel(session).id
    fields = {
        "external_id": f"EXT-{n}",
        "number": f"TMP-{n}",
        "status": "pending",
        "placed_at": NOW,
        "currency": "USD",
        "subtotal": 1999 * lines,
        "total": 1999 * lines,
    }
    order = Order(**(fields | overrides))
    session.add(order)
    session.flush()
    if order.number.startswith("TMP-"):
        order.number = format_order_number(order.id)
    for i in range(lines):
        session.add(
            OrderLine(
                order_id=order.id,
                line_no=i + 1,
                channel_sku=f"CH-{n}-{i}",
                title=f"Item {i + 1}",
                quantity=1,
                unit_price=1999,
                total=1999,
            )
        )
    session.flush()
    return order
