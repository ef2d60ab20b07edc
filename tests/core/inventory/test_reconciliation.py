"""Reconciliation: parsing stock counts and channel stock reports, the discrepancy report, and applying an
approved count to the ledger, audited, all or nothing."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from core.audit.models import AuditEntry
from core.catalog.models import Listing
from core.errors import DomainError
from core.inventory.allocations import allocate_order
from core.inventory.ledger import adjust_stock
from core.inventory.models import StockMovement
from core.inventory.queries import available_to_sell, verify_ledger
from core.inventory.reconciliation import (
    CHANNEL_REPORT,
    STOCK_COUNT,
    ChannelStockLine,
    CountLine,
    LineError,
    approve_count,
    discrepancy_report,
    parse_stock_count,
)
from core.security.roles import Actor
from tests.factories import NOW, make_channel, make_sku
from tests.inventory_factories import level, link, make_location, make_order_for, make_stock

OPS = Actor(label="ops@example.org", user_id=None, role="admin")

# --- parsing (no database) ----------------------------------------------------------------------------------


def test_parse_stock_count_reads_rows_in_any_column_order_with_notes():
    parsed = parse_stock_count(
        "\ufeffSKU, Location ,Counted,Note\nMUG-1,wh-east,12,shelf B3\n\nTEE-M,WH-EAST,0,\n"
    )

    assert parsed.ok and parsed.kind == STOCK_COUNT
    assert parsed.rows == (
        CountLine(2, "WH-EAST", "MUG-1", 12, "shelf B3"),
        CountLine(4, "WH-EAST", "TEE-M", 0, ""),
    )


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ("WH-EAST,MUG-1", "expected 3 fields, found 2"),
        ("WH-EAST,MUG-1,12,extra", "expected 3 fields, found 4"),
        (",MUG-1,3", "location is empty"),
        ("WH-EAST,,3", "sku is empty"),
        ("WH-EAST,MUG-1,-2", "counted must be a whole number of units, 0 or more (got '-2')"),
        ("WH-EAST,MUG-1,2.5", "counted must be a whole number of units, 0 or more (got '2.5')"),
        ("WH-EAST,MUG-1,", "counted must be a whole number of units, 0 or more (got '')"),
        ("WH-EAST,MUG-1,lots", "counted must be a whole number of units, 0 or more (got 'lots')"),
    ],
)
def test_parse_stock_count_reports_a_malformed_row_with_its_line_number(row, message):
    parsed = parse_stock_count(f"location,sku,counted\nWH-EAST,TEE-M,4\n{row}\nWH-WEST,TEE-M,1\n")

    assert not parsed.ok
    assert parsed.errors == (LineError(3, message),)
    assert str(parsed.errors[0]) == f"line 3: {message}"
    assert [r.line for r in parsed.rows] == [2, 4]


def test_parse_stock_count_reports_every_bad_row_and_duplicates():
    parsed = parse_stock_count("location,sku,counted\nA,X,1\nA,Y,zero\nA,x,2\nA,X,3\nB,X\n")

    assert [(e.line, e.message) for e in parsed.errors] == [
        (3, "counted must be a whole number of units, 0 or more (got 'zero')"),
        (5, "the same location and SKU as line 2"),
        (6, "expected 3 fields, found 2"),
    ]


def test_parse_stock_count_counts_lines_of_quoted_multiline_fields():
    parsed = parse_stock_count('location,sku,counted,note\nA,X,1,"two\nlines"\nA,Y,bad,\n')
    assert parsed.errors == (LineError(4, "counted must be a whole number of units, 0 or more (got 'bad')"),)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "the file is empty: a header row is required"),
        ("\n\n", "the file is empty: a header row is required"),
        ("WH-EAST,MUG-1,12\n", "the first row must name the columns location, sku, counted"),
        ("location,sku,counted\n", "the file has a header but no rows"),
        ("location,sku,counted,sku\nA,B,1,C\n", "column named twice: sku"),
    ],
)
def test_parse_stock_count_requires_a_header_and_rows(text, message):
    parsed = parse_stock_count(text)
    assert not parsed.ok
    assert parsed.errors[0].message.startswith(message)
    assert parsed.rows == ()


def test_parse_stock_count_reads_a_channel_stock_report():
    parsed = parse_stock_count("channel,channel_sku,quantity\nshopify,SH-1,5\nshopify,SH-1,6\n")

    assert parsed.kind == CHANNEL_REPORT
    assert parsed.rows == (ChannelStockLine(2, "shopify", "SH-1", 5),)
    assert parsed.errors == (LineError(3, "the same channel and channel SKU as line 2"),)


# --- against the database -----------------------------------------------------------------------------------


@pytest.fixture
def warehouse(db):
    """WH-EAST with 10 mugs (cost 4.00) and 5 tees (cost 7.50)."""
    location = make_location(db, code="WH-EAST")
    mug = make_sku(db, code="MUG-1", cost=400)
    tee = make_sku(db, code="TEE-M", cost=750)
    make_stock(db, location, mug.id, 10)
    make_stock(db, location, tee.id, 5)
    return location, mug, tee


def test_discrepancy_report_values_each_difference_at_cost(db, warehouse):
    _location, mug, _tee = warehouse
    other = make_sku(db, code="CAP-1", cost=1000)

    report = discrepancy_report(
        db,
        parse_stock_count(
            "location,sku,counted,note\nWH-EAST,MUG-1,8,two broken\nWH-EAST,TEE-M,5,\nWH-EAST,CAP-1,3,\n"
        ),
    )

    assert report.ok and report.approvable
    assert [
        (r.sku_code, r.location_code, r.ours, r.counted, r.difference, r.value, r.currency)
        for r in report.rows
    ] == [
        ("MUG-1", "WH-EAST", 10, 8, -2, -800, "USD"),
        ("TEE-M", "WH-EAST", 5, 5, 0, 0, "USD"),
        ("CAP-1", "WH-EAST", 0, 3, 3, 3000, "USD"),
    ]
    assert report.value_by_currency == {"USD": 2200}
    assert [r.sku_id for r in report.differences] == [mug.id, other.id]


def test_discrepancy_report_lists_unknown_codes_with_their_lines_and_cannot_be_approved(db, warehouse):
    report = discrepancy_report(
        db,
        parse_stock_count(
            "location,sku,counted\nWH-EAST,MUG-1,9\nWH-NOWHERE,MUG-1,1\nWH-EAST,NOPE,1\nWH-EAST,TEE-M,x\n"
        ),
    )

    assert [str(e) for e in report.errors] == [
        "line 3: unknown location 'WH-NOWHERE'",
        "line 4: unknown SKU 'NOPE'",
        "line 5: counted must be a whole number of units, 0 or more (got 'x')",
    ]
    assert [r.line for r in report.rows] == [2]
    assert not report.approvable
    with pytest.raises(DomainError, match="the file has 3 error"):
        approve_count(db, report, actor=OPS, now=NOW)
    assert level(db, warehouse[0].id, warehouse[1].id) == (10, 0)


def test_approve_count_adjusts_the_ledger_and_audits_each_difference(db, warehouse):
    location, mug, tee = warehouse
    report = discrepancy_report(
        db, parse_stock_count("location,sku,counted,note\nWH-EAST,MUG-1,8,two broken\nWH-EAST,TEE-M,7,\n")
    )

    applied = approve_count(db, report, actor=OPS, now=NOW)

    assert [r.sku_code for r in applied] == ["MUG-1", "TEE-M"]
    assert level(db, location.id, mug.id) == (8, 0)
    assert level(db, location.id, tee.id) == (7, 0)
    counts = db.execute(
        select(
            StockMovement.sku_id, StockMovement.on_hand_delta, StockMovement.reference, StockMovement.actor
        )
        .where(StockMovement.kind == "count")
        .order_by(StockMovement.id)
    ).all()
    assert [tuple(c) for c in counts] == [
        (mug.id, -2, "stock count line 2: two broken", "ops@example.org"),
        (tee.id, 2, "stock count line 3", "ops@example.org"),
    ]
    audits = db.scalars(
        select(AuditEntry).where(AuditEntry.action == "stock.count_adjusted").order_by(AuditEntry.id)
    ).all()
    assert [(a.entity_type, a.entity_id, a.before, a.after["on_hand"], a.after["value"]) for a in audits] == [
        ("sku", str(mug.id), {"location": "WH-EAST", "on_hand": 10}, 8, -800),
        ("sku", str(tee.id), {"location": "WH-EAST", "on_hand": 5}, 7, 1500),
    ]
    assert verify_ledger(db) == []


def test_approve_count_refuses_rows_whose_stock_moved_since_the_report(db, warehouse):
    location, mug, tee = warehouse
    report = discrepancy_report(
        db, parse_stock_count("location,sku,counted\nWH-EAST,MUG-1,8\nWH-EAST,TEE-M,7\n")
    )
    adjust_stock(db, location.id, tee.id, -1, kind="write_off", actor="test", now=NOW)

    with pytest.raises(DomainError) as caught:
        approve_count(db, report, actor=OPS, now=NOW)

    assert "stock moved since this report was made, so nothing was applied" in str(caught.value)
    assert "TEE-M at WH-EAST: the report says 5 on hand, now 4" in str(caught.value)
    assert "MUG-1" not in str(caught.value)
    assert level(db, location.id, mug.id) == (10, 0)
    assert db.scalars(select(StockMovement).where(StockMovement.kind == "count")).all() == []


def test_approve_count_applied_twice_is_refused_the_second_time(db, warehouse):
    report = discrepancy_report(db, parse_stock_count("location,sku,counted\nWH-EAST,MUG-1,8\n"))
    approve_count(db, report, actor=OPS, now=NOW)

    with pytest.raises(DomainError, match="stock moved since"):
        approve_count(db, report, actor=OPS, now=NOW)
    assert level(db, warehouse[0].id, warehouse[1].id) == (8, 0)


def test_approve_count_below_reserved_units_applies_nothing(db, warehouse):
    location, mug, tee = warehouse
    shop = make_channel(db)
    link(db, shop, location)
    allocate_order(db, make_order_for(db, shop, [(mug.id, 6)]), actor="test", now=NOW)
    report = discrepancy_report(
        db, parse_stock_count("location,sku,counted\nWH-EAST,TEE-M,9\nWH-EAST,MUG-1,4\n")
    )

    with pytest.raises(DomainError, match="MUG-1 at WH-EAST cannot be counted down to 4: units are reserved"):
        approve_count(db, report, actor=OPS, now=NOW)

    assert level(db, location.id, tee.id) == (5, 0)
    assert level(db, location.id, mug.id) == (10, 6)
    assert db.scalars(select(AuditEntry).where(AuditEntry.action == "stock.count_adjusted")).all() == []
    assert verify_ledger(db) == []


def test_approve_count_refuses_the_same_level_twice(db, warehouse):
    report = discrepancy_report(db, parse_stock_count("location,sku,counted\nWH-EAST,MUG-1,8\n"))
    with pytest.raises(DomainError, match="counted twice"):
        approve_count(db, [*report.rows, *report.rows], actor=OPS, now=NOW)


def test_approve_count_gives_found_units_to_waiting_backorders(db, warehouse):
    location, mug, _tee = warehouse
    shop = make_channel(db)
    link(db, shop, location)
    waiting = make_order_for(db, shop, [(mug.id, 12)])
    allocate_order(db, waiting, actor="test", now=NOW)
    assert waiting.status == "backordered"

    approve_count(
        db,
        discrepancy_report(db, parse_stock_count("location,sku,counted\nWH-EAST,MUG-1,12\n")),
        actor=OPS,
        now=NOW,
    )

    assert waiting.status == "confirmed"


def test_channel_report_compares_with_available_to_sell_and_cannot_be_applied(db, warehouse):
    location, mug, tee = warehouse
    shop = make_channel(db, code="shop-rec", stock_buffer_units=2)
    link(db, shop, location)
    db.add_all(
        [
            Listing(channel_id=shop.id, channel_sku="SH-MUG", sku_id=mug.id),
            Listing(channel_id=shop.id, channel_sku="SH-TEE", sku_id=tee.id),
        ]
    )
    db.flush()

    report = discrepancy_report(
        db,
        parse_stock_count(
            "channel,channel_sku,quantity\nshop-rec,SH-MUG,8\nshop-rec,SH-TEE,9\nshop-rec,SH-HAT,1\nnowhere,SH-MUG,1\n"
        ),
    )

    assert [(r.channel_sku, r.sku_code, r.ours, r.reported, r.difference) for r in report.channel_rows] == [
        ("SH-MUG", "MUG-1", 8, 8, 0),
        ("SH-TEE", "TEE-M", 3, 9, 6),
    ]
    assert report.channel_rows[1].ours == available_to_sell(db, shop, tee.id)
    assert "buffer 2 units" in report.channel_rows[1].formula
    assert [str(e) for e in report.errors] == [
        "line 4: channel SKU 'SH-HAT' is not mapped to a SKU of ours on shop-rec",
        "line 5: unknown channel 'nowhere'",
    ]
    with pytest.raises(DomainError, match="for comparison only"):
        approve_count(db, report, actor=OPS, now=NOW)
