"""Outbox delivery over a real SMTP server: one connection per batch, back-off and retries, permanent
failures and staff retry, two dispatchers at once, and a dispatcher killed mid-batch."""

from __future__ import annotations

import os
import shutil
import signal
import ssl
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, delete, select, update
from sqlalchemy.orm import Session, sessionmaker

from core import migrate
from core.audit.models import AuditEntry
from core.db import begin_write, make_engine, make_session_factory, unit_of_work
from core.errors import DomainError, NotFound
from core.notifications.models import OutboxMessage
from core.notifications.rendering import message_id_for
from core.notifications.services import (
    data_retention_job,
    outbox_counts,
    outbox_messages,
    queue_email,
    queue_order_confirmed,
    retry_outbox_message,
)
from core.notifications.smtp import (
    CLAIM_TTL,
    MAX_ATTEMPTS,
    SmtpSettings,
    backoff,
    dispatch_email_outbox,
    outbox_dispatch_job,
)
from core.security.roles import SYSTEM, Actor
from tests.conftest import drop_database, fresh_database_url
from tests.factories import NOW, make_channel, make_customer, make_order
from tests.worker.smtp_server import free_port, running_smtp_server, self_signed_certificate

REPO = Path(__file__).resolve().parents[2]
MAIL_FROM = "orders@crossdock.test"
SECRET = "outbox-test-secret"


def settings_for(port: int) -> SmtpSettings:
    return SmtpSettings(port=port, mail_from=MAIL_FROM, secret_key=SECRET, timeout=5)


def queue_confirmations(session: Session, n: int) -> list[OutboxMessage]:
    """n orders on one channel, each with its 'order confirmed' email queued."""
    channel = make_channel(session, sender_name="Acme Outdoor")
    customer = make_customer(session)
    rows = []
    for _ in range(n):
        order = make_order(session, channel_id=channel.id, customer_id=customer.id, email=customer.email)
        row = queue_order_confirmed(session, order, now=NOW)
        assert row is not None
        rows.append(row)
    session.flush()
    return rows


def reload(session: Session, rows: list[OutboxMessage]) -> list[OutboxMessage]:
    session.expire_all()
    return [session.get(OutboxMessage, row.id) for row in rows]


# --- in the test's transaction ---


def test_dispatch_email_outbox_sends_batch_over_one_connection(db: Session, session_factory) -> None:
    rows = queue_confirmations(db, 5)
    db.commit()
    with running_smtp_server() as server:
        result = dispatch_email_outbox(session_factory, settings_for(server.port), now=NOW)
    assert (result.claimed, result.sent) == (5, 5)
    assert server.handler.connections == 1
    expected = {message_id_for(row.dedup_key, MAIL_FROM) for row in rows}
    assert set(server.message_ids()) == expected and len(server.messages) == 5
    for row in reload(db, rows):
        assert (row.status, row.attempts, row.last_error) == ("sent", 1, None)
        assert row.message_id == message_id_for(row.dedup_key, MAIL_FROM)
        assert row.sent_at is not None and row.sent_at >= NOW
    assert server.handler.envelopes[0] == (MAIL_FROM, [rows[0].recipient])


def test_dispatch_email_outbox_nothing_due_opens_no_connection(db: Session, session_factory) -> None:
    rows = queue_confirmations(db, 1)
    db.execute(update(OutboxMessage).values(next_attempt_at=NOW + timedelta(minutes=1)))
    db.commit()
    with running_smtp_server() as server:
        result = dispatch_email_outbox(session_factory, settings_for(server.port), now=NOW)
    assert result.claimed == 0 and server.handler.connections == 0
    assert reload(db, rows)[0].status == "pending"


def test_dispatch_email_outbox_server_down_backs_off_then_delivers(db: Session, session_factory) -> None:
    rows = queue_confirmations(db, 3)
    db.commit()
    down = dispatch_email_outbox(session_factory, settings_for(free_port()), now=NOW)
    assert (down.claimed, down.retrying, down.sent) == (3, 3, 0)
    for row in reload(db, rows):
        assert (row.status, row.attempts) == ("pending", 1)
        assert "Connection refused" in (row.last_error or "") or "ConnectionRefused" in (row.last_error or "")
        assert NOW + backoff(1) <= row.next_attempt_at < NOW + backoff(1) + timedelta(seconds=10)

    with running_smtp_server() as server:
        early = dispatch_email_outbox(
            session_factory, settings_for(server.port), now=NOW + timedelta(seconds=5)
        )
        assert early.claimed == 0 and server.messages == []
        later = dispatch_email_outbox(
            session_factory, settings_for(server.port), now=NOW + timedelta(minutes=1)
        )
    assert later.sent == 3 and len(server.messages) == 3
    assert {(row.status, row.attempts) for row in reload(db, rows)} == {("sent", 2)}


