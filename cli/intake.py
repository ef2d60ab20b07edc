"""`crossdock import`: native channel payload files, ingested the way webhooks are."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click
from flask.cli import with_appcontext

from cli import context
from core.orders.importer import import_files


@click.command("import")
@click.argument("channel_code")
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--create-listings", is_flag=True, help="Create missing products and listings (first backfill)."
)
@with_appcontext
def import_cmd(channel_code: str, files: tuple[Path, ...], create_listings: bool) -> None:
    """Ingest native channel payload files the way webhooks are ingested; one JSON line per order."""
    lines, failed = import_files(
        context.session_factory(), channel_code, files, create_listings=create_listings
    )
    for line in lines:
        click.echo(json.dumps(line, ensure_ascii=False))
    if failed:
        sys.exit(1)
