"""The `crossdock` command: each module is one command or group, thin over core. `create_app` attaches the
same commands to `app.cli` (`register_commands`), so `flask --app app ...` runs them too."""

from __future__ import annotations

import click
from flask import Flask
from flask.cli import FlaskGroup, ScriptInfo

from cli.analytics import analytics
from cli.assistant import eval_intents, intents_group
from cli.audit import audit
from cli.bench import bench
from cli.channels import channels
from cli.context import PROJECT_ROOT
from cli.db import db
from cli.identity import customers, eval_identity
from cli.intake import import_cmd
from cli.keys import keys
from cli.locations import locations
from cli.mail import mail
from cli.orders import orders
from cli.outbox import outbox
from cli.privacy import backup, privacy, restore
from cli.run import demo, seed, serve, worker
from cli.stock import stock
from cli.tracking import tracking
from cli.users import users

COMMANDS: tuple[click.Command, ...] = (
    db,
    seed,
    demo,
    serve,
    worker,
    users,
    channels,
    keys,
    import_cmd,
    orders,
    locations,
    stock,
    tracking,
    outbox,
    mail,
    eval_intents,
    intents_group,
    bench,
    eval_identity,
    customers,
    analytics,
    privacy,
    backup,
    restore,
    audit,
)

crossdock = FlaskGroup(
    name="crossdock",
    help="Crossdock: orders, stock and support from the shell.",
    add_version_option=False,
    load_dotenv=False,
)
for _command in COMMANDS:
    crossdock.add_command(_command)


def register_commands(app: Flask) -> None:
    """Attach the commands to `app.cli`, so `flask --app app X` runs them too."""
    for command in COMMANDS:
        app.cli.add_command(command)


def main() -> None:
    """Entry point of the `crossdock` console script. Flask finds the application the way `flask --app`
    does, in this project's app.py (by path, so another app.py in the working directory is not taken)."""
    info = ScriptInfo(app_import_path=str(PROJECT_ROOT / "app.py"), load_dotenv_defaults=False)
    crossdock.main(prog_name="crossdock", obj=info)
