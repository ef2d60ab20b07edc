"""The `crossdock` command: migrations, seeding (deterministic, refuses a non-empty database), usage."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import func, select

from app import PROJECT_ROOT, create_app
from core import migrate
from core.db import make_engine, make_session_factory
from core.orders.models import Order
from core.security.models import User
from tests.conftest import drop_database, fresh_database_url


@pytest.fixture
def cli_db(tmp_path: Path):
    url, needs_drop = fresh_database_url(tmp_path, "cli")
    yield url
    drop_database(url, needs_drop)


def invoke(url: str, *args: str):
    app = create_app({"DATABASE_URL": url, "SECRET_KEY": "cli-test"})
    result = app.test_cli_runner().invoke(args=list(args), catch_exceptions=False)
    app.extensions["crossdock.session_factory"].kw["bind"].dispose()
    return result


def test_db_upgrade_migrates_to_head(cli_db: str) -> None:
    result = invoke(cli_db, "db", "upgrade")
    assert result.exit_code == 0, result.output
    engine = make_engine(cli_db)
    assert migrate.current_revision(engine) == migrate.head_revision()
    engine.dispose()


def test_seed_creates_demo_accounts_and_orders_then_refuses_to_reseed(cli_db: str) -> None:
    result = invoke(cli_db, "seed", "--orders", "120")
    assert result.exit_code == 0, result.output
    assert "orders/s" in result.output
    assert "Seeding" not in result.output  # the progress bar is for a terminal, not for captured output
    engine = make_engine(cli_db)
    with make_session_factory(engine)() as session:
        assert session.scalar(select(func.count()).select_from(Order)) >= 100
        emails = set(session.scalars(select(User.email)))
    engine.dispose()
    assert {"customer@example.com", "agent@example.com", "manager@example.com", "admin@example.com"} <= emails
    again = invoke(cli_db, "seed", "--orders", "10")
    assert again.exit_code != 0
    assert "already has data" in again.output


def test_crossdock_console_script_prints_usage(tmp_path: Path) -> None:
    # From another directory: the command finds this project's application, not the working directory's.
    (tmp_path / "app.py").write_text("raise SystemExit('the wrong app.py was imported')\n")
    result = subprocess.run(
        [sys.executable, "-m", "cli", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT)},
    )
    assert result.returncode == 0, result.stderr
    for command in ("db", "seed", "serve", "worker", "demo", "bench"):
        assert command in result.stdout


def test_flask_app_command_reaches_the_same_commands() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "app", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=PROJECT_ROOT,
    )
    assert result.returncode == 0, result.stderr
    for command in ("db", "seed", "worker", "demo", "import", "orders", "stock", "outbox"):
        assert f"  {command} " in result.stdout


def test_run_script_without_arguments_prints_usage() -> None:
    result = subprocess.run(
        [str(PROJECT_ROOT / "run")], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0
    assert "./run COMMAND" in result.stdout and "demo" in result.stdout and "test" in result.stdout


def _add_channel(url: str, code: str, kind: str) -> None:
    import core.models  # noqa: F401
    from core.channels.models import Channel

    engine = make_engine(url)
    with make_session_factory(engine)() as session:
        session.add(Channel(code=code, name=code.title(), kind=kind, webhook_secret="x"))
        session.commit()
    engine.dispose()


def test_import_and_show_amazon_v0_with_items_joined(cli_db: str) -> None:
    import json

    from tests.fixtures import CHANNELS

    assert invoke(cli_db, "db", "upgrade").exit_code == 0
    _add_channel(cli_db, "amazon", "amazon")
    folder = CHANNELS / "amazon"
    files = [str(folder / "getOrders.json"), str(folder / "getOrderItems.json")]
    result = invoke(cli_db, "import", "amazon", *files, "--create-listings")
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.output.splitlines()]
    assert {line["file"] for line in lines} == set(files)
    assert all(set(line) == {"file", "external_id", "status", "order_id", "error"} for line in lines)
    items = json.loads((folder / "getOrderItems.json").read_text())["payload"]
    shown = invoke(cli_db, "orders", "show", "amazon", items["AmazonOrderId"], "--json")
    assert shown.exit_code == 0, shown.output
    order = json.loads(shown.output)
    assert order["external_id"] == items["AmazonOrderId"]
    assert [line["channel_sku"] for line in order["lines"]] == [i["SellerSKU"] for i in items["OrderItems"]]
    assert [line["sku"] for line in order["lines"]] == [i["SellerSKU"] for i in items["OrderItems"]]
    assert [line["quantity"] for line in order["lines"]] == [
        i["QuantityOrdered"] for i in items["OrderItems"]
    ]
    replay = invoke(cli_db, "import", "amazon", *files)
    assert {json.loads(line)["status"] for line in replay.output.splitlines()} == {"duplicate"}


def test_import_reports_a_file_without_order_and_exits_nonzero(cli_db: str, tmp_path: Path) -> None:
    import json

    invoke(cli_db, "db", "upgrade")
    _add_channel(cli_db, "shop", "shopify")
    empty = tmp_path / "empty.json"
    empty.write_text('{"nothing": true}')
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    result = invoke(cli_db, "import", "shop", str(empty), str(broken))
    assert result.exit_code == 1
    lines = [json.loads(line) for line in result.output.splitlines()]
    assert [line["status"] for line in lines] == ["rejected", "rejected"]
    assert "no order found" in lines[0]["error"] and "not JSON" in lines[1]["error"]


def test_orders_show_unknown_order_fails_with_one_line(cli_db: str) -> None:
    invoke(cli_db, "db", "upgrade")
    result = invoke(cli_db, "orders", "show", "nochannel", "123", "--json")
    assert result.exit_code != 0 and "no order '123' on channel 'nochannel'" in result.output


def test_locations_add_stock_receive_show_and_verify(cli_db: str) -> None:
    import json

    import core.models  # noqa: F401
    from core.catalog.models import Product, Sku
    from core.channels.models import Channel
    from core.inventory.models import Location

    invoke(cli_db, "db", "upgrade")
    result = invoke(
        cli_db,
        "locations",
        "add",
        "wh-east",
        "--name",
        "Warehouse East",
        "--kind",
        "warehouse",
        "--regions",
        "US-NY,US-NJ",
        "--priority",
        "1",
    )
    assert result.exit_code == 0, result.output
    assert (
        invoke(cli_db, "locations", "add", "WH-EAST", "--name", "Again", "--kind", "warehouse").exit_code != 0
    )
    engine = make_engine(cli_db)
    with make_session_factory(engine)() as session:
        product = Product(title="Tee")
        session.add(product)
        session.flush()
        session.add(Sku(product_id=product.id, code="TEE-M", title="Tee M"))
        channel = Channel(code="web", name="Web shop", kind="webshop", stock_buffer_units=2)
        channel.locations.append(session.scalar(select(Location).where(Location.code == "WH-EAST")))
        session.add(channel)
        session.commit()
    engine.dispose()
    received = invoke(cli_db, "stock", "receive", "WH-EAST", "TEE-M", "12")
    assert received.exit_code == 0 and "on hand 12" in received.output
    shown = json.loads(invoke(cli_db, "stock", "show", "TEE-M", "--json").output)
    assert shown["locations"] == [
        {"location": "WH-EAST", "name": "Warehouse East", "on_hand": 12, "reserved": 0, "available": 12}
    ]
    assert shown["channels"][0]["channel"] == "web" and shown["channels"][0]["available_to_sell"] == 10
    assert invoke(cli_db, "stock", "verify").exit_code == 0
    bad = invoke(cli_db, "stock", "receive", "NOWHERE", "TEE-M", "1")
    assert bad.exit_code != 0 and "unknown location 'NOWHERE'" in bad.output


def show(url: str, channel: str, external_id: str) -> dict:
    import json

    return json.loads(invoke(url, "orders", "show", channel, external_id, "--json").output)


def test_orders_ship_moves_stock_and_rolls_status(cli_db: str, tmp_path: Path) -> None:
    import json

    import core.models  # noqa: F401
    from core.catalog.models import Product, Sku
    from core.channels.models import Channel
    from core.inventory.models import Location
    from tests.fixtures import channel_file

    invoke(cli_db, "db", "upgrade")
    invoke(cli_db, "locations", "add", "WH", "--name", "Warehouse", "--kind", "warehouse")
    engine = make_engine(cli_db)
    with make_session_factory(engine)() as session:
        channel = Channel(code="shop", name="Shop", kind="shopify")
        channel.locations.append(session.scalar(select(Location).where(Location.code == "WH")))
        session.add(channel)
        session.commit()
    engine.dispose()
    sample = channel_file("shopify", "order.json")
    assert invoke(cli_db, "import", "shop", str(sample), "--create-listings").exit_code == 0
    engine = make_engine(cli_db)
    with make_session_factory(engine)() as session:
        codes = list(session.scalars(select(Sku.code).order_by(Sku.id)))  # the kettle first: 1 ordered
        assert session.scalar(select(func.count()).select_from(Product)) == 3
    engine.dispose()
    for code in codes:
        assert invoke(cli_db, "stock", "receive", "WH", code, "5").exit_code == 0
    external_id = str(json.loads(sample.read_text())["order"]["id"])
    assert show(cli_db, "shop", external_id)["status"] == "confirmed"
    shipped = invoke(
        cli_db, "orders", "ship", "shop", external_id, "--carrier", "UPS", "--tracking", "1Z999AA10123456784"
    )
    assert shipped.exit_code == 0, shipped.output
    shown = show(cli_db, "shop", external_id)
    assert shown["status"] == "shipped"
    assert shown["shipments"] == [
        {"carrier": "UPS", "tracking_number": "1Z999AA10123456784", "status": "in_transit"}
    ]
    stock = json.loads(invoke(cli_db, "stock", "show", codes[0], "--json").output)
    assert stock["on_hand"] == 4 and stock["reserved"] == 0
    assert invoke(cli_db, "stock", "verify").exit_code == 0
    again = invoke(cli_db, "orders", "ship", "shop", external_id, "--carrier", "UPS", "--tracking", "X")
    assert again.exit_code != 0
    csv = tmp_path / "events.csv"
    csv.write_text(
        "tracking_number,carrier,status,occurred_at,location,description\n"
        "1Z999AA10123456784,UPS,delivered,2026-11-26T10:00:00+00:00,Louisville KY,Delivered\n"
    )
    imported = invoke(cli_db, "tracking", "import", str(csv))
    assert imported.exit_code == 0 and "1 new event(s)" in imported.output
    assert show(cli_db, "shop", external_id)["status"] == "delivered"


def test_outbox_counts_and_retry(cli_db: str) -> None:
    import json

    import core.models  # noqa: F401
    from core.notifications.models import OutboxMessage

    invoke(cli_db, "db", "upgrade")
    engine = make_engine(cli_db)
    with make_session_factory(engine)() as session:
        session.add_all(
            [
                OutboxMessage(
                    kind="shipment_shipped", dedup_key="a", recipient="x@example.org", status="failed"
                ),
                OutboxMessage(
                    kind="shipment_shipped", dedup_key="b", recipient="y@example.org", status="sent"
                ),
                OutboxMessage(kind="order_confirmed", dedup_key="c", recipient="z@example.org"),
            ]
        )
        session.commit()
        failed_id = session.scalar(select(OutboxMessage.id).where(OutboxMessage.dedup_key == "a"))
    engine.dispose()
    counts = json.loads(invoke(cli_db, "outbox", "--json").output)
    assert counts == {
        "pending": 1,
        "sent": 1,
        "failed": 1,
        "skipped": 0,
        "by_kind": {"order_confirmed": {"pending": 1}, "shipment_shipped": {"failed": 1, "sent": 1}},
    }
    assert invoke(cli_db, "outbox").output.startswith("pending 1, sent 1, failed 1, skipped 0\n")
    assert invoke(cli_db, "outbox", "retry", str(failed_id)).exit_code == 0
    assert json.loads(invoke(cli_db, "outbox", "--json").output)["pending"] == 2
    assert invoke(cli_db, "outbox", "retry", "99999").exit_code != 0


def test_demo_puts_its_port_in_links_and_its_mail_in_its_folder_with_a_quiet_worker(
    cli_db: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import smtplib
    import socket
    from email.message import EmailMessage
    from types import SimpleNamespace

    from sqlalchemy import make_url

    import cli.run
    from core.notifications.catcher import list_caught_mail

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        smtp_port = probe.getsockname()[1]
    monkeypatch.delenv("SMTP_HOST", raising=False)
    monkeypatch.delenv("PORTAL_BASE_URL", raising=False)
    monkeypatch.setenv("SMTP_PORT", str(smtp_port))
    seen: dict = {}

    class Worker:
        def __init__(self, args: list[str], env: dict[str, str], cwd: Path) -> None:
            seen["args"], seen["env"], seen["cwd"] = args, env, cwd

        def terminate(self) -> None:
            seen["terminated"] = True

        def wait(self, timeout: float | None = None) -> int:
            return 0

    def serve(app, host: str, port: int, threads: int) -> None:
        seen["served"] = (host, port, app.config["PORTAL_BASE_URL"])
        message = EmailMessage()
        message["Subject"], message["From"], message["To"] = (
            "Sent by the worker",
            "a@example.org",
            "b@example.org",
        )
        message.set_content("body")
        with smtplib.SMTP(seen["env"]["SMTP_HOST"], int(seen["env"]["SMTP_PORT"])) as smtp:
            smtp.send_message(message)

    monkeypatch.setattr(
        cli.run, "subprocess", SimpleNamespace(Popen=Worker, TimeoutExpired=subprocess.TimeoutExpired)
    )
    monkeypatch.setattr(cli.run, "waitress", SimpleNamespace(serve=serve))
    maildir = tmp_path / "mail"
    app = create_app({"DATABASE_URL": cli_db, "SECRET_KEY": "cli-test", "MAIL_DIR": maildir})
    result = app.test_cli_runner().invoke(args=["demo", "--port", "5123", "--orders", "30"])
    app.extensions["crossdock.session_factory"].kw["bind"].dispose()
    assert result.exit_code == 0, result.output
    assert seen["served"] == ("127.0.0.1", 5123, "http://127.0.0.1:5123")
    assert seen["env"]["PORTAL_BASE_URL"] == "http://127.0.0.1:5123"
    assert make_url(seen["env"]["DATABASE_URL"]) == make_url(cli_db)
    assert seen["env"]["SMTP_PORT"] == str(smtp_port)
    assert seen["args"][-3:] == ["worker", "--log-level", "warning"]
    assert seen["cwd"] == PROJECT_ROOT and seen["terminated"] is True
    assert [mail.subject for mail in list_caught_mail(maildir)] == ["Sent by the worker"]
    assert "http://127.0.0.1:5123/console/login" in result.output
    assert "customer@example.com" in result.output and "Seeding" not in result.output


def test_orders_ship_leaves_an_audit_entry(cli_db: str) -> None:
    import core.models  # noqa: F401
    from core.audit.models import AuditEntry
    from tests.factories import make_channel, make_sku
    from tests.fulfillment_factories import make_confirmed_order
    from tests.inventory_factories import link, make_location, make_stock

    invoke(cli_db, "db", "upgrade")
    engine = make_engine(cli_db)
    with make_session_factory(engine)() as session:
        channel = make_channel(session, code="aud")
        warehouse = make_location(session, code="WH-AUDIT")
        link(session, channel, warehouse)
        kettle = make_sku(session)
        make_stock(session, warehouse, kettle.id, 3)
        order = make_confirmed_order(session, channel, [(kettle.id, 1)])
        session.commit()
        order_id, external_id = order.id, order.external_id
    engine.dispose()

    shipped = invoke(
        cli_db, "orders", "ship", "aud", external_id, "--carrier", "UPS", "--tracking", "1Z999AA10123456784"
    )

    assert shipped.exit_code == 0, shipped.output
    engine = make_engine(cli_db)
    with make_session_factory(engine)() as session:
        [entry] = session.scalars(select(AuditEntry)).all()
    engine.dispose()
    assert (entry.actor_label, entry.action, entry.entity_type, entry.entity_id) == (
        "cli",
        "order.shipped",
        "order",
        str(order_id),
    )
    assert entry.before == {"status": "confirmed"}
    assert (entry.after["status"], entry.after["source"]) == ("shipped", "packing")
    assert [(s["carrier"], s["tracking_number"]) for s in entry.after["shipments"]] == [
        ("UPS", "1Z999AA10123456784")
    ]


def test_channels_add_list_set_then_import_on_an_empty_database(cli_db: str) -> None:
    import json

    from tests.fixtures import CHANNELS

    assert invoke(cli_db, "db", "upgrade").exit_code == 0
    assert "no channels yet" in invoke(cli_db, "channels", "list").output
    assert invoke(cli_db, "locations", "add", "EAST", "--name", "East", "--kind", "warehouse").exit_code == 0
    add = ("channels", "add", "shopify", "--kind", "shopify", "--name", "Lamps & Co", "--locations", "east")
    added = invoke(cli_db, *add)
    assert added.exit_code == 0, added.output
    assert "channel shopify (shopify) created" in added.output
    assert "/api/channels/shopify/webhooks/orders" in added.output and "webhook secret: " in added.output
    [listed] = json.loads(invoke(cli_db, "channels", "list", "--json").output)
    assert (listed["code"], listed["kind"], listed["locations"], listed["active"]) == (
        "shopify",
        "shopify",
        ["EAST"],
        True,
    )
    changed = invoke(cli_db, "channels", "set", "shopify", "--stock-buffer-units", "2", "--paused")
    assert changed.exit_code == 0, changed.output
    [listed] = json.loads(invoke(cli_db, "channels", "list", "--json").output)
    assert listed["stock_buffer_units"] == 2 and listed["active"] is False
    assert invoke(cli_db, "channels", "set", "shopify", "--active").exit_code == 0
    imported = invoke(cli_db, "import", "shopify", str(CHANNELS / "shopify" / "order.json"))
    assert imported.exit_code == 0, imported.output
    assert json.loads(imported.output.splitlines()[0])["status"] in {"created", "needs_attention"}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("channels", "add", "web", "--kind", "myspace", "--name", "W"), "'myspace' is not one of"),
        (("channels", "add", "web", "--kind", "webshop", "--name", "W", "--locations", "NOWHERE"), "NOWHERE"),
        (("channels", "set", "nope", "--name", "X"), "unknown channel 'nope'"),
        (("channels", "set", "nope"), "nothing to change"),
    ],
)
def test_channels_commands_refuse_bad_input_in_one_line(cli_db: str, args, message: str) -> None:
    invoke(cli_db, "db", "upgrade")
    result = invoke(cli_db, *args)
    assert result.exit_code != 0 and message in result.output
    assert "Traceback" not in result.output
    assert json.loads(invoke(cli_db, "channels", "list", "--json").output) == []


def test_mail_receive_opens_a_ticket_then_threads_the_reply_and_rejects_a_message_without_sender(
    cli_db: str, tmp_path: Path
) -> None:
    from tests.support_factories import make_email

    invoke(cli_db, "db", "upgrade")
    first = tmp_path / "first.eml"
    first.write_bytes(make_email(subject="Lamp arrived broken", message_id="<a1@mail.example.org>"))
    answer = tmp_path / "answer.eml"
    answer.write_bytes(
        make_email(
            subject="Re: Lamp arrived broken",
            message_id="<a2@mail.example.org>",
            in_reply_to="<a1@mail.example.org>",
        )
    )
    nobody = tmp_path / "nobody.eml"
    nobody.write_bytes(b"Subject: hello\r\n\r\nno sender here\r\n")
    result = invoke(cli_db, "mail", "receive", str(first), str(answer), str(nobody))
    assert result.exit_code == 1
    lines = [json.loads(line) for line in result.output.splitlines()]
    assert [line["status"] for line in lines] == ["created", "threaded", "rejected"]
    assert lines[0]["conversation_id"] == lines[1]["conversation_id"] is not None
    assert "no sender address" in lines[2]["reason"]
    again = invoke(cli_db, "mail", "receive", str(first))
    assert json.loads(again.output)["status"] == "duplicate" and again.exit_code == 0


INTENT_FIXTURES = PROJECT_ROOT / "tests" / "fixtures" / "intents"


def eval_intents(tmp_path: Path, *args: str):
    return invoke(f"sqlite:///{tmp_path / 'unused.db'}", "eval-intents", *args)


def test_eval_intents_json_reports_accuracy_f1_and_latency_on_held_out_messages(tmp_path: Path) -> None:
    result = eval_intents(tmp_path, str(INTENT_FIXTURES / "heldout.csv"), "--json")
    assert result.exit_code == 0, result.output
    figures = json.loads(result.output)
    assert {"accuracy", "macro_f1", "n", "p50_ms", "p95_ms", "confusions", "skipped"} <= set(figures)
    assert figures["n"] == 49
    assert figures["skipped"] == 0
    assert figures["accuracy"] >= 0.95
    assert 0 < figures["p50_ms"] <= figures["p95_ms"]


def test_eval_intents_prints_a_summary_with_confusions(tmp_path: Path) -> None:
    result = eval_intents(
        tmp_path, str(INTENT_FIXTURES / "mapped_eval.csv"), "--map", str(INTENT_FIXTURES / "map.csv")
    )
    assert result.exit_code == 0, result.output
    assert "4 message(s), 2 skipped by the map" in result.output
    assert "accuracy 1.0000" in result.output
    assert "p95" in result.output


def test_eval_intents_map_skips_rows_whose_intent_it_leaves_out(tmp_path: Path) -> None:
    result = eval_intents(
        tmp_path,
        str(INTENT_FIXTURES / "mapped_eval.csv"),
        "--map",
        str(INTENT_FIXTURES / "map.csv"),
        "--json",
    )
    assert result.exit_code == 0, result.output
    figures = json.loads(result.output)
    assert (figures["n"], figures["skipped"]) == (4, 2)
    assert set(figures["per_intent"]) == {"track_order", "cancel_order"}
    assert figures["accuracy"] == 1.0


def test_eval_intents_train_learns_the_training_files_own_intent_names(tmp_path: Path) -> None:
    evaluated = str(INTENT_FIXTURES / "gift_wrap_eval.csv")
    without = json.loads(eval_intents(tmp_path, evaluated, "--json").output)
    assert without["per_intent"]["gift_wrap"]["recall"] == 0.0
    result = eval_intents(
        tmp_path, evaluated, "--train", str(INTENT_FIXTURES / "gift_wrap_train.csv"), "--json"
    )
    assert result.exit_code == 0, result.output
    figures = json.loads(result.output)
    assert figures["per_intent"]["gift_wrap"]["recall"] == 1.0
    assert figures["accuracy"] == 1.0
    assert figures["intents_known"] == 17
    assert figures["trained_on"] == "shipped+train"  # the evaluated file also names shipped intents


def test_eval_intents_train_of_the_same_kind_learns_it_alone(tmp_path: Path) -> None:
    evaluated = str(INTENT_FIXTURES / "shop_eval.csv")
    training = str(INTENT_FIXTURES / "shop_train.csv")
    alone = json.loads(eval_intents(tmp_path, evaluated, "--train", training, "--json").output)
    assert (alone["trained_on"], alone["intents_known"], alone["n"]) == ("train", 4, 8)
    assert alone["accuracy"] == 1.0
    assert alone["macro_f1"] == 1.0
    mixed = json.loads(
        eval_intents(tmp_path, evaluated, "--train", training, "--with-shipped", "--json").output
    )
    assert (mixed["trained_on"], mixed["intents_known"]) == ("shipped+train", 20)


def test_eval_intents_with_shipped_needs_train(tmp_path: Path) -> None:
    result = eval_intents(tmp_path, str(INTENT_FIXTURES / "shop_eval.csv"), "--with-shipped")
    assert result.exit_code != 0
    assert "--with-shipped needs --train" in result.output


def test_eval_intents_refuses_a_file_without_intent_column_in_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("message,label\nhi,greeting\n")
    result = eval_intents(tmp_path, str(bad))
    assert result.exit_code != 0
    assert "intent column" in result.output


IDENTITY_FIXTURES = PROJECT_ROOT / "tests" / "fixtures" / "identity"


def test_eval_identity_reports_precision_recall_and_f1_as_json(app) -> None:
    result = app.test_cli_runner().invoke(
        args=[
            "eval-identity",
            str(IDENTITY_FIXTURES / "people.csv"),
            "--links",
            str(IDENTITY_FIXTURES / "people_links.csv"),
            "--json",
        ]
    )
    assert result.exit_code == 0, result.output
    figures = json.loads(result.output)
    assert {"precision", "recall", "f1", "pairs_compared", "true_links", "predicted_links", "seconds"} <= set(
        figures
    )
    assert (figures["precision"], figures["recall"], figures["f1"]) == (1.0, 1.0, 1.0)
    assert (figures["true_links"], figures["predicted_links"]) == (9, 9)
    assert figures["pairs_compared"] < 26 * 25 // 2  # blocked, not every pair


def test_eval_identity_refuses_a_file_without_person_columns_in_one_line(app) -> None:
    links = str(IDENTITY_FIXTURES / "people_links.csv")
    result = app.test_cli_runner().invoke(args=["eval-identity", links, "--truth", links])
    assert result.exit_code != 0
    assert "has no rec_id" in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_customers_resolve_dry_run_writes_nothing_then_links_and_suggests(app, db) -> None:
    from core.customers.models import Customer, CustomerMatchSuggestion, Identity

    home = {"line1": "14 Larkspur Street", "city": "Fairview", "postal_code": "4051", "country": "AU"}
    for name in ("Margaret Okonkwo", "Margret Okonkwo", "Samuel Okonkwo"):
        customer = Customer(name=name)
        db.add(customer)
        db.flush()
        db.add(Identity(customer_id=customer.id, name=name, address=home))
    db.commit()
    runner = app.test_cli_runner()
    dry = runner.invoke(args=["customers", "resolve", "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "1 links would be made, 1 suggestions would be queued" in dry.output
    assert "Resolving" not in dry.output  # the progress bar is for a terminal
    db.expire_all()
    assert db.scalar(select(func.count()).where(Customer.merged_into_id.is_not(None))) == 0
    assert db.scalar(select(func.count()).select_from(CustomerMatchSuggestion)) == 0
    done = runner.invoke(args=["customers", "resolve"])
    assert done.exit_code == 0, done.output
    assert "1 links made, 1 suggestions queued" in done.output
    db.expire_all()
    assert db.scalar(select(func.count()).where(Customer.merged_into_id.is_not(None))) == 1
    assert (
        runner.invoke(args=["customers", "resolve"])
        .output.strip()
        .endswith("0 links made, 0 suggestions queued")
    )
