"""The load test tool, at a tiny size: its own PostgreSQL cluster, seeded, served by gunicorn and a worker,
driven by a few clients for a few seconds; every request answers as expected, and the checks (no oversell,
every email sent once, every accepted webhook stored) pass. (The faults take a minute more, the killed
worker's lease expiring first: `python -m benchmarks.load --faults` runs them by hand.)"""

from __future__ import annotations

import os
import shutil

import pytest

from benchmarks.load.cluster import PG_BIN
from benchmarks.load.run import main


@pytest.mark.skipif(not (PG_BIN / "initdb").exists(), reason=f"no PostgreSQL server binaries in {PG_BIN}")
@pytest.mark.skipif(
    os.geteuid() == 0 and shutil.which("runuser") is None, reason="as root the cluster needs runuser"
)
def test_load_tool_runs_a_tiny_load_and_its_checks_pass(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code = main(["--orders", "150", "--clients", "4", "--seconds", "5", "--drain", "40"])
    out = capsys.readouterr().out
    assert "checks passed: no oversell, every email once, every accepted webhook stored" in out, out
    assert "POST /api/channels/shopify/webhooks/orders" in out and "GET /console/tickets" in out
    assert " 0 errors" in out, out
    assert code == 0
