"""`crossdock tracking`: carrier events from files."""

from __future__ import annotations

from pathlib import Path

import click
from flask.cli import AppGroup

from cli import context
from core.db import utcnow
from core.errors import DomainError
from core.fulfillment import tracking as tracking_services

tracking = AppGroup("tracking", help="Carrier tracking events.")


@tracking.command("import")
@click.argument(
    "files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
def tracking_import(files: tuple[Path, ...]) -> None:
    """Record carrier events from tracking CSV files or tracking-service JSON (AfterShip, EasyPost...)."""
    with context.write_session() as session:
        updates = []
        for path in files:
            text = path.read_text(encoding="utf-8-sig")
            try:
                parsed = (
                    tracking_services.parse_tracking_csv(text)
                    if path.suffix.lower() == ".csv"
                    else tracking_services.parse_tracking_payload(text)
                )
            except DomainError as exc:
                raise DomainError(f"{path.name}: {exc}") from exc
            updates.extend(parsed)
        result = tracking_services.record_tracking_events(session, updates, now=utcnow(), source="import")
        session.commit()
    click.echo(
        f"{result.recorded} new event(s), {result.duplicates} already known, "
        f"{len(result.changes)} shipment status change(s), {len(result.unknown)} unknown number(s)"
    )
    for unknown in result.unknown:
        click.echo(f"  {unknown.reason}: {unknown.tracking_number} ({unknown.carrier or '?'})")
