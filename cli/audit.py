"""`crossdock audit verify`: walk the audit log's hash chain."""

from __future__ import annotations

import json
import sys
import time

import click
from flask.cli import AppGroup

from cli import context
from core.audit.queries import verify_audit_chain


@click.group("audit", cls=AppGroup)
def audit() -> None:
    """The audit log."""


@audit.command("verify")
@click.option("--json", "as_json", is_flag=True, help="The result as JSON.")
def audit_verify(as_json: bool) -> None:
    """Recompute the hash chain over every entry: prints OK with the count, or the first broken entry
    and exits 1."""
    started = time.perf_counter()
    with context.engine().connect() as connection:
        check = verify_audit_chain(connection)
    seconds = time.perf_counter() - started
    if as_json:
        click.echo(
            json.dumps(
                {
                    "ok": check.ok,
                    "entries": check.count,
                    "broken_id": check.broken_id,
                    "problem": check.problem or None,
                    "head": check.head_hash if check.ok else None,
                    "seconds": round(seconds, 3),
                }
            )
        )
    elif check.ok:
        click.echo(f"OK: {check.count} audit entries, chain intact, head {check.head_hash} ({seconds:.1f} s)")
    else:
        click.echo(
            f"BROKEN at audit entry {check.broken_id}: {check.problem} "
            f"({check.count} entries before it are intact)"
        )
    if not check.ok:
        sys.exit(1)
