"""Channel set-up: add a channel of any registered kind, change its settings, list what is configured.

A fresh database has no channel; these are how a merchant creates one (the console and `crossdock channels`),
each change audited. A channel that takes webhooks gets a signing secret when none is given."""

from __future__ import annotations

import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from core.audit.services import record_audit
from core.channels.models import Channel
from core.channels.registry import ADAPTERS, hook
from core.errors import DomainError, NotFound
from core.inventory.models import Location
from core.security.encryption import require_key
from core.security.roles import Actor

CODE_PATTERN = re.compile(r"[a-z0-9][a-z0-9_-]{0,31}")
# What `change_channel` may set, with the check each value must pass.
CHANGEABLE = (
    "name",
    "sender_name",
    "base_url",
    "webhook_secret",
    "active",
    "is_marketplace",
    "return_window_days",
    "returns_handled_by_channel",
    "return_instructions",
    "stock_buffer_units",
    "stock_buffer_percent",
    "stock_floor",
)


@dataclass(frozen=True)
class ChannelSummary:
    """One configured channel as `channels list` shows it."""

    code: str
    name: str
    kind: str
    active: bool
    base_url: str | None
    takes_webhooks: bool
    polled: bool
    locations: tuple[str, ...]
    return_window_days: int
    returns_handled_by_channel: bool
    stock_buffer_units: int
    stock_buffer_percent: int
    stock_floor: int

    def as_json(self) -> dict[str, Any]:
        return {**self.__dict__, "locations": list(self.locations)}


def add_channel(
    session: Session,
    code: str,
    *,
    kind: str,
    name: str,
    base_url: str | None = None,
    location_codes: Sequence[str] = (),
    webhook_secret: str | None = None,
    actor: Actor,
    now: datetime,
) -> Channel:
    """A new channel of a registered kind, serving the given locations (DomainError names what is wrong)."""
    code = code.strip().lower()
    if not CODE_PATTERN.fullmatch(code):
        raise DomainError(
            f"channel code {code!r}: 1 to 32 lowercase letters, digits, '-' or '_', "
            "starting with a letter or digit"
        )
    if kind not in ADAPTERS:
        raise DomainError(f"unknown channel kind {kind!r}: use one of {', '.join(sorted(ADAPTERS))}")
    if session.scalar(select(Channel.id).where(Channel.code == code)) is not None:
        raise DomainError(f"a channel with code {code!r} already exists")
    if webhook_secret is None and hook(kind, "WEBHOOK") is not None:
        webhook_secret = new_webhook_secret()
    if webhook_secret:
        require_key()
    channel = Channel(
        code=code,
        name=_name(name),
        kind=kind,
        sender_name=_name(name),
        credentials={},
        webhook_secret=webhook_secret,
        base_url=_base_url(base_url),
        is_marketplace=hook(kind, "poll_pages") is not None,
        created_at=now,
    )
    channel.locations = _locations(session, location_codes)
    session.add(channel)
    session.flush()
    record_audit(session, actor, "channel.add", "channel", channel.id, now=now, after=_audited(channel))
    return channel


def new_webhook_secret() -> str:
    """A random signing secret for a channel's webhooks."""
    return secrets.token_urlsafe(32)


def change_channel(
    session: Session,
    code: str,
    changes: dict[str, Any],
    *,
    location_codes: Sequence[str] | None = None,
    actor: Actor,
    now: datetime,
) -> Channel:
    """Set some of a channel's settings (CHANGEABLE) and, when given, the locations that serve it."""
    channel = channel_settings(session, code)
    unknown = sorted(set(changes) - set(CHANGEABLE))
    if unknown:
        raise DomainError(f"cannot set {', '.join(unknown)} on a channel")
    if changes.get("webhook_secret"):
        require_key()
    before = _audited(channel)
    old_secret = channel.webhook_secret
    for field, value in changes.items():
        setattr(channel, field, _checked(field, value))
    if location_codes is not None:
        channel.locations = _locations(session, location_codes)
    after = _audited(channel)
    if channel.webhook_secret != old_secret:
        after["webhook_secret_replaced"] = True  # that it changed, never what it is
    if after != before:
        record_audit(
            session, actor, "channel.change", "channel", channel.id, now=now, before=before, after=after
        )
    return channel


