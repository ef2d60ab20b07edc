"""`crossdock stock`: receive stock, show one SKU's stock, verify levels against the ledger."""

from __future__ import annotations

import json

import click
from flask.cli import AppGroup
from sqlalchemy import select
from sqlalchemy.orm import Session

from cli import context
from core.catalog.models import Sku
from core.db import utcnow
from core.errors import DomainError
from core.inventory import allocations as stock_allocations
from core.inventory import queries as inventory_queries
from core.inventory.models import Location
from core.security.roles import Actor

stock = AppGroup("stock", help="Stock levels and the ledger.")


def _location_and_sku(session: Session, location_code: str, sku_code: str) -> tuple[Location, Sku]:
    location = session.scalar(select(Location).where(Location.code == location_code.upper()))
    if location is None:
        raise DomainError(f"unknown location {location_code!r}")
    sku = session.scalar(select(Sku).where(Sku.code == sku_code))
    if sku is None:
        raise DomainError(f"unknown SKU {sku_code!r}")
    return location, sku


@stock.command("receive")
@click.argument("location_code")
@click.argument("sku_code")
@click.argument("quantity", type=click.IntRange(min=1))
@click.option("--reference", default=None, help="Delivery note or PO number.")
def stock_receive(location_code: str, sku_code: str, quantity: int, reference: str | None) -> None:
    """Receive units into a location (fills waiting backorders first come, first served)."""
    with context.write_session() as session:
        location, sku = _location_and_sku(session, location_code, sku_code)
        state = stock_allocations.receive_stock(
            session,
            location.id,
            sku.id,
            quantity,
            actor=Actor(label="cli"),
            now=utcnow(),
            reference=reference,
        )
        session.commit()
        click.echo(
            f"{sku.code} at {location.code}: on hand {state.on_hand}, reserved {state.reserved}, "
            f"available {state.available}"
        )


@stock.command("show")
@click.argument("sku_code")
@click.option("--json", "as_json", is_flag=True)
def stock_show(sku_code: str, as_json: bool) -> None:
    """Stock of one SKU per location and available to sell per channel."""
    with context.session_factory()() as session:
        sku = session.scalar(select(Sku).where(Sku.code == sku_code))
        if sku is None:
            raise click.ClickException(f"unknown SKU {sku_code!r}")
        levels = inventory_queries.stock_by_sku(session, sku.id)
    data = {
        "sku": levels.code,
        "title": levels.title,
        "on_hand": levels.on_hand,
        "reserved": levels.reserved,
        "available": levels.available,
        "locations": [
            {
                "location": lv.code,
                "name": lv.name,
                "on_hand": lv.on_hand,
                "reserved": lv.reserved,
                "available": lv.available,
            }
            for lv in levels.locations
        ],
        "channels": [
            {"channel": ch.channel_code, "available_to_sell": ch.quantity, "formula": ch.formula}
            for ch in levels.channels
        ],
    }
    if as_json:
        click.echo(json.dumps(data, ensure_ascii=False))
        return
    click.echo(f"{data['sku']}  {data['title']}: on hand {data['on_hand']}, available {data['available']}")
    for lv in data["locations"]:
        click.echo(
            f"  {lv['location']:<12} on hand {lv['on_hand']:>5}  reserved {lv['reserved']:>5}  "
            f"available {lv['available']:>5}"
        )
    for ch in data["channels"]:
        click.echo(f"  {ch['channel']:<12} available to sell {ch['available_to_sell']:>5}   {ch['formula']}")


@stock.command("verify")
def stock_verify() -> None:
    """Check that every level's on hand and reserved equal the sums of its ledger movements."""
    with context.session_factory()() as session:
        mismatches = inventory_queries.verify_ledger(session)
    for m in mismatches:
        click.echo(f"MISMATCH {m}")
    if mismatches:
        raise click.ClickException(f"{len(mismatches)} stock level(s) disagree with the ledger")
    click.echo("ledger ok: every stock level equals the sum of its movements")
