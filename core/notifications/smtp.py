"""Delivering the email outbox over SMTP: claim due rows, render, send over one connection, record each send.

Delivery guarantee: at least once, with at most one duplicate per crash. Steps of one dispatch:
1. Claim: in one short transaction, take up to `batch` due pending email rows (PostgreSQL: SELECT ... FOR
   UPDATE SKIP LOCKED, so concurrent dispatchers take disjoint rows without waiting; SQLite: under the write
   lock taken by BEGIN IMMEDIATE) and push their next_attempt_at to now + CLAIM_TTL. That value is the
   claim: no other dispatcher sees the rows as due until it passes. Commit.
2. Render the claimed rows lazily, from one read-only session, each one message ahead of the sending: the
   next email is rendered while the server is still reading the current one (its body sent, its reply not
   yet read), so our rendering and the server's work overlap.
3. Open ONE SMTP connection (STARTTLS and login when configured) and send the rows in turn. Once the server
   accepts a message, its row is marked sent (sent_at, message_id) in its own committed write, made while
   the server reads the next message's MAIL command and before that transaction goes any further. A
   process killed at any point therefore loses nothing: rows not yet sent are still pending and become due
   when their claim expires, and only the one message accepted but not yet marked can be sent twice.
   Grouping commits would save a little time per message but widen that window to the whole group.
4. Failures: a 4xx reply, a refused connection, a timeout or a dropped connection is temporary (attempts + 1,
   next attempt after an exponential back-off, last_error); a 5xx reply to the message is permanent (status
   failed, shown to staff, `retry_outbox_message` re-queues it). A dispatcher stops sending well before its
   claim could expire, so it never sends a row another dispatcher may have re-claimed.
Every mark is conditional on the row still carrying this dispatcher's claim.
"""

from __future__ import annotations

import logging
import os
import re
import smtplib
import ssl
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, Engine, bindparam, select, update
from sqlalchemy.orm import Session, sessionmaker

from core.db import begin_write
from core.notifications.models import OutboxMessage
from core.notifications.rendering import message_id_for, preload_email_context, render_email_bytes
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
# The write after every accepted message, built once (SQLAlchemy caches its compiled form): only its
# parameters change from message to message.
_MARK_SENT = (
    update(_TABLE)
    .where(
        _TABLE.c.id == bindparam("row_id"),
        _TABLE.c.status == "pending",
        _TABLE.c.next_attempt_at == bindparam("claim", type_=_TABLE.c.next_attempt_at.type),
    )
    .values(
        status="sent",
        attempts=bindparam("new_attempts"),
        sent_at=bindparam("when", type_=_TABLE.c.sent_at.type),
        message_id=bindparam("mid"),
        last_error=None,
    )
)


class _Claim:
    """The rows one dispatcher claimed, and the conditional writes that finish each of them.

    Each write is one conditional UPDATE in its own committed transaction (plain Core statements). With an
    engine (the worker), they go through one connection in autocommit mode, a single statement each; on
    PostgreSQL with synchronous_commit off: a write lost to a database crash only means a re-send, never a
    lost email. With a session bound to a connection (tests), each is a short write transaction on a session.
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
        statement = (
            update(_TABLE)
            .where(_TABLE.c.id.in_(ids), _TABLE.c.status == "pending", _TABLE.c.next_attempt_at == self.until)
            .values(**values)
        )
        return self._write(statement, {}, ids)

    def sent(self, item: _Outgoing) -> int:
        """Record that the server accepted `item`, and commit."""
        parameters = {
            "row_id": item.id,
            "claim": self.until,
            "new_attempts": item.attempts + 1,
            "when": self.clock(),
            "mid": item.message_id,
        }
        return self._write(_MARK_SENT, parameters, [item.id])

    def _write(self, statement: Any, parameters: dict[str, Any], ids: list[int]) -> int:
        # A table-level UPDATE: no ORM bookkeeping, half the cost per message of an ORM one.
        if self.connection is not None:
            return _checked(self.connection.execute(statement, parameters).rowcount, ids)
        assert self.session is not None
        try:
            begin_write(self.session)
            rowcount = self.session.execute(statement, parameters).rowcount
            self.session.commit()
        except BaseException:
            self.session.rollback()
            raise
        return _checked(rowcount, ids)

    def close(self) -> None:
        if self.session is not None:
            self.session.close()
        if self.connection is not None:
            try:
                if self.connection.dialect.name == "postgresql":  # the pool's next user gets the default
                    self.connection.exec_driver_sql("RESET synchronous_commit")
            finally:
                self.connection.close()


def _checked(rowcount: int, ids: list[int]) -> int:
    """The rows a conditional write changed, with a warning when some had lost this dispatcher's claim."""
    if rowcount != len(ids):
        log.warning("outbox rows %s lost their claim before they were finished", ids)
    return rowcount


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
    email: bytes  # the wire form


