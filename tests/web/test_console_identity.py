"""Console identity pages through real forms: the match suggestions queue (side by side, merge, dismiss,
pages in a fixed number of queries), manual merge and undo from the customer page, role checks, CSRF, and the
audit entries every decision leaves."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from agent_console.customers import DECIDE_ROLE
from core.audit.models import AuditEntry
from core.customers.models import Customer, CustomerMatchSuggestion, CustomerMerge, Identity
from core.customers.resolution import index_identity_keys, resolve_customer_matches
from core.orders.models import Order
from core.security.roles import Actor, Role
from tests.factories import NOW, PASSWORD, make_channel, make_customer, make_order, make_user
from tests.helpers import NOT_SIGN_IN, csrf_token, sign_in
from tests.web.test_portal_quality import QueryCounter

HX = {"HX-Request": "true"}
QUEUE = "/console/customers/suggestions"
HOME = {"line1": "14 Larkspur Street", "city": "Fairview", "postal_code": "4051", "country": "AU"}


def signed_in(client, db, role: str = "manager"):
    user = make_user(db, role)
    db.commit()
    sign_in(client, user.email, PASSWORD, console=role != "customer")
    return user


def person(db, name: str, email: str, *, age_days: int, address: dict | None = None) -> Customer:
    """A customer made `age_days` before NOW with one channel identity and one order."""
    customer = make_customer(db, name=name, email=email, created_at=NOW - timedelta(days=age_days))
    channel = make_channel(db, name=f"{name} shop")
    db.add(
        Identity(
            customer_id=customer.id,
            channel_id=channel.id,
            name=name,
            email=email,
            phone="+61 7 5555 0101",
            address=HOME if address is None else address,
            created_at=customer.created_at,
        )
    )
    make_order(db, customer_id=customer.id, channel_id=channel.id, placed_at=NOW - timedelta(days=age_days))
    db.flush()
    return customer


def suggest(db, a: Customer, b: Customer, score: float = 0.9) -> CustomerMatchSuggestion:
    low, high = sorted((a.id, b.id))
    suggestion = CustomerMatchSuggestion(
        customer_id=low,
        other_customer_id=high,
        score=score,
        reasons={"surname": {"similarity": 1.0, "bits": 5.0}, "street": {"similarity": 0.93, "bits": 3.0}},
        created_at=NOW,
    )
    db.add(suggestion)
    db.flush()
    return suggestion


@pytest.fixture
def pair(db):
    """Two customers who look like one person (the older is Ada Lovelace) and their open suggestion."""
    older = person(db, "Ada Lovelace", "ada@example.org", age_days=30)
    newer = person(db, "Ada Lovelase", "ada.l@example.net", age_days=2)
    suggestion = suggest(db, older, newer)
    db.commit()
    return older, newer, suggestion


def post(client, path: str, data: dict | None = None, *, page: str, headers: dict | None = None):
    """POST with the CSRF token of the form on `page`."""
    return client.post(
        path, data=(data or {}) | {"csrf_token": csrf_token(client, page)}, headers=headers or {}
    )


def fresh(db, model, ident):
    return db.scalar(select(model).where(model.id == ident).execution_options(populate_existing=True))


def holdings(db, customer_id: int) -> tuple[list[int], list[int]]:
    """The customer's identity ids and order ids, read afresh."""
    identities = db.scalars(
        select(Identity.id).where(Identity.customer_id == customer_id).order_by(Identity.id)
    ).all()
    orders = db.scalars(select(Order.id).where(Order.customer_id == customer_id).order_by(Order.id)).all()
    return list(identities), list(orders)


def audit_actions(db, user) -> list[str]:
    return list(
        db.scalars(
            select(AuditEntry.action)
            .where(AuditEntry.actor_id == user.id, NOT_SIGN_IN)
            .order_by(AuditEntry.id)
        )
    )


def test_decide_role_is_managers() -> None:
    assert DECIDE_ROLE == Role.MANAGER


@pytest.mark.parametrize(("role", "decides"), [("agent", False), ("manager", True), ("admin", True)])
def test_queue_shows_both_customers_side_by_side_and_buttons_by_role(client, db, pair, role, decides) -> None:
    older, newer, suggestion = pair
    signed_in(client, db, role)
    response = client.get(QUEUE)
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Score 0.900" in html and "surname: 1.00" in html and "street: 0.93" in html
    for customer in (older, newer):
        assert f"#{customer.id} {customer.name}" in html
    assert "ada.l@example.net" in html and "14 Larkspur Street" in html and "+61 7 5555 0101" in html
    assert "Ada Lovelace shop" in html and "Ada Lovelase shop" in html and "1 order(s)" in html
    assert (f"/suggestions/{suggestion.id}/merge" in html) is decides
    assert ("Match suggestions <span" in html) is decides  # the nav link


