"""Real SMTP servers for worker tests: aiosmtpd on a random loopback port.

`running_smtp_server()` collects what it accepts; `reply=` makes it refuse every recipient with that reply
(451 temporary, 550 permanent); `delay=` slows each message down; `on_message` is called as each message's
DATA arrives (before the server answers); `handler.data_replies[n]` replaces the answer to the nth message;
`tls=` (a certificate and key, see `self_signed_certificate`) and
`login=` make it require STARTTLS and then AUTH. `free_port()` alone is a server that is down.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
import subprocess
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

HOST = "127.0.0.1"


def free_port() -> int:
    """A loopback port nothing listens on (a server that is down, until someone binds it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


@dataclass
class CollectingHandler:
    reply: str | None = None
    delay: float = 0.0
    on_message: Callable[[int], None] | None = None
    data_replies: dict[int, str] = field(default_factory=dict)  # the reply to the nth message, instead of 250
    connections: int = 0
    messages: list[EmailMessage] = field(default_factory=list)
    envelopes: list[tuple[str, list[str]]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_EHLO(
        self, server: Any, session: Any, envelope: Any, hostname: str, responses: list[str]
    ) -> list[str]:
        session.host_name = hostname
        with self.lock:
            self.connections += 1
        return responses

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
        if self.reply is not None:
            return self.reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = BytesParser(policy=policy.default).parsebytes(envelope.original_content)
        with self.lock:
            self.messages.append(message)  # type: ignore[arg-type]
            self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
            count = len(self.messages)
        if self.on_message is not None:
            self.on_message(count)
        if self.delay:
            await asyncio.sleep(self.delay)
        return self.data_replies.get(count, "250 Message accepted for delivery")

    def message_ids(self) -> list[str]:
        with self.lock:
            return [str(m["Message-ID"]) for m in self.messages]


@dataclass
class SmtpServer:
    host: str
    port: int
    handler: CollectingHandler

    @property
    def messages(self) -> list[EmailMessage]:
        return self.handler.messages

    def message_ids(self) -> list[str]:
        return self.handler.message_ids()


def self_signed_certificate(folder: Path) -> tuple[Path, Path]:
    """A throwaway certificate for 127.0.0.1 and its key (openssl), valid for a day."""
    cert, key = folder / "cert.pem", folder / "key.pem"
    options = f"req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 -subj /CN={HOST}"
    command = ["openssl", *options.split(), "-addext", f"subjectAltName=IP:{HOST}"]
    subprocess.run([*command, "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    return cert, key


@contextmanager
def running_smtp_server(
    *,
    reply: str | None = None,
    delay: float = 0.0,
    on_message: Callable[[int], None] | None = None,
    port: int | None = None,
    tls: tuple[Path, Path] | None = None,
    login: tuple[str, str] | None = None,
) -> Iterator[SmtpServer]:
    """An aiosmtpd server on 127.0.0.1 (a random free port unless given), stopped on exit."""
    handler = CollectingHandler(reply=reply, delay=delay, on_message=on_message)
    options: dict[str, Any] = {}
    if tls is not None:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(*tls)
        options |= {"tls_context": context, "require_starttls": True}
    if login is not None:

        def authenticate(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
            wanted = LoginPassword(login[0].encode(), login[1].encode())
            ok = isinstance(data, LoginPassword) and data == wanted
            return AuthResult(success=ok, handled=False, auth_data=data if ok else None)

        options |= {"authenticator": authenticate, "auth_required": True, "auth_require_tls": tls is not None}
    controller = Controller(handler, hostname=HOST, port=port or free_port(), **options)
    controller.start()
    try:
        yield SmtpServer(HOST, controller.port, handler)
    finally:
        controller.stop()
