"""Many writers at once on one database (the embedded SQLite file above all): webhooks ingesting orders on
many threads while customers sign in (which writes last_login_at) and agents save CRM notes. Every request
that writes waits for the write lock instead of failing on it: no 5xx. A lock that still times out answers 503
with Retry-After, in the site's style (JSON on /api)."""

from __future__ import annotations

import copy
import json
import sqlite3
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from sqlalchemy import event, func, select
from sqlalchemy.exc import OperationalError

from app import create_app
from core import migrate
from core.channels.signatures import sign
from core.customers.models import CrmNote
from core.db import make_engine, make_session_factory
from core.orders.models import Order
from tests.conftest import drop_database, fresh_database_url
from tests.factories import PASSWORD, make_channel, make_customer, make_user
from tests.helpers import csrf_token, sign_in

SECRET = "whsec-concurrent"
WEBHOOKS, SIGN_INS, NOTES, THREADS = 120, 30, 30, 24

ORDER = {
    "id": "WS-0",
    "number": "0",
    "placed_at": "2026-11-01T10:15:00+01:00",
    "status": "paid",
    "currency": "EUR",
    "customer": {"id": "C-0", "name": "Rosa Diaz", "email": "rosa@example.org"},
    "shipping_address": {
        "name": "Rosa Diaz",
        "line1": "Kastanienallee 12",
        "city": "Berlin",
        "postal_code": "10435",
        "country": "DE",
    },
    "lines": [{"id": "1", "sku": "MUG-RED", "title": "Red mug", "quantity": 1, "unit_price": "12.50"}],
    "shipping": {"method": "DHL Paket", "amount": "4.90"},
    "totals": {"subtotal": "12.50", "discount": "0.00", "shipping": "4.90", "tax": "0.00", "total": "17.40"},
}


@pytest.fixture
def busy_app(tmp_path: Path):
    """An app on its own committed database (not the per-test rolled-back transaction): real locks."""
    url, needs_drop = fresh_database_url(tmp_path, "concurrent")
    engine = make_engine(url)
    migrate.upgrade(engine)
    with make_session_factory(engine)() as session:
        make_channel(session, code="webshop", kind="webshop", webhook_secret=SECRET)
        customers = [make_user(session, role="customer").email for _ in range(SIGN_INS)]
        agents = [make_user(session, role="agent").email for _ in range(NOTES)]
        noted = make_customer(session).id
        session.commit()
    app = create_app({"TESTING": True, "SECRET_KEY": "test-secret", "DATABASE_URL": url})
    yield app, engine, customers, agents, noted
    app.extensions["crossdock.session_factory"].kw["bind"].dispose()
    engine.dispose()
    drop_database(url, needs_drop)


def webhook(app, n: int) -> int:
    order = copy.deepcopy(ORDER)
    buyer = {"id": f"C-{n}", "name": "Rosa Diaz", "email": f"rosa{n}@example.org"}
    order.update(id=f"WS-{n}", number=str(n), customer=buyer)
    body = json.dumps(order).encode()
    response = app.test_client().post(
        "/api/channels/webshop/webhooks/orders",
        data=body,
        headers={"Content-Type": "application/json", "X-Crossdock-Signature": sign(SECRET, body)},
    )
    return response.status_code


def customer_sign_in(app, email: str) -> int:
    return sign_in(app.test_client(), email, PASSWORD).status_code


def agent_note(app, email: str, customer_id: int) -> int:
    client = app.test_client()
    signed_in = sign_in(client, email, PASSWORD, console=True)
    if signed_in.status_code >= 500:
        return signed_in.status_code
    token = csrf_token(client, f"/console/customers/{customer_id}")
    note = {"body": f"Called back ({email})", "csrf_token": token}
    response = client.post(f"/console/customers/{customer_id}/notes", data=note)
    return response.status_code


def test_concurrent_sign_ins_notes_and_webhooks_answer_no_5xx(busy_app) -> None:
    app, engine, customers, agents, noted = busy_app
    with ThreadPoolExecutor(THREADS) as pool:
        futures = [pool.submit(webhook, app, n) for n in range(WEBHOOKS)]
        futures += [pool.submit(customer_sign_in, app, email) for email in customers]
        futures += [pool.submit(agent_note, app, email, noted) for email in agents]
        statuses = Counter(f.result() for f in futures)
    assert not [s for s in statuses if s >= 500], statuses
    assert statuses == {200: WEBHOOKS, 303: SIGN_INS + NOTES}  # orders taken; sign-ins and notes redirected
    with make_session_factory(engine)() as session:
        assert session.scalar(select(func.count()).select_from(Order)) == WEBHOOKS
        assert session.scalar(select(func.count()).select_from(CrmNote)) == NOTES


def test_a_lock_that_times_out_answers_503_with_retry_after(busy_app) -> None:
    _app, engine, customers, _agents, _noted = busy_app
    if engine.dialect.name != "sqlite":
        pytest.skip("SQLite's file lock: PostgreSQL writers lock rows, not the database")
    impatient = make_engine(str(engine.url))  # gives up at once, as a long wait would in the end
    event.listen(impatient, "connect", lambda dbapi, _r: dbapi.execute("PRAGMA busy_timeout=0"))
    app = create_app(
        {"TESTING": True, "SECRET_KEY": "test-secret", "SESSION_FACTORY": make_session_factory(impatient)}
    )
    holder = sqlite3.connect(engine.url.database, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another process holds the write lock throughout
    try:
        page = sign_in(app.test_client(), customers[0], PASSWORD)
        api = app.test_client().post(
            "/api/channels/webshop/webhooks/orders",
            data=b"{}",
            headers={"Content-Type": "application/json", "X-Crossdock-Signature": sign(SECRET, b"{}")},
        )
    finally:
        holder.execute("ROLLBACK")
        holder.close()
        impatient.dispose()
    assert page.status_code == 503
    assert page.headers["Retry-After"] == "5"
    assert "Busy right now" in page.get_data(as_text=True)
    assert "Traceback" not in page.get_data(as_text=True)
    assert api.status_code == 503 and api.headers["Retry-After"] == "5"
    assert api.get_json() == {"error": "the database is busy; retry shortly"}


def test_other_database_errors_are_not_called_busy(busy_app) -> None:
    app, *_ = busy_app

    @app.get("/explode")
    def explode():
        raise OperationalError("SELECT", {}, sqlite3.OperationalError("disk I/O error"))

    app.testing, app.config["PROPAGATE_EXCEPTIONS"] = False, False
    assert app.test_client().get("/explode").status_code == 500