def test_backoff_doubles_up_to_an_hour() -> None:
    assert [backoff(n).total_seconds() for n in (1, 2, 3, 4)] == [30, 60, 120, 240]
    assert backoff(30) == timedelta(hours=1)


def test_dispatch_email_outbox_451_is_temporary(db: Session, session_factory) -> None:
    rows = queue_confirmations(db, 2)
    db.commit()
    with running_smtp_server(reply="451 4.7.1 Greylisted, try again later") as server:
        result = dispatch_email_outbox(session_factory, settings_for(server.port), now=NOW)
    assert (result.retrying, result.sent, result.failed) == (2, 0, 0)
    assert server.handler.connections == 1  # the refusal did not end the connection
    for row in reload(db, rows):
        assert row.status == "pending" and row.attempts == 1 and "451" in (row.last_error or "")


def test_dispatch_email_outbox_550_fails_then_staff_retry_delivers(db: Session, session_factory) -> None:
    [row] = queue_confirmations(db, 1)
    db.commit()
    with running_smtp_server(reply="550 5.1.1 No such user here") as server:
        result = dispatch_email_outbox(session_factory, settings_for(server.port), now=NOW)
    assert result.failed == 1 and server.messages == []
    [failed] = reload(db, [row])
    assert failed.status == "failed" and "550" in (failed.last_error or "")
    assert outbox_counts(db)["failed"] == 1

    retry_outbox_message(db, row.id, actor=SYSTEM, now=NOW + timedelta(hours=1))
    db.commit()
    with running_smtp_server() as server:
        again = dispatch_email_outbox(
            session_factory, settings_for(server.port), now=NOW + timedelta(hours=1)
        )
    assert again.sent == 1 and len(server.messages) == 1
    [sent] = reload(db, [row])
    assert (sent.status, sent.attempts, sent.last_error) == ("sent", 1, None)


def test_dispatch_email_outbox_gives_up_after_max_attempts(db: Session, session_factory) -> None:
    [row] = queue_confirmations(db, 1)
    db.execute(update(OutboxMessage).where(OutboxMessage.id == row.id).values(attempts=MAX_ATTEMPTS - 1))
    db.commit()
    result = dispatch_email_outbox(session_factory, settings_for(free_port()), now=NOW)
    assert result.failed == 1
    [failed] = reload(db, [row])
    assert failed.status == "failed" and failed.last_error.startswith(
        f"gave up after {MAX_ATTEMPTS} attempts"
    )


def test_dispatch_email_outbox_unrenderable_row_fails_alone(db: Session, session_factory) -> None:
    [good] = queue_confirmations(db, 1)
    broken = queue_email(
        db, "order_confirmed", "order:999999:confirmed", "x@example.org", {"order_id": 999999}, now=NOW
    )
    db.commit()
    with running_smtp_server() as server:
        result = dispatch_email_outbox(session_factory, settings_for(server.port), now=NOW)
    assert (result.sent, result.failed) == (1, 1)
    good_row, broken_row = reload(db, [good, broken])
    assert good_row.status == "sent"
    assert broken_row.status == "failed" and "cannot render" in broken_row.last_error


def test_dispatch_email_outbox_skips_channel_pushes(db: Session, session_factory) -> None:
    db.add(
        OutboxMessage(
            kind="stock_push",
            transport="channel",
            dedup_key="stock:1:1:pending",
            recipient="amazon",
            payload={},
            next_attempt_at=NOW,
            created_at=NOW,
        )
    )
    db.commit()
    with running_smtp_server() as server:
        result = dispatch_email_outbox(session_factory, settings_for(server.port), now=NOW)
    assert result.claimed == 0


