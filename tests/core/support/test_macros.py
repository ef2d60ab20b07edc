"""Canned replies: variables filled by plain substitution, checked when saved, found with typos."""

from __future__ import annotations

import pytest

from core.errors import DomainError
from core.support.macros import MacroDoc, check_macro_body, render_macro, search_macros, variables_in

VALUES = {
    "customer.first_name": "Jane",
    "order.number": "CD-1000042",
    "shipment.tracking_url": "https://www.ups.com/track?tracknum=1Z999",
}


def test_render_macro_fills_variables_with_any_spacing() -> None:
    body = "Hi {{customer.first_name}},\norder {{ order.number }} is here: {{  shipment.tracking_url }}"
    rendered = render_macro(body, VALUES)
    assert rendered.text == "Hi Jane,\norder CD-1000042 is here: https://www.ups.com/track?tracknum=1Z999"
    assert rendered.missing == ()


def test_render_macro_leaves_variables_without_a_value_and_names_them() -> None:
    rendered = render_macro("Order {{ order.number }} for {{ customer.first_name }}", {"order.number": None})
    assert rendered.text == "Order {{ order.number }} for {{ customer.first_name }}"
    assert rendered.missing == ("order.number", "customer.first_name")


def test_render_macro_never_runs_or_rescans_what_it_inserts() -> None:
    hostile = {"customer.first_name": "{{ order.number }} {% for x in range(9) %}x{% endfor %} {{ 7*7 }}"}
    rendered = render_macro("Hi {{ customer.first_name }} {{ 7*7 }} {{ ''.__class__ }}", VALUES | hostile)
    assert rendered.text.startswith("Hi {{ order.number }} {% for x in range(9) %}x{% endfor %} {{ 7*7 }}")
    assert rendered.text.endswith("{{ 7*7 }} {{ ''.__class__ }}")


def test_check_macro_body_refuses_unknown_variables() -> None:
    with pytest.raises(DomainError, match=r"unknown variable \{\{ customer.password \}\}"):
        check_macro_body("Hi {{ customer.password }}")
    with pytest.raises(DomainError):
        check_macro_body("   ")
    assert check_macro_body("  Hi {{ customer.first_name }}  ") == "Hi {{ customer.first_name }}"


def test_variables_in_lists_each_variable_once_in_order() -> None:
    assert variables_in("{{ order.number }} {{ customer.name }} {{order.number}}") == [
        "order.number",
        "customer.name",
    ]


MACROS = [
    MacroDoc(1, "Where is my order: in transit", "Your parcel is on its way", "where_is_my_order"),
    MacroDoc(2, "Return instructions", "Start a return from your order page", "return"),
    MacroDoc(3, "Refund processed", "We've issued a refund", "refund"),
    MacroDoc(4, "Damaged item: apology and replacement", "I'm sorry it arrived damaged", "damaged"),
]


@pytest.mark.parametrize(
    ("query", "first"),
    [("where is", 1), ("retrun", 2), ("refnd", 3), ("damaged", 4), ("replacement", 4), ("in transit", 1)],
)
def test_search_macros_finds_the_right_one_first(query: str, first: int) -> None:
    results = search_macros(MACROS, query)
    assert results and results[0].id == first


def test_search_macros_with_an_empty_query_lists_all_by_name() -> None:
    assert [m.id for m in search_macros(MACROS, "  ")] == [4, 3, 2, 1]


def test_search_macros_finds_nothing_for_gibberish() -> None:
    assert search_macros(MACROS, "zzqxj") == []


def test_seeded_macros_use_only_known_variables() -> None:
    from core.demo.data.support import MACROS as SEEDED

    for name, _category, body in SEEDED:
        assert check_macro_body(body) == body.strip(), name
        assert "[" not in body, name  # no placeholder an agent would have to spot and replace by hand
        assert variables_in(body), name
