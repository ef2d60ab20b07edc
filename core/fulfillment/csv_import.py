"""Reading an uploaded CSV file whole or not at all: rows by line number, and every bad row reported at
once (the 3PL confirmation import and the tracking CSV)."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass

from core.errors import DomainError


@dataclass(frozen=True)
class RowError:
    line: int  # 1 is the header
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}"


class InvalidImport(DomainError):
    """A file with malformed rows; `errors` lists each with its line number. Nothing was applied."""

    def __init__(self, errors: Sequence[RowError]) -> None:
        shown = "; ".join(str(error) for error in errors[:5])
        more = f" (and {len(errors) - 5} more)" if len(errors) > 5 else ""
        super().__init__(f"{len(errors)} problem(s), nothing applied: {shown}{more}")
        self.errors = list(errors)


def csv_rows(text: str, columns: Sequence[str], required: Sequence[str]) -> list[tuple[int, dict[str, str]]]:
    """(line number, row) for each non-blank row of a CSV with a header; InvalidImport on a bad header.

    Headers compare case-insensitively; unknown columns are ignored.
    """
    reader = csv.reader(io.StringIO(text.lstrip("\ufeff")))
    header = next(reader, None)
    if not header or not any(cell.strip() for cell in header):
        raise InvalidImport([RowError(1, f"the file is empty: expected a header {', '.join(columns)}")])
    names = [cell.strip().casefold() for cell in header]
    missing = [name for name in required if name not in names]
    if missing:
        raise InvalidImport([RowError(1, f"missing column(s): {', '.join(missing)}")])
    rows = []
    for cells in reader:
        if not any(cell.strip() for cell in cells):
            continue
        row = {name: "" for name in columns}
        for name, cell in zip(names, cells, strict=False):
            if name in row:
                row[name] = cell.strip()
        rows.append((reader.line_num, row))
    return rows
