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
