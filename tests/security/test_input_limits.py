"""Bad input at the machine doors (channel webhooks, `crossdock import`) is answered 400 / one line with
the reason: huge numbers, deep nesting, wrong types, bad encodings. What was stored stays stored; nothing
else is half-written."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
from sqlalchemy import select

from app import create_app
from core import safe_json
from core.errors import PayloadError
from core.orders.models import InboundPayload, Order
from tests.conftest import drop_database, fresh_database_url
from tests.security.channels import WEBHOOK_CHANNELS, WebhookChannel, row_counts


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("[" * 100_000 + "]" * 100_000, "nested deeper than 64 levels"),
        ('{"a":' * 70 + "1" + "}" * 70, "nested deeper than 64 levels"),
        ("1" * 5000, "too long"),
        ('{"name": "a\\u0000b"}', "NUL"),
        ('{"name": "\\ud800"}', "surrogate"),
        (b"\xff\xfe{}", "not UTF-8"),
        ("{'single': 'quotes'}", "line 1 column 2"),
    ],
)
def test_safe_json_refuses_with_the_reason(text, reason) -> None:
    with pytest.raises(PayloadError, match=reason):
        safe_json.loads(text)


def test_safe_json_reads_ordinary_documents() -> None:
    assert safe_json.loads(b'\xef\xbb\xbf{"a": [1, {"b": "\xc3\xa9"}]}') == {"a": [1, {"b": "é"}]}
    assert safe_json.loads('{"a":' * 60 + "1" + "}" * 60) is not None


def _with_quantity(channel: WebhookChannel, value) -> bytes:
    document = copy.deepcopy(channel.sample)
    channel.first_line(document)["quantity"] = value
    return json.dumps(document).encode()


ids = [c.kind for c in WEBHOOK_CHANNELS]


@pytest.fixture
def hooks(db):
    for channel in WEBHOOK_CHANNELS:
        channel.create(db)
    db.commit()


@pytest.mark.parametrize("channel", WEBHOOK_CHANNELS, ids=ids)
@pytest.mark.parametrize(
    ("quantity", "reason"),
    [(10**30, "quantity"), (-3, "quantity"), ("lots", "quantity"), ([1], "quantity"), (2.5, "quantity")],
)
def test_webhook_out_of_range_or_wrong_type_is_400_payload_kept_no_order(
    client, db, hooks, channel, quantity, reason
) -> None:
    response = channel.post(client, _with_quantity(channel, quantity))
    assert response.status_code == 400, response.get_json()
    body = response.get_json()
    assert reason in body["error"]
    payload = db.get(InboundPayload, body["payload_id"])
    assert payload.status == "rejected" and reason in payload.error
    assert db.scalar(select(Order.id)) is None


@pytest.mark.parametrize("channel", WEBHOOK_CHANNELS, ids=ids)
@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"[" * 100_000 + b"]" * 100_000, "nested deeper"),
        (b'{"order": ' * 80 + b"{}" + b"}" * 80, "nested deeper"),
        (b'{"id": ' + b"9" * 6000 + b"}", "too long"),
        (b'{"order": {"id": "\\u0000"}}', "NUL"),
        ('{"order": {"id": "café"}}'.encode("latin-1"), "not UTF-8"),
    ],
    ids=["deep-array", "deep-object", "huge-literal", "nul", "latin-1"],
)
def test_webhook_unreadable_body_is_400_and_stores_nothing(client, db, hooks, channel, body, reason) -> None:
    before = row_counts(db)
    response = channel.post(client, body)
    assert response.status_code == 400
    assert reason in response.get_json()["error"]
    assert row_counts(db) == before


def test_webhook_wild_money_is_400_with_the_field(client, db, hooks) -> None:
    channel = next(c for c in WEBHOOK_CHANNELS if c.kind == "webshop")
    document = copy.deepcopy(channel.sample)
    channel.first_line(document)["unit_price"] = "1" + "0" * 40
    response = channel.post(client, json.dumps(document).encode())
    assert response.status_code == 400
    assert "unit_price" in response.get_json()["error"] or "line 1" in response.get_json()["error"]
    assert db.scalar(select(Order.id)) is None


@pytest.fixture
def cli_db(tmp_path: Path):
    url, needs_drop = fresh_database_url(tmp_path, "limits")
    yield url
    drop_database(url, needs_drop)


def _crossdock(url: str, *args: str):
    """The command in-process; an exception escaping it (a traceback) fails the test."""
    app = create_app({"DATABASE_URL": url, "SECRET_KEY": "cli-test"})
    result = app.test_cli_runner().invoke(args=list(args), catch_exceptions=False)
    app.extensions["crossdock.session_factory"].kw["bind"].dispose()
    return result


def test_cli_import_bad_files_print_one_line_each_and_no_traceback(tmp_path, cli_db) -> None:
    url = cli_db
    assert _crossdock(url, "db", "upgrade").exit_code == 0
    assert _crossdock(url, "channels", "add", "shop", "--kind", "webshop", "--name", "Shop").exit_code == 0
    webshop = next(c for c in WEBHOOK_CHANNELS if c.kind == "webshop")
    files = {
        "deep.json": b"[" * 100_000 + b"]" * 100_000,
        "huge.json": _with_quantity(webshop, 10**30),
        "types.json": _with_quantity(webshop, {"a": 1}),
        "latin1.json": '{"order": {"id": "café"}}'.encode("latin-1"),
        "nul.json": b'{"order": \x00}',
    }
    for name, content in files.items():
        (tmp_path / name).write_bytes(content)
    result = _crossdock(url, "import", "shop", *(str(tmp_path / name) for name in files))
    assert result.exit_code == 1
    errors = {Path(line["file"]).name: line for line in map(json.loads, result.output.splitlines())}
    assert set(errors) == set(files)
    assert all(line["status"] == "rejected" and line["error"] for line in errors.values())
    assert "nested deeper" in errors["deep.json"]["error"] and "quantity" in errors["huge.json"]["error"]
    assert "quantity" in errors["types.json"]["error"]
    assert "not UTF-8" in errors["latin1.json"]["error"] and "NUL" in errors["nul.json"]["error"]
