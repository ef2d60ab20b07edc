"""`crossdock channels`: add the merchant's sales channels, change their settings, list them."""

from __future__ import annotations

import json
from typing import Any

import click
from flask import current_app
from flask.cli import AppGroup

from cli import context
from core.channels.registry import ADAPTERS
from core.configuration import channels as channel_setup
from core.db import utcnow
from core.errors import DomainError
from core.security.roles import Actor

channels = AppGroup("channels", help="Sales channels: add, change, list.")
CLI = Actor(label="cli")


def _codes(text: str | None) -> list[str] | None:
    return None if text is None else [c for c in (part.strip() for part in text.split(",")) if c]


def _webhook_url(code: str) -> str:
    return f"{current_app.config['PORTAL_BASE_URL'].rstrip('/')}/api/channels/{code}/webhooks/orders"


@channels.command("add")
@click.argument("code")
@click.option("--kind", required=True, type=click.Choice(sorted(ADAPTERS)), help="The adapter that reads it.")
@click.option("--name", required=True, help="Shown to customers and staff, and the emails' sender name.")
@click.option("--base-url", default=None, help="The channel's API or shop URL, for pushes and polling.")
@click.option("--locations", "location_codes", default="", help="Comma-separated location codes serving it.")
@click.option("--webhook-secret", default=None, help="The secret the channel signs with (else one is made).")
def channels_add(
    code: str, kind: str, name: str, base_url: str | None, location_codes: str, webhook_secret: str | None
) -> None:
    """Add a channel of a registered kind; prints where it posts webhooks and the secret to give it."""
    with context.write_session() as session:
        channel = channel_setup.add_channel(
            session,
            code,
            kind=kind,
            name=name,
            base_url=base_url,
            location_codes=_codes(location_codes) or [],
            webhook_secret=webhook_secret,
            actor=CLI,
            now=utcnow(),
        )
        session.commit()
        click.echo(f"channel {channel.code} ({channel.kind}) created")
        if channel.webhook_secret:
            click.echo(f"  webhook URL:    {_webhook_url(channel.code)}")
            click.echo(f"  webhook secret: {channel.webhook_secret}")


@channels.command("set")
@click.argument("code")
@click.option("--name", default=None)
@click.option("--sender-name", default=None, help="The display name on this channel's emails.")
@click.option("--base-url", default=None)
@click.option("--webhook-secret", default=None)
@click.option("--locations", "location_codes", default=None, help="Comma-separated: replaces the list.")
@click.option("--active/--paused", default=None, help="Take orders and pushes, or pause the channel.")
@click.option("--return-window-days", type=int, default=None)
@click.option("--stock-buffer-units", type=int, default=None, help="Units held back from what it is shown.")
@click.option("--stock-buffer-percent", type=int, default=None, help="Percent held back.")
@click.option("--stock-floor", type=int, default=None, help="At or below this, the channel is shown 0.")
def channels_set(code: str, location_codes: str | None, **settings: Any) -> None:
    """Change a channel's settings (only the options given)."""
    changes = {key: value for key, value in settings.items() if value is not None}
    if not changes and location_codes is None:
        raise click.UsageError("nothing to change: give at least one option")
    with context.write_session() as session:
        channel = channel_setup.change_channel(
            session, code, changes, location_codes=_codes(location_codes), actor=CLI, now=utcnow()
        )
        session.commit()
        click.echo(f"channel {channel.code} updated")


@channels.command("list")
@click.option("--json", "as_json", is_flag=True, help="One JSON list of the channels.")
def channels_list(as_json: bool) -> None:
    """Every channel: kind, state, locations, how orders arrive."""
    with context.session_factory()() as session:
        try:
            summaries = channel_setup.channel_summaries(session)
        except DomainError as exc:  # a secret the configured keys can't open
            raise click.ClickException(str(exc)) from exc
    if as_json:
        click.echo(json.dumps([s.as_json() for s in summaries], indent=2))
        return
    if not summaries:
        click.echo("no channels yet: add one with `crossdock channels add CODE --kind KIND --name NAME`")
        return
    for s in summaries:
        arrives = "webhook" if s.takes_webhooks else "polled" if s.polled else "import"
        state = "active" if s.active else "paused"
        locations = ",".join(s.locations) or "-"
        click.echo(f"{s.code:<16} {s.kind:<12} {state:<7} {arrives:<8} locations {locations}  {s.name}")
