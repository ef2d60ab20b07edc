"""3PL files against a real database: the export of what waits at the 3PL, and the import of its shipment
confirmations (all rows or none, idempotent, audited)."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from core.errors import DomainError
from core.fulfillment.csv_import import InvalidImport
from core.fulfillment.models import Shipment, ShipmentLine
from core.fulfillment.three_pl import export_fulfillment_requests, import_shipment_confirmations
from core.inventory.queries import verify_ledger
from tests.factories import NOW, make_channel, make_sku
from tests.fulfillment_factories import (
    PACKER,
    audit_trail,
    make_confirmed_order,
)
from tests.inventory_factories import level, link, make_location, make_stock

SECRET = "test-secret"
BASE_URL = "https://shop.example/dropship/confirm"


@pytest.fixture
def three_pl(db):
    """A marketplace served only by a 3PL, with two confirmed orders."""
    channel = make_channel(db, name="Marketplace")
    hub = make_location(db, name="Fulfil Co", code="3PL-FC", kind="3pl", fulfillment_method="3pl")
    link(db, channel, hub)
    mug, cap = make_sku(db, code="MUG-3PL", title="Mug"), make_sku(db, code="CAP-3PL", title="Cap")
    make_stock(db, hub, mug.id, 10)
    make_stock(db, hub, cap.id, 10)
    first = make_confirmed_order(db, channel, [(mug.id, 2), (cap.id, 1)], shipping_method="Expedited")
    second = make_confirmed_order(db, channel, [(mug.id, 1)], placed_at=NOW + timedelta(hours=2))
    return hub, first, second, mug, cap


def test_export_fulfillment_requests_csv_has_ship_to_and_lines(db, three_pl):
    hub, first, second, *_ = three_pl
    rows = list(csv.DictReader(io.StringIO(export_fulfillment_requests(db, hub.id, fmt="csv"))))
    assert [(r["order_number"], r["sku"], r["quantity"]) for r in rows] == [
        (first.number, "MUG-3PL", "2"),
        (first.number, "CAP-3PL", "1"),
        (second.number, "MUG-3PL", "1"),
    ]
    assert (rows[0]["ship_to_name"], rows[0]["ship_to_postal_code"], rows[0]["shipping_method"]) == (
        "Ada Lovelace",
        "62701",
        "Expedited",
    )


def test_export_fulfillment_requests_json_groups_lines_per_order(db, three_pl):
    hub, first, second, *_ = three_pl
    document = json.loads(export_fulfillment_requests(db, hub.id, fmt="json"))
    assert document["location"] == "3PL-FC"
    assert [
        (r["order_number"], [(ln["sku"], ln["quantity"]) for ln in r["lines"]]) for r in document["requests"]
    ] == [(first.number, [("MUG-3PL", 2), ("CAP-3PL", 1)]), (second.number, [("MUG-3PL", 1)])]
    assert document["requests"][0]["ship_to"]["line1"] == "12 Analytical Row"
    with pytest.raises(DomainError, match="unknown export format"):
        export_fulfillment_requests(db, hub.id, fmt="xml")


def _confirmations(*rows: str) -> str:
    return "\n".join(["order_number,sku,quantity,carrier,tracking_number,shipped_at", *rows]) + "\n"


def test_import_shipment_confirmations_reports_every_bad_row_and_applies_nothing(db, three_pl):
    hub, first, second, mug, _cap = three_pl
    text = _confirmations(
        f"{first.number},MUG-3PL,2,UPS,1ZIMPORT00000001,2026-11-20T15:00:00Z",  # fine
        f"{first.number},CAP-3PL,two,UPS,1ZIMPORT00000001,2026-11-20T15:00:00Z",
        "CD-0000000,MUG-3PL,1,UPS,1ZIMPORT00000002,2026-11-20",
        f"{second.number},HAT-3PL,1,UPS,1ZIMPORT00000003,2026-11-20",
        f"{second.number},MUG-3PL,5,UPS,1ZIMPORT00000003,2026-11-20",
        f"{second.number},MUG-3PL,1,,1ZIMPORT00000003,yesterday",
        f"{second.number},MUG-3PL,1,UPS,1ZIMPORT00000003,2027-01-01",
    )
    with pytest.raises(InvalidImport) as caught:
        import_shipment_confirmations(db, hub.id, text, actor=PACKER, now=NOW + timedelta(hours=6))
    assert [(e.line, e.message) for e in caught.value.errors] == [
        (3, "quantity 'two' is not a positive whole number"),
        (4, "unknown order 'CD-0000000'"),
        (5, f"order {second.number} has no line with SKU 'HAT-3PL'"),
        (6, f"order {second.number}: 5 x MUG-3PL, 1 reserved at Fulfil Co"),
        (7, "carrier is empty; shipped_at 'yesterday' is not an ISO 8601 date or time"),
        (8, "shipped_at '2027-01-01' is in the future"),
    ]
    assert "nothing applied" in str(caught.value)
    assert db.scalar(select(func.count()).select_from(Shipment).where(Shipment.location_id == hub.id)) == 0
    assert level(db, hub.id, mug.id) == (10, 3)


def test_import_shipment_confirmations_rejects_a_file_without_the_columns(db, three_pl):
    hub, *_ = three_pl
    with pytest.raises(InvalidImport) as caught:
        import_shipment_confirmations(db, hub.id, "order,sku,qty\nCD-1,MUG,1\n", actor=PACKER, now=NOW)
    assert str(caught.value.errors[0]).startswith(
        "line 1: missing column(s): order_number, quantity, carrier"
    )
    with pytest.raises(InvalidImport, match="the file is empty"):
        import_shipment_confirmations(db, hub.id, "", actor=PACKER, now=NOW)


def test_import_shipment_confirmations_ships_parcels_and_is_idempotent(db, three_pl):
    hub, first, second, mug, cap = three_pl
    text = _confirmations(
        f"{first.number},MUG-3PL,2,UPS,1ZIMPORT00000001,2026-11-20T15:00:00Z",
        f"{first.number},cap-3pl,1,UPS,1ZIMPORT00000001,2026-11-20T15:00:00Z",
        f"{second.number},MUG-3PL,1,usps,9400 1118 9922 3197 4284 90,2026-11-20",
    )
    result = import_shipment_confirmations(db, hub.id, text, actor=PACKER, now=NOW + timedelta(hours=6))
    assert (result.rows, len(result.shipments), result.already_applied) == (3, 2, 0)
    assert (first.status, second.status) == ("shipped", "shipped")
    parcels = db.scalars(select(Shipment).where(Shipment.location_id == hub.id).order_by(Shipment.id)).all()
    assert [(p.order_id, p.carrier, p.tracking_number, p.shipped_at) for p in parcels] == [
        (first.id, "UPS", "1ZIMPORT00000001", datetime(2026, 11, 20, 15, tzinfo=UTC)),
        (second.id, "USPS", "9400111899223197428490", datetime(2026, 11, 20, tzinfo=UTC)),
    ]
    assert level(db, hub.id, mug.id) == (7, 0) and level(db, hub.id, cap.id) == (9, 0)
    again = import_shipment_confirmations(db, hub.id, text, actor=PACKER, now=NOW + timedelta(hours=7))
    assert (again.shipments, again.already_applied) == ((), 3)
    assert (
        db.scalar(
            select(func.count())
            .select_from(ShipmentLine)
            .join(Shipment, Shipment.id == ShipmentLine.shipment_id)
            .where(Shipment.location_id == hub.id)
        )
        == 3
    )
    assert verify_ledger(db) == []


def test_import_shipment_confirmations_audits_each_parcel_it_ships(db, three_pl):
    hub, first, second, _mug, _cap = three_pl
    text = _confirmations(
        f"{first.number},MUG-3PL,2,UPS,1ZIMPORT00000001,2026-11-20T15:00:00Z",
        f"{first.number},CAP-3PL,1,UPS,1ZIMPORT00000002,2026-11-20T15:00:00Z",
    )

    result = import_shipment_confirmations(db, hub.id, text, actor=PACKER, now=NOW + timedelta(hours=6))
    import_shipment_confirmations(db, hub.id, text, actor=PACKER, now=NOW + timedelta(hours=7))  # no-op

    mug_parcel, cap_parcel = result.shipments
    assert audit_trail(db, first) == [
        (
            "packer@example.org",
            "order.shipped",
            {"status": "confirmed"},
            {
                "status": "partially_shipped",
                "location_id": hub.id,
                "source": "3pl_confirmation",
                "shipments": [{"id": mug_parcel, "carrier": "UPS", "tracking_number": "1ZIMPORT00000001"}],
            },
        ),
        (
            "packer@example.org",
            "order.shipped",
            {"status": "partially_shipped"},
            {
                "status": "shipped",
                "location_id": hub.id,
                "source": "3pl_confirmation",
                "shipments": [{"id": cap_parcel, "carrier": "UPS", "tracking_number": "1ZIMPORT00000002"}],
            },
        ),
    ]
    assert audit_trail(db, second) == []
