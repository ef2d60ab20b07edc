"""`crossdock db`: the database schema."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from cli import context
from core import migrate

db = AppGroup("db", help="Database schema.")


@db.command("upgrade")
def db_upgrade() -> None:
    """Apply migrations to DATABASE_URL."""
    engine = context.engine()
    migrate.upgrade(engine)
    click.echo(f"database at revision {migrate.current_revision(engine)} ({engine.url.render_as_string()})")
