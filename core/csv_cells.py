"""Every CSV the product writes goes through here: a text cell that a spreadsheet would read as a formula
(it starts with = + - @, a tab or a carriage return) gets a leading apostrophe, so a customer's name such as
`=HYPERLINK(...)` is shown as text, never run. Files the product reads back (`restore`) get the text exact.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Mapping, Sequence
from typing import IO, Any

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value: Any) -> Any:
    """A text cell made safe to open in a spreadsheet; numbers and other values unchanged.

    Text that already starts with apostrophes before a formula character gets one more, so `restore` gives
    back exactly what was written."""
    if isinstance(value, str) and value.lstrip("'").startswith(FORMULA_STARTS):
        return "'" + value
    return value


def restore(value: str) -> str:
    """The text `neutralise` was given, from the cell it wrote."""
    if value.startswith("'") and value.lstrip("'").startswith(FORMULA_STARTS):
        return value[1:]
    return value


class SafeWriter:
    """csv.writer whose rows are neutralised cell by cell."""

    def __init__(self, handle: IO[str], **options: Any) -> None:
        self._writer = csv.writer(handle, **options)

    def writerow(self, row: Iterable[Any]) -> Any:
        return self._writer.writerow([neutralise(cell) for cell in row])

    def writerows(self, rows: Iterable[Iterable[Any]]) -> None:
        for row in rows:
            self.writerow(row)


class SafeDictWriter:
    """csv.DictWriter whose values are neutralised (the header is ours and written as it is)."""

    def __init__(self, handle: IO[str], fieldnames: Sequence[str], **options: Any) -> None:
        self._writer = csv.DictWriter(handle, fieldnames=fieldnames, **options)

    def writeheader(self) -> Any:
        return self._writer.writeheader()

    def writerow(self, row: Mapping[str, Any]) -> Any:
        return self._writer.writerow({key: neutralise(value) for key, value in row.items()})

    def writerows(self, rows: Iterable[Mapping[str, Any]]) -> None:
        for row in rows:
            self.writerow(row)


def writer(handle: IO[str], **options: Any) -> SafeWriter:
    """A CSV writer for any file the product writes (options as csv.writer's)."""
    return SafeWriter(handle, **options)


def dict_writer(handle: IO[str], fieldnames: Sequence[str], **options: Any) -> SafeDictWriter:
    """A CSV dict writer for any file the product writes (options as csv.DictWriter's)."""
    return SafeDictWriter(handle, fieldnames, **options)
