"""Pollers: fetch recently changed orders from Amazon (Orders API v0) and eBay (Sell Fulfillment API).

Like `crossdock import`, a poll owns its transactions. For each page fetched:
1. every response body of the page (Amazon: the getOrders page and the getOrderItems responses of its
   orders, so that the items join their orders) is stored as an InboundPayload (source "poll"); commit;
2. the stored payloads are processed together through the same intake as webhooks; commit. If processing
   fails unexpectedly, the payloads are marked with the error and the poll stops.
3. Once every page is processed, the channel's cursor moves to the newest last-updated time seen, less an
   overlap (replays are idempotent), and never backwards. A fetch that fails (after the client's retries)
   stops the poll and leaves the cursor where it was, so the next poll fetches the same window again.
   An order whose items could not be fetched (a 4xx) is still ingested, held for its missing lines, and
   the cursor stops short of it so that the next poll fetches it again.
The nightly `reimport_previous_day` fetches the last day again without touching the cursor.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from core.channels.http import ChannelHttpError, HttpClient, HttpResponse
from core.channels.models import Channel
from core.db import begin_write
from core.errors import DomainError
from core.orders import intake

log = logging.getLogger("crossdock.channels")

FIRST_POLL_WINDOW = timedelta(days=2)  # how far back the first poll of a channel looks
CURSOR_OVERLAP = timedelta(minutes=2)  # the next poll starts this much before the newest update seen
REIMPORT_WINDOW = timedelta(days=1)
AMAZON_LATEST = timedelta(minutes=2)  # Amazon wants LastUpdatedBefore at least 2 minutes in the past
MAX_PAGES = 200  # per poll: a guard against a channel that keeps answering with a next page
EBAY_PAGE_SIZE = 50
POLLED_KINDS = ("amazon", "ebay")

AMAZON_ORDERS_PATH = "/orders/v0/orders"
EBAY_ORDERS_PATH = "/sell/fulfillment/v1/order"


class PollError(DomainError):
    """A poll could not go on: a channel not set up for polling, an unreadable answer, failed processing."""


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


@dataclass
class _Page:
    """One page of orders and the documents that go with it, stored and processed together."""

    bodies: list[tuple[str, HttpResponse]] = field(default_factory=list)  # (topic, response)
    orders: int = 0
    updated: list[datetime] = field(default_factory=list)  # each order's last-updated time
    incomplete: list[datetime] = field(default_factory=list)  # ... of orders fetched only in part
    errors: list[str] = field(default_factory=list)


Fetcher = Callable[[HttpClient, _ChannelInfo, datetime, datetime | None], Iterator[_Page]]


def poll_amazon(
    session_factory: sessionmaker[Session],
    channel_code: str,
    *,
    now: datetime,
    client: HttpClient | None = None,
) -> PollResult:
    """Fetch and ingest the Amazon orders updated since the cursor (getOrders, then getOrderItems)."""
    info = _load_channel(session_factory, channel_code, "amazon")
    since = info.poll_cursor or now - FIRST_POLL_WINDOW
    return _poll(session_factory, info, since, None, now=now, client=client, move_cursor=True)


def poll_ebay(
    session_factory: sessionmaker[Session],
    channel_code: str,
    *,
    now: datetime,
    client: HttpClient | None = None,
) -> PollResult:
    """Fetch and ingest the eBay orders modified since the cursor (getOrders by lastmodifieddate)."""
    info = _load_channel(session_factory, channel_code, "ebay")
    since = info.poll_cursor or now - FIRST_POLL_WINDOW
    return _poll(session_factory, info, since, None, now=now, client=client, move_cursor=True)


def poll_channel(
    session_factory: sessionmaker[Session],
    channel_code: str,
    *,
    now: datetime,
    client: HttpClient | None = None,
) -> PollResult:
    """Poll one Amazon or eBay channel, whichever it is."""
    info = _load_channel(session_factory, channel_code, None)
    poller = poll_amazon if info.kind == "amazon" else poll_ebay
    return poller(session_factory, channel_code, now=now, client=client)


def reimport_previous_day(
    session_factory: sessionmaker[Session],
    channel_code: str,
    *,
    now: datetime,
    client: HttpClient | None = None,
) -> PollResult:
    """Fetch again every order updated in the last day (plus the overlap); the cursor does not move."""
    info = _load_channel(session_factory, channel_code, None)
    since = now - REIMPORT_WINDOW - CURSOR_OVERLAP
    until = now - AMAZON_LATEST if info.kind == "amazon" else now
    return _poll(session_factory, info, since, until, now=now, client=client, move_cursor=False)


def poll_channels_job(session: Session, now: datetime) -> dict[str, str]:
    """Worker job (every 5 minutes): poll every active Amazon and eBay channel that has a base URL."""
    return _each_polled_channel(session, now, poll_channel)


def nightly_reimport_job(session: Session, now: datetime) -> dict[str, str]:
    """Worker job (02:30 UTC): fetch the previous day again from every polled channel."""
    return _each_polled_channel(session, now, reimport_previous_day)


def _each_polled_channel(session: Session, now: datetime, run: Callable[..., PollResult]) -> dict[str, str]:
    factory = job_session_factory(session)
    with factory() as reader:
        codes = polled_channel_codes(reader)
    summary: dict[str, str] = {}
    for code in codes:
        try:
            result = run(factory, code, now=now)
        except Exception as exc:  # one channel's failure must not stop the others
            log.exception("polling %s failed", code)
            summary[code] = f"failed: {type(exc).__name__}: {exc}"
            continue
        summary[code] = f"{result.fetched} fetched, {result.orders} orders, {len(result.errors)} errors"
    return summary


def job_session_factory(session: Session) -> sessionmaker[Session]:
    """Sessions on the bind of a job's session, for the pollers and the dispatcher, which own their commits.

    The worker's session is bound to the engine; bound to a connection already in a transaction (a test),
    each commit only releases a SAVEPOINT of that transaction."""
    return sessionmaker(
        bind=session.get_bind(), expire_on_commit=False, join_transaction_mode="create_savepoint"
    )


def polled_channel_codes(session: Session) -> list[str]:
    """Codes of the active Amazon and eBay channels that have a base URL to poll."""
    return list(
        session.scalars(
            select(Channel.code)
            .where(
                Channel.active.is_(True),
                Channel.kind.in_(POLLED_KINDS),
                Channel.base_url.is_not(None),
                Channel.base_url != "",
            )
            .order_by(Channel.code)
        )
    )


# --- the poll -----------------------------------------------------------------------------------------------


def _load_channel(factory: sessionmaker[Session], code: str, kind: str | None) -> _ChannelInfo:
    with factory() as session:
        channel = intake.get_channel(session, code)
        if channel.kind not in POLLED_KINDS or (kind and channel.kind != kind):
            raise PollError(f"channel {code!r} is a {channel.kind} channel, not {kind or 'amazon or ebay'}")
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
        fetch: Fetcher = _amazon_pages if info.kind == "amazon" else _ebay_pages
        for page in fetch(client, info, since, until):
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


def _credential(info: _ChannelInfo, key: str) -> str:
    value = info.credentials.get(key)
    if not isinstance(value, str) or not value:
        raise PollError(f"channel {info.code!r} has no credentials[{key!r}]")
    return value


def _ingest(
    factory: sessionmaker[Session],
    info: _ChannelInfo,
    page: _Page,
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


def _as_time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _object(response: HttpResponse, what: str) -> dict[str, Any]:
    if not isinstance(response.data, dict):
        raise PollError(f"{what}: expected a JSON object, got {response.text[:200]!r}")
    return response.data


# --- Amazon Orders API v0 -----------------------------------------------------------------------------------


def amazon_time(moment: datetime) -> str:
    """ISO 8601 in UTC as Amazon's Orders API takes it: 2026-11-20T12:00:00Z."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _marketplaces(info: _ChannelInfo) -> str:
    value = info.credentials.get("marketplace_ids") or info.credentials.get("marketplace_id")
    ids = value if isinstance(value, list) else str(value or "").split(",")
    ids = [str(i).strip() for i in ids if str(i).strip()]
    if not ids:
        raise PollError(f"channel {info.code!r} has no credentials['marketplace_ids']")
    return ",".join(ids)


