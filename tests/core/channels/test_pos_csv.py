"""The till CSV export -> canonical orders: grouping rows into receipts, and errors naming line and column."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from core.channels import pos_csv
from core.channels.canonical import ChannelStatus
from core.errors import PayloadError

HEADER = ",".join(pos_csv.COLUMNS)
BERLIN = timezone(timedelta(hours=2))


def _csv(*rows: str) -> str:
    return "\n".join((HEADER, *rows)) + "\n"


SALE = _csv(
    "R-1001,2024-05-01T14:03:00+02:00,BER1,MUG-RED,Red mug,2,12.50,1.00,4.56,EUR,"
    "Ann.Lee@Example.com,Ann Lee,+4930",
    "R-1002,2024-05-01T14:10:00+02:00,BER1,TEE-M,T-shirt M,1,19.99,,3.80,EUR,,,",
    "R-1001,,,,Gift wrap,1,2.00,0,0.38,EUR,,,",
)


def test_pos_csv_groups_rows_into_receipts_in_order():
    results = pos_csv.extract([SALE])
    assert [r.error for r in results] == [None, None]
    assert [r.order.external_id for r in results] == ["R-1001", "R-1002"]
    assert [len(r.order.lines) for r in results] == [2, 1]
    assert [row["line"] for row in results[0].native["rows"]] == [2, 4]


def test_pos_csv_receipt_field_by_field():
    order = pos_csv.extract([SALE])[0].order
    assert order.channel_kind == "pos_csv"
    assert (order.external_id, order.number) == ("R-1001", "R-1001")
    assert order.placed_at == datetime(2024, 5, 1, 14, 3, tzinfo=BERLIN)
    assert order.placed_at == datetime(2024, 5, 1, 12, 3, tzinfo=UTC)
    assert order.currency == "EUR"
    assert order.status is ChannelStatus.SHIPPED
    assert order.raw_status == "sale"
    assert order.source == "BER1"
    assert order.buyer.email == "ann.lee@example.com"
    assert (order.buyer.name, order.buyer.phone) == ("Ann Lee", "+4930")
    assert order.shipping_address is None
    mug, wrap = order.lines
    assert (mug.external_id, mug.channel_sku, mug.title, mug.quantity) == ("1", "MUG-RED", "Red mug", 2)
    assert (mug.unit_price, mug.discount, mug.tax, mug.total) == (1250, 100, 456, 2400)
    assert (wrap.external_id, wrap.channel_sku, wrap.title, wrap.total) == ("2", None, "Gift wrap", 200)
    assert (order.subtotal, order.discount_total, order.shipping_total, order.tax_total) == (
        2700,
        100,
        0,
        494,
    )
    assert order.total == 2700 - 100 + 494
    # A point-of-sale receipt needs no address; the gift wrap row has no SKU.
    assert order.warnings == ("line 2 has no SKU",)


def test_pos_csv_native_adapts_to_the_same_order():
    result = pos_csv.extract([SALE])[1]
    assert pos_csv.adapt(result.native) == result.order


def test_pos_csv_return_rows_become_returns():
    text = _csv(
        "R-2001,2024-05-02T09:00:00+02:00,BER1,MUG-RED,Red mug,-1,12.50,0,2.38,EUR,,,",
        "R-2002,2024-05-02T09:05:00+02:00,BER1,TEE-M,T-shirt M,1,19.99,0,3.80,EUR,,,",
        "R-2002,2024-05-02T09:05:00+02:00,BER1,MUG-RED,Red mug,-1,12.50,0,2.38,EUR,,,",
    )
    refund, exchange = (r.order for r in pos_csv.extract([text]))
    assert refund.status is ChannelStatus.REFUNDED
    assert refund.raw_status == "return"
    assert refund.lines == ()
    [returned] = refund.returns
    assert (returned.channel_sku, returned.quantity, returned.amount) == ("MUG-RED", 1, 1488)
    assert refund.refunded_total == 1488
    assert exchange.status is ChannelStatus.SHIPPED
    assert exchange.raw_status == "sale+return"
    assert (len(exchange.lines), len(exchange.returns), exchange.refunded_total) == (1, 1, 1488)


def test_pos_csv_malformed_quantity_names_line_and_column():
    text = _csv(
        "R-1,2024-05-01T14:03:00+02:00,BER1,MUG-RED,Red mug,1,12.50,0,0,EUR,,,",
        "R-2,2024-05-01T14:03:00+02:00,BER1,MUG-RED,Red mug,two,12.50,0,0,EUR,,,",
    )
    good, bad = pos_csv.extract([text])
    assert good.order.external_id == "R-1"
    assert bad.order is None
    assert bad.error == "line 3, column quantity: must be a whole number other than 0, got 'two'"
    assert bad.native["receipt_id"] == "R-2"


@pytest.mark.parametrize(
    ("row", "error"),
    [
        (
            "R-1,2024-05-01T14:03:00+02:00,BER1,MUG,Mug,1,12.5x,0,0,EUR,,,",
            "line 2, column unit_price: must be a decimal like 12.50, got '12.5x'",
        ),
        ("R-1,2024-05-01T14:03:00+02:00,BER1,MUG,Mug,1,,0,0,EUR,,,", "line 2, column unit_price: missing"),
        (
            "R-1,2024-05-01T14:03:00+02:00,BER1,MUG,Mug,1,12.505,0,0,EUR,,,",
            "line 2, column unit_price: more decimal places than EUR has, got '12.505'",
        ),
        (
            "R-1,2024-05-01T14:03:00+02:00,BER1,MUG,Mug,1,12.50,-1,0,EUR,,,",
            "line 2, column discount: must be a decimal like 12.50, got '-1'",
        ),
        (
            "R-1,2024-05-01T14:03:00+02:00,BER1,MUG,Mug,0,12.50,0,0,EUR,,,",
            "line 2, column quantity: must be a whole number other than 0, got '0'",
        ),
        (
            "R-1,2024-05-01T14:03:00,BER1,MUG,Mug,1,12.50,0,0,EUR,,,",
            "line 2, column sold_at: time without a UTC offset: '2024-05-01T14:03:00'",
        ),
        ("R-1,,BER1,MUG,Mug,1,12.50,0,0,EUR,,,", "line 2, column sold_at: missing"),
        (
            "R-1,2024-05-01T14:03:00+02:00,BER1,MUG,Mug,1,12.50,0,0,XX,,,",
            "line 2, column currency: unknown currency 'XX'",
        ),
        (
            "R-1,2024-05-01T14:03:00+02:00,BER1,,,1,12.50,0,0,EUR,,,",
            "line 2, column line_sku: a row needs line_sku or line_title",
        ),
        (",2024-05-01T14:03:00+02:00,BER1,MUG,Mug,1,12.50,0,0,EUR,,,", "line 2, column receipt_id: missing"),
        (
            "R-1,2024-05-01T14:03:00+02:00,BER1,MUG,Mug,1,12.50,0,0,EUR,,,,extra",
            "line 2: more fields than the header has",
        ),
    ],
)
def test_pos_csv_malformed_rows_name_line_and_column(row, error):
    [result] = pos_csv.extract([_csv(row)])
    assert result.order is None
    assert result.error == error


def test_pos_csv_contradicting_receipt_rows_are_an_error():
    text = _csv(
        "R-1,2024-05-01T14:03:00+02:00,BER1,MUG,Mug,1,12.50,0,0,EUR,,,",
        "R-1,2024-05-01T14:03:00+02:00,BER1,TEE,Tee,1,12.50,0,0,USD,,,",
    )
    [result] = pos_csv.extract([text])
    assert result.error == "line 3, column currency: 'USD' differs from 'EUR' on line 2 of the same receipt"


def test_pos_csv_header_without_required_columns_holds_no_order():
    [result] = pos_csv.extract(["receipt_id,sold_at,line_sku\nR-1,2024-05-01T14:03:00+02:00,MUG\n"])
    assert result.order is None
    assert result.native == {}
    assert result.error.startswith(
        "no order found in document: CSV header lacks column(s) quantity, unit_price"
    )


def test_pos_csv_empty_documents_hold_no_order():
    assert pos_csv.extract([""])[0].error.startswith("no order found in document: expected CSV text")
    assert (
        pos_csv.extract([HEADER + "\n"])[0].error
        == "no order found in document: CSV has a header but no rows"
    )
    assert pos_csv.extract([{"not": "csv"}])[0].error.startswith("no order found in document")


def test_pos_csv_reads_bytes_with_bom_and_any_column_order():
    columns = list(reversed(pos_csv.COLUMNS))
    values = dict(
        zip(pos_csv.COLUMNS, "R-9,2024-05-01T14:03:00Z,,MUG,Mug,3,1.10,,,USD,,,".split(","), strict=True)
    )
    text = ",".join(columns) + "\r\n" + ",".join(values[c] for c in columns) + "\r\n"
    [result] = pos_csv.extract([b"\xef\xbb\xbf" + text.encode()])
    assert result.order.external_id == "R-9"
    assert (result.order.total, result.order.currency) == (330, "USD")
    assert result.order.source is None


def test_pos_csv_adapt_rejects_a_receipt_without_rows():
    with pytest.raises(PayloadError, match="at least one row"):
        pos_csv.adapt({"receipt_id": "R-1", "rows": []})


def test_pos_csv_reads_cr_line_ends_quoted_commas_and_skips_blank_rows():
    text = (
        HEADER
        + "\r"
        + 'R-1,2024-05-01T14:03:00+02:00,BER1,MUG,"Mug, red ""XL""",2,12.50,,,EUR,,"Lee, Ann",\r'
        + ",,,,,,,,,,,,\r"
        + "R-2,2024-05-01T14:05:00+02:00,BER1,TEE,Tee,1,9.90,,,EUR,,,\r"
        + ",,,,,,,,,,,,\r\r"
    )
    first, second = pos_csv.extract([text])
    assert (first.error, second.error) == (None, None)
    [mug] = first.order.lines
    assert (mug.title, mug.quantity, mug.unit_price) == ('Mug, red "XL"', 2, 1250)
    assert first.order.buyer.name == "Lee, Ann"
    assert (second.order.external_id, second.native["rows"][0]["line"]) == ("R-2", 4)


