"""`crossdock keys`: the keys that encrypt channel credentials and webhook secrets at rest."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from cli import context
from core.configuration import secrets as stored_secrets
from core.db import utcnow
from core.security.encryption import KEYS_VARIABLE, generate_key
from core.security.roles import Actor

keys = AppGroup("keys", help="Encryption keys of channel secrets: generate one, rotate to a new one.")
CLI = Actor(label="cli")


@keys.command("generate")
def keys_generate() -> None:
    """Print a new random key (put it first in CROSSDOCK_ENCRYPTION_KEYS)."""
    click.echo(generate_key())


@keys.command("rotate")
def keys_rotate() -> None:
    """Re-encrypt every stored channel secret under the first key of CROSSDOCK_ENCRYPTION_KEYS."""
    with context.write_session() as session:
        count = stored_secrets.rotate_stored_secrets(session, actor=CLI, now=utcnow())
        session.commit()
    click.echo(
        f"{count} stored secret(s) re-encrypted under the first key of {KEYS_VARIABLE}; "
        "the other keys can now be removed from it"
    )
