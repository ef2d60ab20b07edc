"""`crossdock bench`: the benchmark suite in benchmarks/."""

from __future__ import annotations

import importlib
import sys

import click
from flask.cli import with_appcontext

from cli.context import PROJECT_ROOT


@click.command("bench")
@click.option("--json", "as_json", is_flag=True, help="Print results as JSON.")
@click.option("--only", default=None, help="Run only scenarios whose name contains this text.")
@with_appcontext
def bench(as_json: bool, only: str | None) -> None:
    """Run the benchmark suite (benchmarks/), each scenario beside its floor."""
    sys.path.insert(0, str(PROJECT_ROOT))
    runner = importlib.import_module("benchmarks.runner")
    sys.exit(runner.main(as_json=as_json, only=only))
