"""Other shop tills: a documented CSV export of receipts, one row per receipt line.

Format: UTF-8 text (a byte-order mark is allowed), comma-separated, RFC 4180 quoting, first row a header
naming the columns. Columns may come in any order; unknown columns are ignored.

| column         | required | content                                                                 |
| -------------- | -------- | ----------------------------------------------------------------------- |
| receipt_id     | yes      | the till's receipt number: rows with the same receipt_id make one order |
| sold_at        | yes      | ISO 8601 time with UTC offset, e.g. `2024-05-01T14:03:00+02:00`         |
| store          | no       | store or till code (becomes the order's source)                         |
| line_sku       | no (1)   | the SKU sold; a line without one is kept, with a warning                |
| line_title     | no (1)   | the product name as printed on the receipt                              |
| quantity       | yes      | whole number; negative for an item handed back (a return)               |
| unit_price     | yes      | decimal with a dot (`12.50`), per unit, before discount, tax excluded   |
| discount       | no       | decimal, for the whole row (empty = 0)                                  |
| tax            | no       | decimal, for the whole row (empty = 0)                                  |
| currency       | yes      | ISO 4217 code                                                           |
| customer_email | no       | the customer's email, if the till took it                               |
| customer_name  | no       |                                                                         |
| customer_phone | no       |                                                                         |

(1) at least one of line_sku and line_title. Receipt-level columns (sold_at, store, currency, customer_*) must
not contradict each other between the rows of one receipt; a blank repeats the receipt's value.

A receipt is handed over at the till: it becomes a SHIPPED order with no address. Its totals are computed
from the rows (the export has no totals): subtotal = sum of quantity * unit_price, total = subtotal - discount
+ tax. Return rows (negative quantity) become `returns`, each refunding |quantity| * unit_price - discount +
tax; a receipt made only of returns is REFUNDED. Line numbers in errors count the header as line 1.

Lines may end with LF, CRLF or CR; a row whose fields are all empty (a spreadsheet's blank line) is skipped.
Decimals may omit the leading zero (`.50`) and carry zeros past the currency's places (`1200.00` JPY).

A receipt line's external id is its position on the receipt (1, 2, ...). `extract` takes the CSV text; the
native of each order is `{"receipt_id": ..., "rows": [{"line": n, column: value, ...}]}`, which `adapt` reads.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Sequence
from typing import Any

from core.channels.base import (
    Extracted,
    adapt_all,
    clean,
    currency_code,
    decimal_places_ok,
    make_buyer,
    make_line,
    no_order,
    parse_time,
    reads_payload,
)
from core.channels.canonical import CanonicalLine, CanonicalOrder, CanonicalReturnLine, ChannelStatus
from core.errors import PayloadError
from core.money import to_minor

KIND = "pos_csv"

COLUMNS = (
    "receipt_id",
    "sold_at",
    "store",
    "line_sku",
    "line_title",
    "quantity",
    "unit_price",
    "discount",
    "tax",
    "currency",
    "customer_email",
    "customer_name",
    "customer_phone",
)
REQUIRED_COLUMNS = ("receipt_id", "sold_at", "quantity", "unit_price", "currency")
_RECEIPT_COLUMNS = ("sold_at", "store", "currency", "customer_email", "customer_name", "customer_phone")
_DECIMAL = re.compile(r"^(\d+(\.\d*)?|\.\d+)$")
_INTEGER = re.compile(r"^[+-]?\d+$")
_EXPECTED = f"expected CSV text with the header row {','.join(COLUMNS)}"


def extract(documents: Sequence[Any]) -> list[Extracted]:
    """All receipts found in these CSV texts, in order of their first row; a bad receipt gives an error."""
    results: list[Extracted] = []
    for document in documents:
        if isinstance(document, dict) and isinstance(document.get("rows"), list):
            results.extend(adapt_all([document], adapt))
            continue
        text = document.decode("utf-8-sig", errors="replace") if isinstance(document, bytes) else document
        if not isinstance(text, str):
            results.append(no_order(document, _EXPECTED))
            continue
        results.extend(_extract_text(text.lstrip("\ufeff")))
    return results


def _extract_text(text: str) -> list[Extracted]:
    """Group the rows of one CSV text into receipts and adapt each; text the csv module cannot read (e.g. a
    field past its size limit) holds no order, naming the last line read."""
    # Universal newlines: a till may end lines with CR alone, which the csv module refuses.
    reader = csv.DictReader(io.StringIO(text, newline=None))
    try:
        return _read_receipts(reader)
    except csv.Error as exc:
        return [no_order(None, f"not readable as CSV after line {reader.line_num}: {exc}")]


def _read_receipts(reader: csv.DictReader) -> list[Extracted]:
    """The receipts of a CSV reader's rows, in order of their first row; bad rows where they stand."""
    header = [clean(name) or "" for name in (reader.fieldnames or [])]
    missing = [column for column in REQUIRED_COLUMNS if column not in header]
    if not header or missing:
        reason = f"CSV header lacks column(s) {', '.join(missing)}; {_EXPECTED}" if header else _EXPECTED
        return [no_order(None, reason)]
    reader.fieldnames = header
    receipts: dict[str, list[dict]] = {}
    sequence: list[str | Extracted] = []  # receipts by first appearance, bad rows where they stand
    for row in reader:
        line = reader.line_num
        record = {"line": line, **{key: value for key, value in row.items() if key}}
        extra = row.get(None)  # type: ignore[call-overload]
        if not extra and not any(clean(value) for key, value in row.items() if key is not None):
            continue  # a row of empty fields (a spreadsheet's blank line)
        if extra:
            sequence.append(Extracted(record, None, f"line {line}: more fields than the header has"))
            continue
        receipt_id = clean(row.get("receipt_id"))
        if receipt_id is None:
            sequence.append(Extracted(record, None, f"line {line}, column receipt_id: missing"))
            continue
        if receipt_id not in receipts:
            sequence.append(receipt_id)
        receipts.setdefault(receipt_id, []).append(record)
    if not sequence:
        return [no_order(None, "CSV has a header but no rows")]
    results: list[Extracted] = []
    for item in sequence:
        if isinstance(item, Extracted):
            results.append(item)
        else:
            results.extend(adapt_all([{"receipt_id": item, "rows": receipts[item]}], adapt))
    return results


