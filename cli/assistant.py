"""`crossdock eval-intents`: how well the support assistant understands a labelled file of messages."""

from __future__ import annotations

import json
import time
from pathlib import Path

import click

from core.support.assistant import intents, merchant
from core.support.assistant.evaluation import apply_intent_map, evaluate_classifier, read_intent_map

CSV_PATH = click.Path(exists=True, dir_okay=False, path_type=Path)


def _read_rows(path: Path) -> list[tuple[str, str]]:
    """A labelled CSV's (text, intent) rows; a malformed file is a one-line CLI error."""
    try:
        return intents.read_examples(path)
    except (ValueError, UnicodeDecodeError) as exc:
        raise click.ClickException(str(exc)) from exc


@click.command("eval-intents")
@click.argument("file", type=CSV_PATH)
@click.option(
    "--train",
    "train_file",
    type=CSV_PATH,
    help="Also learn this labelled CSV. When it names every intent FILE names (a data set of the same "
    "kind), it is learnt alone and answers with its own intents.",
)
@click.option(
    "--with-shipped",
    is_flag=True,
    help="With --train: always learn it on top of the shipped examples, as the chat does a merchant's file.",
)
@click.option("--map", "map_file", type=CSV_PATH, help="A from,to CSV renaming FILE's intents; others skip.")
@click.option("--json", "as_json", is_flag=True, help="Print the figures as one JSON object.")
def eval_intents(
    file: Path, train_file: Path | None, with_shipped: bool, map_file: Path | None, as_json: bool
) -> None:
    """Accuracy, macro-F1, top confusions and per-message latency of the intent classifier on FILE
    (columns text,intent or instruction,intent): the shipped examples' classifier, or one learnt from
    TRAIN: alone when TRAIN covers FILE's intents, else (or with --with-shipped) on top of the shipped
    examples."""
    if with_shipped and train_file is None:
        raise click.ClickException("--with-shipped needs --train FILE")
    rows = _read_rows(file)
    skipped = 0
    if map_file is not None:
        try:
            mapping = read_intent_map(map_file)
        except ValueError as exc:
            raise click.ClickException(str(exc)) from exc
        mapped = apply_intent_map(rows, mapping)
        skipped = len(rows) - len(mapped)
        rows = mapped
    if not rows:
        raise click.ClickException(f"{file.name}: no labelled rows to evaluate")
    started = time.perf_counter()
    alone = False
    if train_file is None:
        classifier = intents.default_classifier()
    else:
        examples = _read_rows(train_file)
        alone = not with_shipped and {i for _, i in rows} <= {i for _, i in examples}
        try:
            classifier = intents.train_on(examples) if alone else intents.train(examples)
        except ValueError as exc:  # fewer than two intents
            raise click.ClickException(f"{train_file.name}: {exc}") from exc
    train_seconds = time.perf_counter() - started
    result = evaluate_classifier(classifier, rows)
    figures = {
        **result.as_dict(),
        "skipped": skipped,
        "intents_known": len(classifier.intents),
        "train_seconds": round(train_seconds, 2),
        "trained_on": "shipped" if train_file is None else ("train" if alone else "shipped+train"),
    }
    if as_json:
        click.echo(json.dumps(figures, indent=2))
        return
    click.echo(
        f"{result.n} message(s), {skipped} skipped by the map; {len(classifier.intents)} intents known "
        f"(trained in {train_seconds:.1f} s)"
    )
    click.echo(
        f"accuracy {result.accuracy:.4f} (ignoring the unknown threshold {result.best_accuracy:.4f}; "
        f"among FILE's intents only {result.closed_accuracy:.4f}), macro-F1 {result.macro_f1:.4f}, "
        f"{result.unknown} unknown"
    )
    click.echo(f"latency per message: median {result.p50_ms:.2f} ms, p95 {result.p95_ms:.2f} ms")
    if result.confusions:
        click.echo("top confusions (expected -> predicted: count):")
        for expected, predicted, count in result.confusions:
            click.echo(f"  {expected} -> {predicted}: {count}")


@click.group("intents")
def intents_group() -> None:
    """The support assistant's labelled examples."""


@intents_group.command("import")
@click.argument("file", type=CSV_PATH)
def intents_import(file: Path) -> None:
    """Add a merchant's labelled examples (columns text,intent and optionally answer) to what the chat
    assistant learns. An intent of theirs with an answer is answered with it; one without is handed to a
    person. Kept in the instance folder's intents.csv (CROSSDOCK_INTENTS_FILE overrides it)."""
    try:
        rows = merchant.parse_import(file)
    except (ValueError, UnicodeDecodeError) as exc:
        raise click.ClickException(str(exc)) from exc
    added, known = merchant.import_rows(rows)
    stored = merchant.read_rows()
    ours = set(intents.default_classifier().intents)
    new = sorted({row["intent"] for row in stored} - ours)
    answered = merchant.answers()
    click.echo(
        f"added {added} example(s), {known} already there; {len(stored)} stored in {merchant.examples_path()}"
    )
    if new:
        click.echo(
            "intents of your own: "
            + ", ".join(
                f"{name} ({'answered' if name in answered else 'handed to a person'})" for name in new
            )
        )
