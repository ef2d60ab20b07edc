"""`crossdock privacy ...` (retention, a customer's export and erasure) and `crossdock backup` / `restore`."""

from __future__ import annotations

import json
from pathlib import Path

import click
from flask.cli import AppGroup, with_appcontext

from cli import context
from core.db import utcnow
from core.errors import DomainError, NotFound
from core.privacy import backup as backups
from core.privacy.erasure import delete_return_photos, erase_customer, erased_outcome_text
from core.privacy.retention import RetentionSettings, apply_retention, plan_retention
from core.privacy.services import export_customer_for_staff
from core.returns.photos import UPLOADS_DIR
from core.security.roles import Actor

CLI_ACTOR = Actor(label="cli")
privacy = AppGroup("privacy", help="Customers' data rights: retention, export, erasure.")


@privacy.command("retention")
@click.option("--dry-run", is_flag=True, help="Print what would be anonymised; change nothing.")
def privacy_retention(dry_run: bool) -> None:
    """Anonymise closed conversations and erase inactive customers past their retention periods
    (CROSSDOCK_RETENTION_CONVERSATION_DAYS, CROSSDOCK_RETENTION_CUSTOMER_DAYS; one batch, as the nightly
    job)."""
    try:
        settings = RetentionSettings.from_env()
    except DomainError as exc:
        raise click.ClickException(str(exc)) from exc
    with context.write_session() as session:
        now = utcnow()
        plan = plan_retention(session, settings, now=now)
        click.echo(
            f"conversations closed over {settings.conversation_days or 'never (off)'} days ago:"
            f" {len(plan.conversation_ids)}" + _ids(plan.conversation_ids)
        )
        click.echo(
            f"customers inactive over {settings.customer_days or 'never (off)'} days:"
            f" {len(plan.customer_ids)}" + _ids(plan.customer_ids)
        )
        if dry_run:
            session.rollback()
            click.echo("dry run: nothing changed")
            return
        apply_retention(session, plan, now=now)
        session.commit()
    delete_return_photos(plan.photo_paths, UPLOADS_DIR)
    click.echo(
        f"anonymised {len(plan.conversation_ids)} conversations, erased {len(plan.customer_ids)} customers"
    )


def _ids(ids: list[int]) -> str:
    if not ids:
        return ""
    shown = ", ".join(str(i) for i in ids[:20])
    return f" (#{shown}{', ...' if len(ids) > 20 else ''})"


@privacy.command("export")
@click.argument("customer_id", type=int)
@click.option(
    "--output", "-o", type=click.Path(dir_okay=False, path_type=Path), help="File (default: stdout)."
)
def privacy_export(customer_id: int, output: Path | None) -> None:
    """Everything we hold about a customer that they may see, as JSON (audited)."""
    with context.write_session() as session:
        try:
            data = export_customer_for_staff(session, customer_id, actor=CLI_ACTOR, now=utcnow())
        except NotFound as exc:
            raise click.ClickException(str(exc)) from exc
        session.commit()
    text = json.dumps(data, indent=2, ensure_ascii=False)
    if output is None:
        click.echo(text)
    else:
        output.write_text(text + "\n", encoding="utf-8")
        click.echo(f"wrote {output}", err=True)


@privacy.command("erase")
@click.argument("customer_id", type=int)
@click.option("--yes", is_flag=True, help="Confirm: the erasure cannot be undone.")
def privacy_erase(customer_id: int, yes: bool) -> None:
    """Erase a customer's personal data everywhere, keeping orders and amounts (audited)."""
    if not yes:
        raise click.ClickException("erasure cannot be undone: add --yes to confirm")
    with context.write_session() as session:
        try:
            report = erase_customer(session, customer_id, actor=CLI_ACTOR, now=utcnow(), reason="cli")
        except NotFound as exc:
            raise click.ClickException(str(exc)) from exc
        session.commit()
    delete_return_photos(report.photo_paths, UPLOADS_DIR)
    click.echo(f"customer {customer_id} erased: {erased_outcome_text(report)}")


def _progress(message: str) -> None:
    click.echo(message, err=True)


@click.command("backup")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@with_appcontext
def backup(file: Path) -> None:
    """Back up DATABASE_URL's database to FILE (SQLite: online backup; PostgreSQL: pg_dump custom format)."""
    engine = context.engine()
    try:
        size = backups.backup_database(engine, file, progress=_progress)
    except DomainError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"backed up {engine.url.render_as_string()} to {file} ({size:,} bytes)")


@click.command("restore")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--force", is_flag=True, help="Replace everything in a database that is not empty.")
@with_appcontext
def restore(file: Path, force: bool) -> None:
    """Restore FILE (made by `crossdock backup`) into DATABASE_URL's database, which must be empty unless
    --force; then check its migrations (an older backup is upgraded)."""
    engine = context.engine()
    try:
        revision = backups.restore_database(engine, file, force=force, progress=_progress)
    except DomainError as exc:
        raise click.ClickException(str(exc)) from exc
    counts = backups.table_fingerprints(engine)
    rows = sum(count for count, _ in counts.values())
    click.echo(f"restored {file} into {engine.url.render_as_string()}: {rows:,} rows, migration {revision}")