@dataclass(frozen=True)
class _Broken:
    """A claimed row that cannot be sent: its order vanished, it has no recipient, a template failed."""

    id: int
    error: str


def _render(
    factory: sessionmaker[Session], ids: list[int], settings: SmtpSettings, secret: str, now: datetime
) -> Iterator[_Outgoing | _Broken]:
    """The claimed rows in id order, each rendered or marked broken, read in one session."""
    tz = ZoneInfo(settings.timezone)
    with factory() as session:
        rows = list(
            session.scalars(select(OutboxMessage).where(OutboxMessage.id.in_(ids)).order_by(OutboxMessage.id))
        )
        loaded = preload_email_context(session, rows)  # noqa: F841  (held: the session keeps objects weakly)
        for row in rows:
            if not row.recipient:
                yield _Broken(row.id, "no recipient address")
                continue
            try:
                email = render_email_bytes(
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
                yield _Broken(row.id, f"cannot render the email: {exc}")
                continue
            message_id = message_id_for(row.dedup_key, settings.mail_from)
            yield _Outgoing(row.id, row.recipient, row.attempts, message_id, email)
        # Leaving the block closes the session, which ends its read transaction without expiring every
        # loaded object one by one as a rollback would.


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
    generator = _render(session_factory, ids, settings, secret or settings.secret_key, now)
    # Rendered lazily, one message ahead of the sending. Sessions sharing one connection (tests) render all
    # first: their savepoints must nest, so the reading session ends before the first write.
    rendering = generator if claim.connection is not None else iter(list(generator))
    try:
        _send_all(claim, ids, rendering, settings, result)
    finally:
        try:
            generator.close()
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


def _send_all(
    claim: _Claim,
    ids: list[int],
    rendering: Iterator[_Outgoing | _Broken],
    settings: SmtpSettings,
    result: DispatchResult,
) -> None:
    """Send the rendered rows in turn over one connection. The next row is rendered while the server is
    still taking in the current message (after its body went out, before its reply is read), so the time
    the server spends on a message and the time we spend rendering the next overlap."""
    handled: set[int] = set()
    accepted = _Accepted(claim)

    def unhandled() -> list[int]:
        return [row_id for row_id in ids if row_id not in handled]

    try:
        smtp = _connect(settings)
    except (OSError, smtplib.SMTPException) as exc:
        # The server is down or refuses us (a 5xx to our login is our configuration, not the message's fault).
        error = _describe(exc)
        log.warning("outbox: cannot connect to %s:%s: %s", settings.host, settings.port, error)
        for item in rendering:
            if isinstance(item, _Broken):
                _broken(claim, item, result)
            else:
                _temporary_failure(claim, item, error, result)
        return
    try:
        item = next(rendering, None)
        while item is not None:
            handled.add(item.id)
            if isinstance(item, _Broken):
                _broken(claim, item, result)
                item = next(rendering, None)
                continue
            if not claim.safe_to_send():
                # These become due again when the claim expires.
                result.released += 1 + len(unhandled())
                return
            upcoming: _Outgoing | _Broken | None = None
            try:
                # The previous message is recorded as sent while the server reads this one's MAIL command.
                _start_transaction(smtp, settings.mail_from, item.recipient, item.email, accepted.record)
                upcoming = next(rendering, None)  # rendered while the server reads this message
                _finish_transaction(smtp)
            except smtplib.SMTPRecipientsRefused as exc:
                code, _ = exc.recipients.get(item.recipient, (550, b""))
                _refused(claim, item, code, f"recipient refused: {exc.recipients}", result)
            except smtplib.SMTPResponseException as exc:
                _refused(claim, item, exc.smtp_code, _describe(exc), result)
                if exc.smtp_code == 421:  # the server is closing the connection
                    _release(claim, unhandled(), result)
                    return
            except (OSError, smtplib.SMTPException) as exc:
                # Dropped connection or timeout: this message may or may not have arrived; retry it later
                # and hand the rest back for the next run, which opens a new connection.
                _temporary_failure(claim, item, _describe(exc), result)
                _release(claim, unhandled(), result)
                return
            else:
                accepted.item = item
                result.sent += 1
            item = upcoming if upcoming is not None else next(rendering, None)
    finally:
        try:
            accepted.record()
        finally:
            try:
                smtp.quit()
            except (OSError, smtplib.SMTPException):
                smtp.close()


class _Accepted:
    """The message the server accepted last, until it is recorded as sent (at most one at a time: the
    next message's transaction starts only once it is written)."""

    def __init__(self, claim: _Claim) -> None:
        self.claim = claim
        self.item: _Outgoing | None = None

    def record(self) -> None:
        if self.item is not None:
            item, self.item = self.item, None
            self.claim.sent(item)


def _broken(claim: _Claim, item: _Broken, result: DispatchResult) -> None:
    claim.finish([item.id], status="failed", attempts=_TABLE.c.attempts + 1, last_error=item.error)
    result.failed += 1


def _path(address: str) -> str:
    """An address as an SMTP path, `<user@host>`: a plain address as it is, anything else through smtplib's
    parser (which costs about a tenth of a millisecond, a tenth of a local send)."""
    if address and not any(c in address for c in '<>()" \t\r\n,;:\\'):
        return f"<{address}>"
    return smtplib.quoteaddr(address)


_LEADING_DOT = re.compile(rb"(?m)^\.")


def _start_transaction(
    smtp: smtplib.SMTP, sender: str, recipient: str, data: bytes, meanwhile: Callable[[], object]
) -> None:
    """smtplib's `sendmail` for one recipient and a message already in wire form, up to the body: MAIL,
    RCPT, DATA and the dot-stuffed body, raising the same exceptions on the same replies. `meanwhile` runs
    after MAIL went out, before its reply is read. The reply to the body is read by `_finish_transaction`."""
    size = f" SIZE={len(data)}" if smtp.does_esmtp and smtp.has_extn("size") else ""
    smtp.putcmd("MAIL", f"FROM:{_path(sender)}{size}")
    meanwhile()
    code, reply = smtp.getreply()
    if code != 250:
        _abandon(smtp, code)
        raise smtplib.SMTPSenderRefused(code, reply, sender)
    code, reply = smtp.docmd("RCPT", f"TO:{_path(recipient)}")
    if code not in (250, 251):
        _abandon(smtp, code)
        raise smtplib.SMTPRecipientsRefused({recipient: (code, reply)})
    code, reply = smtp.docmd("DATA")
    if code != 354:
        raise smtplib.SMTPDataError(code, reply)
    body = _LEADING_DOT.sub(b"..", data) if data.startswith(b".") or b"\n." in data else data
    if not body.endswith(b"\r\n"):
        body += b"\r\n"
    smtp.send(body + b".\r\n")


def _finish_transaction(smtp: smtplib.SMTP) -> None:
    """Read the server's reply to the message body: 250 means it took responsibility for the message."""
    code, reply = smtp.getreply()
    if code != 250:
        _abandon(smtp, code)
        raise smtplib.SMTPDataError(code, reply)


def _abandon(smtp: smtplib.SMTP, code: int) -> None:
    """After a refusal: the connection is closed on 421, else the transaction reset for the next message."""
    if code == 421:
        smtp.close()
        return
    try:
        smtp.rset()
    except smtplib.SMTPServerDisconnected:
        pass


def _refused(claim: _Claim, item: _Outgoing, code: int, error: str, result: DispatchResult) -> None:
    if _is_temporary(code):
        _temporary_failure(claim, item, error, result)
    else:
        claim.finish([item.id], status="failed", attempts=item.attempts + 1, last_error=error[:ERROR_LIMIT])
        result.failed += 1


def _release(claim: _Claim, rest: list[int], result: DispatchResult) -> None:
    """Make unsent rows due again at once (attempts unchanged): they were never tried."""
    if rest:
        claim.finish(rest, next_attempt_at=claim.clock())
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
