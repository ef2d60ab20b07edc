"""Delivering the email outbox over SMTP: claim due rows, render, send over one connection, record each send.

Delivery guarantee: at least once, with at most one duplicate per crash. Steps of one dispatch:
1. Claim: in one short transaction, take up to `batch` due pending email rows (PostgreSQL: SELECT ... FOR
   UPDATE SKIP LOCKED, so concurrent dispatchers take disjoint rows without waiting; SQLite: under the write
   lock taken by BEGIN IMMEDIATE) and push their next_attempt_at to now + CLAIM_TTL. That value is the
   claim: no other dispatcher sees the rows as due until it passes. Commit.
2. Render every claimed row (no transaction held while sending).
3. Open ONE SMTP connection (STARTTLS and login when configured) and send the rows in turn. Right after the
   server accepts a message, mark that row sent (sent_at, message_id) and COMMIT, one short write
   transaction per message. A process killed at any point therefore loses nothing: rows not yet sent are
   still pending and become due when their claim expires, and only the one message in flight (accepted by
   the server but not yet marked) can be sent twice. Grouping commits would save a little time per
   message but widen that window to the whole group; a local commit costs far less than an SMTP exchange.
4. Failures: a 4xx reply, a refused connection, a timeout or a dropped connection is temporary (attempts + 1,
   next attempt after an exponential back-off, last_error); a 5xx reply to the message is permanent (status
   failed, shown to staff, `retry_outbox_message` re-queues it). A dispatcher stops sending well before its
   claim could expire, so it never sends a row another dispatcher may have re-claimed.
Every mark is conditional on the row still carrying this dispatcher's claim.
"""

from __future__ import annotations

import logging
import os
import smtplib
import ssl
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.message import Message
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, Engine, select, update
from sqlalchemy.orm import Session, sessionmaker

from core.db import begin_write
from core.notifications.models import OutboxMessage
from core.notifications.rendering import message_id_for, preload_email_context, render_email
from core.security.tokens import load_secret_key

log = logging.getLogger("crossdock.outbox")

# A dispatcher starts no send after CLAIM_SAFETY of its claim; one send lasts at most the SMTP timeout, and
# CLAIM_TTL * CLAIM_SAFETY + timeout (90 s + 15 s) < CLAIM_TTL: nobody else can hold the row meanwhile.
CLAIM_TTL = timedelta(minutes=2)
CLAIM_SAFETY = 0.75
BACKOFF_BASE = timedelta(seconds=30)
BACKOFF_MAX = timedelta(hours=1)
MAX_ATTEMPTS = 20  # about 14 hours of retries at the capped back-off, then failed for staff to look at
ERROR_LIMIT = 1000
DEFAULT_BATCH = 100


@dataclass(frozen=True)
class SmtpSettings:
    """Where and how to send mail, and what the emails link to."""

    host: str = "127.0.0.1"
    port: int = 8025
    user: str | None = None
    password: str | None = None
    starttls: bool = False
    mail_from: str = "orders@crossdock.local"
    portal_base_url: str = "http://127.0.0.1:5000"
    secret_key: str = field(default="", repr=False)
    timezone: str = "UTC"
    timeout: float = 15.0

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> SmtpSettings:
        """SMTP_HOST/PORT/USER/PASSWORD/STARTTLS, MAIL_FROM, PORTAL_BASE_URL, SECRET_KEY, CROSSDOCK_TZ."""
        port = environ.get("SMTP_PORT", "8025")
        if not port.isdigit():
            raise ValueError(f"SMTP_PORT must be a number, not {port!r}")
        return cls(
            host=environ.get("SMTP_HOST", "127.0.0.1"),
            port=int(port),
            user=environ.get("SMTP_USER") or None,
            password=environ.get("SMTP_PASSWORD") or None,
            starttls=environ.get("SMTP_STARTTLS", "0") == "1",
            mail_from=environ.get("MAIL_FROM", "orders@crossdock.local"),
            portal_base_url=environ.get("PORTAL_BASE_URL", "http://127.0.0.1:5000"),
            secret_key=environ.get("SECRET_KEY") or load_secret_key(),
            timezone=environ.get("CROSSDOCK_TZ", "UTC"),
        )


