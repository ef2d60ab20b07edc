"""Database backup and restore.

SQLite: SQLite's online backup API, page by page, while the application keeps running; the file is a
plain SQLite database. PostgreSQL: `pg_dump --format=custom` (and `pg_restore`), whose major version must be
at least the server's (an older pg_dump refuses a newer server, so that is checked first with a clear
message). Either way the file is written beside its final name and renamed when complete, so a failed
backup never leaves a truncated file under the name asked for.

A restore goes into an empty database (a non-empty one is refused unless forced: everything in it is
replaced), then the migrations are checked: a backup from an older version is upgraded to this code's head;
one from a newer version (a revision this code does not know) is refused before anything is written."""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import sqlite3
import subprocess
from collections.abc import Callable
from pathlib import Path

from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy import Engine, inspect, select, text

import core.models  # noqa: F401  (every table in the metadata, for the fingerprints)
from core import migrate
from core.db import Base
from core.errors import DomainError

Progress = Callable[[str], None]
SQLITE_PAGES_PER_STEP = 1024


class BackupError(DomainError):
    """A backup or restore that cannot be done, with the reason."""


def _quiet(_message: str) -> None:
    return None


def _partial(target: Path) -> Path:
    return target.with_name(target.name + ".partial")


def _known_revision(revision: str | None) -> bool:
    if revision is None:
        return False
    script = ScriptDirectory.from_config(migrate.alembic_config("sqlite://"))
    try:
        return script.get_revision(revision) is not None
    except CommandError:
        return False


# --- SQLite ---


def _sqlite_backup(engine: Engine, target: Path, progress: Progress) -> None:
    partial = _partial(target)
    partial.unlink(missing_ok=True)
    destination = sqlite3.connect(partial)
    raw = engine.raw_connection()
    try:

        def step(_status: int, remaining: int, total: int) -> None:
            progress(f"copied {total - remaining} of {total} pages")

        raw.driver_connection.backup(destination, pages=SQLITE_PAGES_PER_STEP, progress=step)
    finally:
        raw.close()
        destination.close()
    partial.replace(target)


def _sqlite_revision(source: Path) -> str | None:
    try:
        connection = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
        try:
            if connection.execute("PRAGMA quick_check").fetchone()[0] != "ok":
                raise BackupError(f"{source} is a damaged SQLite database")
            row = connection.execute("SELECT version_num FROM alembic_version").fetchone()
        finally:
            connection.close()
    except sqlite3.DatabaseError as exc:
        raise BackupError(f"{source} is not a Crossdock SQLite backup: {exc}") from exc
    return row[0] if row else None


def _sqlite_restore(engine: Engine, source: Path, progress: Progress) -> None:
    revision = _sqlite_revision(source)
    if not _known_revision(revision):
        raise BackupError(
            f"{source} is at migration {revision!r}, which this version of Crossdock does not know "
            "(a backup from a newer version?): restore it with that version"
        )
    engine.dispose()
    origin = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    raw = engine.raw_connection()
    try:

        def step(_status: int, remaining: int, total: int) -> None:
            progress(f"restored {total - remaining} of {total} pages")

        origin.backup(raw.driver_connection, pages=SQLITE_PAGES_PER_STEP, progress=step)
    finally:
        raw.close()
        origin.close()
    engine.dispose()


# --- PostgreSQL ---


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise BackupError(f"{name} not found: install the PostgreSQL client tools (postgresql-client)")
    return path


def _major(version_text: str) -> int:
    match = re.search(r"(\d+)(?:\.\d+)?", version_text)
    if match is None:
        raise BackupError(f"cannot read a version from {version_text!r}")
    return int(match.group(1))


def check_pg_client(engine: Engine, tool: str) -> str:
    """The tool's path, once its major version is found usable with the server (not older)."""
    path = _tool(tool)
    # The tools' paths come from PATH (shutil.which), their arguments from us: no shell, nothing untrusted.
    version = subprocess.run([path, "--version"], capture_output=True, text=True, check=True)  # noqa: S603
    client = _major(version.stdout)
    with engine.connect() as connection:
        server = int(connection.execute(text("SHOW server_version_num")).scalar_one()) // 10000
    if client < server:
        raise BackupError(
            f"{tool} {client} cannot work with a PostgreSQL {server} server:"
            f" install postgresql-client-{server}"
        )
    return path


def _libpq(engine: Engine) -> tuple[str, dict[str, str]]:
    """A libpq connection string without the password, and the environment carrying it (so it is never
    on a command line that `ps` shows)."""
    url = engine.url
    parts = [f"dbname={url.database}"]
    for key, value in (("host", url.host), ("port", url.port), ("user", url.username)):
        if value:
            parts.append(f"{key}={value}")
    env = dict(os.environ)
    if url.password:
        env["PGPASSWORD"] = str(url.password)
    return " ".join(parts), env


