"""Hypothesis over every machine input: each channel's order webhook (correctly signed), the tracking
webhook and inbound email get real documents with random values in random places. Whatever comes in, the
answer is never a 500, a refused body writes no order, and a stored payload always records its outcome.
Examples are bounded (derandomized, a few dozen per door) so this stays a few seconds."""

from __future__ import annotations

import base64
import copy
import hashlib
import hmac
import json
import os
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from core.orders.models import InboundPayload, Order
from tests.fixtures import tracking_file
from tests.security.channels import WEBHOOK_CHANNELS, WebhookChannel
from tests.support_factories import make_email

# FUZZ_EXAMPLES=500 FUZZ_RANDOM=1 for a longer exploratory run.
FUZZ = settings(
    max_examples=int(os.environ.get("FUZZ_EXAMPLES", "25")),
    deadline=None,
    database=None,
    derandomize=os.environ.get("FUZZ_RANDOM") != "1",
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)

JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**40), max_value=10**40)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=40)
    | st.sampled_from(
        ["", "0", "-1", "1e400", "NaN", "12.345", "2026-13-45T99:00:00", "ZZZ", "\u202e", "<b>"]
    ),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=6,
)


def _leaf_paths(node: Any, prefix: tuple = ()) -> list[tuple]:
    if isinstance(node, dict):
        return [p for key, value in node.items() for p in _leaf_paths(value, (*prefix, key))] or [prefix]
    if isinstance(node, list):
        return [p for i, value in enumerate(node) for p in _leaf_paths(value, (*prefix, i))] or [prefix]
    return [prefix]


def _set(document: Any, path: tuple, value: Any) -> Any:
    if not path:
        return value
    node = document
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return document


def mutated(sample: dict[str, Any]):
    """The sample with 1-4 of its values (anywhere, leaves or whole branches) replaced by random JSON."""
    paths = _leaf_paths(sample)
    branches = sorted({p[:n] for p in paths for n in range(1, len(p) + 1)})
    changes = st.lists(st.tuples(st.sampled_from(branches), JSON_VALUES), min_size=1, max_size=4)

    def apply(items) -> bytes:
        document = copy.deepcopy(sample)
        for path, value in items:
            try:
                document = _set(document, path, value)
            except (KeyError, IndexError, TypeError):
                continue  # an earlier change removed the branch
        return json.dumps(document).encode()

    return changes.map(apply)


def _orders(db) -> int:
    return db.scalar(select(func.count()).select_from(Order))


def _payloads(db) -> int:
    return db.scalar(select(func.count()).select_from(InboundPayload))


def check_answer(db, response, orders_before: int, payloads_before: int) -> None:
    assert response.status_code < 500, response.get_data(as_text=True)[:400]
    assert response.mimetype == "application/json"
    db.expire_all()
    if response.status_code != 200:
        assert _orders(db) == orders_before, "a refused body wrote an order"
    answer = response.get_json()
    if "payload_id" in answer:
        payload = db.get(InboundPayload, answer["payload_id"])
        assert payload is not None and payload.status != "received", "a stored payload has no outcome"
    else:
        assert _payloads(db) == payloads_before


@pytest.mark.parametrize("channel", WEBHOOK_CHANNELS, ids=[c.kind for c in WEBHOOK_CHANNELS])
def test_fuzz_order_webhook_signed(app, db, channel: WebhookChannel) -> None:
    channel.create(db)
    db.commit()
    client = app.test_client()

    @FUZZ
    @given(body=mutated(channel.sample))
    def run(body: bytes) -> None:
        orders, payloads = _orders(db), _payloads(db)
        check_answer(db, channel.post(client, body), orders, payloads)

    run()


@pytest.mark.parametrize("channel", WEBHOOK_CHANNELS[:1], ids=["raw-bytes"])
def test_fuzz_order_webhook_arbitrary_bytes(app, db, channel: WebhookChannel) -> None:
    channel.create(db)
    db.commit()
    client = app.test_client()

    @FUZZ
    @given(body=st.binary(max_size=300) | st.text(max_size=300).map(str.encode))
    def run(body: bytes) -> None:
        orders, payloads = _orders(db), _payloads(db)
        check_answer(db, channel.post(client, body), orders, payloads)

    run()


@pytest.mark.parametrize("source", ["aftership", "easypost"])
def test_fuzz_tracking_webhook_signed(app, db, source: str) -> None:
    app.config["TRACKING_WEBHOOK_SECRET"] = "track-secret"
    client = app.test_client()
    sample = json.loads(
        tracking_file(source, "get_tracking.json" if source == "aftership" else "tracker.json").read_text()
    )

    def sign(body: bytes) -> dict[str, str]:
        digest = hmac.new(b"track-secret", body, hashlib.sha256)
        if source == "aftership":
            return {"aftership-hmac-sha256": base64.b64encode(digest.digest()).decode()}
        return {"X-Hmac-Signature": f"hmac-sha256-hex={digest.hexdigest()}"}

    @FUZZ
    @given(body=mutated(sample))
    def run(body: bytes) -> None:
        orders, payloads = _orders(db), _payloads(db)
        response = client.post(
            f"/api/tracking/webhooks/{source}",
            data=body,
            headers={"Content-Type": "application/json", **sign(body)},
        )
        check_answer(db, response, orders, payloads)

    run()


def test_fuzz_inbound_email(app, db) -> None:
    app.config["INBOUND_EMAIL_SECRET"] = "mail-secret"
    client = app.test_client()
    names = st.text(max_size=30).filter(lambda s: "\n" not in s and "\r" not in s)

    @FUZZ
    @given(
        name=names,
        subject=names,
        body=st.text(max_size=200),
        html=st.none() | st.text(max_size=100),
        message_id=st.text(alphabet="abc123@.<>", max_size=20),
    )
    def run(name: str, subject: str, body: str, html: str | None, message_id: str) -> None:
        try:
            raw = make_email(
                sender=f"{name} <fuzz@example.org>",
                subject=subject,
                body=body,
                html=html,
                message_id=message_id or "<m@x>",
            )
        except Exception:  # the email library itself refuses to build it: nothing to send
            return
        payloads = _payloads(db)
        response = client.post(
            "/api/support/inbound-email",
            data=raw,
            headers={"X-Crossdock-Inbound-Secret": "mail-secret", "Content-Type": "message/rfc822"},
        )
        assert response.status_code < 500, response.get_data(as_text=True)[:400]
        assert response.mimetype == "application/json"
        db.expire_all()
        assert _payloads(db) == payloads + 1  # every message is kept, whatever became of it

    run()
