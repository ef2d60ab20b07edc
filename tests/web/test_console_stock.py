"""Console stock pages: SKU list with totals, one SKU per location with available-to-sell and its ledger."""

from __future__ import annotations

from tests.factories import PASSWORD, make_channel, make_sku, make_user
from tests.helpers import sign_in
from tests.inventory_factories import link, make_location, make_stock


def test_stock_list_and_detail_show_levels_formula_and_ledger(client, db) -> None:
    sku = make_sku(db, code="TEE-BLUE-M", title="Tee blue M")
    east = make_location(db, code="WH-E", name="Warehouse East")
    channel = make_channel(db, name="Web shop", stock_buffer_units=2)
    link(db, channel, east)
    make_stock(db, east, sku.id, 12)
    db.commit()
    sign_in_agent(client, db)
    listing = client.get("/console/stock?q=tee-blue").get_data(as_text=True)
    assert "TEE-BLUE-M" in listing and ">12<" in listing
    page = client.get("/console/stock/TEE-BLUE-M").get_data(as_text=True)
    assert "WH-E" in page and "receipt" in page and "+12" in page
    assert "buffer 2 units" in page
    assert client.get("/console/stock/NOPE").status_code == 404


def test_stock_list_empty_search_says_so(client, db) -> None:
    sign_in_agent(client, db)
    fragment = client.get("/console/stock?q=zzz", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "No SKU matches" in fragment and "<html" not in fragment


def sign_in_agent(client, db) -> None:
    sign_in(client, make_user(db, "agent").email, PASSWORD, console=True)
