"""Shopify's mandatory compliance webhooks, after the raw body was verified and stored.

Their bodies (Shopify's documented shapes):
- customers/data_request: {"shop_id", "shop_domain", "orders_requested": [order ids], "customer": {"id",
  "email", "phone"}, "data_request": {"id"}} -> an export request recorded for staff (the merchant answers
  the customer; the console's export produces the file);
- customers/redact: {"shop_id", "shop_domain", "customer": {"id", "email", "phone"}, "orders_to_redact":
  [order ids]} -> the matching customers erased at once (Shopify sends it only once the merchant's own
  checks are over, 10 days after the request unless there are recent orders);
- shop/redact: {"shop_id", "shop_domain"} (48 hours after the app is uninstalled) -> every customer's data of
  that channel erased, by the worker (`channel_erasure_job`: a whole shop takes longer than Shopify waits).
A customer is matched on this channel by Shopify's customer id, by email, and through the listed orders."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.channels.models import Channel
from core.customers.models import Customer, Identity
from core.errors import DomainError
from core.orders.models import InboundPayload, Order
from core.privacy.erasure import delete_return_photos, erase_channel_data, erase_customer
from core.privacy.models import PrivacyRequest
from core.privacy.services import record_privacy_request
from core.returns.photos import UPLOADS_DIR
from core.security.roles import Actor

COMPLIANCE_TOPICS = ("customers/data_request", "customers/redact", "shop/redact")


def _ids(values: Any, field: str) -> list[str]:
    if values is None:
        return []
    if not isinstance(values, list) or not all(isinstance(v, int | str) for v in values):
        raise DomainError(f"{field} must be a list of order ids")
    return [str(v) for v in values]


def _customer_part(document: dict[str, Any]) -> dict[str, Any]:
    customer = document.get("customer")
    if not isinstance(customer, dict):
        raise DomainError("the body has no customer object")
    return customer


def matching_customers(
    session: Session, channel: Channel, customer: dict[str, Any], order_ids: list[str]
) -> list[int]:
    """The customers (not merged away) this channel's customer id, email or listed orders point at."""
    found: set[int] = set()
    if customer.get("id") is not None:
        found |= set(
            session.scalars(
                select(Identity.customer_id).where(
                    Identity.channel_id == channel.id, Identity.external_id == str(customer["id"])
                )
            )
        )
    email = str(customer.get("email") or "").strip().lower()
    if email:
        found |= set(
            session.scalars(
                select(Identity.customer_id).where(
                    Identity.channel_id == channel.id, func.lower(Identity.email) == email
                )
            )
        )
    if order_ids:
        found |= set(
            session.scalars(
                select(Order.customer_id).where(
                    Order.channel_id == channel.id,
                    Order.external_id.in_(order_ids),
                    Order.customer_id.is_not(None),
                )
            )
        )
    roots: set[int] = set()
    for customer_id in found:
        row = session.get(Customer, customer_id)
        while row is not None and row.merged_into_id is not None:
            row = session.get(Customer, row.merged_into_id)
        if row is not None:
            roots.add(row.id)
    return sorted(roots)


def process_compliance_webhook(
    session: Session, channel: Channel, payload: InboundPayload, *, now: datetime
) -> tuple[dict[str, Any], list[str]]:
    """Act on a stored compliance webhook and record the outcome on the payload; returns the outcome and the
    return photos to delete once committed. DomainError for a body that is not the topic's shape (the
    caller marks the payload rejected)."""
    topic = payload.topic or ""
    if topic not in COMPLIANCE_TOPICS:
        expected = ", ".join(COMPLIANCE_TOPICS)
        raise DomainError(f"unknown compliance topic {topic!r}: expected one of {expected}")
    try:
        document = json.loads(payload.body)
    except ValueError as exc:
        raise DomainError(f"invalid JSON: {exc}") from exc
    if not isinstance(document, dict):
        raise DomainError("the body is not a JSON object")
    actor = Actor(label=f"channel:{channel.code}")
    reference: dict[str, Any] = {"topic": topic, "shop_domain": document.get("shop_domain")}
    photo_paths: list[str] = []
    if topic == "shop/redact":
        # A whole shop can take longer than the 5 seconds Shopify waits: recorded here, erased by the worker.
        request = record_privacy_request(
            session,
            "erasure",
            source="shopify",
            now=now,
            channel_id=channel.id,
            payload_id=payload.id,
            reference=reference | {"scope": "channel"},
        )
        outcome = {"queued": request.id}
    elif topic == "customers/redact":
        customer = _customer_part(document)
        order_ids = _ids(document.get("orders_to_redact"), "orders_to_redact")
        customers = matching_customers(session, channel, customer, order_ids)
        reference |= {"channel_customer_id": customer.get("id"), "orders": order_ids}
        for customer_id in customers:
            request = record_privacy_request(
                session,
                "erasure",
                source="shopify",
                now=now,
                customer_id=customer_id,
                channel_id=channel.id,
                payload_id=payload.id,
                reference=reference,
            )
            report = erase_customer(
                session, customer_id, actor=actor, now=now, reason=topic, request_id=request.id
            )
            photo_paths += report.photo_paths
        outcome = {"customers_erased": len(customers)}
    else:
        customer = _customer_part(document)
        order_ids = _ids(document.get("orders_requested"), "orders_requested")
        customers = matching_customers(session, channel, customer, order_ids)
        data_request = document.get("data_request")
        reference |= {
            "channel_customer_id": customer.get("id"),
            "orders": order_ids,
            "data_request_id": data_request.get("id") if isinstance(data_request, dict) else None,
        }
        requests = [
            record_privacy_request(
                session,
                "export",
                source="shopify",
                now=now,
                customer_id=customer_id,
                channel_id=channel.id,
                payload_id=payload.id,
                reference=reference,
            )
            for customer_id in customers or [None]
        ]
        outcome = {"requests": [r.id for r in requests], "customers": customers}
    payload.status, payload.processed_at = "processed", now
    return {"topic": topic, **outcome}, photo_paths


def channel_erasure_job(session: Session, now: datetime) -> dict[str, Any]:
    """Carry out the recorded shop/redact requests: each channel's customer data erased, the request done."""
    requests = session.scalars(
        select(PrivacyRequest)
        .where(
            PrivacyRequest.status == "open",
            PrivacyRequest.kind == "erasure",
            PrivacyRequest.customer_id.is_(None),
            PrivacyRequest.channel_id.is_not(None),
        )
        .order_by(PrivacyRequest.id)
    ).all()
    done = []
    for request in requests:
        channel = session.get(Channel, request.channel_id)
        if channel is None or (request.reference or {}).get("scope") != "channel":
            continue
        actor = Actor(label=f"channel:{channel.code}")
        outcome, photo_paths = erase_channel_data(
            session, channel.id, actor=actor, now=now, reason="shop/redact"
        )
        request.status, request.completed_at, request.completed_by = "done", now, actor.label
        request.outcome = outcome
        # Deleted before the job's unit of work commits: a failed commit leaves the request open, and the
        # next run erases again; the returns then name no photo either way.
        delete_return_photos(photo_paths, UPLOADS_DIR)
        done.append(request.id)
    return {"requests": done}
