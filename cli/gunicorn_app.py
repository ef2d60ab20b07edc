"""`crossdock serve --workers N`: gunicorn's master with N worker processes of the application.

Each worker builds its own application (and so its own database engine and pool) after the fork: a pool
must never be shared across processes. Workers are threaded (gthread), so a slow request does not hold a
whole process; the master restarts a worker that dies or stops answering.
"""

from __future__ import annotations

from typing import Any

from flask import Flask
from gunicorn.app.base import BaseApplication

from app import create_app

# Settings a worker must not inherit: the master's session factory (bound to its own pool).
_NOT_INHERITED = frozenset({"SESSION_FACTORY"})


class _Application(BaseApplication):
    def __init__(self, config: dict[str, Any], options: dict[str, Any]) -> None:
        self._config = {key: value for key, value in config.items() if key not in _NOT_INHERITED}
        self._options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self._options.items():
            self.cfg.set(key, value)

    def load(self) -> Flask:
        return create_app({"DATABASE_URL": self._config.get("DATABASE_URL"), **self._config})


def serve_with_gunicorn(config: dict[str, Any], *, host: str, port: int, workers: int, threads: int) -> None:
    """Run gunicorn in the foreground until SIGTERM/SIGINT (graceful: requests in flight finish)."""
    options = {
        "bind": f"{host}:{port}",
        "workers": workers,
        "threads": threads,
        "worker_class": "gthread",
        "timeout": 60,
        "graceful_timeout": 20,
        "keepalive": 5,
        "accesslog": None,
        "errorlog": "-",
        "preload_app": False,
        "control_socket_disable": True,  # one fewer moving part: gunicorn is stopped by signals here
    }
    _Application(config, options).run()