def channel_summaries(session: Session) -> list[ChannelSummary]:
    """Every channel, by code, with the locations that serve it (two queries)."""
    channels = session.scalars(
        select(Channel).options(selectinload(Channel.locations)).order_by(Channel.code)
    ).all()
    return [
        ChannelSummary(
            code=c.code,
            name=c.name,
            kind=c.kind,
            active=c.active,
            base_url=c.base_url,
            takes_webhooks=hook(c.kind, "WEBHOOK") is not None,
            polled=hook(c.kind, "poll_pages") is not None,
            locations=tuple(sorted(loc.code for loc in c.locations)),
            return_window_days=c.return_window_days,
            returns_handled_by_channel=c.returns_handled_by_channel,
            stock_buffer_units=c.stock_buffer_units,
            stock_buffer_percent=c.stock_buffer_percent,
            stock_floor=c.stock_floor,
        )
        for c in channels
    ]


def _name(name: str) -> str:
    name = name.strip()
    if not name or len(name) > 100:
        raise DomainError("a channel's name must be 1 to 100 characters")
    return name


def _base_url(url: str | None) -> str | None:
    if url is None or not url.strip():
        return None
    url = url.strip().rstrip("/")
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.netloc or len(url) > 300:
        raise DomainError(f"base URL {url!r}: give an http(s) URL such as https://shop.example.com")
    return url


def _checked(field: str, value: Any) -> Any:
    if field in ("name", "sender_name"):
        return _name(str(value))
    if field == "base_url":
        return _base_url(value)
    if field == "webhook_secret":
        secret = (value or "").strip()
        if len(secret) < 16:
            raise DomainError("a webhook secret must be at least 16 characters")
        return secret
    if field in ("active", "is_marketplace", "returns_handled_by_channel"):
        if not isinstance(value, bool):
            raise DomainError(f"{field} is true or false")
        return value
    if field == "return_instructions":
        return str(value)
    limits = {"return_window_days": 365, "stock_buffer_units": 100_000, "stock_buffer_percent": 100}
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= limits.get(field, 100_000):
        raise DomainError(f"{field} must be a whole number from 0 to {limits.get(field, 100_000)}")
    return value


def _locations(session: Session, codes: Sequence[str]) -> list[Location]:
    wanted = [c.strip().upper() for c in codes if c.strip()]
    if not wanted:
        return []
    found = {loc.code: loc for loc in session.scalars(select(Location).where(Location.code.in_(wanted)))}
    missing = [c for c in wanted if c not in found]
    if missing:
        raise NotFound(f"unknown location(s): {', '.join(missing)}")
    return [found[c] for c in dict.fromkeys(wanted)]


def _audited(channel: Channel) -> dict[str, Any]:
    # The secret itself never goes into the audit log: only whether one is set.
    values = {f: getattr(channel, f) for f in CHANGEABLE if f != "webhook_secret"}
    return {
        **values,
        "kind": channel.kind,
        "has_webhook_secret": bool(channel.webhook_secret),
        "locations": sorted(loc.code for loc in channel.locations),
    }


def channel_settings(session: Session, code: str) -> Channel:
    """One channel with the locations that serve it, for its settings page; NotFound for an unknown code."""
    channel = session.scalar(
        select(Channel).where(Channel.code == code.strip().lower()).options(selectinload(Channel.locations))
    )
    if channel is None:
        raise NotFound(f"unknown channel {code!r}")
    return channel


def location_choices(session: Session) -> list[tuple[str, str]]:
    """Every active location as (code, name), for choosing the ones that serve a channel."""
    query = select(Location.code, Location.name).where(Location.active).order_by(Location.code)
    return [(code, name) for code, name in session.execute(query)]
