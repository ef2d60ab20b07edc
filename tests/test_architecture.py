"""The layering rules of DESIGN.md, checked on the source: core/ is framework-free, the faces are apart."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
# Jinja2 is allowed: core renders emails with it.
WEB_MODULES = {"flask", "flask_login", "flask_wtf", "htmx_flask", "werkzeug", "waitress"}
FACES = {"portal", "agent_console", "api", "app", "cli"}


def imported_top_modules(path: Path) -> set[str]:
    """Top-level names of every module the file imports (absolute imports, anywhere in the file)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def python_files(folder: str) -> list[Path]:
    files = sorted((REPO / folder).rglob("*.py"))
    assert files, f"no Python files under {folder}/"
    return files


@pytest.mark.parametrize("path", python_files("core"), ids=lambda p: str(p.relative_to(REPO)))
def test_core_imports_no_web_framework_or_face(path: Path) -> None:
    forbidden = imported_top_modules(path) & (WEB_MODULES | FACES)
    assert not forbidden, f"{path.relative_to(REPO)} imports {sorted(forbidden)}"


@pytest.mark.parametrize(("face", "other"), [("portal", "agent_console"), ("agent_console", "portal")])
def test_faces_do_not_import_each_other(face: str, other: str) -> None:
    offenders = [str(p.relative_to(REPO)) for p in python_files(face) if other in imported_top_modules(p)]
    assert offenders == []


def test_architecture_check_detects_a_flask_import(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("def f():\n    from flask import request\n    return request\n")
    assert "flask" in imported_top_modules(bad)


# The fast lane: statements on the driver's cursor (core.sql) only where a benchmark shows they pay.
SQL_USERS = {"core/orders/statements.py", "core/inventory/statements.py"}


def imports_core_sql(source: str) -> bool:
    """Whether the module imports core.sql in any form (`from core import sql`, `import core.sql`, ...)."""
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module, *(f"{node.module}.{alias.name}" for alias in node.names)]
        else:
            continue
        if any(name == "core.sql" or name.startswith("core.sql.") for name in names):
            return True
    return False


def test_only_the_statements_modules_import_core_sql() -> None:
    users = {
        str(path.relative_to(REPO))
        for folder in ("core", "portal", "agent_console", "api", "cli", "benchmarks")
        for path in (REPO / folder).rglob("*.py")
        if imports_core_sql(path.read_text())
    }
    assert users == SQL_USERS


@pytest.mark.parametrize(
    ("source", "imports"),
    [
        ("from core import sql\n", True),
        ("import core.sql\n", True),
        ("from core.sql import batch\n", True),
        ("def f():\n    from core import sql\n", True),
        ("from core import db\n", False),
        ("from core.sqlish import x\n", False),
    ],
)
def test_the_sql_guard_sees_every_import_form(source: str, imports: bool) -> None:
    assert imports_core_sql(source) is imports


MAX_CORE_LINES = 700
# Long by nature, not by design: the schema's migrations and the demo's tables of reference data.
LONG_BY_NATURE = ("core/migrations/", "core/demo/data/")


def test_no_core_module_is_over_700_lines() -> None:
    long = {
        str(path.relative_to(REPO)): n
        for path in python_files("core")
        if not str(path.relative_to(REPO)).startswith(LONG_BY_NATURE)
        and (n := len(path.read_text().splitlines())) > MAX_CORE_LINES
    }
    assert long == {}


def test_faces_leave_the_audit_log_to_the_services() -> None:
    # A staff action is audited by the service that performs it, so the CLI and the worker audit it too.
    offenders = [
        str(path.relative_to(REPO))
        for folder in ("portal", "agent_console", "api", "cli")
        if (REPO / folder).is_dir()
        for path in (REPO / folder).rglob("*.py")
        if any(
            isinstance(node, ast.ImportFrom) and (node.module or "").startswith("core.audit.services")
            for node in ast.walk(ast.parse(path.read_text()))
        )
    ]
    assert offenders == []


# core/channels is a leaf: the adapters turn channel documents into canonical ones and back. What needs a
# session or another area (pushes, polling) is core/channel_sync; the channel model needs core.db's Base only.
CHANNEL_LEAF_SHARED: dict[str, set[str] | None] = {
    "core.errors": None,
    "core.money": None,
    "core.safe_json": None,
    "core.db": {"Base", "utcnow", "UTCDateTime"},
    # The column types that keep the channel's credentials and webhook secret encrypted at rest.
    "core.security.encryption": {"EncryptedJSON", "EncryptedText"},
}
SESSION_NAMES = {"Session", "sessionmaker", "scoped_session", "create_engine", "Engine", "Connection"}


def channel_leaf_violations(path: Path) -> list[str]:
    """What a file under core/channels imports that breaks the leaf rule: another core area, more of core.db
    than its model types, or what opens a session."""
    tree = ast.parse(path.read_text(), filename=str(path))
    found: list[str] = []
    for node in ast.walk(tree):
        imports: list[tuple[str, set[str] | None]]  # (module, names taken from it; None: the whole module)
        if isinstance(node, ast.Import):
            imports = [(alias.name, None) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module == "core":
            imports = [(f"core.{alias.name}", None) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            imports = [(node.module, {alias.name for alias in node.names})]
        else:
            continue
        for module, names in imports:
            if module.startswith("sqlalchemy") and names and names & SESSION_NAMES:
                found.append(f"{module}: {sorted(names & SESSION_NAMES)}")
            if not module.startswith("core.") or module.split(".")[1] == "channels":
                continue
            if module not in CHANNEL_LEAF_SHARED:
                found.append(module)
                continue
            allowed = CHANNEL_LEAF_SHARED[module]
            if allowed is not None and (names is None or not names <= allowed):
                found.append(f"{module}: {sorted(names - allowed) if names else 'the whole module'}")
    return found


def test_channel_adapters_are_a_leaf_that_opens_no_session(tmp_path: Path) -> None:
    offenders = {
        str(path.relative_to(REPO)): found
        for path in python_files("core/channels")
        if (found := channel_leaf_violations(path))
    }
    assert offenders == {}
    bad = tmp_path / "bad.py"
    bad.write_text(
        "from sqlalchemy.orm import Session\nfrom core.db import Base, begin_write\n"
        "from core import sql\nimport core.orders.intake\nfrom core.channels.base import clean\n"
    )
    assert channel_leaf_violations(bad) == [
        "sqlalchemy.orm: ['Session']",
        "core.db: ['begin_write']",
        "core.sql",
        "core.orders.intake",
    ]
