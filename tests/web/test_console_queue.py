"""The console queue: views with counts, filters, search, sort, pages in a fixed number of queries, bulk
actions (CSRF, audited per ticket), phone notes, staff availability; full page vs htmx fragment."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.audit.models import AuditEntry
from core.support.models import Conversation, ConversationTag, Message
from tests.factories import NOW, PASSWORD, make_channel, make_customer, make_order, make_user
from tests.helpers import csrf_token, sign_in
from tests.support_factories import make_conversation
from tests.web.test_portal_quality import QueryCounter

TICKET_LINK = re.compile(r'href="/console/tickets/(\d+)"')


@pytest.fixture
def agent(db: Session):
    return make_user(db, "agent", name="Sam Agent")


def console(client: FlaskClient, user) -> FlaskClient:
    assert sign_in(client, user.email, PASSWORD, console=True).status_code == 303
    return client


def listed(client: FlaskClient, query: str = "") -> list[int]:
    """Ticket ids in the queue's list, in order."""
    html = client.get(f"/console/tickets{query}", headers={"HX-Request": "true"}).get_data(as_text=True)
    return list(dict.fromkeys(int(i) for i in TICKET_LINK.findall(html)))


def count_badge(html: str, view: str) -> int:
    match = re.search(rf'data-count="{view}">(\d+)<', html)
    assert match, f"no count for {view}"
    return int(match.group(1))


def test_views_list_their_tickets_and_the_tabs_count_them(client, db, agent) -> None:
    other = make_user(db, "agent")
    soon = make_conversation(db, first_response_due_at=NOW + timedelta(minutes=30))
    mine = make_conversation(db, assignee_id=agent.id, first_response_due_at=NOW + timedelta(days=4000))
    theirs = make_conversation(db, assignee_id=other.id, status="pending")
    solved = make_conversation(db, status="solved")
    late = make_conversation(db, first_response_due_at=NOW - timedelta(days=400))  # overdue whenever run
    console(client, agent)
    assert set(listed(client, "?view=mine")) == {mine.id}
    assert set(listed(client, "?view=unassigned")) == {soon.id, late.id}
    assert set(listed(client, "?view=open")) == {soon.id, mine.id, late.id}
    assert set(listed(client, "?view=pending")) == {theirs.id}
    assert set(listed(client, "?view=solved")) == {solved.id}
    assert late.id in listed(client, "?view=breaching") and mine.id not in listed(client, "?view=breaching")
    assert set(listed(client, "?status=pending")) == {theirs.id}  # the old parameter still works
    page = client.get("/console/tickets").get_data(as_text=True)
    assert (count_badge(page, "mine"), count_badge(page, "unassigned"), count_badge(page, "pending")) == (
        1,
        2,
        1,
    )
    assert count_badge(page, "open") == 3 and "overdue" in page


def test_breaching_counts_only_open_tickets_due_within_the_hour(client, db, agent) -> None:
    from core.db import utcnow

    now = utcnow()
    due_soon = make_conversation(db, first_response_due_at=now + timedelta(minutes=50))
    make_conversation(db, first_response_due_at=now + timedelta(hours=3))
    make_conversation(db, status="pending", first_response_due_at=now - timedelta(hours=1))  # clock paused
    answered = make_conversation(
        db,
        first_response_due_at=now - timedelta(hours=2),
        first_responded_at=now - timedelta(hours=3),
        resolution_due_at=now + timedelta(minutes=10),
    )
    console(client, agent)
    assert set(listed(client, "?view=breaching")) == {due_soon.id, answered.id}
    assert count_badge(client.get("/console/tickets").get_data(as_text=True), "breaching") == 2


