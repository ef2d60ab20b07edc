"""Pollers: fetch recently changed orders from the channels whose adapter has a `poll_pages` hook.

The polled kinds are those of the registry's adapters with the hook (Amazon Orders API v0, eBay Sell
Fulfillment API); core.channels.polling_base says what the hook does.

Like `crossdock import`, a poll owns its transactions. For each page fetched:
1. every response body of the page (e.g. Amazon: the getOrders page and the getOrderItems responses of its
   orders, so that the items join their orders) is stored as an InboundPayload (source "poll"); commit;
2. the stored payloads are processed together through the same intake as webhooks; commit. If processing
   fails unexpectedly, the payloads are marked with the error and the poll stops.
3. Once every page is processed, the channel's cursor moves to the newest last-updated time seen, less an
   overlap (replays are idempotent), and never backwards. A fetch that fails (after the client's retries)
   stops the poll and leaves the cursor where it was, so the next poll fetches the same window again.
   An order whose items could not be fetched (a 4xx) is still ingested, held for its missing lines, and
   the cursor stops short of it so that the next poll fetches it again.
The nightly `reimport_previous_day` fetches the last day again without touching the cursor. The worker's jobs
that run them are in core.channel_sync.jobs.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from core.channels import registry
from core.channels.base import MissingCredentials
from core.channels.http import ChannelHttpError, HttpClient
from core.channels.models import Channel
from core.channels.polling_base import Page, PollError, PollPages
from core.db import begin_write
from core.orders import intake

log = logging.getLogger("crossdock.channels")

FIRST_POLL_WINDOW = timedelta(days=2)  # how far back the first poll of a channel looks
CURSOR_OVERLAP = timedelta(minutes=2)  # the next poll starts this much before the newest update seen
REIMPORT_WINDOW = timedelta(days=1)
POLL_HOOK = "poll_pages"


@dataclass(frozen=True)
class PollResult:
    """What one poll did: responses fetched, orders ingested, errors met, and the cursor after it."""

    fetched: int
    orders: int
    errors: tuple[str, ...] = ()
    cursor: datetime | None = None


@dataclass(frozen=True)
class _ChannelInfo:
    id: int
    code: str
    kind: str
    base_url: str | None
    credentials: dict[str, Any]
    poll_cursor: datetime | None


def poll_channel(
    session_factory: sessionmaker[Session],
    channel_code: str,
    *,
    now: datetime,
    client: HttpClient | None = None,
) -> PollResult:
    """Fetch and ingest the orders of a polled channel updated since its cursor (first poll: last 2 days)."""
    info = _load_channel(session_factory, channel_code)
    since = info.poll_cursor or now - FIRST_POLL_WINDOW
    return _poll(session_factory, info, since, None, now=now, client=client, move_cursor=True)


def reimport_previous_day(
    session_factory: sessionmaker[Session],
    channel_code: str,
    *,
    now: datetime,
    client: HttpClient | None = None,
) -> PollResult:
    """Fetch again every order updated in the last day (plus the overlap); the cursor does not move."""
    info = _load_channel(session_factory, channel_code)
    since = now - REIMPORT_WINDOW - CURSOR_OVERLAP
    return _poll(session_factory, info, since, now, now=now, client=client, move_cursor=False)


def polled_kinds() -> list[str]:
    """The channel kinds whose adapter has the poll hook (polling_base), sorted."""
    return registry.kinds_with(POLL_HOOK)


def polled_channel_codes(session: Session) -> list[str]:
    """Codes of the active channels of a polled kind that have a base URL to poll."""
    return list(
        session.scalars(
            select(Channel.code)
            .where(
                Channel.active.is_(True),
                Channel.kind.in_(polled_kinds()),
                Channel.base_url.is_not(None),
                Channel.base_url != "",
            )
            .order_by(Channel.code)
        )
    )


# --- the poll -----------------------------------------------------------------------------------------------


def _load_channel(factory: sessionmaker[Session], code: str) -> _ChannelInfo:
    with factory() as session:
        channel = intake.get_channel(session, code)
        kinds = polled_kinds()
        if channel.kind not in kinds:
            raise PollError(f"channel {code!r} is a {channel.kind} channel, not {' or '.join(kinds)}")
        info = _ChannelInfo(
            channel.id,
            channel.code,
            channel.kind,
            channel.base_url,
            dict(channel.credentials or {}),
            channel.poll_cursor,
        )
        session.rollback()
    return info


def _poll(
    factory: sessionmaker[Session],
    info: _ChannelInfo,
    since: datetime,
    until: datetime | None,
    *,
    now: datetime,
    client: HttpClient | None,
    move_cursor: bool,
) -> PollResult:
    fetched = orders = 0
    errors: list[str] = []
    updated: list[datetime] = []
    incomplete: list[datetime] = []
    complete = True
    try:
        client = client or _client_for(info)
        poll_pages: PollPages = registry.hook(info.kind, POLL_HOOK)
        for page in poll_pages(client, info.credentials, since, until):
            fetched += len(page.bodies)
            errors += page.errors
            if not page.orders:
                continue  # nothing to store: an empty page holds no order
            orders += _ingest(factory, info, page, now=now, errors=errors)
            updated += page.updated
            incomplete += page.incomplete
    except (ChannelHttpError, PollError) as exc:
        errors.append(str(exc))
        complete = False
    except MissingCredentials as exc:
        errors.append(f"channel {info.code!r} has no {exc}")
        complete = False
    cursor = info.poll_cursor
    if move_cursor and complete and updated:
        # up to the newest update seen, but not past an order fetched only in part, nor back before `since`
        target = max(min([max(updated), *incomplete]) - CURSOR_OVERLAP, since)
        cursor = _advance_cursor(factory, info.id, target)
    result = PollResult(fetched, orders, tuple(errors), cursor)
    log.log(
        logging.WARNING if errors else logging.INFO,
        "%s %s: %d response(s), %d order(s), %d error(s)%s; cursor %s",
        "reimport of" if not move_cursor else "poll of",
        info.code,
        fetched,
        orders,
        len(errors),
        f" (first: {errors[0]})" if errors else "",
        cursor.isoformat() if cursor else "unset",
    )
    return result


def _client_for(info: _ChannelInfo) -> HttpClient:
    if not info.base_url:
        raise PollError(f"channel {info.code!r} has no base URL to poll")
    try:
        return HttpClient(info.base_url)
    except ValueError as exc:
        raise PollError(f"channel {info.code!r}: {exc}") from None


def _ingest(
    factory: sessionmaker[Session],
    info: _ChannelInfo,
    page: Page,
    *,
    now: datetime,
    errors: list[str],
) -> int:
    """Store the page's documents (one commit), then process them together (a second commit)."""
    with factory() as session:
        begin_write(session)
        channel = session.get(Channel, info.id)
        assert channel is not None
        payloads = [
            intake.store_payload(
                session,
                channel,
                response.text,
                source="poll",
                topic=topic,
                headers=_kept_headers(response.headers),
                now=now,
            )[0]
            for topic, response in page.bodies
        ]
        session.commit()
        ids = [payload.id for payload in payloads]
        try:
            begin_write(session)
            outcome = intake.process_payloads(session, channel, payloads, now=now)
            session.commit()
        except Exception as exc:
            session.rollback()
            reason = f"{type(exc).__name__}: {exc}"
            for payload_id in ids:
                intake.mark_payload_failed(session, payload_id, reason, now=now)
            session.commit()
            log.exception("processing polled payloads %s of %s failed", ids, info.code)
            raise PollError(f"processing polled payloads {ids} failed: {reason}") from exc
    found: set[str] = set()
    for _payload, results in outcome:
        for result in results:
            if result.external_id:
                found.add(result.external_id)
            if result.status == intake.REJECTED:
                errors.append(f"{result.external_id or 'document'}: {result.error}")
    return len(found)


def _advance_cursor(factory: sessionmaker[Session], channel_id: int, target: datetime) -> datetime | None:
    with factory() as session:
        begin_write(session)
        channel = session.get(Channel, channel_id)
        assert channel is not None
        if channel.poll_cursor is None or target > channel.poll_cursor:
            channel.poll_cursor = target
        cursor = channel.poll_cursor
        session.commit()
    return cursor


def _kept_headers(headers: dict[str, str]) -> dict[str, str]:
    """The response headers worth keeping with the payload (request ids, rate limits); never credentials."""
    return {k: v for k, v in headers.items() if k.startswith("x-") or k in ("content-type", "date")}