def _amazon_pages(
    client: HttpClient, info: _ChannelInfo, since: datetime, until: datetime | None
) -> Iterator[_Page]:
    """getOrders pages (following NextToken), each with the getOrderItems responses of its orders."""
    headers = {"x-amz-access-token": _credential(info, "access_token")}
    marketplaces = _marketplaces(info)
    params: dict[str, Any] = {"MarketplaceIds": marketplaces, "LastUpdatedAfter": amazon_time(since)}
    if until is not None:
        params["LastUpdatedBefore"] = amazon_time(until)
    for _ in range(MAX_PAGES):
        response = client.get(AMAZON_ORDERS_PATH, params, headers=headers)
        payload = _object(response, "getOrders").get("payload")
        if not isinstance(payload, dict) or not isinstance(payload.get("Orders"), list):
            raise PollError(f"getOrders: no payload.Orders in {response.text[:200]!r}")
        page = _Page(bodies=[("getOrders", response)])
        for order in payload["Orders"]:
            if not isinstance(order, dict):
                continue
            page.orders += 1
            updated = _as_time(order.get("LastUpdateDate")) or _as_time(order.get("PurchaseDate"))
            if updated is not None:
                page.updated.append(updated)
            order_id = order.get("AmazonOrderId")
            if not isinstance(order_id, str) or not order_id:
                continue
            try:
                page.bodies += _amazon_items(client, order_id, headers)
            except ChannelHttpError as exc:
                if exc.retryable:
                    raise
                page.errors.append(f"getOrderItems {order_id}: {exc}")
                page.incomplete.append(updated or since)
        yield page
        token = payload.get("NextToken")
        if not token:
            return
        params = {"MarketplaceIds": marketplaces, "NextToken": token}
    raise PollError(f"getOrders: more than {MAX_PAGES} pages; stopped")


