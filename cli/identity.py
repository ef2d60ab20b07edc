"""`crossdock eval-identity` (matching measured against true links) and `crossdock customers resolve`."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path

import click
from flask.cli import AppGroup
from sqlalchemy import func, select

from cli import context
from core.customers.backfill import resolve_all_customers
from core.customers.evaluation import evaluate_identity_files
from core.customers.models import Customer
from core.db import utcnow
from core.errors import DomainError
from core.security.roles import Actor

_FILE = click.Path(exists=True, dir_okay=False, path_type=Path)


@click.command("eval-identity")
@click.argument("file", type=_FILE)
@click.argument("other", type=_FILE, required=False)
@click.option("--links", "--truth", "links", type=_FILE, required=True, help="True pairs: rec_id_1,rec_id_2.")
@click.option("--json", "as_json", is_flag=True, help="The figures as JSON.")
@click.option(
    "--no-household-rule",
    is_flag=True,
    help="Also link pairs whose given names differ (measures what the rule costs; resolution keeps it).",
)
def eval_identity(
    file: Path, other: Path | None, links: Path, as_json: bool, no_household_rule: bool
) -> None:
    """Precision, recall and F1 of automatic links against true ones: duplicates within FILE, or links
    between FILE and OTHER (CSV: rec_id, given_name, surname, street_number, address_1, address_2, suburb,
    postcode, state, optional email and phone)."""
    try:
        result = evaluate_identity_files(file, links, other, household_rule=not no_household_rule)
    except (DomainError, UnicodeDecodeError) as exc:
        raise click.ClickException(str(exc)) from exc
    if as_json:
        click.echo(json.dumps(result.as_dict()))
        return
    click.echo(
        f"precision {result.precision:.3f}, recall {result.recall:.3f}, F1 {result.f1:.3f}"
        f" ({result.predicted_links} links for {result.true_links} true ones;"
        f" {result.pairs_compared} pairs compared in {result.seconds:.2f} s)"
    )
    click.echo(
        f"with the {result.suggested_links} suggestions accepted: precision"
        f" {result.precision_with_suggestions:.3f}, recall {result.recall_with_suggestions:.3f},"
        f" F1 {result.f1_with_suggestions:.3f}"
    )


@click.group("customers", cls=AppGroup)
def customers() -> None:
    """Unified customers: identity resolution."""


@customers.command("resolve")
@click.option("--dry-run", is_flag=True, help="Report what would be linked and suggested; write nothing.")
def customers_resolve(dry_run: bool) -> None:
    """Fuzzy identity resolution over every customer: high scores merge into the older customer, middle
    scores go to the suggestions queue."""
    with context.write_session() as session:
        customer_count = session.scalar(select(func.count()).select_from(Customer)) or 0
        with click.progressbar(
            length=customer_count,
            label="Resolving customers",
            show_pos=True,
            file=sys.stderr,
            hidden=not sys.stderr.isatty(),
        ) as bar:

            def progress(ids: Iterable[int]) -> Iterator[int]:
                for customer_id in ids:
                    yield customer_id
                    bar.update(1)

            report = resolve_all_customers(session, actor=Actor(label="cli"), now=utcnow(), progress=progress)
        if dry_run:
            session.rollback()
        else:
            session.commit()
    would = "would be " if dry_run else ""
    click.echo(
        f"{report.customers_checked} customers checked ({report.identities_indexed} identities indexed):"
        f" {report.links_made} links {would}made, {report.suggestions_queued} suggestions {would}queued"
    )
