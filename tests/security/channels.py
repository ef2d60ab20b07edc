"""Each channel kind that pushes orders by webhook: a real sample order, where its first line's quantity
is, and how to sign a body as that channel does; for the input-limit and fuzz tests."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.channels.signatures import sign, webhook_kinds
from core.db import Base
from tests.factories import make_channel
from tests.fixtures import channel_file

SECRET = "whsec-security"
NOTIFY_URL = "https://crossdock.example/api/channels/{code}/webhooks/orders"


@dataclass(frozen=True)
class WebhookChannel:
    kind: str
    sample: dict[str, Any]
    first_line: Callable[[dict[str, Any]], dict[str, Any]]  # the native dict of the first line

    @property
    def code(self) -> str:
        return f"hook-{self.kind}"

    def headers(self, body: bytes) -> dict[str, str]:
        scheme = webhook_kinds()[self.kind]
        url = NOTIFY_URL.format(code=self.code) if scheme.signs_url else ""
        return {scheme.signature_header: sign(SECRET, body, url), "Content-Type": "application/json"}

    def create(self, session: Session) -> None:
        make_channel(
            session,
            code=self.code,
            kind=self.kind,
            webhook_secret=SECRET,
            credentials={"notification_url": NOTIFY_URL.format(code=self.code)},
        )

    def post(self, client, body: bytes):
        return client.post(
            f"/api/channels/{self.code}/webhooks/orders", data=body, headers=self.headers(body)
        )


def _sample(kind: str) -> dict[str, Any]:
    return json.loads(channel_file(kind, "order.json").read_text())


WEBHOOK_CHANNELS = [
    WebhookChannel("shopify", _sample("shopify"), lambda d: d["order"]["line_items"][0]),
    WebhookChannel("woocommerce", _sample("woocommerce"), lambda d: d["line_items"][0]),
    WebhookChannel("square", _sample("square"), lambda d: d["order"]["line_items"][0]),
    WebhookChannel("webshop", _sample("webshop"), lambda d: d["order"]["lines"][0]),
]
# A webhook that only names an order to fetch (BigCommerce's, authenticated by a registered header) carries no
# order to fuzz: tests/web/test_bigcommerce_webhooks.py covers it.
ANNOUNCE_ONLY = {kind for kind, scheme in webhook_kinds().items() if scheme.secret_header}
assert {c.kind for c in WEBHOOK_CHANNELS} == set(webhook_kinds()) - ANNOUNCE_ONLY, (
    "a new webhook channel needs a row here"
)


def row_counts(session: Session, *, without: tuple[str, ...] = ()) -> dict[str, int]:
    """Rows per table (all of them), to prove a refused request wrote nothing."""
    return {
        table.name: session.scalar(select(func.count()).select_from(table))
        for table in Base.metadata.sorted_tables
        if table.name not in without
    }
