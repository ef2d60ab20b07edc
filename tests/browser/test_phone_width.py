"""Every GET page of the console and the portal fits a 390 px wide phone with no sideways scrolling.

The pages come from the app's url_map (so a new page is visited, or this test names it as unvisited), with
sample ids from the seeded demo data: an admin sees every console page, the demo customer every portal page
of theirs, and a signed-out visitor the sign-in, sign-up and link pages. One browser, one context per role."""

from __future__ import annotations

import shutil
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
import waitress
from flask import Flask
from playwright.sync_api import Browser, BrowserContext, expect
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from app import create_app
from core import migrate
from core.db import make_engine, make_session_factory
from core.demo.seed import CASEY_EMAIL, DEMO_PASSWORD, seed_demo
from core.security.models import User
from core.security.tokens import make_tracking_token, make_unsubscribe_token
from core.support.tokens import make_thread_token
from tests.browser.conftest import OUTPUT
from tests.conftest import drop_database, fresh_database_url

pytestmark = pytest.mark.browser

WIDTH, HEIGHT = 390, 844
# Pages kept as screenshots (test-output/screenshots/phone_*.png): the customer 360, a stacked table.
SCREENSHOTS = {"console.customer_detail": "phone_customer_360", "console.stock_list": "phone_stock"}
SECRET = "phone-width-test"
NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)

# GET endpoints that are not pages a person reads on a phone: files, JSON, fragments htmx loads into a
# page (each checked as part of its page), the health check.
NOT_PAGES = {
    "static",
    "healthz",
    "portal.account_export",
    "portal.support_attachment",
    "portal.order_status",
    "console.attachment_download",
    "console.fulfilment_export_csv",
    "console.fulfilment_export_json",
    "console.analytics_csv",
    "console.customer_suggestions_count",
    "console.audit_export",
}
# Pages that only a signed-out visitor sees (a signed-in one is sent on).
SIGNED_OUT = {
    "portal.login",
    "portal.signup",
    "portal.password_forgot",
    "portal.password_reset",
    "portal.verify",
    "portal.track",
    "portal.track_code",
    "portal.track_link",
    "portal.support_link",
    "portal.unsubscribe",
    "portal.dropship_confirm",
    "console.login",
    "console.accept_invite",
}
# The widest elements of an overflowing page, to say what to fix.
CULPRITS_JS = """(limit) => {
  const width = document.documentElement.scrollWidth;
  const culprits = [];
  if (width > limit) {
    for (const el of document.querySelectorAll('body *')) {
      const wider = (node) => node.getBoundingClientRect().right > limit + 1;
      if (wider(el) && ![...el.children].some(wider)) {
        const classes = el.className ? '.' + String(el.className).split(' ').join('.') : '';
        const name = el.tagName.toLowerCase() + classes;
        culprits.push(name + ' (' + Math.round(el.getBoundingClientRect().right) + 'px)');
        if (culprits.length >= 4) break;
      }
    }
  }
  return {width, culprits};
}"""


def _write_caught_mail(maildir: Path) -> str:
    maildir.mkdir(parents=True, exist_ok=True)
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = (
        "shop@example.com",
        CASEY_EMAIL,
        "Your order has shipped",
    )
    message.set_content("Your parcel is on its way: https://track.example/1Z999AA10123456784")
    message.add_alternative("<p>Your parcel is on its way.</p>", subtype="html")
    name = "20261120T120000000000Z-0123456789ab.eml"
    (maildir / name).write_bytes(message.as_bytes())
    return name


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """A live server on a database seeded with the demo data, and sample values for every URL argument."""
    folder = tmp_path_factory.mktemp("phone")
    url, needs_drop = fresh_database_url(folder, "phone")
    engine = make_engine(url)
    migrate.upgrade(engine)
    seed_demo(engine, orders=300, seed=7, now=NOW)
    maildir = folder / "mail"
    mail_name = _write_caught_mail(maildir)
    # The admin signs in with a password alone (two-factor sign-in has its own journey).
    app = create_app({"DATABASE_URL": url, "SECRET_KEY": SECRET, "MAIL_DIR": maildir, "TWO_FACTOR_ROLES": ()})
    with make_session_factory(engine)() as session:
        staff, portal = _samples(session, mail_name)
    server = waitress.create_server(app, host="127.0.0.1", port=0, threads=4)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    yield {"app": app, "base": f"http://127.0.0.1:{server.effective_port}", "staff": staff, "portal": portal}
    server.close()
    thread.join(timeout=5)
    engine.dispose()
    drop_database(url, needs_drop)
    shutil.rmtree(folder, ignore_errors=True)


def _one(session: Session, sql: str, **params: Any) -> Any:
    return session.execute(text(sql), params).scalar()


