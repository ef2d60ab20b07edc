"""`crossdock locations`: stock locations."""

from __future__ import annotations

import json
from typing import Any

import click
from flask.cli import AppGroup

from cli import context
from core.configuration import locations as location_setup
from core.db import utcnow
from core.security.roles import Actor

locations = AppGroup("locations", help="Stock locations: add, change, list.")
CLI = Actor(label="cli")


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
        location = location_setup.create_location(
            session,
            code,
            name=name,
            kind=kind,
            regions=regions.split(","),
            priority=priority,
            email=email,
            actor=CLI,
            now=utcnow(),
        )
        session.commit()
        click.echo(f"location {location.code} ({location.kind}, {location.fulfillment_method}) created")


def _hours(text: str) -> dict[str, tuple[str, str]]:
    """'mon=09:00-17:00,sat=10:00-14:00' -> {'mon': ('09:00', '17:00'), ...}; days left out are closed."""
    hours: dict[str, tuple[str, str]] = {}
    for part in (p.strip() for p in text.split(",") if p.strip()):
        day, _, span = part.partition("=")
        opens, _, closes = span.partition("-")
        if day.strip().lower() not in location_setup.WEEKDAYS or not closes:
            raise click.BadParameter(
                f"{part!r}: write DAY=HH:MM-HH:MM with DAY one of mon..sun", param_hint="--hours"
            )
        hours[day.strip().lower()] = (opens.strip(), closes.strip())
    return hours


@locations.command("set")
@click.argument("code")
@click.option("--name", default=None)
@click.option("--kind", default=None, type=click.Choice(["warehouse", "store", "3pl", "dropship"]))
@click.option("--fulfillment-method", default=None, type=click.Choice(location_setup.FULFILLMENT_METHODS))
@click.option("--regions", default=None, help="Comma-separated: replaces the list.")
@click.option("--priority", type=int, default=None)
@click.option("--email", default=None)
@click.option("--active/--inactive", default=None)
@click.option("--line1", default=None)
@click.option("--line2", default=None)
@click.option("--city", default=None)
@click.option("--region", default=None)
@click.option("--postal-code", default=None)
@click.option("--country", default=None, help="Two-letter ISO code.")
@click.option(
    "--hours", default=None, help="Business hours: mon=09:00-17:00,sat=10:00-14:00 (others closed)."
)
def locations_set(code: str, regions: str | None, hours: str | None, **options: Any) -> None:
    """Change a location (only the options given; the address lines given replace those lines)."""
    address = {
        key: options.pop(key) for key in ("line1", "line2", "city", "region", "postal_code", "country")
    }
    changes: dict[str, Any] = {key: value for key, value in options.items() if value is not None}
    if regions is not None:
        changes["regions"] = regions.split(",")
    if hours is not None:
        changes["hours"] = _hours(hours)
    given = {key: value for key, value in address.items() if value is not None}
    with context.write_session() as session:
        if given:
            current = location_setup.location_settings(session, code).address or {}
            changes["address"] = {**current, **given}
        if not changes:
            raise click.UsageError("nothing to change: give at least one option")
        location = location_setup.change_location(session, code, changes, actor=CLI, now=utcnow())
        session.commit()
        click.echo(f"location {location.code} updated")


@locations.command("list")
@click.option("--json", "as_json", is_flag=True, help="One JSON list of the locations.")
def locations_list(as_json: bool) -> None:
    """Every location: kind, fulfilment method, regions, priority, address, business hours."""
    with context.session_factory()() as session:
        rows = [
            {
                "code": loc.code,
                "name": loc.name,
                "kind": loc.kind,
                "fulfillment_method": loc.fulfillment_method,
                "regions": list(loc.regions or []),
                "priority": loc.priority,
                "email": loc.email,
                "active": loc.active,
                "address": dict(loc.address or {}),
                "hours": {day: list(span) for day, span in location_setup.location_hours(loc).items()},
            }
            for loc in location_setup.locations_list(session)
        ]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    if not rows:
        click.echo("no locations yet: add one with `crossdock locations add CODE --name NAME --kind KIND`")
    for row in rows:
        regions = ",".join(row["regions"]) or "everywhere"
        click.echo(
            f"{row['code']:<12} {row['kind']:<10} {row['fulfillment_method']:<9} {regions:<20} {row['name']}"
        )