def _amazon_items(
    client: HttpClient, order_id: str, headers: dict[str, str]
) -> list[tuple[str, HttpResponse]]:
    """Every getOrderItems page of one order."""
    path = f"{AMAZON_ORDERS_PATH}/{order_id}/orderItems"
    responses: list[tuple[str, HttpResponse]] = []
    params: dict[str, Any] = {}
    for _ in range(MAX_PAGES):
        response = client.get(path, params, headers=headers)
        responses.append(("getOrderItems", response))
        payload = _object(response, "getOrderItems").get("payload")
        token = payload.get("NextToken") if isinstance(payload, dict) else None
        if not token:
            return responses
        params = {"NextToken": token}
    raise PollError(f"getOrderItems {order_id}: more than {MAX_PAGES} pages; stopped")


# --- eBay Sell Fulfillment API ------------------------------------------------------------------------------


def ebay_time(moment: datetime) -> str:
    """ISO 8601 in UTC with milliseconds, as eBay's filters take it: 2026-11-20T12:00:00.000Z."""
    utc = moment.astimezone(UTC)
    return f"{utc.strftime('%Y-%m-%dT%H:%M:%S')}.{utc.microsecond // 1000:03d}Z"


def _ebay_pages(
    client: HttpClient, info: _ChannelInfo, since: datetime, until: datetime | None
) -> Iterator[_Page]:
    """getOrders pages filtered by lastmodifieddate, following the offset while eBay gives a next page."""
    headers = {"Authorization": f"Bearer {_credential(info, 'access_token')}"}
    window = f"lastmodifieddate:[{ebay_time(since)}..{ebay_time(until) if until else ''}]"
    offset = 0
    for _ in range(MAX_PAGES):
        response = client.get(
            EBAY_ORDERS_PATH, {"filter": window, "limit": EBAY_PAGE_SIZE, "offset": offset}, headers=headers
        )
        data = _object(response, "getOrders")
        orders = data.get("orders") or []
        if not isinstance(orders, list):
            raise PollError(f"getOrders: orders is not a list in {response.text[:200]!r}")
        page = _Page(bodies=[("getOrders", response)])
        for order in orders:
            if isinstance(order, dict):
                page.orders += 1
                updated = _as_time(order.get("lastModifiedDate")) or _as_time(order.get("creationDate"))
                if updated is not None:
                    page.updated.append(updated)
        yield page
        if not orders or not data.get("next"):
            return
        offset += len(orders)
    raise PollError(f"getOrders: more than {MAX_PAGES} pages; stopped")
