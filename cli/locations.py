"""`crossdock locations`: stock locations."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from cli import context
from core.db import utcnow
from core.inventory import locations as stock_locations

locations = AppGroup("locations", help="Stock locations.")


@locations.command("add")
@click.argument("code")
@click.option("--name", required=True)
@click.option("--kind", required=True, type=click.Choice(["warehouse", "store", "3pl", "dropship"]))
@click.option("--regions", default="", help="Comma-separated regions served, e.g. US-NY,US-NJ,CA.")
@click.option("--priority", type=int, default=100, show_default=True, help="Lower ships first.")
@click.option("--email", default=None, help="Where purchase orders or 3PL requests go.")
def locations_add(code: str, name: str, kind: str, regions: str, priority: int, email: str | None) -> None:
    """Create a location."""
    with context.write_session() as session:
        location = stock_locations.add_location(
            session,
            code,
            name=name,
            kind=kind,
            regions=regions.split(","),
            priority=priority,
            email=email,
            now=utcnow(),
        )
        session.commit()
        click.echo(f"location {location.code} ({location.kind}, {location.fulfillment_method}) created")
