"""`crossdock outbox`: outbox counts, and re-queueing a failed message."""

from __future__ import annotations

import json

import click
from flask.cli import AppGroup, with_appcontext

from cli import context
from core.db import utcnow
from core.notifications import services as notification_services
from core.security.roles import Actor


@click.group("outbox", cls=AppGroup, invoke_without_command=True)
@click.option("--json", "as_json", is_flag=True, help="Counts as JSON.")
@click.pass_context
@with_appcontext
def outbox(ctx: click.Context, as_json: bool) -> None:
    """Outbox counts by kind and status; `retry ID` re-queues a failed or skipped message."""
    if ctx.invoked_subcommand is not None:
        return
    with context.session_factory()() as session:
        counts = notification_services.outbox_counts(session)
    if as_json:
        click.echo(json.dumps(counts))
        return
    click.echo(
        f"pending {counts['pending']}, sent {counts['sent']}, failed {counts['failed']},"
        f" skipped {counts['skipped']}"
    )
    for kind, statuses in sorted(counts["by_kind"].items()):
        click.echo(f"  {kind:<28} " + ", ".join(f"{status} {n}" for status, n in sorted(statuses.items())))


@outbox.command("retry")
@click.argument("message_id", type=int)
def outbox_retry(message_id: int) -> None:
    """Send a failed or skipped message again on the next dispatch."""
    with context.write_session() as session:
        message = notification_services.retry_outbox_message(
            session, message_id, actor=Actor(label="cli"), now=utcnow()
        )
        session.commit()
        click.echo(f"message {message.id} ({message.kind} to {message.recipient}) is queued again")
