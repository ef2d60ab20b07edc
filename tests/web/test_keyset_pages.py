"""Keyset pages on the large lists: the portal's order list, the console queue's default sort and the
inbound payloads page by newer/older cursors (no OFFSET), never repeat or skip a row (ties on time included),
take the same number of queries however deep, and count no further than a cap."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from html import unescape

from sqlalchemy import select

from core.orders.models import InboundPayload
from core.pagination import (
    COUNT_CAP,
    KeysetPage,
    Page,
    capped_count,
    decode_cursor,
    encode_cursor,
)
from core.support.models import Conversation
from tests.factories import NOW, PASSWORD, make_channel, make_order, make_user
from tests.helpers import sign_in
from tests.support_factories import make_conversation
from tests.web.test_portal_quality import QueryCounter

ORDER_NUMBER = re.compile(r'<span class="order-number">([^<]+)</span>')
OLDER = re.compile(r'href="([^"]+)"[^>]* rel="next">Older')
NEWER = re.compile(r'href="([^"]+)"[^>]* rel="prev">← Newer')
PAYLOAD_LINK = re.compile(r'href="/console/intake/payloads/(\d+)"')


def _link(pattern: re.Pattern[str], html: str) -> str | None:
    match = pattern.search(html)
    return unescape(match.group(1)) if match else None


def _customer_with_orders(db, count: int):
    user = make_user(db, "customer")
    channel = make_channel(db)
    for n in range(count):  # every third order shares its time with the one before: ties go by id
        make_order(
            db,
            customer_id=user.customer_id,
            channel_id=channel.id,
            placed_at=NOW - timedelta(hours=n - n % 3),
        )
    db.commit()
    return user


def test_portal_order_list_pages_by_cursor_through_every_order_once(client, db) -> None:
    user = _customer_with_orders(db, 45)
    sign_in(client, user.email, PASSWORD)
    pages, path = [], "/orders"
    while path:
        html = client.get(path).get_data(as_text=True)
        pages.append((ORDER_NUMBER.findall(html), html))
        path = _link(OLDER, html)
    assert [len(numbers) for numbers, _ in pages] == [20, 20, 5]
    seen = [number for numbers, _ in pages for number in numbers]
    assert len(set(seen)) == 45 == len(seen)
    assert "45 in all" in pages[0][1] and _link(NEWER, pages[0][1]) is None
    # Back from the last page: the middle page again, with a link to the first.
    back = client.get(_link(NEWER, pages[2][1])).get_data(as_text=True)
    assert ORDER_NUMBER.findall(back) == pages[1][0]
    first = client.get(_link(NEWER, back)).get_data(as_text=True)
    assert ORDER_NUMBER.findall(first) == pages[0][0] and _link(NEWER, first) is None


def test_portal_order_list_keeps_the_search_in_its_links_and_survives_a_bad_cursor(client, db) -> None:
    user = _customer_with_orders(db, 25)
    sign_in(client, user.email, PASSWORD)
    html = client.get("/orders?q=Item+1").get_data(as_text=True)  # every order's line is "Item 1"
    assert "q=Item" in _link(OLDER, html)
    for garbage in (
        "nonsense",
        "20261120T120000.000000_x",
        "9" * 40,
        "20261120T120000.000000_99999999999999999999",
    ):
        response = client.get(f"/orders?after={garbage}")
        assert response.status_code == 200
        assert ORDER_NUMBER.findall(response.get_data(as_text=True)) == ORDER_NUMBER.findall(
            client.get("/orders").get_data(as_text=True)
        )


def test_portal_order_list_deep_pages_take_as_many_queries_as_the_first(client, db, engine) -> None:
    user = _customer_with_orders(db, 65)
    sign_in(client, user.email, PASSWORD)
    with QueryCounter(engine) as first:
        html = client.get("/orders").get_data(as_text=True)
    path = _link(OLDER, client.get(_link(OLDER, html)).get_data(as_text=True))
    with QueryCounter(engine) as deep:
        assert client.get(path).status_code == 200
    with QueryCounter(engine) as back:
        assert client.get(path.replace("after=", "before=")).status_code == 200
    assert deep.count == first.count == back.count


def _payloads(db, count: int) -> None:
    channel = make_channel(db)
    for n in range(count):
        db.add(
            InboundPayload(
                channel_id=channel.id,
                channel_code=channel.code,
                source="webhook",
                delivery_id=f"d-{n}",
                body="{}",
                sha256=f"{n:064x}",
                status="processed" if n % 2 else "rejected",
                received_at=NOW - timedelta(minutes=n // 2),
            )
        )
    db.commit()


def test_console_inbound_payloads_page_by_cursor_with_the_status_filter(client, db) -> None:
    manager = make_user(db, "manager")
    _payloads(db, 130)
    sign_in(client, manager.email, PASSWORD, console=True)
    html = client.get("/console/intake").get_data(as_text=True)
    ids = PAYLOAD_LINK.findall(html)
    older = _link(OLDER, html)
    assert len(ids) == 50 and "130 in all" in html and older
    second = client.get(older).get_data(as_text=True)
    more = PAYLOAD_LINK.findall(second)
    assert len(more) == 50 and not set(ids) & set(more)
    rejected = client.get("/console/intake?status=rejected").get_data(as_text=True)
    assert "65 in all" in rejected and "status=rejected" in _link(OLDER, rejected)
    tail = client.get(_link(OLDER, rejected)).get_data(as_text=True)
    tail_ids = [int(i) for i in PAYLOAD_LINK.findall(tail)]
    statuses = set(db.scalars(select(InboundPayload.status).where(InboundPayload.id.in_(tail_ids))))
    assert len(tail_ids) == 15 and statuses == {"rejected"} and _link(OLDER, tail) is None


def test_capped_count_stops_past_the_cap_and_pages_say_more_than(db) -> None:
    for n in range(12):
        db.add(Conversation(subject=f"q{n}", status="open"))
    db.flush()
    statement = select(Conversation.id)
    assert capped_count(db, statement, cap=5) == 6
    assert capped_count(db, statement, cap=50) == 12
    keyset = KeysetPage([], 20, 6, cap=5)
    assert keyset.more_than_cap and keyset.shown_total == "more than 5"
    assert KeysetPage([], 20, 1200).shown_total == f"more than {COUNT_CAP:,}"
    assert KeysetPage([], 20, 999).shown_total == "999"
    # A numbered page beyond the count still offers the next page while pages come back full.
    full = Page(list(range(25)), 41, 25, COUNT_CAP + 1, cap=COUNT_CAP)
    assert full.has_next and full.more_than_cap
    assert not Page(list(range(3)), 42, 25, COUNT_CAP + 1, cap=COUNT_CAP).has_next
    assert not Page(list(range(25)), 2, 25, 50).has_next


def test_cursors_round_trip_and_garbage_reads_as_none() -> None:
    at = datetime(2026, 11, 20, 12, 0, 0, 123456, tzinfo=UTC)
    assert decode_cursor(encode_cursor(at, 42)) == (at, 42)
    for garbage in (None, "", "x_1", "20261120T120000.000000_", "20261120T120000.000000_-3", "²_1"):
        assert decode_cursor(garbage) is None


TICKET_LINK = re.compile(r'href="/console/tickets/(\d+)"')


def _queue_ids(html: str) -> list[int]:
    return list(dict.fromkeys(int(i) for i in TICKET_LINK.findall(html)))


def test_console_queue_default_sort_pages_by_cursor_in_as_many_queries_as_the_first(
    client, db, engine
) -> None:
    agent = make_user(db, "agent")
    for n in range(60):  # pairs share their last activity: ties go by id
        make_conversation(db, updated_at=NOW - timedelta(minutes=n - n % 2))
    db.commit()
    sign_in(client, agent.email, PASSWORD, console=True)
    fragment = {"HX-Request": "true"}
    with QueryCounter(engine) as first:
        html = client.get("/console/tickets", headers=fragment).get_data(as_text=True)
    pages = [_queue_ids(html)]
    assert "Page 1 of" not in html and "60 tickets" in html
    older = _link(OLDER, html)
    with QueryCounter(engine) as second:
        html = client.get(older, headers=fragment).get_data(as_text=True)
    assert second.count == first.count
    pages.append(_queue_ids(html))
    html = client.get(_link(OLDER, html), headers=fragment).get_data(as_text=True)
    pages.append(_queue_ids(html))
    assert [len(ids) for ids in pages] == [25, 25, 10] and _link(OLDER, html) is None
    everything = [i for ids in pages for i in ids]
    assert len(set(everything)) == 60
    expected = list(
        db.scalars(select(Conversation.id).order_by(Conversation.updated_at.desc(), Conversation.id.desc()))
    )
    assert everything == expected
    back = client.get(_link(NEWER, html), headers=fragment).get_data(as_text=True)
    assert _queue_ids(back) == pages[1]
    # A bulk action from a deep page answers that same page.
    assert 'name="after"' in client.get(older, headers=fragment).get_data(as_text=True)