def test_pos_csv_decimals_without_leading_zero_or_with_trailing_zeros():
    text = _csv(
        "R-1,2024-05-01T14:03:00+09:00,TKY,MUG,Mug,1,1200.00,,100.0,JPY,,,",
        "R-2,2024-05-01T14:03:00+02:00,BER1,BAG,Bag,3,.50,0.10,,EUR,,,",
    )
    yen, euro = (r.order for r in pos_csv.extract([text]))
    assert (yen.lines[0].unit_price, yen.tax_total, yen.total) == (1200, 100, 1300)
    assert (euro.lines[0].unit_price, euro.discount_total, euro.total) == (50, 10, 140)


def test_pos_csv_optional_columns_may_be_left_out():
    text = (
        "receipt_id,sold_at,line_title,quantity,unit_price,currency\nR-1,2024-05-01T14:03:00Z,Mug,2,3.5,USD\n"
    )
    [result] = pos_csv.extract([text])
    order = result.order
    assert (order.total, order.source, order.buyer.email) == (700, None, None)
    assert order.warnings == ("line 1 has no SKU",)


def test_pos_csv_text_the_csv_module_cannot_read_holds_no_order():
    [result] = pos_csv.extract([_csv("R-1,2024-05-01T14:03:00Z,,MUG," + "x" * 200_000 + ",1,1.50,,,EUR,,,")])
    assert result.order is None
    assert result.error.startswith(
        "no order found in document: not readable as CSV after line 1: field larger"
    )
