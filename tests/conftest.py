"""Shared fixtures: a fresh, migrated database per run (SQLite by default, PostgreSQL with
TEST_DATABASE_URL), each test isolated in a transaction that is rolled back; a Flask app and client
bound to that same transaction; helpers to sign in through the real forms (CSRF included)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine, make_url, text
from sqlalchemy.orm import Session, sessionmaker

from app import create_app
from core import migrate
from core.db import make_engine
from core.security.encryption import KEYS_VARIABLE, generate_key

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"

# A merchant's own chat examples (`crossdock intents import`) in this checkout's instance folder must not
# change what the assistant answers in tests: the suite reads none unless a test points elsewhere.
os.environ.setdefault("CROSSDOCK_INTENTS_FILE", str(REPO / "tests" / "fixtures" / "no-merchant-intents.csv"))
# Channel secrets are stored encrypted: the suite, and the servers and commands it starts, use its own key.
os.environ.setdefault(KEYS_VARIABLE, generate_key())


def _create_postgres_database(base_url: str, name: str) -> str:
    url = make_url(base_url)
    admin = make_engine(
        url.set(database="postgres").render_as_string(hide_password=False), isolation_level="AUTOCOMMIT"
    )
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return url.set(database=name).render_as_string(hide_password=False)


def _drop_postgres_database(url_text: str) -> None:
    url = make_url(url_text)
    admin = make_engine(
        url.set(database="postgres").render_as_string(hide_password=False), isolation_level="AUTOCOMMIT"
    )
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{url.database}" WITH (FORCE)'))
    admin.dispose()


def fresh_database_url(tmp_dir: Path, label: str) -> tuple[str, bool]:
    """A new empty database: a SQLite file, or a PostgreSQL database beside TEST_DATABASE_URL's.
    Returns (url, needs_drop)."""
    base = os.environ.get("TEST_DATABASE_URL")
    if base:
        name = f"{make_url(base).database}_{label}_{uuid.uuid4().hex[:6]}"
        return _create_postgres_database(base, name), True
    return f"sqlite:///{tmp_dir / (label + '.db')}", False


def drop_database(url: str, needs_drop: bool) -> None:
    if needs_drop:
        _drop_postgres_database(url)


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = os.environ.get("TEST_DATABASE_URL")
    if url:
        return url
    if os.environ.get("REQUIRE_POSTGRES") == "1":
        pytest.fail("REQUIRE_POSTGRES=1 but TEST_DATABASE_URL is not set")
    return f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}"


@pytest.fixture(scope="session")
def engine(database_url: str) -> Iterator[Engine]:
    eng = make_engine(database_url)
    migrate.upgrade(eng)
    yield eng
    eng.dispose()


@pytest.fixture
def connection(engine: Engine) -> Iterator:
    """One connection in an outer transaction that is rolled back after the test."""
    conn = engine.connect()
    trans = conn.begin()
    yield conn
    trans.rollback()
    conn.close()


@pytest.fixture
def session_factory(connection) -> sessionmaker[Session]:
    # Commits inside the code under test only release a SAVEPOINT; the outer transaction is rolled back.
    return sessionmaker(bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False)


@pytest.fixture
def db(session_factory: sessionmaker[Session]) -> Iterator[Session]:
    session = session_factory()
    yield session
    session.close()


@pytest.fixture
def app(session_factory: sessionmaker[Session], tmp_path: Path) -> Flask:
    return create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "test-secret",
            "SESSION_FACTORY": session_factory,
            "MAIL_DIR": tmp_path / "mail",
            # The suite signs managers and admins in with a password alone; tests of two-factor sign-in
            # build their app with the requirement on (tests/security/test_sign_in_and_lockout.py).
            "TWO_FACTOR_ROLES": (),
        }
    )


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def shared_data() -> Path:
    """../shared/data, public samples for the extra conformance tests (the main suite reads tests/fixtures/).

    Absent, the test is skipped with the reason; REQUIRE_SHARED_DATA=1 (set by CI) makes that a failure.
    """
    if not SHARED_DATA.is_dir():
        reason = f"conformance samples not found: {SHARED_DATA} is absent (a checkout without ../shared)"
        if os.environ.get("REQUIRE_SHARED_DATA") == "1":
            pytest.fail(f"REQUIRE_SHARED_DATA=1 but {reason}")
        pytest.skip(reason)
    return SHARED_DATA


@pytest.fixture(autouse=True)
def _fresh_help_cache() -> Iterator[None]:
    """Each test starts without the per-process help-article cache (every test has its own data)."""
    from core.support.queries import _help_cache

    _help_cache.clear()
    yield
    _help_cache.clear()
