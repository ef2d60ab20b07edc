"""Fixtures shared by the stock tests."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from tests.factories import make_channel
from tests.inventory_factories import link, make_location


@pytest.fixture
def shop(db: Session):
    """A web shop served by Warehouse East (priority 2, serves US) and Warehouse West (priority 1, US-CA)."""
    channel = make_channel(db, code="webshop-t")
    east = make_location(db, code="WH-EAST", name="Warehouse East", priority=2, regions=["US", "US-NY"])
    west = make_location(db, code="WH-WEST", name="Warehouse West", priority=1, regions=["US-CA"])
    link(db, channel, east, west)
    return channel, east, west