def test_retry_outbox_message_records_who_queued_it_again(db: Session) -> None:
    [row] = queue_confirmations(db, 1)
    row.status, row.attempts = "failed", 3
    clerk = Actor(label="clerk@example.org", role="agent")

    retry_outbox_message(db, row.id, actor=clerk, now=NOW)

    entry = db.scalars(select(AuditEntry).where(AuditEntry.entity_type == "outbox_message")).one()
    assert (entry.actor_label, entry.action, entry.entity_id) == (
        "clerk@example.org",
        "outbox.retry",
        str(row.id),
    )
    assert entry.before == {"status": "failed", "attempts": 3}
    assert entry.after == {"status": "pending", "kind": "order_confirmed", "recipient": row.recipient}


def test_retry_outbox_message_refuses_unknown_and_unfailed(db: Session) -> None:
    [row] = queue_confirmations(db, 1)
    with pytest.raises(NotFound):
        retry_outbox_message(db, 987654, actor=SYSTEM, now=NOW)
    with pytest.raises(DomainError, match="only a failed or skipped message"):
        retry_outbox_message(db, row.id, actor=SYSTEM, now=NOW)


def test_outbox_counts_by_kind_and_status(db: Session) -> None:
    rows = queue_confirmations(db, 3)
    rows[0].status = "sent"
    rows[1].status = "failed"
    db.add(
        OutboxMessage(
            kind="stock_push",
            transport="channel",
            dedup_key="stock:9:9:pending",
            recipient="ebay",
            payload={},
            next_attempt_at=NOW,
            created_at=NOW,
        )
    )
    db.add(
        OutboxMessage(
            kind="stock_push",
            transport="channel",
            dedup_key="stock:9:10:pending",
            recipient="ebay",
            payload={},
            status="sending",
            next_attempt_at=NOW,
            created_at=NOW,
        )
    )
    db.add(
        OutboxMessage(
            kind="stock_push",
            transport="channel",
            dedup_key="stock:9:11:pending",
            recipient="ebay",
            payload={},
            status="skipped",
            last_error="channel 'ebay' has no base URL",
            next_attempt_at=NOW,
            created_at=NOW,
        )
    )
    db.flush()
    assert outbox_counts(db) == {
        "pending": 3,  # a push being sent counts as not delivered yet
        "sent": 1,
        "failed": 1,
        "skipped": 1,
        "by_kind": {
            "order_confirmed": {"failed": 1, "pending": 1, "sent": 1},
            "stock_push": {"pending": 1, "sending": 1, "skipped": 1},
        },
    }


def test_outbox_messages_lists_newest_first_by_status(db: Session) -> None:
    first, second = queue_confirmations(db, 2)
    second.created_at = NOW + timedelta(minutes=1)
    first.status = "failed"
    db.flush()
    assert outbox_messages(db) == [second, first]
    assert outbox_messages(db, status="failed") == [first]
    assert outbox_messages(db, kind="stock_push") == []


def test_data_retention_job_deletes_only_old_sent_emails(db: Session) -> None:
    old_sent, recent_sent, old_failed = queue_confirmations(db, 3)
    old_sent.status, old_sent.sent_at = "sent", NOW - timedelta(days=91)
    recent_sent.status, recent_sent.sent_at = "sent", NOW - timedelta(days=89)
    old_failed.status, old_failed.created_at = "failed", NOW - timedelta(days=200)
    db.flush()
    assert data_retention_job(db, NOW) == {"sent_emails_deleted": 1}
    left = set(db.scalars(select(OutboxMessage.id)))
    assert old_sent.id not in left and {recent_sent.id, old_failed.id} <= left


def test_outbox_dispatch_job_reads_settings_from_environment(db: Session, monkeypatch) -> None:
    queue_confirmations(db, 2)
    db.commit()
    with running_smtp_server() as server:
        monkeypatch.setenv("SMTP_HOST", server.host)
        monkeypatch.setenv("SMTP_PORT", str(server.port))
        monkeypatch.setenv("MAIL_FROM", MAIL_FROM)
        monkeypatch.setenv("SECRET_KEY", SECRET)
        result = outbox_dispatch_job(db, NOW)
    assert result.sent == 2 and len(server.messages) == 2


