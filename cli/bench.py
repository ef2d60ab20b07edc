"""`crossdock bench`: the benchmark suite in benchmarks/."""

from __future__ import annotations

import importlib
import os
import sys

import click
from flask.cli import with_appcontext

from cli.context import PROJECT_ROOT
from core.errors import DomainError
from core.security.encryption import KEYS_VARIABLE, configured_keys, generate_key


@click.command("bench")
@click.option("--json", "as_json", is_flag=True, help="Print results as JSON.")
@click.option("--only", default=None, help="Run only scenarios whose name contains this text.")
@with_appcontext
def bench(as_json: bool, only: str | None) -> None:
    """Run the benchmark suite (benchmarks/), each scenario beside its floor."""
    try:
        configured_keys()
    except DomainError:
        # The scenarios' channels live in throwaway databases: a key of this run's own encrypts their secrets.
        os.environ[KEYS_VARIABLE] = generate_key()
    sys.path.insert(0, str(PROJECT_ROOT))
    runner = importlib.import_module("benchmarks.runner")
    sys.exit(runner.main(as_json=as_json, only=only))
