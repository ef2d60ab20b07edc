"""`crossdock mail receive`: raw RFC 5322 messages into the helpdesk, as the inbound endpoint takes them."""

from __future__ import annotations

import json
from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup

from cli import context
from core.db import begin_write, utcnow
from core.errors import DomainError
from core.support.inbound import process_inbound_email, store_inbound_email

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
        now = utcnow()
        with context.write_session() as session:
            payload = store_inbound_email(session, path.read_bytes(), source="import", now=now)
            session.commit()  # kept, whatever happens next
            begin_write(session)
            try:
                result = process_inbound_email(session, payload, secret=secret, now=now)
                line = {"file": str(path), **result.__dict__}
            except DomainError as exc:  # recorded on the stored payload
                rejected = True
                line = {"file": str(path), "status": "rejected", "conversation_id": None, "message_id": None}
                line["reason"] = str(exc)
            session.commit()
        click.echo(json.dumps(line))
    if rejected:
        raise SystemExit(1)
