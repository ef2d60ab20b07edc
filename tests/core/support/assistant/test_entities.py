"""Entities in customers' messages: order numbers, emails, postcodes, dates, quantities, products."""

from __future__ import annotations

from datetime import date

import pytest

from core.orders.services import format_order_number
from core.support.assistant.entities import (
    OrderReference,
    Postcode,
    ProductMatch,
    Quantity,
    extract_entities,
    find_dates,
    find_emails,
    find_order_numbers,
    find_postcodes,
    find_quantities,
    match_products,
)

FRIDAY = date(2026, 12, 4)
FIVE_DIGIT = ("US", "DE", "FR")
CATALOGUE = [
    ("MUG-BLU-01", "Blue Ceramic Mug"),
    ("TSH-ORG-M", "Organic Cotton T-Shirt"),
    ("LAMP-7", "Brass Desk Lamp"),
    ("TEA", "Tea"),
]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"where is {format_order_number(42)}?", [("CD-1000042", "crossdock")]),
        ("order cd 1000042 please", [("CD-1000042", "crossdock")]),
        ("cd-12345678 still not here", [("CD-12345678", "crossdock")]),
        ("where's my stuff?? order 112-1234567-1234567", [("112-1234567-1234567", "amazon")]),
        ("ebay order 12-34567-89012 not arrived", [("12-34567-89012", "ebay")]),
        ("shopify #1001 is late", [("#1001", "shopify")]),
        (
            "#1002 and 204-7654321-7654321 and CD-1000001",
            [("#1002", "shopify"), ("204-7654321-7654321", "amazon"), ("CD-1000001", "crossdock")],
        ),
        ("same order 12-34567-89012 again 12-34567-89012", [("12-34567-89012", "ebay")]),
        ("call 0123-456789 or 12345", []),
        ("a 1112-1234567-1234567 is too long for amazon", []),
        ("item #12 on the page", []),
    ],
)
def test_find_order_numbers_reads_every_channels_format(text: str, expected: list[tuple[str, str]]) -> None:
    assert find_order_numbers(text) == [OrderReference(number, channel) for number, channel in expected]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("my email is Jo.Bloggs+shop@Example.co.uk.", ["jo.bloggs+shop@example.co.uk"]),
        ("a@b.io or c_d@mail-host.com", ["a@b.io", "c_d@mail-host.com"]),
        ("not an email: jo@localhost or @handle", []),
    ],
)
def test_find_emails_lowercases_addresses(text: str, expected: list[str]) -> None:
    assert find_emails(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("deliver to sw1a 1aa", [Postcode("SW1A 1AA", ("GB",))]),
        ("postcode M1 1AE please", [Postcode("M1 1AE", ("GB",))]),
        ("EC1A1BB", [Postcode("EC1A 1BB", ("GB",))]),
        ("Ottawa K1A 0B1", [Postcode("K1A 0B1", ("CA",))]),
        ("zip 90210-1234", [Postcode("90210-1234", ("US",))]),
        ("10115 Berlin", [Postcode("10115", FIVE_DIGIT)]),
        ("75008 Paris or 90210", [Postcode("75008", FIVE_DIGIT), Postcode("90210", FIVE_DIGIT)]),
        ("order 112-1234567-1234567 and 12-34567-89012", []),
        ("refund of $12000 or 12000 dollars", []),
        ("call 0123456789", []),
    ],
)
def test_find_postcodes_reads_uk_us_de_fr_and_canadian_formats(text: str, expected: list[Postcode]) -> None:
    assert find_postcodes(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("can it come today", [FRIDAY]),
        ("tomorrow please", [date(2026, 12, 5)]),
        ("it was meant to come yesterday", [date(2026, 12, 3)]),
        ("the day after tomorrow", [date(2026, 12, 6)]),
        ("deliver on Monday", [date(2026, 12, 7)]),
        ("on friday", [FRIDAY]),
        ("next friday", [date(2026, 12, 11)]),
        ("ordered last Friday", [date(2026, 11, 27)]),
        ("ordered last wednesday", [date(2026, 12, 2)]),
        ("on 2026-12-24", [date(2026, 12, 24)]),
        ("by 24/12", [date(2026, 12, 24)]),
        ("by 3/1/2027", [date(2027, 1, 3)]),
        ("by 25.12.27", [date(2027, 12, 25)]),
        ("31/02 is no date", []),
        ("order 112-1234567-1234567", []),
        ("no date here at all", []),
    ],
)
def test_find_dates_resolves_relative_days_weekdays_and_numbers(text: str, expected: list[date]) -> None:
    assert find_dates(text, today=FRIDAY) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("add 2 more mugs", [Quantity(2, "mugs")]),
        ("three shirts and one lamp", [Quantity(3, "shirts"), Quantity(1, "lamp")]),
        ("a dozen cups", [Quantity(12, "cups")]),
        ("qty: 4", [Quantity(4, "")]),
        ("mug x3", [Quantity(3, "")]),
        ("2x lamp", [Quantity(2, "")]),
        ("only got 2 of the 3 items", [Quantity(3, "items")]),
        ("waited 5 days for 10 dollars", []),
        ("order 112-1234567-1234567 on 24/12", []),
        ("0 mugs", []),
    ],
)
def test_find_quantities_counts_things_not_amounts_or_times(text: str, expected: list[Quantity]) -> None:
    assert find_quantities(text) == expected


@pytest.mark.parametrize(
    ("text", "expected_codes"),
    [
        ("is MUG-BLU-01 back in stock", ["MUG-BLU-01"]),
        ("is mug-blu-01 back in stock", ["MUG-BLU-01"]),
        ("the blue ceramic mug arrived broken", ["MUG-BLU-01"]),
        ("the blu ceramc mug arrived broken", ["MUG-BLU-01"]),
        ("my organic cotton tshirt is too small", ["TSH-ORG-M"]),
        ("brass desk lamp and the blue ceramic mug", ["LAMP-7", "MUG-BLU-01"]),
        ("the steam iron is hot", []),
        ("where is my parcel", []),
    ],
)
def test_match_products_finds_skus_and_fuzzy_titles(text: str, expected_codes: list[str]) -> None:
    assert sorted(match.code for match in match_products(text, CATALOGUE)) == sorted(expected_codes)


def test_match_products_ranks_the_exact_sku_first() -> None:
    matches = match_products("TSH-ORG-M or the blu ceramc mug", CATALOGUE)
    assert matches[0] == ProductMatch("TSH-ORG-M", "Organic Cotton T-Shirt", 100.0)
    assert matches[1].code == "MUG-BLU-01"
    assert 85 <= matches[1].score < 100


def test_extract_entities_gathers_everything_in_one_message() -> None:
    entities = extract_entities(
        "Hi, order 112-1234567-1234567 (jo@example.com, SW1A 1AA): 2 blue ceramic mugs broken, "
        "can you send new ones by tomorrow?",
        today=FRIDAY,
        catalogue=CATALOGUE,
    )
    assert entities.order_numbers == (OrderReference("112-1234567-1234567", "amazon"),)
    assert entities.emails == ("jo@example.com",)
    assert entities.postcodes == (Postcode("SW1A 1AA", ("GB",)),)
    assert entities.quantities == (Quantity(2, "blue"),)
    assert entities.dates == (date(2026, 12, 5),)
    assert [product.code for product in entities.products] == ["MUG-BLU-01"]


def test_extract_entities_of_small_talk_is_empty() -> None:
    entities = extract_entities("thanks, bye!", today=FRIDAY, catalogue=CATALOGUE)
    assert entities == type(entities)()
