"""`crossdock users`: staff accounts from the shell (the first admin of a new installation; the console's
**Users** page invites the others)."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from cli import context
from core.db import utcnow
from core.security import staff
from core.security.roles import Actor

users = AppGroup("users", help="Staff accounts.")
CLI = Actor(label="cli")


@users.command("add")
@click.argument("email")
@click.option("--name", required=True, help="The person's name, shown in the console.")
@click.option("--role", type=click.Choice(["admin", "manager", "agent"]), default="admin", show_default=True)
@click.password_option(help="Asked for (twice) when not given.")
def users_add(email: str, name: str, role: str, password: str) -> None:
    """Add a staff account that can sign in to the console at once."""
    with context.write_session() as session:
        user = staff.add_staff(session, email, name, role, password, actor=CLI, now=utcnow())
        session.commit()
        click.echo(f"{user.role} {user.email} added: sign in at /console/login")