def test_filters_by_category_channel_source_priority_and_tag(client, db, agent) -> None:
    amazon = make_channel(db, code="amazon-us", name="Amazon US")
    order = make_order(db, channel_id=amazon.id)
    by_channel = make_conversation(db, order_id=order.id)
    by_category = make_conversation(db, category="damaged")
    by_phone = make_conversation(db, source="phone")
    urgent = make_conversation(db, priority="urgent")
    tagged = make_conversation(db)
    db.add(ConversationTag(conversation_id=tagged.id, tag="vip"))
    db.flush()
    console(client, agent)
    assert listed(client, "?channel=amazon-us") == [by_channel.id]
    assert listed(client, "?category=damaged") == [by_category.id]
    assert listed(client, "?source=phone") == [by_phone.id]
    assert listed(client, "?priority=urgent") == [urgent.id]
    assert listed(client, "?tag=vip") == [tagged.id]
    assert listed(client, "?tag=vip&priority=urgent") == []
    page = client.get("/console/tickets?tag=vip").get_data(as_text=True)
    assert '<option value="vip" selected>' in page and "Amazon US" in page


def test_search_finds_subject_customer_name_email_and_order_number(client, db, agent) -> None:
    jane = make_customer(db, name="Jane Doe", email="jane@example.org")
    order = make_order(db, customer_id=jane.id)
    by_customer = make_conversation(db, customer_id=jane.id, subject="Hello")
    by_order = make_conversation(db, order_id=order.id, subject="Question")
    by_subject = make_conversation(db, subject="Broken zipper on the tent")
    make_conversation(db, subject="Something else")
    console(client, agent)
    assert listed(client, "?q=zipper") == [by_subject.id]
    assert listed(client, "?q=jane+doe") == [by_customer.id]
    assert listed(client, "?q=JANE@example") == [by_customer.id]
    assert listed(client, f"?q={order.number.lower()}") == [by_order.id]
    assert listed(client, f"?q=%23{by_subject.id}") == [by_subject.id]
    assert "No open tickets match these filters" in client.get("/console/tickets?q=nothing-like-it").get_data(
        as_text=True
    )


def test_sorts_newest_oldest_sla_due_and_priority(client, db, agent) -> None:
    a = make_conversation(
        db, created_at=NOW - timedelta(days=2), priority="low", first_response_due_at=NOW + timedelta(hours=1)
    )
    b = make_conversation(db, created_at=NOW - timedelta(days=1), priority="urgent")
    c = make_conversation(db, created_at=NOW, priority="high", first_response_due_at=NOW - timedelta(hours=1))
    console(client, agent)
    assert listed(client, "?sort=newest") == [c.id, b.id, a.id]
    assert listed(client, "?sort=oldest") == [a.id, b.id, c.id]
    assert listed(client, "?sort=sla") == [c.id, a.id, b.id]  # no target last
    assert listed(client, "?sort=priority") == [b.id, c.id, a.id]


def test_queue_pages_in_a_fixed_number_of_queries(client, db, engine, agent) -> None:
    channel = make_channel(db)

    def add(n: int) -> None:
        for i in range(n):
            customer = make_customer(db)
            order = make_order(db, customer_id=customer.id, channel_id=channel.id)
            ticket = make_conversation(
                db, customer_id=customer.id, order_id=order.id, assignee_id=agent.id if i % 2 else None
            )
            db.add(ConversationTag(conversation_id=ticket.id, tag=f"t{i % 3}"))
        db.commit()

    add(2)
    console(client, agent)
    with QueryCounter(engine) as few:
        assert client.get("/console/tickets").status_code == 200
    add(60)
    with QueryCounter(engine) as many:
        response = client.get("/console/tickets?page=2")
    assert response.status_code == 200 and "Page 2 of 3" in response.get_data(as_text=True)
    assert many.count == few.count


def test_queue_answers_a_fragment_to_htmx_and_the_page_otherwise(client, db, agent) -> None:
    make_conversation(db, subject="Lost parcel")
    console(client, agent)
    page = client.get("/console/tickets?priority=normal")
    html = page.get_data(as_text=True)
    assert "<html" in html and 'id="queue-filters"' in html and 'hx-push-url="true"' in html
    assert 'name="view" value="open" form="queue-filters"' in html
    fragment = client.get("/console/tickets?priority=normal", headers={"HX-Request": "true"})
    body = fragment.get_data(as_text=True)
    assert "<html" not in body and "Lost parcel" in body and 'id="queue-filters"' not in body
    assert "HX-Request" in page.headers["Vary"] and "HX-Request" in fragment.headers["Vary"]
    assert 'href="/console/tickets?view=pending&amp;priority=normal"' in body  # tabs keep the filters