def test_dispatch_email_outbox_uses_starttls_and_login_when_configured(
    db: Session, session_factory, tmp_path: Path, monkeypatch
) -> None:
    if shutil.which("openssl") is None:
        pytest.fail("this test needs the openssl command to make a certificate")
    cert, key = self_signed_certificate(tmp_path)
    queue_confirmations(db, 2)
    db.commit()
    trusting = ssl.create_default_context(cafile=str(cert))
    with running_smtp_server(tls=(cert, key), login=("mailer", "s3cret")) as server:
        monkeypatch.setattr(ssl, "create_default_context", lambda *args, **kwargs: trusting)  # trust our cert
        base = settings_for(server.port)
        wrong = replace(base, starttls=True, user="mailer", password="wrong")
        refused = dispatch_email_outbox(session_factory, wrong, now=NOW)
        assert refused.retrying == 2 and server.messages == []  # a refused login is our setup, not the mail's
        assert "535" in db.scalar(select(OutboxMessage.last_error).limit(1))
        right = replace(base, starttls=True, user="mailer", password="s3cret")
        result = dispatch_email_outbox(session_factory, right, now=NOW + timedelta(minutes=5))
    assert result.sent == 2 and len(server.messages) == 2


def test_smtp_settings_from_env_defaults_and_overrides() -> None:
    defaults = SmtpSettings.from_env({"SECRET_KEY": "k"})
    assert (defaults.host, defaults.port, defaults.starttls, defaults.user) == (
        "127.0.0.1",
        8025,
        False,
        None,
    )
    assert defaults.mail_from == "orders@crossdock.local"
    assert defaults.portal_base_url == "http://127.0.0.1:5000"
    custom = SmtpSettings.from_env(
        {
            "SECRET_KEY": "k",
            "SMTP_HOST": "smtp.example.org",
            "SMTP_PORT": "587",
            "SMTP_STARTTLS": "1",
            "SMTP_USER": "u",
            "SMTP_PASSWORD": "p",
            "MAIL_FROM": "shop@example.org",
        }
    )
    assert (custom.host, custom.port, custom.starttls, custom.user, custom.password) == (
        "smtp.example.org",
        587,
        True,
        "u",
        "p",
    )
    with pytest.raises(ValueError, match="SMTP_PORT"):
        SmtpSettings.from_env({"SECRET_KEY": "k", "SMTP_PORT": "twenty-five"})


# --- committed data, several connections and processes ---


@pytest.fixture(scope="module")
def committed_engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    url, needs_drop = fresh_database_url(tmp_path_factory.mktemp("outbox"), "outbox")
    engine = make_engine(url)
    migrate.upgrade(engine)
    yield engine
    engine.dispose()
    drop_database(url, needs_drop)


@pytest.fixture
def committed(committed_engine: Engine) -> Iterator[sessionmaker[Session]]:
    factory = make_session_factory(committed_engine)
    yield factory
    with unit_of_work(factory) as session:
        session.execute(delete(OutboxMessage))


