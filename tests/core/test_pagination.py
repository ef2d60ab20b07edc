"""User input turned into page numbers and row ids: garbage never reaches the database as a number."""

from __future__ import annotations

import pytest

from core.pagination import MAX_ID, MAX_PAGE, clamp_page, id_from_text


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("12", 12),
        (" 7 ", 7),
        ("0", 0),
        (str(MAX_ID), MAX_ID),
        (str(MAX_ID + 1), None),
        ("²", None),
        ("١٢", None),
        ("-3", None),
        ("1.5", None),
        ("", None),
        (None, None),
        ("12a", None),
    ],
)
def test_id_from_text(given: str | None, expected: int | None) -> None:
    assert id_from_text(given) == expected


@pytest.mark.parametrize(
    ("given", "expected"),
    [("3", 3), ("0", 1), ("-2", 1), ("x", 1), (None, 1), ("²", 1), ("9" * 30, MAX_PAGE)],
)
def test_clamp_page(given: str | None, expected: int) -> None:
    assert clamp_page(given) == expected