@pytest.mark.parametrize("action", ["merge", "dismiss"])
@pytest.mark.parametrize("role", ["agent", "customer"])
def test_decisions_are_refused_below_the_decide_role(client, db, pair, action, role) -> None:
    suggestion = pair[2]
    signed_in(client, db, role)
    token = csrf_token(client, "/console/login" if role == "agent" else "/account")
    response = client.post(f"{QUEUE}/{suggestion.id}/{action}", data={"csrf_token": token})
    assert response.status_code == 403
    assert fresh(db, CustomerMatchSuggestion, suggestion.id).status == "open"


def test_customers_and_anonymous_cannot_read_the_queue(client, db, pair) -> None:
    assert client.get(QUEUE).status_code == 302
    signed_in(client, db, "customer")
    assert client.get(QUEUE).status_code == 403


@pytest.mark.parametrize("action", ["merge", "dismiss"])
def test_decisions_refuse_a_post_without_csrf_token(client, db, pair, action) -> None:
    suggestion = pair[2]
    signed_in(client, db, "manager")
    assert client.post(f"{QUEUE}/{suggestion.id}/{action}").status_code == 400
    assert fresh(db, CustomerMatchSuggestion, suggestion.id).status == "open"


def test_undo_and_manual_merge_refuse_agents_and_missing_csrf(client, db, pair) -> None:
    older, newer, _ = pair
    signed_in(client, db, "agent")
    page = f"/console/customers/{older.id}"
    html = client.get(page).get_data(as_text=True)
    assert "Merge another customer into this one" not in html
    assert post(client, f"{page}/merge", {"other": str(newer.id)}, page=page).status_code == 403
    client.post("/console/logout", data={"csrf_token": csrf_token(client, "/console/")})
    signed_in(client, db, "manager")
    assert client.post(f"{page}/merge", data={"other": str(newer.id)}).status_code == 400
    assert fresh(db, Customer, newer.id).merged_into_id is None


def test_merge_from_the_queue_then_undo_on_the_customer_page_restores_both(client, db, pair) -> None:
    older, newer, suggestion = pair
    before = {c.id: holdings(db, c.id) for c in (older, newer)}
    manager = signed_in(client, db, "manager")
    response = post(client, f"{QUEUE}/{suggestion.id}/merge", page=QUEUE)
    assert response.status_code == 303 and response.headers["Location"].startswith(QUEUE)
    assert fresh(db, Customer, newer.id).merged_into_id == older.id
    merged = holdings(db, older.id)
    assert merged == (
        sorted(before[older.id][0] + before[newer.id][0]),
        sorted(before[older.id][1] + before[newer.id][1]),
    )
    assert f"suggestion-{suggestion.id}" not in client.get(QUEUE).get_data(as_text=True)

    page = f"/console/customers/{older.id}"
    html = client.get(page).get_data(as_text=True)
    merge = db.scalar(select(CustomerMerge).where(CustomerMerge.source_customer_id == newer.id))
    assert f"#{newer.id}</a> merged in" in html and manager.email in html and "score 0.900" in html
    assert "Undo merge" in html
    assert "merged into <a" in client.get(f"/console/customers/{newer.id}").get_data(as_text=True)

    response = post(
        client, f"/console/customers/merges/{merge.id}/undo", {"customer_id": older.id}, page=page
    )
    assert response.status_code == 303 and response.headers["Location"].endswith(page)
    assert {c.id: holdings(db, c.id) for c in (older, newer)} == before
    assert fresh(db, Customer, newer.id).merged_into_id is None
    assert fresh(db, CustomerMerge, merge.id).undone_at is not None
    html = client.get(page).get_data(as_text=True)
    assert "Undo merge" not in html and "undone" in html
    assert audit_actions(db, manager) == ["customer.merge", "customer.unmerge"]


def test_an_undone_merge_cannot_be_undone_twice(client, db, pair) -> None:
    older, newer, suggestion = pair
    signed_in(client, db, "manager")
    post(client, f"{QUEUE}/{suggestion.id}/merge", page=QUEUE)
    merge = db.scalar(select(CustomerMerge).where(CustomerMerge.source_customer_id == newer.id))
    page = f"/console/customers/{older.id}"
    post(client, f"/console/customers/merges/{merge.id}/undo", {"customer_id": older.id}, page=page)
    response = post(
        client, f"/console/customers/merges/{merge.id}/undo", {"customer_id": older.id}, page=page
    )
    assert response.status_code == 303
    assert "already undone" in client.get(page).get_data(as_text=True)
    assert post(client, "/console/customers/merges/999999/undo", page=page).status_code == 404