def test_queue_email_two_transactions_at_once_leave_one_row(committed) -> None:
    with unit_of_work(committed) as session:
        order = make_order(session, email="race@example.org")
    barrier, results = threading.Barrier(2), []

    def queue() -> None:
        with unit_of_work(committed) as session:
            barrier.wait()
            begin_write(session)
            results.append(queue_order_confirmed(session, session.get(type(order), order.id), now=NOW))
            time.sleep(0.2)  # hold the transaction open so the other one inserts too (PostgreSQL)

    threads = [threading.Thread(target=queue) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(row is None for row in results) == [False, True]
    with committed() as session:
        keys = session.scalars(select(OutboxMessage.dedup_key)).all()
    assert keys == [f"order:{order.id}:confirmed"]


def test_dispatch_email_outbox_two_dispatchers_send_each_message_once(committed) -> None:
    with unit_of_work(committed) as session:
        rows = queue_confirmations(session, 30)
    with running_smtp_server(delay=0.002) as server:
        settings, errors = settings_for(server.port), []

        def dispatcher() -> None:
            try:
                while dispatch_email_outbox(committed, settings, now=NOW, batch=4).claimed:
                    pass
            except Exception as exc:  # surfaced below: a thread's exception would otherwise vanish
                errors.append(exc)

        threads = [threading.Thread(target=dispatcher) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
    assert errors == []
    received = Counter(server.message_ids())
    assert set(received) == {message_id_for(row.dedup_key, MAIL_FROM) for row in rows}
    assert max(received.values()) == 1
    assert server.handler.connections >= 2  # both really dispatched
    with committed() as session:
        assert set(session.scalars(select(OutboxMessage.status))) == {"sent"}


KILLABLE_DISPATCHER = """
import sys
from datetime import datetime
import core.models  # noqa: F401  (registers every table)
from core.db import make_engine, make_session_factory
from core.notifications.smtp import SmtpSettings, dispatch_email_outbox
url, port, now = sys.argv[1], int(sys.argv[2]), datetime.fromisoformat(sys.argv[3])
settings = SmtpSettings(port=port, mail_from=sys.argv[4], secret_key=sys.argv[5], timeout=30)
dispatch_email_outbox(make_session_factory(make_engine(url)), settings, now=now)
"""


def test_dispatch_email_outbox_421_mid_batch_hands_back_the_rest_on_an_engine(committed) -> None:
    """The engine path renders one message ahead and records each send during the next MAIL: a server
    closing at message 3 leaves 1-2 sent, 3 to retry, and 4 (already rendered) and 5 due again at once."""
    with unit_of_work(committed) as session:
        rows = queue_confirmations(session, 5)
    with running_smtp_server() as server:
        server.handler.data_replies[3] = "421 4.3.2 Service shutting down"
        result = dispatch_email_outbox(committed, settings_for(server.port), now=NOW)
    assert (result.sent, result.retrying, result.released) == (2, 1, 2)
    with committed() as session:
        by_id = {row.id: row for row in session.scalars(select(OutboxMessage))}
        states = [(by_id[r.id].status, by_id[r.id].attempts) for r in rows]
        assert states == [("sent", 1), ("sent", 1), ("pending", 1), ("pending", 0), ("pending", 0)]
        assert "421" in by_id[rows[2].id].last_error
        assert all(by_id[r.id].next_attempt_at < NOW + CLAIM_TTL for r in rows[3:])  # not held by the claim
        assert [by_id[r.id].message_id for r in rows[:2]] == [
            message_id_for(r.dedup_key, MAIL_FROM) for r in rows[:2]
        ]


def test_dispatch_email_outbox_killed_mid_batch_loses_nothing(committed) -> None:
    with unit_of_work(committed) as session:
        rows = queue_confirmations(session, 8)
    expected = {message_id_for(row.dedup_key, MAIL_FROM) for row in rows}
    fourth_in_flight = threading.Event()

    def on_message(count: int) -> None:
        if count == 4:
            fourth_in_flight.set()

    with running_smtp_server(delay=0.25, on_message=on_message) as server:
        url = committed.kw["bind"].url.render_as_string(hide_password=False)
        child = subprocess.Popen(
            [
                sys.executable,
                "-c",
                KILLABLE_DISPATCHER,
                url,
                str(server.port),
                NOW.isoformat(),
                MAIL_FROM,
                SECRET,
            ],
            cwd=REPO,
            env=os.environ | {"PYTHONPATH": str(REPO)},
        )
        try:
            assert fourth_in_flight.wait(30), "the dispatcher never reached the fourth message"
            os.kill(child.pid, signal.SIGKILL)  # while the server holds message 4 unanswered
        finally:
            assert child.wait(30) == -signal.SIGKILL
        server.handler.delay = 0
        with committed() as session:
            statuses = Counter(session.scalars(select(OutboxMessage.status)))
        assert statuses == {"sent": 3, "pending": 5}

        # The killed dispatcher's claim holds its rows until it expires; then everything left goes out.
        assert dispatch_email_outbox(committed, settings_for(server.port), now=NOW).claimed == 0
        restart = dispatch_email_outbox(committed, settings_for(server.port), now=NOW + CLAIM_TTL)
    assert restart.sent == 5
    received = Counter(server.message_ids())
    assert set(received) == expected  # nothing lost
    duplicated = [message_id for message_id, n in received.items() if n > 1]
    assert duplicated in ([], [server.message_ids()[3]])  # at most one: the message in flight at the kill
    assert max(received.values()) <= 2
    with committed() as session:
        assert set(session.scalars(select(OutboxMessage.status))) == {"sent"}
