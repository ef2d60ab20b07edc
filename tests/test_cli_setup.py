"""Setting Crossdock up from the shell on an empty database, as the README's "Set up without the demo" says:
the first admin, a location, a Shopify channel with its webhook secret, an import, the order shown; then the
encryption key rotated with every secret still readable, and a missing key refused in one line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import select, text

import core.models  # noqa: F401  (every model, for the session below)
from app import create_app
from core.channels.models import Channel
from core.db import make_engine, make_session_factory
from core.security.encryption import KEYS_VARIABLE, generate_key
from core.security.models import User
from tests.conftest import drop_database, fresh_database_url
from tests.fixtures import CHANNELS


@pytest.fixture
def cli_db(tmp_path: Path):
    url, needs_drop = fresh_database_url(tmp_path, "setup")
    yield url
    drop_database(url, needs_drop)


def invoke(url: str, *args: str, input: str | None = None):
    app = create_app({"DATABASE_URL": url, "SECRET_KEY": "cli-test"})
    result = app.test_cli_runner().invoke(args=list(args), input=input)
    app.extensions["crossdock.session_factory"].kw["bind"].dispose()
    return result


def _stored_secret(url: str, code: str) -> str:
    engine = make_engine(url)
    with engine.connect() as conn:
        value = conn.execute(
            text("SELECT webhook_secret FROM channels WHERE code = :c"), {"c": code}
        ).scalar()
    engine.dispose()
    return value


def test_set_up_from_the_shell_without_the_demo(cli_db: str, monkeypatch) -> None:
    key = generate_key()
    monkeypatch.setenv(KEYS_VARIABLE, key)
    assert invoke(cli_db, "db", "upgrade").exit_code == 0
    added = invoke(
        cli_db, "users", "add", "owner@shop.example", "--name", "Owner", input="a-long-password\n" * 2
    )
    assert added.exit_code == 0, added.output
    assert "admin owner@shop.example added" in added.output
    located = invoke(cli_db, "locations", "add", "EAST", "--name", "East warehouse", "--kind", "warehouse")
    assert located.exit_code == 0, located.output
    changed = invoke(
        cli_db,
        "locations",
        "set",
        "EAST",
        "--city",
        "Newark",
        "--country",
        "us",
        "--hours",
        "mon=09:00-17:00",
    )
    assert changed.exit_code == 0, changed.output
    bad_hours = invoke(cli_db, "locations", "set", "EAST", "--hours", "mon=17:00-09:00")
    assert bad_hours.exit_code == 1 and "closing time 09:00 must be after" in bad_hours.output
    [east] = json.loads(invoke(cli_db, "locations", "list", "--json").output)
    assert (east["address"]["city"], east["address"]["country"]) == ("Newark", "US")
    assert east["hours"] == {"mon": ["09:00", "17:00"]}

    created = invoke(
        cli_db, "channels", "add", "lamps", "--kind", "shopify", "--name", "Lamps", "--locations", "EAST"
    )
    assert created.exit_code == 0, created.output
    secret = created.output.split("webhook secret:")[1].split()[0]
    assert "/api/channels/lamps/webhooks/orders" in created.output
    stored = _stored_secret(cli_db, "lamps")
    assert stored.startswith("fernet:") and secret not in stored

    listed = json.loads(invoke(cli_db, "channels", "list", "--json").output)
    assert [(c["code"], c["kind"], c["locations"]) for c in listed] == [("lamps", "shopify", ["EAST"])]

    body = json.loads((CHANNELS / "shopify" / "order.json").read_text())
    imported = invoke(
        cli_db, "import", "lamps", str(CHANNELS / "shopify" / "order.json"), "--create-listings"
    )
    assert imported.exit_code == 0, imported.output
    line = json.loads(imported.output.splitlines()[0])
    assert line["external_id"] == str(body["order"]["id"]) and line["status"] in (
        "created",
        "needs_attention",
    )
    shown = invoke(cli_db, "orders", "show", "lamps", str(body["order"]["id"]), "--json")
    assert shown.exit_code == 0 and json.loads(shown.output)["channel"] == "lamps"

    # Rotate: the new key first, the old after it; then the old key alone opens nothing, the new one all.
    new = generate_key()
    monkeypatch.setenv(KEYS_VARIABLE, f"{new},{key}")
    rotated = invoke(cli_db, "keys", "rotate")
    assert rotated.exit_code == 0 and rotated.output.startswith("1 stored secret(s) re-encrypted"), (
        rotated.output
    )
    assert _stored_secret(cli_db, "lamps") != stored
    monkeypatch.setenv(KEYS_VARIABLE, new)
    engine = make_engine(cli_db)
    with make_session_factory(engine)() as session:
        assert session.scalar(select(Channel.webhook_secret)) == secret
        assert session.scalar(select(User.role).where(User.email == "owner@shop.example")) == "admin"
    engine.dispose()
    monkeypatch.setenv(KEYS_VARIABLE, key)
    refused = invoke(cli_db, "channels", "list")
    assert refused.exit_code == 1
    assert refused.output.startswith("Error: a stored secret can't be decrypted"), refused.output


def test_a_channel_with_a_secret_needs_a_key_and_says_so(cli_db: str, monkeypatch, tmp_path: Path) -> None:
    monkeypatch.delenv(KEYS_VARIABLE)
    monkeypatch.setattr("core.db.INSTANCE_DIR", tmp_path)
    assert invoke(cli_db, "db", "upgrade").exit_code == 0
    result = invoke(cli_db, "channels", "add", "lamps", "--kind", "shopify", "--name", "Lamps")
    assert result.exit_code == 1
    assert (
        f"Error: {KEYS_VARIABLE} is not set" in result.output and "crossdock keys generate" in result.output
    )
    monkeypatch.setenv(KEYS_VARIABLE, generate_key())
    assert json.loads(invoke(cli_db, "channels", "list", "--json").output) == []  # nothing half-written


def test_keys_generate_prints_a_usable_key(cli_db: str) -> None:
    from cryptography.fernet import Fernet

    printed = invoke(cli_db, "keys", "generate").output.strip()
    assert Fernet(printed.encode()).decrypt(Fernet(printed.encode()).encrypt(b"x")) == b"x"
