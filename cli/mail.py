"""`crossdock mail receive`: raw RFC 5322 messages into the helpdesk, as the inbound endpoint takes them."""

from __future__ import annotations

import json
from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup

from cli import context
from core.db import utcnow
from core.support.inbound import receive_email

mail = AppGroup("mail", help="Inbound email for the helpdesk.")


@mail.command("receive")
@click.argument(
    "files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
def mail_receive(files: tuple[Path, ...]) -> None:
    """Thread each message by our reply-to token, then In-Reply-To/References, else open a ticket for the
    sender; one JSON line per file: {"file", "status", "conversation_id", "message_id", "reason"}, status
    "rejected" (and exit 1) for a file that is not a message we can take."""
    secret = current_app.config["SECRET_KEY"]
    rejected = False
    for path in files:
        try:
            with context.write_session() as session:
                result = receive_email(session, path.read_bytes(), secret=secret, now=utcnow())
                session.commit()
            line = {"file": str(path), **result.__dict__}
        except click.ClickException as exc:  # a DomainError, nothing written
            rejected = True
            line = {"file": str(path), "status": "rejected", "conversation_id": None, "message_id": None}
            line["reason"] = exc.message
        click.echo(json.dumps(line))
    if rejected:
        raise SystemExit(1)