@reads_payload
def adapt(native: dict) -> CanonicalOrder:
    """One receipt (its rows) -> canonical; raises PayloadError naming the line and column at fault."""
    if not isinstance(native.get("rows"), list) or not native["rows"]:
        raise PayloadError('a receipt must be {"receipt_id": ..., "rows": [...]} with at least one row')
    rows = native["rows"]
    receipt_id = clean(native.get("receipt_id")) or clean(rows[0].get("receipt_id"))
    if receipt_id is None:
        raise PayloadError(f"line {_line_no(rows[0], 0)}, column receipt_id: missing")
    receipt = _receipt_values(rows)
    currency = _checked(rows[0], 0, "currency", lambda: currency_code(receipt["currency"]))
    placed_at = _checked(rows[0], 0, "sold_at", lambda: parse_time(receipt["sold_at"], "sold_at"))

    warnings: list[str] = []
    lines: list[CanonicalLine] = []
    returns: list[CanonicalReturnLine] = []
    for index, row in enumerate(rows):
        count, unit_price, discount, tax = _row_amounts(row, index, currency)
        sku, title = clean(row.get("line_sku")), clean(row.get("line_title"))
        if sku is None and title is None:
            raise PayloadError(
                f"line {_line_no(row, index)}, column line_sku: a row needs line_sku or line_title"
            )
        if count > 0:
            lines.append(
                make_line(
                    warnings,
                    len(lines) + 1,
                    external_id=str(index + 1),
                    sku=sku,
                    title=title,
                    quantity=count,
                    unit_price=unit_price,
                    discount=discount,
                    tax=tax,
                )
            )
        else:
            returns.append(
                CanonicalReturnLine(
                    external_id=str(index + 1),
                    channel_sku=sku,
                    title=title or sku or "",
                    quantity=-count,
                    amount=-count * unit_price - discount + tax,
                )
            )

    subtotal = sum(line.unit_price * line.quantity for line in lines)
    discount_total = sum(line.discount for line in lines)
    tax_total = sum(line.tax for line in lines)
    status = ChannelStatus.SHIPPED if lines else ChannelStatus.REFUNDED
    return CanonicalOrder(
        channel_kind=KIND,
        external_id=receipt_id,
        number=receipt_id,
        placed_at=placed_at,
        updated_at=None,
        currency=currency,
        status=status,
        raw_status="+".join(word for word, present in (("sale", lines), ("return", returns)) if present),
        buyer=make_buyer(
            name=receipt["customer_name"], email=receipt["customer_email"], phone=receipt["customer_phone"]
        ),
        billing_address=None,
        shipping_address=None,
        lines=tuple(lines),
        shipping_method=None,
        subtotal=subtotal,
        discount_total=discount_total,
        shipping_total=0,
        tax_total=tax_total,
        total=subtotal - discount_total + tax_total,
        refunded_total=sum(item.amount for item in returns),
        returns=tuple(returns),
        source=receipt["store"],
        warnings=tuple(warnings),
    )