def test_bulk_assign_to_me_redirects_back_to_the_same_queue_and_audits_each(client, db, agent) -> None:
    tickets = [make_conversation(db) for _ in range(3)]
    console(client, agent)
    token = csrf_token(client, "/console/tickets")
    response = client.post(
        "/console/tickets/bulk",
        data={
            "csrf_token": token,
            "action": "assign_me",
            "ids": [str(t.id) for t in tickets[:2]],
            "view": "unassigned",
            "priority": "normal",
        },
    )
    assert response.status_code == 303
    assert response.headers["Location"] == "/console/tickets?view=unassigned&priority=normal"
    db.expire_all()
    assert [db.get(Conversation, t.id).assignee_id for t in tickets] == [agent.id, agent.id, None]
    audited = db.scalars(
        select(AuditEntry.entity_id).where(AuditEntry.action == "conversation.assigned")
    ).all()
    assert sorted(audited) == sorted(str(t.id) for t in tickets[:2])
    assert "2 ticket(s) updated." in client.get(response.headers["Location"]).get_data(as_text=True)


def test_bulk_close_with_htmx_answers_the_list_with_a_notice(client, db, agent) -> None:
    colleague = make_user(db, "agent", name="Kim Colleague")
    tickets = [make_conversation(db) for _ in range(2)]
    closed = make_conversation(db, status="closed")
    console(client, agent)
    token = csrf_token(client, "/console/tickets")
    headers = {"HX-Request": "true", "X-CSRFToken": token}
    response = client.post(
        "/console/tickets/bulk",
        data={"action": "assign", "assignee_id": str(colleague.id), "ids": [str(t.id) for t in tickets]},
        headers=headers,
    )
    assert response.status_code == 200 and "2 ticket(s) updated." in response.get_data(as_text=True)
    response = client.post(
        "/console/tickets/bulk",
        data={"action": "close", "ids": [str(t.id) for t in tickets] + [str(closed.id), "999999"]},
        headers=headers,
    )
    body = response.get_data(as_text=True)
    assert response.status_code == 200 and "<html" not in body
    assert "2 ticket(s) updated. 1 skipped: #999999 not found" in body
    db.expire_all()
    assert {db.get(Conversation, t.id).status for t in tickets} == {"closed"}
    assert {db.get(Conversation, t.id).assignee_id for t in tickets} == {colleague.id}


def test_bulk_without_a_ticket_or_csrf_is_refused(client, db, agent) -> None:
    ticket = make_conversation(db)
    console(client, agent)
    assert (
        client.post("/console/tickets/bulk", data={"action": "close", "ids": [str(ticket.id)]}).status_code
        == 400
    )
    token = csrf_token(client, "/console/tickets")
    response = client.post(
        "/console/tickets/bulk",
        data={"action": "close"},
        headers={"HX-Request": "true", "X-CSRFToken": token},
    )
    assert response.status_code == 422 and "tick at least one ticket" in response.get_data(as_text=True)
    db.expire_all()
    assert db.get(Conversation, ticket.id).status == "open"


def test_phone_note_from_the_customer_page_opens_a_phone_ticket(client, db, agent) -> None:
    customer = make_customer(db, name="Jane Doe")
    order = make_order(db, customer_id=customer.id)
    console(client, agent)
    form = client.get(f"/console/tickets/new?customer_id={customer.id}").get_data(as_text=True)
    assert "Jane Doe" in form and order.number in form
    token = csrf_token(client, f"/console/tickets/new?customer_id={customer.id}")
    response = client.post(
        "/console/tickets/new",
        data={
            "csrf_token": token,
            "customer_id": str(customer.id),
            "order": order.number,
            "body": "Asked when the tent ships.",
            "status": "open",
            "take": "1",
        },
    )
    assert response.status_code == 303
    ticket = db.scalars(select(Conversation).where(Conversation.source == "phone")).one()
    assert response.headers["Location"] == f"/console/tickets/{ticket.id}"
    assert (ticket.customer_id, ticket.order_id, ticket.assignee_id) == (customer.id, order.id, agent.id)
    first = db.scalars(
        select(Message).where(Message.conversation_id == ticket.id).order_by(Message.id)
    ).first()
    assert (first.body, first.internal) == ("Asked when the tent ships.", True)
    assert f"/console/tickets/new?customer_id={customer.id}" in client.get(
        f"/console/customers/{customer.id}"
    ).get_data(as_text=True)


