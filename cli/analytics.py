"""`crossdock analytics`: import channel traffic (visits and spend), list this week's trend alerts."""

from __future__ import annotations

import csv
import json
from datetime import datetime
from pathlib import Path

import click
from flask.cli import AppGroup

from cli import context
from core.analytics import refresh, traffic
from core.analytics.issues import trend_alerts
from core.db import utcnow

analytics = AppGroup("analytics", help="The managers' analytics: traffic data and trend alerts.")


@analytics.command("import-traffic")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def import_traffic(file: Path) -> None:
    """Import visits and marketing spend per channel and day from FILE (CSV columns date,channel,visits,spend
    and optionally currency; spend as a decimal amount). Any bad row refuses the whole file, each bad line
    listed; a day and channel imported before is replaced."""
    try:
        text = file.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise click.ClickException(f"{file}: not UTF-8 text") from exc
    with context.write_session() as session:
        try:
            new, replaced = traffic.import_traffic(session, text, now=utcnow())
        except (traffic.TrafficImportError, csv.Error) as exc:
            session.rollback()
            _refuse(file, exc)
        session.commit()
    click.echo(f"imported {new + replaced} row(s) from {file}: {new} new, {replaced} replaced")


def _refuse(file: Path, exc: Exception) -> None:
    problems = getattr(exc, "problems", None) or [str(exc)]
    for problem in problems:
        click.echo(f"{file}: {problem}", err=True)
    raise click.ClickException(f"{file}: {len(problems)} problem(s); nothing was imported")


@analytics.command("refresh")
@click.option(
    "--since",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    help="Sum again every day from this UTC day on (YYYY-MM-DD), not only the new and stale ones.",
)
def refresh_command(since: datetime | None) -> None:
    """Sum the dashboard's daily summaries: every closed UTC day not summed yet and every day marked stale
    (the worker's analytics_refresh_job does the same every 10 minutes). One transaction: the dashboard
    sees the old summaries or the new ones."""

    def progress(done: int, total: int) -> None:
        click.echo(f"  {done}/{total} days summed", err=True)

    with context.write_session() as session:
        result = refresh.refresh(
            session, now=utcnow(), since=since.date() if since else None, progress=progress
        )
        session.commit()
    click.echo(f"summed {result.days} day(s); the summaries reach {result.through.isoformat()} (exclusive)")


@analytics.command("alerts")
@click.option("--json", "as_json", is_flag=True)
def alerts(as_json: bool) -> None:
    """This week's trend alerts (the rule is in core.analytics.rules.ALERT_RULE)."""
    with context.session_factory()() as session:
        found = trend_alerts(session, now=utcnow())
    if as_json:
        click.echo(json.dumps([a.as_json() for a in found]))
        return
    for a in found:
        click.echo(f"{a.label}: {a.this_week} this week, {a.baseline_mean:.1f} a week before")
    if not found:
        click.echo("no trend alerts")