@dataclass
class DispatchResult:
    """What one dispatch did."""

    claimed: int = 0
    sent: int = 0
    retrying: int = 0
    failed: int = 0
    released: int = 0


def backoff(attempts: int) -> timedelta:
    """Wait before the next try after `attempts` failed ones: 30 s, 1 min, 2 min, ... capped at an hour."""
    return min(BACKOFF_BASE * 2 ** max(attempts - 1, 0), BACKOFF_MAX)


def _is_temporary(code: int) -> bool:
    return not 500 <= code < 600


_TABLE = OutboxMessage.__table__


class _Claim:
    """The rows one dispatcher claimed, and the conditional writes that finish each of them.

    Each write is its own committed transaction. On PostgreSQL with an engine (the worker), they go through
    one connection in autocommit mode, a single round trip each, with synchronous_commit off: a write lost
    to a database crash only means a re-send, never a lost email. Elsewhere (SQLite, or a session bound to
    a connection in tests) each is a short write transaction on a session.
    """

    def __init__(self, factory: sessionmaker[Session], until: datetime, started: datetime) -> None:
        self.until = until
        self.started = started
        self.t0 = time.monotonic()
        self.session: Session | None = None
        self.connection: Connection | None = None
        bind = factory.kw.get("bind")
        if isinstance(bind, Engine):
            # Each mark is one statement in its own transaction (autocommit): nothing else to wait for.
            self.connection = bind.connect().execution_options(isolation_level="AUTOCOMMIT")
            if bind.dialect.name == "postgresql":
                self.connection.exec_driver_sql("SET synchronous_commit TO OFF")
        else:
            self.session = factory()

    def clock(self) -> datetime:
        """`now` advanced by the time this dispatch has taken."""
        return self.started + timedelta(seconds=time.monotonic() - self.t0)

    def safe_to_send(self) -> bool:
        return time.monotonic() - self.t0 < CLAIM_TTL.total_seconds() * CLAIM_SAFETY

    def finish(self, ids: list[int], **values: Any) -> int:
        """Write `values` to the rows still holding this claim, and commit."""
        # A table-level UPDATE: no ORM bookkeeping, half the cost per message of an ORM one.
        statement = (
            update(_TABLE)
            .where(_TABLE.c.id.in_(ids), _TABLE.c.status == "pending", _TABLE.c.next_attempt_at == self.until)
            .values(**values)
        )
        if self.connection is not None:
            rowcount = self.connection.execute(statement).rowcount
        else:
            assert self.session is not None
            try:
                begin_write(self.session)
                rowcount = self.session.execute(statement).rowcount
                self.session.commit()
            except BaseException:
                self.session.rollback()
                raise
        if rowcount != len(ids):
            log.warning("outbox rows %s lost their claim before they were finished", ids)
        return rowcount

    def close(self) -> None:
        if self.session is not None:
            self.session.close()
        if self.connection is not None:
            try:
                if self.connection.dialect.name == "postgresql":  # the pool's next user gets the default
                    self.connection.exec_driver_sql("RESET synchronous_commit")
            finally:
                self.connection.close()


def _claim(factory: sessionmaker[Session], *, now: datetime, until: datetime, batch: int) -> list[int]:
    session = factory()
    try:
        begin_write(session)
        ids = list(
            session.scalars(
                select(OutboxMessage.id)
                .where(
                    OutboxMessage.transport == "email",
                    OutboxMessage.status == "pending",
                    OutboxMessage.next_attempt_at <= now,
                )
                .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
                .limit(batch)
                .with_for_update(skip_locked=True)
            )
        )
        if ids:
            session.execute(
                update(OutboxMessage)
                .where(OutboxMessage.id.in_(ids))
                .values(next_attempt_at=until)
                .execution_options(synchronize_session=False)
            )
        session.commit()
        return ids
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