def _run(command: list[str], env: dict[str, str], progress: Progress, failure: str) -> None:
    process = subprocess.Popen(  # noqa: S603  (see check_pg_client)
        command, env=env, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True
    )
    assert process.stderr is not None
    lines = []
    for raw_line in process.stderr:
        line = raw_line.rstrip()
        lines.append(line)
        progress(line)
    if process.wait() != 0:
        errors = [line for line in lines if "error" in line.lower()] or lines[-3:]
        raise BackupError(f"{failure}: {' / '.join(errors)[:500]}")


def _pg_backup(engine: Engine, target: Path, progress: Progress) -> None:
    pg_dump = check_pg_client(engine, "pg_dump")
    conninfo, env = _libpq(engine)
    partial = _partial(target)
    partial.unlink(missing_ok=True)
    command = [pg_dump, "--format=custom", "--no-owner", "--no-privileges", "--verbose", f"--file={partial}"]
    try:
        _run([*command, conninfo], env, progress, "pg_dump failed")
    except BackupError:
        partial.unlink(missing_ok=True)
        raise
    partial.replace(target)


def _pg_restore(engine: Engine, source: Path, *, force: bool, progress: Progress) -> None:
    pg_restore = check_pg_client(engine, "pg_restore")
    listing = subprocess.run(  # noqa: S603  (see check_pg_client)
        [pg_restore, "--list", str(source)], capture_output=True, text=True, check=False
    )
    if listing.returncode != 0:
        raise BackupError(f"{source} is not a pg_dump custom-format backup: {listing.stderr.strip()[:300]}")
    conninfo, env = _libpq(engine)
    command = [
        pg_restore,
        "--no-owner",
        "--no-privileges",
        "--exit-on-error",
        "--single-transaction",
        "--verbose",
    ]
    if force:
        command += ["--clean", "--if-exists"]
    engine.dispose()
    _run([*command, f"--dbname={conninfo}", str(source)], env, progress, "pg_restore failed")
    engine.dispose()


# --- both ---


def user_tables(engine: Engine) -> list[str]:
    """The tables in the database (its default schema), whatever created them."""
    return sorted(inspect(engine).get_table_names())


def backup_database(engine: Engine, target: Path, *, progress: Progress = _quiet) -> int:
    """Write a backup of the engine's database to `target`; returns its size in bytes."""
    target = Path(target)
    if not target.parent.is_dir():
        raise BackupError(f"folder {target.parent} does not exist")
    if engine.dialect.name == "sqlite":
        _sqlite_backup(engine, target, progress)
    elif engine.dialect.name == "postgresql":
        _pg_backup(engine, target, progress)
    else:
        raise BackupError(f"backups of {engine.dialect.name} databases are not supported")
    return target.stat().st_size


def restore_database(
    engine: Engine, source: Path, *, force: bool = False, progress: Progress = _quiet
) -> str:
    """Restore `source` into the engine's database, which must be empty unless `force`; then bring it to
    this code's migration head. Returns the revision it is at."""
    source = Path(source)
    if not source.is_file():
        raise BackupError(f"{source} does not exist")
    existing = user_tables(engine)
    if existing and not force:
        raise BackupError(
            f"the database is not empty ({len(existing)} tables): restore into an empty database, or add "
            "--force to replace everything in it"
        )
    if engine.dialect.name == "sqlite":
        _sqlite_restore(engine, source, progress)
    elif engine.dialect.name == "postgresql":
        _pg_restore(engine, source, force=force, progress=progress)
    else:
        raise BackupError(f"restores into {engine.dialect.name} databases are not supported")
    revision = migrate.current_revision(engine)
    if not _known_revision(revision):
        raise BackupError(
            f"the restored database is at migration {revision!r}, which this version of Crossdock does not "
            "know: run the version that made the backup"
        )
    head = migrate.head_revision()
    if revision != head:
        progress(f"upgrading the restored database from migration {revision} to {head}")
        migrate.upgrade(engine)
    return migrate.head_revision() or ""


def table_fingerprints(engine: Engine) -> dict[str, tuple[int, str]]:
    """Per table of the schema: its row count and a SHA-256 over its rows in primary-key order."""
    found: dict[str, tuple[int, str]] = {}
    with engine.connect() as connection:
        for table in Base.metadata.sorted_tables:
            order = list(table.primary_key.columns) or list(table.columns)
            digest = hashlib.sha256()
            count = 0
            for row in connection.execute(select(table).order_by(*order)):
                digest.update(repr(tuple(row)).encode())
                count += 1
            found[table.name] = (count, digest.hexdigest())
    return found
