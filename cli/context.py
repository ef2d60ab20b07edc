"""What the commands share: the application's session factory and engine, and a writer's unit of work."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import click
from flask import current_app
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from core.db import begin_write
from core.errors import DomainError

PROJECT_ROOT = Path(__file__).resolve().parents[1]


def session_factory() -> sessionmaker[Session]:
    """The session factory `create_app` wired (DATABASE_URL's database)."""
    return current_app.extensions["crossdock.session_factory"]


def engine() -> Engine:
    """The engine behind the session factory."""
    return session_factory().kw["bind"]


@contextmanager
def write_session() -> Iterator[Session]:
    """A session for a command that writes: SQLite takes its write lock up front; domain errors become
    one-line CLI errors and nothing is committed."""
    with session_factory()() as session:
        begin_write(session)
        try:
            yield session
        except DomainError as exc:
            session.rollback()
            raise click.ClickException(str(exc)) from exc