@dataclass
class _Outgoing:
    id: int
    recipient: str
    attempts: int
    message_id: str
    email: Message


def _render_all(
    factory: sessionmaker[Session], ids: list[int], settings: SmtpSettings, secret: str, now: datetime
) -> tuple[list[_Outgoing], list[tuple[int, str]]]:
    """The claimed rows rendered, and the ones that cannot be (a row whose order vanished, a template bug)."""
    ready: list[_Outgoing] = []
    broken: list[tuple[int, str]] = []
    tz = ZoneInfo(settings.timezone)
    with factory() as session:
        rows = list(
            session.scalars(select(OutboxMessage).where(OutboxMessage.id.in_(ids)).order_by(OutboxMessage.id))
        )
        loaded = preload_email_context(session, rows)
        for row in rows:
            if not row.recipient:
                broken.append((row.id, "no recipient address"))
                continue
            try:
                email = render_email(
                    session,
                    row,
                    mail_from=settings.mail_from,
                    portal_base_url=settings.portal_base_url,
                    secret=secret,
                    now=now,
                    tz=tz,
                )
            except Exception as exc:
                log.exception("outbox message %s could not be rendered", row.id)
                broken.append((row.id, f"cannot render the email: {exc}"))
                continue
            message_id = message_id_for(row.dedup_key, settings.mail_from)
            ready.append(_Outgoing(row.id, row.recipient, row.attempts, message_id, email))
        session.rollback()
    del loaded
    return ready, broken


def _connect(settings: SmtpSettings) -> smtplib.SMTP:
    smtp = smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout)
    try:
        smtp.ehlo()
        if settings.starttls:
            smtp.starttls(context=ssl.create_default_context())
            smtp.ehlo()
        if settings.user:
            smtp.login(settings.user, settings.password or "")
    except BaseException:
        smtp.close()
        raise
    return smtp


def _describe(exc: BaseException) -> str:
    if isinstance(exc, smtplib.SMTPResponseException):
        detail = (
            exc.smtp_error.decode(errors="replace") if isinstance(exc.smtp_error, bytes) else exc.smtp_error
        )
        return f"SMTP {exc.smtp_code} {detail}"[:ERROR_LIMIT]
    return f"{type(exc).__name__}: {exc}"[:ERROR_LIMIT]


def _temporary_failure(claim: _Claim, item: _Outgoing, error: str, result: DispatchResult) -> None:
    attempts = item.attempts + 1
    if attempts >= MAX_ATTEMPTS:
        claim.finish(
            [item.id],
            status="failed",
            attempts=attempts,
            last_error=f"gave up after {attempts} attempts: {error}",
        )
        result.failed += 1
        return
    claim.finish(
        [item.id], attempts=attempts, next_attempt_at=claim.clock() + backoff(attempts), last_error=error
    )
    result.retrying += 1


def dispatch_email_outbox(
    session_factory: sessionmaker[Session],
    settings: SmtpSettings,
    *,
    now: datetime,
    batch: int = DEFAULT_BATCH,
    secret: str | None = None,
) -> DispatchResult:
    """Send up to `batch` due emails over one SMTP connection; see the module docstring for the guarantee."""
    result = DispatchResult()
    until = now + CLAIM_TTL
    ids = _claim(session_factory, now=now, until=until, batch=batch)
    result.claimed = len(ids)
    if not ids:
        return result
    claim = _Claim(session_factory, until, now)
    try:
        ready, broken = _render_all(session_factory, ids, settings, secret or settings.secret_key, now)
        for row_id, error in broken:
            claim.finish([row_id], status="failed", attempts=_TABLE.c.attempts + 1, last_error=error)
            result.failed += 1
        if ready:
            _send_all(claim, ready, settings, result)
    finally:
        claim.close()
    log.info(
        "outbox: %d claimed, %d sent, %d retrying, %d failed, %d released",
        result.claimed,
        result.sent,
        result.retrying,
        result.failed,
        result.released,
    )
    return result