def _line_no(row: dict, index: int) -> int:
    """The CSV line of a row (header = line 1); rows built by hand count from line 2."""
    line = row.get("line")
    return line if isinstance(line, int) else index + 2


def _checked(row: dict, index: int, column: str, read: Any) -> Any:
    """Run a reader, naming the line and column in its error."""
    try:
        return read()
    except PayloadError as exc:
        reason = str(exc).removeprefix(f"{column}: ")
        raise PayloadError(f"line {_line_no(row, index)}, column {column}: {reason}") from None


def _receipt_values(rows: list[dict]) -> dict[str, str | None]:
    """The receipt-level columns, checked to agree between rows."""
    values: dict[str, str | None] = {}
    seen_on: dict[str, int] = {}
    for index, row in enumerate(rows):
        for column in _RECEIPT_COLUMNS:
            value = clean(row.get(column))
            if value is None:
                continue
            if values.get(column) is None:
                values[column], seen_on[column] = value, _line_no(row, index)
            elif values[column] != value:
                raise PayloadError(
                    f"line {_line_no(row, index)}, column {column}: {value!r} differs from "
                    f"{values[column]!r} on line {seen_on[column]} of the same receipt"
                )
    for column in ("sold_at", "currency"):
        if values.get(column) is None:
            raise PayloadError(f"line {_line_no(rows[0], 0)}, column {column}: missing")
    return {column: values.get(column) for column in _RECEIPT_COLUMNS}


def _row_amounts(row: dict, index: int, currency: str) -> tuple[int, int, int, int]:
    """Quantity, unit price, discount and tax of one row, in minor units."""
    where = f"line {_line_no(row, index)}, column"
    raw_quantity = clean(row.get("quantity"))
    if raw_quantity is None or not _INTEGER.match(raw_quantity) or int(raw_quantity) == 0:
        raise PayloadError(
            f"{where} quantity: must be a whole number other than 0, got {raw_quantity or ''!r}"
        )
    amounts = []
    for column in ("unit_price", "discount", "tax"):
        raw = clean(row.get(column))
        if raw is None and column == "unit_price":
            raise PayloadError(f"{where} unit_price: missing")
        raw = raw or "0"
        if not _DECIMAL.match(raw):
            raise PayloadError(f"{where} {column}: must be a decimal like 12.50, got {raw!r}")
        # Zeros past the currency's places change nothing ("1200.00" yen).
        if not decimal_places_ok(raw.rstrip("0") if "." in raw else raw, currency):
            raise PayloadError(f"{where} {column}: more decimal places than {currency} has, got {raw!r}")
        amounts.append(to_minor(raw, currency))
    return int(raw_quantity), amounts[0], amounts[1], amounts[2]
