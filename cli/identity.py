"""`crossdock eval-identity`: identity matching measured against true links."""

from __future__ import annotations

import json
from pathlib import Path

import click

from core.customers.evaluation import evaluate_identity_files
from core.errors import DomainError

_FILE = click.Path(exists=True, dir_okay=False, path_type=Path)


@click.command("eval-identity")
@click.argument("file", type=_FILE)
@click.argument("other", type=_FILE, required=False)
@click.option("--links", "--truth", "links", type=_FILE, required=True, help="True pairs: rec_id_1,rec_id_2.")
@click.option("--json", "as_json", is_flag=True, help="The figures as JSON.")
def eval_identity(file: Path, other: Path | None, links: Path, as_json: bool) -> None:
    """Precision, recall and F1 of automatic links against true ones: duplicates within FILE, or links
    between FILE and OTHER (CSV: rec_id, given_name, surname, street_number, address_1, address_2, suburb,
    postcode, state, optional email and phone)."""
    try:
        result = evaluate_identity_files(file, links, other)
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