def _send_all(claim: _Claim, ready: list[_Outgoing], settings: SmtpSettings, result: DispatchResult) -> None:
    try:
        smtp = _connect(settings)
    except (OSError, smtplib.SMTPException) as exc:
        # The server is down or refuses us (a 5xx to our login is our configuration, not the message's fault).
        error = _describe(exc)
        log.warning("outbox: cannot connect to %s:%s: %s", settings.host, settings.port, error)
        for item in ready:
            _temporary_failure(claim, item, error, result)
        return
    try:
        for position, item in enumerate(ready):
            if not claim.safe_to_send():
                result.released += len(ready) - position  # they become due again when the claim expires
                return
            try:
                smtp.send_message(item.email, from_addr=settings.mail_from, to_addrs=[item.recipient])
            except smtplib.SMTPRecipientsRefused as exc:
                code, _ = exc.recipients.get(item.recipient, (550, b""))
                _refused(claim, item, code, f"recipient refused: {exc.recipients}", result)
            except smtplib.SMTPResponseException as exc:
                _refused(claim, item, exc.smtp_code, _describe(exc), result)
                if exc.smtp_code == 421:  # the server is closing the connection
                    _release(claim, ready[position + 1 :], result)
                    return
            except (OSError, smtplib.SMTPException) as exc:
                # Dropped connection or timeout: this message may or may not have arrived; retry it later
                # and hand the rest back for the next run, which opens a new connection.
                _temporary_failure(claim, item, _describe(exc), result)
                _release(claim, ready[position + 1 :], result)
                return
            else:
                claim.finish(
                    [item.id],
                    status="sent",
                    attempts=item.attempts + 1,
                    sent_at=claim.clock(),
                    message_id=item.message_id,
                    last_error=None,
                )
                result.sent += 1
    finally:
        try:
            smtp.quit()
        except (OSError, smtplib.SMTPException):
            smtp.close()


def _refused(claim: _Claim, item: _Outgoing, code: int, error: str, result: DispatchResult) -> None:
    if _is_temporary(code):
        _temporary_failure(claim, item, error, result)
    else:
        claim.finish([item.id], status="failed", attempts=item.attempts + 1, last_error=error[:ERROR_LIMIT])
        result.failed += 1


def _release(claim: _Claim, rest: list[_Outgoing], result: DispatchResult) -> None:
    """Make unsent rows due again at once (attempts unchanged): they were never tried."""
    if rest:
        claim.finish([item.id for item in rest], next_attempt_at=claim.clock())
        result.released += len(rest)


DRAIN_SECONDS = 20.0


def outbox_dispatch_job(session: Session, now: datetime) -> DispatchResult:
    """Send due emails, batch after batch while full ones keep coming (up to DRAIN_SECONDS).

    The dispatch commits once per message, so it cannot live in the job's single unit of work: it opens its
    own sessions on the same engine (the job's session is left unused and commits nothing).
    """
    # On an engine this is an ordinary factory; on a connection already in a transaction (tests) each
    # session's commit releases a SAVEPOINT instead of ending the caller's transaction.
    factory = sessionmaker(
        bind=session.get_bind(), expire_on_commit=False, join_transaction_mode="create_savepoint"
    )
    settings = SmtpSettings.from_env()
    total = DispatchResult()
    t0 = time.monotonic()
    while True:
        elapsed = timedelta(seconds=time.monotonic() - t0)
        result = dispatch_email_outbox(factory, settings, now=now + elapsed, batch=DEFAULT_BATCH)
        for name in ("claimed", "sent", "retrying", "failed", "released"):
            setattr(total, name, getattr(total, name) + getattr(result, name))
        if result.claimed < DEFAULT_BATCH or result.sent == 0 or elapsed.total_seconds() > DRAIN_SECONDS:
            return total