def test_dismiss_by_htmx_removes_the_pair_for_good(client, db, pair) -> None:
    older, newer, suggestion = pair
    manager = signed_in(client, db, "manager")
    response = post(client, f"{QUEUE}/{suggestion.id}/dismiss", page=QUEUE, headers=HX)
    assert response.status_code == 200 and response.get_data(as_text=True) == ""
    assert fresh(db, CustomerMatchSuggestion, suggestion.id).status == "dismissed"
    assert audit_actions(db, manager) == ["customer_match.dismissed"]
    # resolution runs again over the pair: it stays dismissed, unmerged and out of the queue
    index_identity_keys(db)
    resolve_customer_matches(db, newer.id, actor=Actor(label="resolver"), now=NOW)
    db.commit()
    assert fresh(db, Customer, newer.id).merged_into_id is None
    assert fresh(db, CustomerMatchSuggestion, suggestion.id).status == "dismissed"
    html = client.get(QUEUE).get_data(as_text=True)
    assert f"suggestion-{suggestion.id}" not in html and "No open suggestions" in html
    again = post(client, f"{QUEUE}/{suggestion.id}/dismiss", page=f"/console/customers/{older.id}")
    assert again.status_code == 303
    assert "already dismissed" in client.get(QUEUE).get_data(as_text=True)


def test_merge_by_htmx_answers_an_empty_fragment(client, db, pair) -> None:
    older, newer, suggestion = pair
    signed_in(client, db, "admin")
    response = post(client, f"{QUEUE}/{suggestion.id}/merge", page=QUEUE, headers=HX)
    assert response.status_code == 200 and response.get_data(as_text=True) == ""
    assert fresh(db, CustomerMatchSuggestion, suggestion.id).status == "merged"
    assert fresh(db, Customer, newer.id).merged_into_id == older.id
    fragment = client.get(QUEUE, headers=HX)
    assert "No open suggestions" in fragment.get_data(as_text=True) and "<nav" not in fragment.get_data(
        as_text=True
    )
    assert "HX-Request" in fragment.headers["Vary"]


@pytest.mark.parametrize("by", ["id", "hash", "email", "identity email"])
def test_manual_merge_from_the_customer_page(client, db, pair, by) -> None:
    older, newer, _ = pair
    manager = signed_in(client, db, "manager")
    page = f"/console/customers/{older.id}"
    other = {
        "id": str(newer.id),
        "hash": f"#{newer.id}",
        "email": "ADA.L@example.net",
        "identity email": "ada.l@example.net",
    }[by]
    if by == "identity email":
        db.execute(Customer.__table__.update().where(Customer.id == newer.id).values(email=None))
        db.commit()
    assert "Merge another customer into this one" in client.get(page).get_data(as_text=True)
    response = post(client, f"{page}/merge", {"other": other}, page=page)
    assert response.status_code == 303 and response.headers["Location"].endswith(page)
    assert fresh(db, Customer, newer.id).merged_into_id == older.id
    assert audit_actions(db, manager) == ["customer.merge"]
    assert "merged by hand" in client.get(page).get_data(as_text=True)


@pytest.mark.parametrize(
    ("other", "message"),
    [
        ("999999", "no customer 999999"),
        ("99999999999999999999999", "no customer 99999999999999999999999"),
        ("²", "no customer ²"),
        ("nobody@example.org", "no customer with the email"),
        ("Ada", "customer number or an email"),
    ],
)
def test_manual_merge_explains_a_reference_it_cannot_use(client, db, pair, other, message) -> None:
    older = pair[0]
    signed_in(client, db, "manager")
    page = f"/console/customers/{older.id}"
    assert post(client, f"{page}/merge", {"other": other}, page=page).status_code == 303
    assert message in client.get(page).get_data(as_text=True)
    assert db.scalar(select(CustomerMerge.id)) is None


def test_manual_merge_refuses_the_customer_itself(client, db, pair) -> None:
    older = pair[0]
    signed_in(client, db, "manager")
    page = f"/console/customers/{older.id}"
    post(client, f"{page}/merge", {"other": str(older.id)}, page=page)
    assert "only two different customers" in client.get(page).get_data(as_text=True)
    assert db.scalar(select(CustomerMerge.id)) is None


def test_empty_queue_says_so(client, db) -> None:
    signed_in(client, db, "manager")
    html = client.get(QUEUE).get_data(as_text=True)
    assert "No open suggestions" in html and 'data-count="suggestions">0<' in client.get(
        f"{QUEUE}/count"
    ).get_data(as_text=True)


def test_nav_badge_counts_open_suggestions(client, db, pair) -> None:
    signed_in(client, db, "manager")
    assert 'data-count="suggestions">1<' in client.get(f"{QUEUE}/count").get_data(as_text=True)
    assert f'hx-get="{QUEUE}/count"' in client.get("/console/").get_data(as_text=True)


