"""A merchant's own labelled examples (and optional fixed answers per intent), kept in one CSV file in the
instance folder (CROSSDOCK_INTENTS_FILE overrides it): `text,intent,answer`. The chat's classifier learns the
shipped examples plus these; an intent of theirs without an answer is handed to a person."""

from __future__ import annotations

import csv
import os
from collections.abc import Iterable
from pathlib import Path

from core import csv_cells
from core.db import INSTANCE_DIR
from core.support.assistant.intents import IntentClassifier, default_classifier, train

FIELDS = ("text", "intent", "answer")
MAX_TEXT = 500
_cache: dict[Path, tuple[float, IntentClassifier]] = {}


def examples_path() -> Path:
    return Path(os.environ.get("CROSSDOCK_INTENTS_FILE", INSTANCE_DIR / "intents.csv"))


def read_rows(path: Path | None = None) -> list[dict[str, str]]:
    """The stored rows (text, intent, answer), oldest first; none when the file does not exist."""
    path = path or examples_path()
    if not path.exists():
        return []
    with open(path, encoding="utf-8", newline="") as handle:
        return [
            {f: csv_cells.restore((row.get(f) or "").strip()) for f in FIELDS}
            for row in csv.DictReader(handle)
        ]


def parse_import(path: Path) -> list[dict[str, str]]:
    """The rows of a CSV to import (`text,intent`, optional `answer`); ValueError for a bad file or row."""
    try:
        return _import_rows(path)
    except csv.Error as exc:  # a NUL byte, a field over the csv module's limit, a broken quote
        raise ValueError(f"{path.name}: not a readable CSV file ({exc})") from exc


def _import_rows(path: Path) -> list[dict[str, str]]:
    with open(path, encoding="utf-8-sig", newline="") as handle:
        reader = csv.DictReader(handle)
        columns = set(reader.fieldnames or ())
        if not {"text", "intent"} <= columns:
            raise ValueError(f"{path.name}: needs text and intent columns")
        rows = []
        for number, row in enumerate(reader, start=2):
            text, intent = (row.get("text") or "").strip(), (row.get("intent") or "").strip()
            if not text or not intent:
                raise ValueError(f"{path.name} line {number}: text and intent are both needed")
            if len(text) > MAX_TEXT or len(intent) > 64 or not intent.replace("_", "").isalnum():
                raise ValueError(f"{path.name} line {number}: text too long or intent not a plain name")
            rows.append({"text": text, "intent": intent, "answer": (row.get("answer") or "").strip()})
    if not rows:
        raise ValueError(f"{path.name}: no rows")
    return rows


def import_rows(rows: Iterable[dict[str, str]], path: Path | None = None) -> tuple[int, int]:
    """Append the rows not stored yet (same text and intent); returns (added, already there)."""
    path = path or examples_path()
    rows = list(rows)
    stored = read_rows(path)
    seen = {(r["text"].lower(), r["intent"]) for r in stored}
    new = []
    for row in rows:
        key = (row["text"].lower(), row["intent"])
        if key not in seen:
            seen.add(key)
            new.append(row)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp")
    with open(temporary, "w", encoding="utf-8", newline="") as handle:
        writer = csv_cells.dict_writer(handle, fieldnames=FIELDS)
        writer.writeheader()
        writer.writerows([*stored, *new])
    temporary.replace(path)  # whole file or nothing
    return len(new), len(rows) - len(new)


def answers(path: Path | None = None) -> dict[str, str]:
    """A merchant's fixed answer per intent (the first row of the intent that has one)."""
    found: dict[str, str] = {}
    for row in read_rows(path):
        if row["answer"] and row["intent"] not in found:
            found[row["intent"]] = row["answer"]
    return found


def classifier(path: Path | None = None) -> IntentClassifier:
    """The shipped examples plus the merchant's, retrained when their file changes."""
    path = path or examples_path()
    if not path.exists():
        return default_classifier()
    stamp = path.stat().st_mtime
    cached = _cache.get(path)
    if cached is None or cached[0] != stamp:
        cached = (stamp, train((r["text"], r["intent"]) for r in read_rows(path)))
        _cache.clear()
        _cache[path] = cached
    return cached[1]
