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

Orders announced by webhooks that carry only their id (BigCommerce): the webhook is stored and answered at
once, its payload left `received`; `fetch_announced_orders` (a worker job) fetches each announced order with
the adapter's `fetch_orders` hook, stores and processes the documents as a poll page, and settles the webhook
payload: processed with the order, rejected when the channel no longer has it, or left received with the
error for the next run when the fetch failed (the poll finds the order as well).
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
from core.orders import intake, statements
from core.orders.models import InboundPayload, Order

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
    source: str = "poll",
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
                source=source,
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


# --- orders announced by webhooks ---------------------------------------------------------------------------

FETCH_HOOK = "fetch_orders"
FETCH_BATCH = 50  # webhook payloads read per run


@dataclass(frozen=True)
class FetchResult:
    """What one run of fetch_announced_orders did: webhooks settled, orders fetched, errors met."""

    webhooks: int
    orders: int
    errors: tuple[str, ...] = ()


def fetch_announced_orders(
    factory: sessionmaker[Session],
    *,
    now: datetime,
    client_for: Any = None,
    limit: int = FETCH_BATCH,
) -> FetchResult:
    """Fetch the orders that stored webhooks announced by id, channel by channel, and settle the webhooks.

    `client_for(info)` gives the HTTP client of a channel (tests point it at a local server)."""
    announced = _announced(factory, limit)
    settled = orders = 0
    errors: list[str] = []
    for info, webhooks in announced:
        order_ids = list(dict.fromkeys(order_id for _payload_id, ids in webhooks for order_id in ids))
        failed: dict[str, str] = {}
        try:
            client = client_for(info) if client_for else _client_for(info)
            fetch = registry.hook(info.kind, FETCH_HOOK)
            page = fetch(client, info.credentials, order_ids)
            if page.orders:
                orders += _ingest(factory, info, page, now=now, errors=errors, source="fetch")
            for error in page.errors:
                order_id = error.removeprefix("order ").split(":", 1)[0]
                failed[order_id] = error
            errors += page.errors
        except (ChannelHttpError, PollError, MissingCredentials) as exc:
            reason = (
                f"channel {info.code!r} has no {exc}" if isinstance(exc, MissingCredentials) else str(exc)
            )
            errors.append(f"{info.code}: {reason}")
            _note_fetch_failure(factory, [payload_id for payload_id, _ids in webhooks], reason, now=now)
            continue
        settled += _settle_webhooks(factory, info, webhooks, failed, now=now)
    if errors:
        log.warning("fetching announced orders: %d error(s) (first: %s)", len(errors), errors[0])
    return FetchResult(settled, orders, tuple(errors))


def _announced(
    factory: sessionmaker[Session], limit: int
) -> list[tuple[_ChannelInfo, list[tuple[int, list[str]]]]]:
    """The channels with webhooks still to fetch, each with (payload id, announced order ids) of each."""
    kinds = registry.kinds_with(FETCH_HOOK)
    with factory() as session:
        rows = session.execute(
            select(InboundPayload.id, InboundPayload.body, Channel)
            .join(Channel, Channel.id == InboundPayload.channel_id)
            .where(
                InboundPayload.status == intake.RECEIVED,
                InboundPayload.source.in_(("webhook", "import")),
                Channel.kind.in_(kinds),
                Channel.active.is_(True),
            )
            .order_by(InboundPayload.id)
            .limit(limit)
        ).all()
        by_channel: dict[int, tuple[_ChannelInfo, list[tuple[int, list[str]]]]] = {}
        for payload_id, body, channel in rows:
            ids = [item.fetch for item in registry.get_adapter(channel.kind).extract([body]) if item.fetch]
            if not ids:
                continue
            info = _ChannelInfo(
                channel.id,
                channel.code,
                channel.kind,
                channel.base_url,
                dict(channel.credentials or {}),
                channel.poll_cursor,
            )
            by_channel.setdefault(channel.id, (info, []))[1].append((payload_id, ids))
        session.rollback()
    return list(by_channel.values())


def _settle_webhooks(
    factory: sessionmaker[Session],
    info: _ChannelInfo,
    webhooks: list[tuple[int, list[str]]],
    failed: dict[str, str],
    *,
    now: datetime,
) -> int:
    """Mark each webhook processed with its order once every order it named is ours, rejected when the
    channel said it has no such order, else leave it received with the reason."""
    settled = 0
    with factory() as session:
        begin_write(session)
        wanted = {order_id for _payload_id, ids in webhooks for order_id in ids}
        known = dict(
            session.execute(
                select(Order.external_id, Order.id).where(
                    Order.channel_id == info.id, Order.external_id.in_(wanted)
                )
            ).all()
        )
        for payload_id, ids in webhooks:
            problems = [failed[order_id] for order_id in ids if order_id in failed]
            if all(order_id in known for order_id in ids):
                statements.settle_payload(session, payload_id, intake.PROCESSED, None, known[ids[0]], now)
                settled += 1
            elif problems:
                statements.settle_payload(
                    session, payload_id, intake.REJECTED, "; ".join(problems)[:4000], None, now
                )
                settled += 1
            else:
                missing = ", ".join(order_id for order_id in ids if order_id not in known)
                statements.settle_payload(
                    session, payload_id, intake.RECEIVED, f"order {missing} not fetched yet", None, now
                )
        session.commit()
    return settled


def _note_fetch_failure(
    factory: sessionmaker[Session], payload_ids: list[int], reason: str, *, now: datetime
) -> None:
    """The fetch failed as a whole: the webhooks stay received, with the reason, for the next run."""
    with factory() as session:
        begin_write(session)
        for payload_id in payload_ids:
            statements.settle_payload(
                session, payload_id, intake.RECEIVED, f"fetch failed: {reason}"[:4000], None, now
            )
        session.commit()