def test_queue_pages_in_a_fixed_number_of_queries(client, db, engine) -> None:
    def add(n: int) -> None:
        for i in range(n):
            a = person(db, f"Grace Hopper {i}", f"grace{i}@example.org", age_days=40)
            b = person(db, f"Grace Hoper {i}", f"g.hopper{i}@example.net", age_days=3)
            make_order(db, customer_id=b.id)
            suggest(db, a, b, score=0.8 + i / 1000)
        db.commit()

    add(2)
    signed_in(client, db, "manager")
    with QueryCounter(engine) as few:
        assert client.get(QUEUE).status_code == 200
    add(40)
    with QueryCounter(engine) as many:
        response = client.get(f"{QUEUE}?page=2")
    html = response.get_data(as_text=True)
    assert (
        response.status_code == 200 and "Page 2 of 3" in html and html.count('class="card suggestion"') == 20
    )
    assert many.count == few.count


def test_queue_pages_best_score_first(client, db) -> None:
    low = suggest(
        db,
        person(db, "A One", "a1@example.org", age_days=9),
        person(db, "A Onee", "a2@example.org", age_days=1),
        0.71,
    )
    high = suggest(
        db,
        person(db, "B Two", "b1@example.org", age_days=9),
        person(db, "B Twoo", "b2@example.org", age_days=1),
        0.88,
    )
    db.commit()
    signed_in(client, db, "agent")
    html = client.get(QUEUE).get_data(as_text=True)
    assert html.index(f"suggestion-{high.id}") < html.index(f"suggestion-{low.id}")


def test_undo_waits_for_a_later_merge_of_the_target_to_be_undone(client, db, pair) -> None:
    older, newer, suggestion = pair
    third = person(db, "Ada King", "ada.king@example.org", age_days=60)
    db.commit()
    before = {c.id: holdings(db, c.id) for c in (older, newer, third)}
    signed_in(client, db, "manager")
    post(client, f"{QUEUE}/{suggestion.id}/merge", page=QUEUE)  # newer into older
    page = f"/console/customers/{third.id}"
    post(client, f"{page}/merge", {"other": str(older.id)}, page=page)  # older (with newer) into third
    first, second = db.scalars(select(CustomerMerge).order_by(CustomerMerge.id)).all()
    older_page = f"/console/customers/{older.id}"
    post(client, f"/console/customers/merges/{first.id}/undo", {"customer_id": older.id}, page=older_page)
    assert "undo that merge first" in client.get(older_page).get_data(as_text=True)
    assert fresh(db, Customer, newer.id).merged_into_id == older.id
    post(client, f"/console/customers/merges/{second.id}/undo", {"customer_id": third.id}, page=page)
    post(client, f"/console/customers/merges/{first.id}/undo", {"customer_id": older.id}, page=older_page)
    assert {c.id: holdings(db, c.id) for c in (older, newer, third)} == before


def test_a_pair_merged_by_hand_leaves_the_queue_and_its_stale_merge_is_refused(client, db, pair) -> None:
    older, newer, suggestion = pair
    signed_in(client, db, "manager")
    page = f"/console/customers/{older.id}"
    post(client, f"{page}/merge", {"other": str(newer.id)}, page=page)
    assert fresh(db, CustomerMatchSuggestion, suggestion.id).status == "merged"
    assert f"{QUEUE}/{suggestion.id}/merge" not in client.get(QUEUE).get_data(as_text=True)
    response = post(client, f"{QUEUE}/{suggestion.id}/merge", page=QUEUE, headers=HX)
    assert response.status_code == 422 and "already merged" in response.get_data(as_text=True)
    assert post(client, f"{QUEUE}/999999/merge", page=QUEUE).status_code == 404
    assert post(client, f"{QUEUE}/999999/dismiss", page=QUEUE).status_code == 404


def test_a_pair_whose_customer_was_merged_elsewhere_is_marked_and_its_merge_refused(client, db, pair) -> None:
    _older, newer, suggestion = pair
    third = person(db, "Augusta King", "augusta@example.org", age_days=60)
    db.commit()
    signed_in(client, db, "manager")
    page = f"/console/customers/{third.id}"
    post(client, f"{page}/merge", {"other": str(newer.id)}, page=page)
    assert f"merged into #{third.id}" in client.get(QUEUE).get_data(as_text=True)
    response = post(client, f"{QUEUE}/{suggestion.id}/merge", page=QUEUE, headers=HX)
    assert response.status_code == 422 and "not merged already" in response.get_data(as_text=True)
    assert fresh(db, CustomerMatchSuggestion, suggestion.id).status == "open"