def _samples(session: Session, mail_name: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """URL argument values: any row for staff pages; the demo customer's own rows for portal pages."""
    casey = session.scalars(select(User).where(User.email == CASEY_EMAIL)).one()
    cid = casey.customer_id
    staff = {
        "customer_id": _one(
            session, "SELECT customer_id FROM orders GROUP BY customer_id ORDER BY count(*) DESC"
        ),
        "order_id": _one(session, "SELECT order_id FROM shipments ORDER BY id"),
        "conversation_id": _one(session, "SELECT id FROM conversations ORDER BY id"),
        "return_id": _one(session, "SELECT id FROM return_requests ORDER BY id"),
        "payload_id": _one(session, "SELECT id FROM inbound_payloads ORDER BY id"),
        "macro_id": _one(session, "SELECT id FROM macros ORDER BY id"),
        "code": _one(session, "SELECT code FROM channels ORDER BY id"),
        "sku_code": _one(session, "SELECT code FROM skus ORDER BY id"),
        "location_code": _one(session, "SELECT code FROM locations ORDER BY id"),
        "console.admin_location": _one(session, "SELECT code FROM locations ORDER BY id"),
        "name": mail_name,
        "kind": "order_confirmed",  # an email whose texts can be changed
        "token": "not-a-valid-token",  # the invitation page's refusal
        "console.admin_role": "agent",  # a built-in role's page (its `name` is not a mail's)
    }
    order_id = _one(session, "SELECT id FROM orders WHERE customer_id = :c ORDER BY placed_at DESC", c=cid)
    conversation_id = _one(session, "SELECT id FROM conversations WHERE customer_id = :c ORDER BY id", c=cid)
    portal = {
        "number": _one(session, "SELECT number FROM orders WHERE id = :o", o=order_id),
        "rma": _one(
            session, "SELECT rma_number FROM return_requests WHERE customer_id = :c ORDER BY id", c=cid
        ),
        "conversation_id": conversation_id,
        "slug": _one(session, "SELECT slug FROM help_articles ORDER BY id"),
        "token": "not-a-valid-token",
        # Signed links as our emails carry them, by endpoint.
        "portal.track_link": make_tracking_token(SECRET, order_id),
        "portal.support_link": make_thread_token(SECRET, conversation_id),
        "portal.unsubscribe": make_unsubscribe_token(SECRET, cid, "shipped"),
    }
    missing = [key for key, value in (staff | portal).items() if value is None]
    assert not missing, f"the demo data has no sample for {missing}"
    return staff, portal


def _paths(
    app: Flask, samples: dict[str, dict[str, Any]]
) -> tuple[dict[str, list[tuple[str, str]]], list[str]]:
    """(endpoint, path) of every GET page by role (staff, customer, visitor), and the endpoints unvisited."""
    paths: dict[str, list[tuple[str, str]]] = {"staff": [], "customer": [], "visitor": []}
    unvisited = []
    with app.test_request_context():
        for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
            if (
                "GET" not in (rule.methods or ())
                or rule.endpoint in NOT_PAGES
                or rule.rule.startswith("/api")
            ):
                continue
            console = rule.endpoint.startswith("console.")
            role = "visitor" if rule.endpoint in SIGNED_OUT else ("staff" if console else "customer")
            pool = samples["staff" if console else "portal"]
            values = {arg: pool.get(rule.endpoint, pool.get(arg)) for arg in rule.arguments}
            if any(value is None for value in values.values()):
                unvisited.append(rule.endpoint)
                continue
            paths[role].append((rule.endpoint, app.url_for(rule.endpoint, **values)))
    return paths, unvisited


def _sign_in(context: BrowserContext, base: str, role: str) -> None:
    page = context.new_page()
    if role == "staff":
        page.goto(f"{base}/console/login")
        email = "admin@example.com"
    else:
        page.goto(f"{base}/login")
        email = CASEY_EMAIL
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()
    page.close()


def test_every_page_fits_a_phone(browser: Browser, seeded: dict[str, Any]) -> None:
    base = seeded["base"]
    paths, unvisited = _paths(seeded["app"], {"staff": seeded["staff"], "portal": seeded["portal"]})
    assert unvisited == [], f"pages with no sample URL: {unvisited}"
    assert len(paths["staff"]) > 25 and len(paths["customer"]) > 10 and len(paths["visitor"]) > 8
    too_wide, errors = [], []
    for role in ("visitor", "staff", "customer"):
        context = browser.new_context(viewport={"width": WIDTH, "height": HEIGHT}, is_mobile=True)
        if role != "visitor":
            _sign_in(context, base, role)
        page = context.new_page()
        for endpoint, path in paths[role]:
            response = page.goto(base + path, wait_until="load")
            if response is None or response.status >= 500:
                errors.append(f"{path}: {response.status if response else 'no response'}")
                continue
            if endpoint in SCREENSHOTS:
                OUTPUT.mkdir(parents=True, exist_ok=True)
                page.screenshot(path=str(OUTPUT / f"{SCREENSHOTS[endpoint]}.png"), full_page=True)
            found = page.evaluate(CULPRITS_JS, WIDTH)
            if found["width"] > WIDTH:
                too_wide.append(
                    f"{path} ({role}): {found['width']}px, widest: {', '.join(found['culprits'])}"
                )
        context.close()
    assert errors == [], "pages that failed:\n" + "\n".join(errors)
    assert too_wide == [], "pages wider than a 390 px phone:\n" + "\n".join(too_wide)