def test_phone_note_from_the_queue_finds_the_caller_by_email_or_says_who_is_missing(
    client, db, agent
) -> None:
    customer = make_customer(db, email="caller@example.org")
    console(client, agent)
    assert 'href="/console/tickets/new"' in client.get("/console/tickets").get_data(as_text=True)
    token = csrf_token(client, "/console/tickets/new")
    missing = client.post(
        "/console/tickets/new", data={"csrf_token": token, "customer": "nobody@example.org", "body": "Hi"}
    )
    assert missing.status_code == 422 and "no customer matches" in missing.get_data(as_text=True)
    response = client.post(
        "/console/tickets/new",
        data={"csrf_token": token, "customer": "Caller@Example.org", "body": "Wants a callback."},
    )
    assert response.status_code == 303
    ticket = db.scalars(select(Conversation).where(Conversation.customer_id == customer.id)).one()
    assert (ticket.source, ticket.assignee_id) == ("phone", None)  # not taken, nobody available


def test_agent_marks_themselves_available_from_the_header(client, db, agent) -> None:
    console(client, agent)
    page = client.get("/console/").get_data(as_text=True)
    assert 'id="availability"' in page and ">Away<" in page and 'id="console-search"' in page
    token = csrf_token(client, "/console/")
    response = client.post(
        "/console/me/availability",
        data={"available": "1"},
        headers={"HX-Request": "true", "X-CSRFToken": token},
    )
    assert response.status_code == 200 and ">Available<" in response.get_data(as_text=True)
    db.refresh(agent)
    assert agent.available
    response = client.post("/console/me/availability", data={"available": "0", "csrf_token": token})
    assert response.status_code == 303
    db.refresh(agent)
    assert not agent.available


def test_only_admins_set_a_colleagues_availability(client, db, agent) -> None:
    admin = make_user(db, "admin")
    console(client, agent)
    token = csrf_token(client, "/console/")
    path = f"/console/admin/users/{admin.id}/availability"
    assert client.post(path, data={"available": "1", "csrf_token": token}).status_code == 403
    client.post("/console/logout", data={"csrf_token": token})
    console(client, admin)
    token = csrf_token(client, "/console/admin/users")
    response = client.post(
        f"/console/admin/users/{agent.id}/availability", data={"available": "1", "csrf_token": token}
    )
    assert response.status_code == 303
    db.refresh(agent)
    assert agent.available and "mark away" in client.get("/console/admin/users").get_data(as_text=True)


QUEUE_ROUTES = [
    ("get", "/console/tickets"),
    ("post", "/console/tickets/bulk"),
    ("get", "/console/tickets/new"),
    ("post", "/console/tickets/new"),
    ("post", "/console/me/availability"),
    ("get", "/console/search?q=jane"),
]


@pytest.mark.parametrize(("method", "path"), QUEUE_ROUTES)
def test_queue_routes_send_strangers_to_sign_in(client, method: str, path: str) -> None:
    token = csrf_token(client, "/console/login")
    response = getattr(client, method)(path, data={"csrf_token": token} if method == "post" else None)
    assert response.status_code == 302 and "/console/login" in response.headers["Location"]


@pytest.mark.parametrize(("method", "path"), QUEUE_ROUTES)
def test_queue_routes_refuse_customers(client, db, method: str, path: str) -> None:
    customer = make_user(db, "customer")
    sign_in(client, customer.email, PASSWORD)
    token = csrf_token(client, "/support")
    response = getattr(client, method)(path, data={"csrf_token": token} if method == "post" else None)
    assert response.status_code == 403
