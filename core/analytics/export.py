"""A dashboard table as CSV: one header row, values as numbers or plain text, money as decimal strings, and
every text cell made safe to open in a spreadsheet (core.csv_cells)."""

from __future__ import annotations

import io
from typing import Any

from core import csv_cells
from core.analytics.tables import Column, Table
from core.money import to_decimal_string


def csv_value(value: Any, column: Column) -> Any:
    """One cell's value for the CSV."""
    if value is None:
        return ""
    if column.kind == "money":
        amount, currency = value
        return f"{to_decimal_string(amount, currency)} {currency}"
    return value  # the writer neutralises text cells


def table_csv(table: Table) -> str:
    """The whole table as CSV text."""
    out = io.StringIO()
    writer = csv_cells.writer(out, lineterminator="\r\n")
    writer.writerow([c.label for c in table.columns])
    for row in table.rows:
        writer.writerow([csv_value(v, c) for v, c in zip(row, table.columns, strict=True)])
    return out.getvalue()
