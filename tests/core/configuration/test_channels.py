"""Channel set-up without the seed: add a channel of any registered kind, change it, list them; audited."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from core.audit.models import AuditEntry
from core.channels.registry import ADAPTERS
from core.configuration.channels import add_channel, change_channel, channel_summaries
from core.errors import DomainError, NotFound
from core.security.roles import Actor
from tests.factories import NOW
from tests.inventory_factories import make_location

OPS = Actor(label="ops")


def audit(db, action: str) -> list[AuditEntry]:
    return list(db.scalars(select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)))


@pytest.mark.parametrize("kind", sorted(ADAPTERS))
def test_add_channel_of_every_registered_kind(db, kind: str) -> None:
    channel = add_channel(db, f"My-{kind}", kind=kind, name=f"My {kind}", actor=OPS, now=NOW)
    assert channel.code == f"my-{kind}" and channel.kind == kind and channel.active
    takes_webhooks = getattr(ADAPTERS[kind], "WEBHOOK", None) is not None
    assert bool(channel.webhook_secret) is takes_webhooks  # a secret to paste where the channel signs
    assert channel.is_marketplace is (getattr(ADAPTERS[kind], "poll_pages", None) is not None)


def test_add_channel_serves_locations_and_is_audited_without_its_secret(db) -> None:
    make_location(db, code="EAST")
    make_location(db, code="WEST")
    channel = add_channel(
        db,
        "shopify",
        kind="shopify",
        name="Shopify store",
        base_url="https://lamps.myshopify.com/",
        location_codes=["east", "WEST"],
        actor=OPS,
        now=NOW,
    )
    assert channel.base_url == "https://lamps.myshopify.com"
    assert sorted(loc.code for loc in channel.locations) == ["EAST", "WEST"]
    [entry] = audit(db, "channel.add")
    assert entry.actor_label == "ops" and entry.after["locations"] == ["EAST", "WEST"]
    assert entry.after["has_webhook_secret"] is True
    assert channel.webhook_secret not in str(entry.after)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"code": "no spaces"}, "lowercase letters"),
        ({"code": ""}, "lowercase letters"),
        ({"kind": "myspace"}, "unknown channel kind 'myspace'"),
        ({"name": "  "}, "1 to 100 characters"),
        ({"base_url": "ftp://x.example"}, r"http\(s\) URL"),
        ({"base_url": "shop.example.com"}, r"http\(s\) URL"),
    ],
)
def test_add_channel_refuses_bad_input_with_the_reason(db, overrides, message) -> None:
    fields = {"code": "web", "kind": "webshop", "name": "Web shop"} | overrides
    with pytest.raises(DomainError, match=message):
        add_channel(db, fields.pop("code"), **fields, actor=OPS, now=NOW)


def test_add_channel_twice_or_with_unknown_location_is_refused(db) -> None:
    add_channel(db, "web", kind="webshop", name="Web shop", actor=OPS, now=NOW)
    with pytest.raises(DomainError, match="already exists"):
        add_channel(db, "WEB", kind="webshop", name="Again", actor=OPS, now=NOW)
    with pytest.raises(NotFound, match="NOWHERE"):
        add_channel(db, "web2", kind="webshop", name="Two", location_codes=["nowhere"], actor=OPS, now=NOW)


def test_change_channel_sets_only_what_changed_and_audits_before_and_after(db) -> None:
    make_location(db, code="STORE")
    add_channel(db, "ebay", kind="ebay", name="eBay", actor=OPS, now=NOW)
    channel = change_channel(
        db,
        "ebay",
        {"stock_buffer_units": 2, "return_window_days": 60, "active": False},
        location_codes=["store"],
        actor=OPS,
        now=NOW,
    )
    assert (channel.stock_buffer_units, channel.return_window_days, channel.active) == (2, 60, False)
    [entry] = audit(db, "channel.change")
    assert entry.before["stock_buffer_units"] == 0 and entry.after["stock_buffer_units"] == 2
    assert entry.after["locations"] == ["STORE"]
    change_channel(db, "ebay", {"stock_buffer_units": 2}, actor=OPS, now=NOW)
    assert len(audit(db, "channel.change")) == 1  # nothing changed, nothing recorded


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"kind": "amazon"}, "cannot set kind"),
        ({"stock_buffer_percent": 120}, "from 0 to 100"),
        ({"return_window_days": -1}, "from 0 to 365"),
        ({"active": "yes"}, "true or false"),
        ({"webhook_secret": "short"}, "at least 16"),
    ],
)
def test_change_channel_refuses_bad_values(db, changes, message) -> None:
    add_channel(db, "woo", kind="woocommerce", name="Woo", actor=OPS, now=NOW)
    with pytest.raises(DomainError, match=message):
        change_channel(db, "woo", changes, actor=OPS, now=NOW)


def test_change_channel_unknown_code_is_not_found(db) -> None:
    with pytest.raises(NotFound, match="unknown channel 'nope'"):
        change_channel(db, "nope", {"name": "X"}, actor=OPS, now=NOW)


def test_channel_summaries_list_every_channel_by_code(db) -> None:
    make_location(db, code="EAST")
    add_channel(db, "web", kind="webshop", name="Web shop", location_codes=["EAST"], actor=OPS, now=NOW)
    add_channel(db, "amazon", kind="amazon", name="Amazon", actor=OPS, now=NOW)
    summaries = {s.code: s for s in channel_summaries(db)}
    assert [s.code for s in channel_summaries(db)] == sorted(summaries)
    assert summaries["web"].takes_webhooks and not summaries["web"].polled
    assert summaries["amazon"].polled and summaries["web"].locations == ("EAST",)
    assert summaries["web"].as_json()["locations"] == ["EAST"]
