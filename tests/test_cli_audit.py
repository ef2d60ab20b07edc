"""`crossdock audit verify`: OK with the count on an intact chain; the first broken entry and exit 1 after
an entry is changed in SQL behind the application's back."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import text

from app import create_app
from core import migrate
from core.audit.services import record_audit
from core.db import make_engine, make_session_factory
from core.security.roles import Actor
from tests.conftest import drop_database, fresh_database_url
from tests.factories import NOW


@pytest.fixture
def audited_db(tmp_path: Path):
    url, needs_drop = fresh_database_url(tmp_path, "auditcli")
    engine = make_engine(url)
    migrate.upgrade(engine)
    with make_session_factory(engine)() as session:
        for i in range(30):
            record_audit(
                session, Actor(label="ops@shop.example"), "stock.adjust", "sku", i, now=NOW, after={"i": i}
            )
        session.commit()
    yield url, engine
    engine.dispose()
    drop_database(url, needs_drop)


def invoke(url: str, *args: str):
    app = create_app({"DATABASE_URL": url, "SECRET_KEY": "cli-test"})
    result = app.test_cli_runner().invoke(args=list(args))
    app.extensions["crossdock.session_factory"].kw["bind"].dispose()
    return result


def test_verify_prints_ok_with_the_count(audited_db) -> None:
    url, _ = audited_db
    result = invoke(url, "audit", "verify")
    assert result.exit_code == 0, result.output
    assert result.output.startswith("OK: 30 audit entries, chain intact")
    as_json = json.loads(invoke(url, "audit", "verify", "--json").output)
    assert as_json["ok"] is True and as_json["entries"] == 30 and as_json["broken_id"] is None
    assert len(as_json["head"]) == 64 and as_json["head"] in result.output


def test_verify_names_the_first_broken_entry_and_exits_1(audited_db) -> None:
    url, engine = audited_db
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text("DROP TRIGGER audit_entries_no_change ON audit_entries"))
        else:
            conn.execute(text("DROP TRIGGER audit_entries_no_update"))
        target = conn.execute(text("SELECT id FROM audit_entries ORDER BY id LIMIT 1 OFFSET 11")).scalar()
        conn.execute(
            text("UPDATE audit_entries SET actor_label = 'someone@else' WHERE id = :i"), {"i": target}
        )
    result = invoke(url, "audit", "verify")
    assert result.exit_code == 1
    assert f"BROKEN at audit entry {target}: its hash does not match its contents" in result.output
    assert "(11 entries before it are intact)" in result.output
