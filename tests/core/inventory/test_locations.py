"""Locations: created by code, their fulfilment method following their kind."""

from __future__ import annotations

import pytest

from core.errors import DomainError
from core.inventory.locations import add_location
from tests.factories import NOW


@pytest.mark.parametrize(
    ("kind", "method"),
    [("warehouse", "in_house"), ("store", "in_house"), ("3pl", "3pl"), ("dropship", "dropship")],
)
def test_add_location_takes_the_fulfillment_method_of_its_kind(db, kind, method):
    location = add_location(db, f"loc-{kind}", name="", kind=kind, regions=[" us-ny ", ""], now=NOW)
    assert (location.code, location.name, location.fulfillment_method, location.regions) == (
        f"LOC-{kind.upper()}",
        f"LOC-{kind.upper()}",
        method,
        ["US-NY"],
    )


@pytest.mark.parametrize(
    ("code", "kind", "message"),
    [
        ("  ", "warehouse", "1 to 32 characters"),
        ("X" * 33, "warehouse", "1 to 32 characters"),
        ("SHED", "garage", "unknown location kind 'garage'"),
        ("wh-dup", "store", "already exists"),
    ],
)
def test_add_location_refuses_a_bad_code_kind_or_duplicate(db, code, kind, message):
    add_location(db, "WH-DUP", name="Duplicate", kind="warehouse", now=NOW)
    with pytest.raises(DomainError, match=message):
        add_location(db, code, name="Shed", kind=kind, now=NOW)
