"""Reading a delivery address typed into the chat: the parts found, what is still missing, read back."""

from __future__ import annotations

import pytest

from core.support.assistant.address import (
    complete_address,
    format_address,
    merge_address,
    missing_parts,
    parse_address,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "12 High Street, Flat 2, London SW1A 1AA, UK",
            {
                "line1": "12 High Street",
                "line2": "Flat 2",
                "city": "London",
                "postal_code": "SW1A 1AA",
                "country": "GB",
            },
        ),
        (
            "Jane Smith, 5 Elm Road, Leeds, LS1 4AB",
            {
                "name": "Jane Smith",
                "line1": "5 Elm Road",
                "city": "Leeds",
                "postal_code": "LS1 4AB",
                "country": "GB",
            },
        ),
        (
            "221B Baker Street London NW1 6XE United Kingdom",
            {"line1": "221B Baker Street", "city": "London", "postal_code": "NW1 6XE", "country": "GB"},
        ),
        (
            "1600 Amphitheatre Pkwy, Mountain View, CA 94043, USA",
            {
                "line1": "1600 Amphitheatre Pkwy",
                "city": "Mountain View",
                "region": "CA",
                "postal_code": "94043",
                "country": "US",
            },
        ),
        (
            "Hauptstraße 5, 10115 Berlin, Germany",
            {"line1": "Hauptstraße 5", "city": "Berlin", "postal_code": "10115", "country": "DE"},
        ),
        ("the new address is 10 Downing St, London", {"line1": "10 Downing St", "city": "London"}),
        ("please send it to 4 Mill Lane, Bristol", {"line1": "4 Mill Lane", "city": "Bristol"}),
        ("London SW1A 2AA", {"city": "London", "postal_code": "SW1A 2AA", "country": "GB"}),
        ("Newcastle upon Tyne", {"city": "Newcastle upon Tyne"}),
        ("yes", {}),
        ("can you change my address", {}),
    ],
)
def test_parse_address_finds_the_parts_the_text_gives(text: str, expected: dict[str, str]) -> None:
    assert parse_address(text) == expected


def test_missing_parts_names_the_street_and_the_town_in_words() -> None:
    assert missing_parts({}) == ["the street and house number", "the town or city"]
    assert missing_parts({"line1": "5 Elm Road", "city": " "}) == ["the town or city"]
    assert missing_parts({"line1": "5 Elm Road", "city": "Leeds"}) == []


def test_merge_address_adds_to_what_was_given_and_a_new_street_starts_over() -> None:
    known = {"line1": "5 Elm Road", "line2": "Flat 1"}
    assert merge_address(known, {"city": "Leeds"}) == {
        "line1": "5 Elm Road",
        "line2": "Flat 1",
        "city": "Leeds",
    }
    assert merge_address(known, {"line1": "9 Oak Way", "city": "Hull"}) == {
        "line1": "9 Oak Way",
        "city": "Hull",
    }


def test_complete_address_keeps_the_current_name_and_country_unless_given() -> None:
    current = {"name": "Jane Doe", "country": "GB", "line1": "1 Old Road"}
    full = complete_address({"line1": "5 Elm Road", "city": "Leeds"}, current)
    assert (full["name"], full["country"], full["line1"], full["line2"]) == (
        "Jane Doe",
        "GB",
        "5 Elm Road",
        "",
    )
    assert complete_address({"name": "Ann Lee", "country": "IE"}, current)["name"] == "Ann Lee"
    assert format_address(full) == "Jane Doe, 5 Elm Road, Leeds, GB"
