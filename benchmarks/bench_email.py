"""Email dispatch: outbox rows rendered and delivered by `dispatch_email_outbox` to a local SMTP server,
against the floor of smtplib sending the same messages, already rendered to their wire bytes, over one reused
connection.

The SMTP server is aiosmtpd in a process of its own on a loopback port (as a real local MTA would be), its
Sink handler accepting every message; both sides talk to the same one.
"""

from __future__ import annotations

import smtplib
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import select

from benchmarks.runner import Scenario, Target
from core.channels.models import Channel
from core.db import make_engine, make_session_factory
from core.notifications.models import OutboxMessage
from core.notifications.rendering import render_email_bytes
from core.notifications.services import queue_order_confirmed
from core.notifications.smtp import SmtpSettings, dispatch_email_outbox
from core.orders.models import Order, OrderLine

EMAILS = 500
NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
SECRET = "bench-secret"
MAIL_FROM = "orders@crossdock.local"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait_for_server(server: subprocess.Popen[bytes], port: int) -> None:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"the SMTP server exited with status {server.returncode}")
        try:
            with smtplib.SMTP("127.0.0.1", port, timeout=2) as probe:
                probe.noop()
            return
        except OSError:
            time.sleep(0.05)
    server.kill()
    raise RuntimeError(f"the SMTP server did not start listening on port {port}")


@dataclass
class _Context:
    target: Target
    server: subprocess.Popen[bytes]
    port: int
    url: str = ""
    rendered: list[tuple[str, list[str], bytes]] = field(default_factory=list)


def _fill_outbox(url: str) -> None:
    """EMAILS confirmed orders, each with its 'order confirmed' email queued (off the clock)."""
    engine = make_engine(url)
    try:
        with make_session_factory(engine)() as session:
            channel = Channel(code="web", name="Web shop", kind="webshop", sender_name="Acme Outdoor")
            session.add(channel)
            session.flush()
            for n in range(EMAILS):
                order = Order(
                    channel_id=channel.id,
                    external_id=f"B-{n}",
                    number=f"CD-{2000000 + n}",
                    status="confirmed",
                    placed_at=NOW,
                    currency="USD",
                    subtotal=2998,
                    total=2998,
                    email=f"buyer{n}@example.org",
                    buyer_name=f"Buyer {n}",
                )
                order.lines = [
                    OrderLine(line_no=i + 1, title=f"Item {i + 1}", quantity=1, unit_price=1499, total=1499)
                    for i in range(2)
                ]
                session.add(order)
                session.flush()
                queue_order_confirmed(session, order, now=NOW)
            session.commit()
    finally:
        engine.dispose()


def _rendered_messages(url: str) -> list[tuple[str, list[str], bytes]]:
    """The floor's messages: the outbox of a filled database, rendered to wire bytes (off the clock)."""
    _fill_outbox(url)
    engine = make_engine(url)
    rendered = []
    try:
        with make_session_factory(engine)() as session:
            for row in session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)):
                message = render_email_bytes(
                    session,
                    row,
                    mail_from=MAIL_FROM,
                    portal_base_url="http://127.0.0.1:5000",
                    secret=SECRET,
                    now=NOW,
                )
                rendered.append((MAIL_FROM, [row.recipient], message))
    finally:
        engine.dispose()
    return rendered


def setup(target: Target) -> _Context:
    port = _free_port()
    command = [
        sys.executable,
        "-m",
        "aiosmtpd",
        "-n",
        "-c",
        "aiosmtpd.handlers.Sink",
        "-l",
        f"127.0.0.1:{port}",
    ]
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _wait_for_server(server, port)
    ctx = _Context(target, server, port)
    try:
        ctx.rendered = _rendered_messages(target.fresh_url())
    except BaseException:
        teardown(ctx)
        raise
    return ctx


def fresh(ctx: _Context) -> None:
    ctx.url = ctx.target.fresh_url()
    _fill_outbox(ctx.url)


def run(ctx: _Context) -> float:
    engine = make_engine(ctx.url)
    settings = SmtpSettings(port=ctx.port, mail_from=MAIL_FROM, secret_key=SECRET)
    sent = 0
    try:
        factory = make_session_factory(engine)
        while sent < EMAILS:
            result = dispatch_email_outbox(factory, settings, now=NOW, batch=100, secret=SECRET)
            if result.sent == 0:
                raise RuntimeError(f"dispatch stalled after {sent} emails: {result}")
            sent += result.sent
    finally:
        engine.dispose()
    return sent


def floor(ctx: _Context) -> float:
    with smtplib.SMTP("127.0.0.1", ctx.port) as smtp:
        for sender, recipients, message in ctx.rendered:
            smtp.sendmail(sender, recipients, message)
    return len(ctx.rendered)


def teardown(ctx: _Context) -> None:
    ctx.server.terminate()
    ctx.server.wait(10)


SCENARIOS = [
    Scenario(
        name="email dispatch to a local SMTP server",
        setup=setup,
        run=run,
        floor=floor,
        unit="emails/s",
        repeats=5,
        goal=0.6,
        before_each=fresh,
        teardown=teardown,
        floor_note="smtplib.sendmail of the same messages' wire bytes over one reused connection",
    ),
]
