"""`crossdock orders`: show one order, ship one order."""

from __future__ import annotations

import json

import click
from flask.cli import AppGroup
from sqlalchemy import select

from cli import context
from core.db import utcnow
from core.errors import DomainError, NotFound
from core.fulfillment import services as fulfillment_services
from core.fulfillment.calendar import holidays_from_env
from core.inventory.models import Location
from core.orders import queries as order_queries
from core.security.roles import Actor

orders = AppGroup("orders", help="Orders.")


@orders.command("show")
@click.argument("channel_code")
@click.argument("external_id")
@click.option("--json", "as_json", is_flag=True, help="Print the canonical order JSON.")
def orders_show(channel_code: str, external_id: str, as_json: bool) -> None:
    """Show one order by channel and the channel's own order id."""
    with context.session_factory()() as session:
        try:
            order = order_queries.order_by_external_id(session, channel_code, external_id)
        except NotFound as exc:
            raise click.ClickException(str(exc)) from exc
        data = order_queries.canonical_order_json(session, order)
    if as_json:
        click.echo(json.dumps(data, ensure_ascii=False))
        return
    click.echo(
        f"{data['number']}  {data['channel']} {data['external_id']}  {data['status']}  "
        f"{data['total']} {data['currency']}"
    )
    if data["hold_reason"]:
        click.echo(f"on hold: {data['hold_reason']}")
    for line in data["lines"]:
        click.echo(
            f"  {line['quantity']} x {line['sku'] or '(unmapped ' + str(line['channel_sku']) + ')'}"
            f"  {line['title']}  {line['total']}"
        )


@orders.command("ship")
@click.argument("channel_code")
@click.argument("external_id")
@click.option("--carrier", required=True)
@click.option("--tracking", "tracking_number", required=True)
@click.option("--location", "location_code", default=None, help="Ship only what this location holds.")
def orders_ship(
    channel_code: str, external_id: str, carrier: str, tracking_number: str, location_code: str | None
) -> None:
    """Mark an order's reserved lines shipped, with carrier and tracking number (as packing does)."""
    now = utcnow()
    with context.write_session() as session:
        order = order_queries.order_by_external_id(session, channel_code, external_id)
        location_id = None
        if location_code:
            location = session.scalar(select(Location).where(Location.code == location_code.upper()))
            if location is None:
                raise DomainError(f"unknown location {location_code!r}")
            location_id = location.id
        shipments = fulfillment_services.mark_shipped(
            session,
            order.id,
            location_id=location_id,
            carrier=carrier,
            tracking_number=tracking_number,
            actor=Actor(label="cli"),
            now=now,
            holidays=holidays_from_env(),
        )
        session.commit()
        for shipment in shipments:
            click.echo(
                f"{order.number}: shipped {sum(line.quantity for line in shipment.lines)} unit(s) "
                f"with {shipment.carrier} {shipment.tracking_number}; order is {order.status}"
            )
