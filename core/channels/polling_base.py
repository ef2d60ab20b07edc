"""What the adapters' poll hooks share: the page they yield, the error they raise and the response readers.

An adapter module whose channel's orders are polled defines, beside KIND/extract/adapt, the hook
`poll_pages(client, credentials, since, until) -> Iterator[Page]`, which `core.channel_sync.polling` looks up
through the registry (the kinds with this hook are the polled ones): fetch the orders updated from `since` to
`until` (None: up to the latest the channel gives; a channel that only answers for times some way in the past
ends the window that much earlier), one Page per page of orders, each with the documents that go with its
orders, so that the page is stored and processed together. The hook raises base.MissingCredentials naming
what the credentials lack, ChannelHttpError (from the client) when a fetch fails, PollError when an answer
cannot be read.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from core.channels.base import MissingCredentials
from core.channels.http import HttpClient, HttpResponse
from core.errors import DomainError

MAX_PAGES = 200  # per poll: a guard against a channel that keeps answering with a next page


class PollError(DomainError):
    """A poll could not go on: a channel not set up for polling, an unreadable answer, failed processing."""


@dataclass
class Page:
    """One page of orders and the documents that go with it, stored and processed together."""

    bodies: list[tuple[str, HttpResponse]] = field(default_factory=list)  # (topic, response)
    orders: int = 0
    updated: list[datetime] = field(default_factory=list)  # each order's last-updated time
    incomplete: list[datetime] = field(default_factory=list)  # ... of orders fetched only in part
    errors: list[str] = field(default_factory=list)


PollPages = Callable[[HttpClient, Mapping[str, Any], datetime, datetime | None], Iterator[Page]]


def text_credential(credentials: Mapping[str, Any], key: str) -> str:
    """credentials[key] as non-empty text; MissingCredentials otherwise."""
    value = credentials.get(key)
    if not isinstance(value, str) or not value:
        raise MissingCredentials(f"credentials[{key!r}]")
    return value


def as_time(value: Any) -> datetime | None:
    """An ISO 8601 time from an order (naive: UTC); None when missing or unreadable."""
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def json_object(response: HttpResponse, what: str) -> dict[str, Any]:
    """The response's JSON object; PollError naming the call when the body is anything else."""
    if not isinstance(response.data, dict):
        raise PollError(f"{what}: expected a JSON object, got {response.text[:200]!r}")
    return response.data
