"""`crossdock serve --workers N` runs gunicorn with N processes of the application against one database, and
stops gracefully on SIGTERM."""

from __future__ import annotations

import http.client
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from app import PROJECT_ROOT
from core import migrate
from core.db import make_engine
from tests.conftest import drop_database, fresh_database_url


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _get(port: int, path: str) -> tuple[int, str]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        return response.status, response.read().decode()
    finally:
        conn.close()


@pytest.fixture
def served_db(tmp_path: Path):
    url, needs_drop = fresh_database_url(tmp_path, "serve")
    engine = make_engine(url)
    migrate.upgrade(engine)
    engine.dispose()
    yield url
    drop_database(url, needs_drop)


def test_serve_with_workers_runs_that_many_processes_and_stops_on_sigterm(
    served_db: str, tmp_path: Path
) -> None:
    port = _free_port()
    log = tmp_path / "serve.log"
    env = {**os.environ, "DATABASE_URL": served_db, "SECRET_KEY": "serve-test"}
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "cli", "serve", "--workers", "2", "--threads", "2", "--port", str(port)],
            cwd=PROJECT_ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                status, body = _get(port, "/healthz")
                break
            except OSError:
                assert process.poll() is None, log.read_text()
                assert time.monotonic() < deadline, f"server did not start: {log.read_text()}"
                time.sleep(0.3)
        assert status == 200, body
        assert '"database":"ok"' in body
        answers = [_get(port, "/help")[0] for _ in range(10)]
        assert answers == [200] * 10
        while log.read_text().count("Booting worker") < 2:  # both workers up (they boot independently)
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.2)
    finally:
        process.send_signal(signal.SIGTERM)
        code = process.wait(timeout=30)
    text = log.read_text()
    assert code == 0, text
    assert "gthread" in text
    assert "Traceback" not in text
