"""Browser journeys: Debian's chromium driven by Playwright against a live server on its own database.

REQUIRE_BROWSER=1 (CI) turns a missing chromium into a failure instead of a skip."""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import waitress
from playwright.sync_api import Browser, Page, sync_playwright
from sqlalchemy.orm import Session

from app import create_app
from core import migrate
from core.db import make_engine, make_session_factory
from tests.conftest import drop_database, fresh_database_url

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
OUTPUT = Path(__file__).resolve().parents[2] / "test-output" / "screenshots"


@pytest.fixture(scope="session")
def chromium_path() -> str:
    path = shutil.which("chromium")
    if path is None:
        if os.environ.get("REQUIRE_BROWSER") == "1":
            pytest.fail("REQUIRE_BROWSER=1 but Debian's chromium is not installed (apt-get install chromium)")
        pytest.skip("chromium not installed; set REQUIRE_BROWSER=1 to make this a failure")
    return path


@pytest.fixture(scope="session")
def browser(chromium_path: str) -> Iterator[Browser]:
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def live_db(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, object]]:
    """A fresh migrated database that the live server commits to for real."""
    url, needs_drop = fresh_database_url(tmp_path_factory.mktemp("live"), "live")
    engine = make_engine(url)
    migrate.upgrade(engine)
    yield url, make_session_factory(engine)
    engine.dispose()
    drop_database(url, needs_drop)


@pytest.fixture(scope="module")
def live_server(live_db) -> Iterator[str]:
    url, _factory = live_db
    # Journeys sign managers in with a password alone; test_two_factor_journey.py has the requirement on.
    app = create_app({"DATABASE_URL": url, "SECRET_KEY": "browser-test", "TWO_FACTOR_ROLES": ()})
    server = waitress.create_server(app, host="127.0.0.1", port=0, threads=4)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.effective_port}"
    server.close()
    thread.join(timeout=5)


@pytest.fixture
def live_session(live_db) -> Iterator[Session]:
    _url, factory = live_db
    with factory() as session:
        yield session


@pytest.fixture
def page(browser: Browser, request: pytest.FixtureRequest) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    yield page
    OUTPUT.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(OUTPUT / f"{request.node.name}.png"), full_page=True)
    context.close()
