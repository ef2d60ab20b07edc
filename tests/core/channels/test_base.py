"""Shared adapter helpers, the country table, the registry, and every fixture payload (and, when
../shared/data is present, every public sample) read without a crash."""

from __future__ import annotations

import random
import re
from dataclasses import FrozenInstanceError
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from core.channels import countries
from core.channels.base import (
    INCOMPLETE_ADDRESS,
    MISSING_ADDRESS,
    Extracted,
    adapt_all,
    check_shipping_address,
    clean,
    clean_email,
    country,
    currency_code,
    divide,
    first,
    full_name,
    is_iso_currency,
    is_relay_email,
    load_document,
    make_address,
    make_buyer,
    make_line,
    minor_units,
    money,
    no_order,
    optional_time,
    parse_time,
    quantity,
    reads_payload,
)
from core.channels.canonical import expected_total
from core.channels.registry import ADAPTERS, get_adapter
from core.errors import PayloadError
from tests.fixtures import CHANNELS

# --- times --------------------------------------------------------------------------------------------------


def test_parse_time_keeps_the_offset_given():
    moment = parse_time("2008-01-10T11:00:00-05:00", "created_at")
    assert moment.utcoffset() == timedelta(hours=-5)
    assert moment == datetime(2008, 1, 10, 16, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1970-01-19T03:58:30Z", datetime(1970, 1, 19, 3, 58, 30, tzinfo=UTC)),
        ("2020-05-18T16:30:49.614Z", datetime(2020, 5, 18, 16, 30, 49, 614000, tzinfo=UTC)),
        ("2020-06-28T04:34:08.000Z", datetime(2020, 6, 28, 4, 34, 8, tzinfo=UTC)),
        ("Thu, 10 Jan 2008 11:00:00 -0500", datetime(2008, 1, 10, 16, 0, tzinfo=UTC)),
    ],
)
def test_parse_time_reads_iso_and_rfc_forms(text, expected):
    assert parse_time(text, "t") == expected


def test_parse_time_rejects_naive_time_unless_channel_documents_utc():
    with pytest.raises(PayloadError, match="date_created: time without a UTC offset"):
        parse_time("2017-03-22T19:28:02", "date_created")
    assert parse_time("2017-03-22T19:28:02", "date_created_gmt", naive_is_utc=True) == datetime(
        2017, 3, 22, 19, 28, 2, tzinfo=UTC
    )


@pytest.mark.parametrize("value", [None, "", "   "])
def test_parse_time_errors_for_missing_time(value):
    with pytest.raises(PayloadError, match="placed_at: missing"):
        parse_time(value, "placed_at")


def test_parse_time_errors_for_garbage_naming_the_field():
    with pytest.raises(PayloadError, match="created_at: not a time: 'yesterday'"):
        parse_time("yesterday", "created_at")


def test_optional_time_is_none_when_missing():
    assert optional_time(None, "updated_at") is None
    assert optional_time("", "updated_at") is None


# --- text, emails, buyers -----------------------------------------------------------------------------------


def test_clean_strips_and_turns_empty_into_none():
    assert clean("  a  ") == "a"
    assert clean("") is None
    assert clean("   ") is None
    assert clean(None) is None
    assert clean(42) == "42"
    assert clean({"a": 1}) is None


def test_first_and_full_name_skip_empty_parts():
    assert first(None, " ", "x", "y") == "x"
    assert full_name(" Bob ", None) == "Bob"
    assert full_name("", "") is None


def test_clean_email_lower_cases_and_drops_non_addresses():
    assert clean_email("  Bob.Norman@HostMail.com ") == "bob.norman@hostmail.com"
    assert clean_email("n/a") is None
    assert clean_email(None) is None


@pytest.mark.parametrize(
    ("email", "relay"),
    [
        ("buyer-email@marketplace.amazon.com", True),
        ("buyer-email@marketplace.amazon.com.br", True),
        ("abc123@marketplace.amazon.co.uk", True),
        ("x1y2@members.ebay.com", True),
        ("bob@example.com", False),
        ("amazon@gmail.com", False),
        (None, False),
    ],
)
def test_is_relay_email_spots_marketplace_relay_addresses(email, relay):
    assert is_relay_email(email) is relay


def test_make_buyer_lower_cases_email_and_flags_relay():
    buyer = make_buyer(name=" Maria ", email="Buyer@Marketplace.Amazon.de", external_id=7)
    assert buyer.email == "buyer@marketplace.amazon.de"
    assert buyer.email_is_relay is True
    assert buyer.name == "Maria"
    assert buyer.external_id == "7"


# --- money and quantities -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "expected"), [("USD", "USD"), ("eur", "EUR"), (" JPY ", "JPY"), ("BRL", "BRL")]
)
def test_currency_code_accepts_iso_4217(code, expected):
    assert currency_code(code) == expected


@pytest.mark.parametrize("code", ["XX", "US D", "dollars", "U-D", "12"])
def test_currency_code_errors_for_malformed_currency(code):
    with pytest.raises(PayloadError, match=rf"^unknown currency '{code.strip()}'$"):
        currency_code(code)


@pytest.mark.parametrize("code", ["XXX", "abc"])
def test_currency_code_passes_well_formed_unknown_code_for_intake_to_hold(code):
    assert currency_code(code) == code.upper()
    assert not is_iso_currency(code.upper())


def test_is_iso_currency_checks_the_list():
    assert is_iso_currency("USD") is True
    assert is_iso_currency("usd") is False
    assert is_iso_currency("XXX") is False
    assert is_iso_currency(None) is False


def test_currency_code_errors_for_missing_currency():
    with pytest.raises(PayloadError, match="currency: missing"):
        currency_code(None)


@pytest.mark.parametrize(
    ("value", "currency", "expected"),
    [
        ("19.99", "USD", 1999),
        ("6.0", "USD", 600),
        (3, "USD", 300),
        ("5980", "JPY", 5980),
        ("1.234", "KWD", 1234),
        (None, "USD", 0),
        ("", "USD", 0),
        ("-10.00", "USD", -1000),
    ],
)
def test_money_converts_decimal_amounts_to_minor_units(value, currency, expected):
    assert money(value, currency, "total") == expected


def test_money_fast_path_agrees_with_decimal_rounding():
    # Plain strings take an integer path; everything else goes through Decimal. Both must agree.
    from decimal import ROUND_HALF_UP, Decimal

    rng = random.Random(5)
    for _ in range(2000):
        currency = rng.choice(["USD", "JPY", "KWD", "EUR"])
        whole = str(rng.randint(0, 10 ** rng.randint(0, 9)))
        fraction = "".join(rng.choice("0123456789") for _ in range(rng.randint(0, 4)))
        text = f"{rng.choice(['', '-'])}{whole}" + (f".{fraction}" if rng.random() < 0.8 else "")
        places = {"JPY": 0, "KWD": 3}.get(currency, 2)
        expected = int(Decimal(text).scaleb(places).quantize(Decimal(1), rounding=ROUND_HALF_UP))
        assert money(text, currency, "total") == expected, (text, currency)
        assert money(f" {text} ", currency, "total") == expected


def test_money_errors_name_the_field():
    with pytest.raises(PayloadError, match="total_price: not a money amount"):
        money("ten", "USD", "total_price")
    with pytest.raises(PayloadError, match="total: not a money amount"):
        money(True, "USD", "total")


def test_minor_units_accepts_integers_only():
    assert minor_units(550, "x") == 550
    assert minor_units("550", "x") == 550
    assert minor_units(None, "x") == 0
    with pytest.raises(PayloadError, match="x: not an amount in minor units"):
        minor_units("5.5", "x")


@pytest.mark.parametrize(("value", "expected"), [("2", 2), (3, 3), (2.0, 2), ("1.000", 1), (0, 0)])
def test_quantity_reads_whole_numbers(value, expected):
    assert quantity(value, "q") == expected


@pytest.mark.parametrize("value", ["1.5", "-1", "two", None, True])
def test_quantity_errors_for_fractional_negative_or_missing(value):
    with pytest.raises(PayloadError, match=r"^q: "):
        quantity(value, "q")


def test_divide_rounds_line_amount_per_unit_half_up():
    assert divide(220, 2) == 110
    assert divide(100, 3) == 33
    assert divide(200, 3) == 67
    assert divide(500, 0) == 500


# --- countries and addresses --------------------------------------------------------------------------------


def test_countries_table_is_complete_iso_3166_1():
    # 249 officially assigned codes, plus XK (Kosovo) which marketplaces use.
    assert len(countries.ALPHA2_NAMES) == 250
    assert len(countries.ALPHA3_TO_ALPHA2) == 250
    assert set(countries.ALPHA3_TO_ALPHA2.values()) == set(countries.ALPHA2_NAMES)
    for alpha3, alpha2 in countries.ALPHA3_TO_ALPHA2.items():
        assert countries.to_alpha2(alpha3) == alpha2
        assert countries.to_alpha2(countries.ALPHA2_NAMES[alpha2]) == alpha2


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("US", "US"),
        ("us", "US"),
        ("USA", "US"),
        ("DEU", "DE"),
        ("gbr", "GB"),
        ("BRA", "BR"),
        ("United States", "US"),
        ("United States of America", "US"),
        ("U.S.A.", "US"),
        ("United Kingdom", "GB"),
        ("UK", "GB"),
        ("Great Britain", "GB"),
        ("Germany", "DE"),
        ("the Netherlands", "NL"),
        ("Côte d'Ivoire", "CI"),
        ("Cote d’Ivoire", "CI"),
        ("Ivory Coast", "CI"),
        ("Korea, Republic of", "KR"),
        ("South Korea", "KR"),
        ("North Korea", "KP"),
        ("Russia", "RU"),
        ("Viet Nam", "VN"),
        ("Vietnam", "VN"),
        ("St. Lucia", "LC"),
        ("Türkiye", "TR"),
        ("Turkey", "TR"),
        ("Czech Republic", "CZ"),
        ("Bolivia", "BO"),
        ("Réunion", "RE"),
        ("  fr  ", "FR"),
    ],
)
def test_to_alpha2_reads_codes_and_common_names(value, expected):
    assert countries.to_alpha2(value) == expected


@pytest.mark.parametrize("value", ["Narnia", "ZZ", "XYZ", "Atlantis"])
def test_to_alpha2_is_none_for_unknown_country(value):
    assert countries.to_alpha2(value) is None


def test_country_warns_about_unknown_country():
    warnings: list[str] = []
    assert country("Narnia", warnings) is None
    assert warnings == ["unknown country 'Narnia'"]
    assert country("DEU", warnings) == "DE"
    assert country(None, warnings) is None
    assert warnings == ["unknown country 'Narnia'"]


def test_make_address_is_none_without_any_postal_part():
    warnings: list[str] = []
    assert make_address(warnings, name="Bob", phone="555") is None
    address = make_address(warnings, name="Bob", line1=" 1 Main St ", line2="", country_value="usa")
    assert address is not None
    assert (address.line1, address.line2, address.country) == ("1 Main St", None, "US")
    assert warnings == []


def test_check_shipping_address_warns_only_when_needed():
    warnings: list[str] = []
    check_shipping_address(warnings, None, needed=False)
    assert warnings == []
    check_shipping_address(warnings, None, needed=True)
    assert warnings == [MISSING_ADDRESS] == ["missing shipping address"]
    partial = make_address([], city="Seattle", country_value="US")
    check_shipping_address(warnings, partial, needed=True)
    assert warnings[-1] == INCOMPLETE_ADDRESS


def test_make_line_total_is_unit_price_times_quantity_less_discount():
    warnings: list[str] = []
    line = make_line(
        warnings, 1, external_id=9, sku="MUG", title="Mug", quantity=3, unit_price=500, discount=150, tax=80
    )
    assert (line.external_id, line.total, line.tax) == ("9", 1350, 80)
    assert warnings == []


def test_make_line_keeps_line_without_sku_with_a_warning():
    warnings: list[str] = []
    line = make_line(warnings, 2, external_id=None, sku="  ", title=None, quantity=1, unit_price=100)
    assert line.channel_sku is None
    assert line.title == "line 2"
    assert warnings == ["line 2 has no SKU"]


# --- extraction plumbing ------------------------------------------------------------------------------------


def test_extracted_is_frozen():
    extracted = Extracted(native={}, order=None, error="x")
    with pytest.raises(FrozenInstanceError):
        extracted.error = "y"  # type: ignore[misc]


def test_no_order_keeps_dict_documents_only():
    assert no_order({"a": 1}, "expected x") == Extracted(
        {"a": 1}, None, "no order found in document: expected x"
    )
    assert no_order([1, 2], "expected x").native == {}


def test_reads_payload_turns_slips_into_payload_errors():
    @reads_payload
    def adapt(native):
        return native["missing"]

    with pytest.raises(PayloadError, match="cannot read order: KeyError"):
        adapt({})
    with pytest.raises(PayloadError, match="an order must be a JSON object, not list"):
        adapt([])


def test_adapt_all_reports_bad_orders_instead_of_raising():
    def adapt(native):
        raise PayloadError("unknown currency 'XX'")

    assert adapt_all([{"id": 1}], adapt) == [Extracted({"id": 1}, None, "unknown currency 'XX'")]


def test_load_document_parses_json_text_and_bytes():
    assert load_document('{"a": 1}') == {"a": 1}
    assert load_document(b"\xef\xbb\xbf[1]") == [1]
    assert load_document({"a": 1}) == {"a": 1}
    with pytest.raises(PayloadError, match="not JSON"):
        load_document("{oops")
    with pytest.raises(PayloadError, match="not UTF-8 text"):
        load_document(b"\xff\xfe{")


# --- registry -----------------------------------------------------------------------------------------------


def test_registry_has_every_channel_kind():
    assert set(ADAPTERS) == {
        "shopify",
        "amazon",
        "ebay",
        "woocommerce",
        "square",
        "pos_csv",
        "webshop",
        "walmart",
        "bigcommerce",
    }
    for kind, adapter in ADAPTERS.items():
        assert adapter.KIND == kind
        assert callable(adapter.extract)
        assert callable(adapter.adapt)
        assert get_adapter(kind) is adapter


def test_get_adapter_errors_for_unknown_kind():
    with pytest.raises(PayloadError, match="unknown channel kind 'etsy'"):
        get_adapter("etsy")


# --- every fixture payload, and every public sample -------------------------------------------------------

_KINDS = sorted(ADAPTERS)
_PUBLIC_KINDS = ["amazon", "ebay", "shopify", "square", "woocommerce"]


def _check_read_without_crash(kind: str, files: list[Path]) -> None:
    """Every file of one kind, read together: orders that add up, or a reason why a document holds none."""
    assert files, f"no payloads for {kind}"
    results = ADAPTERS[kind].extract([path.read_text(encoding="utf-8") for path in files])
    assert any(result.order is not None for result in results)
    for result in results:
        assert (result.order is None) == (result.error is not None)
        if result.order is not None:
            assert result.order.channel_kind == kind
            assert result.order.placed_at.tzinfo is not None
            assert all(
                line.total == line.unit_price * line.quantity - line.discount for line in result.order.lines
            )
    for path in files:
        alone = ADAPTERS[kind].extract([path.read_text(encoding="utf-8")])
        assert alone, path
        assert all(result.order is not None or result.error for result in alone), path


def test_fixtures_cover_every_channel_kind():
    assert {p.name for p in CHANNELS.iterdir() if p.is_dir()} == set(ADAPTERS)


@pytest.mark.parametrize("kind", _KINDS)
def test_fixtures_every_file_is_read_without_crash(kind):
    _check_read_without_crash(
        kind, sorted(p for p in (CHANNELS / kind).iterdir() if p.suffix in (".json", ".csv"))
    )


@pytest.mark.parametrize("kind", _KINDS)
def test_fixtures_every_order_adds_up(kind):
    """subtotal - discount + shipping + tax + charges = total (canonical.expected_total), as every channel's
    own totals do (tests/core/channels/test_totals.py says what each order needed)."""
    files = sorted(p for p in (CHANNELS / kind).iterdir() if p.suffix in (".json", ".csv"))
    orders = [
        r.order for r in ADAPTERS[kind].extract([p.read_text(encoding="utf-8") for p in files]) if r.order
    ]
    assert orders
    for order in orders:
        if order.lines:
            assert expected_total(order) == order.total, order.external_id


@pytest.mark.parametrize("kind", _PUBLIC_KINDS)
def test_public_samples_every_file_is_read_without_crash(kind, shared_data):
    _check_read_without_crash(kind, sorted((shared_data / "channels" / kind).glob("*.json")))


def test_webshop_rejects_an_order_without_lines():
    """Our own format's schema requires lines; the channels' APIs hold such an order instead
    (tests/core/channels/test_payload_gaps.py)."""
    native = {
        "id": "1",
        "placed_at": "2024-01-01T00:00:00Z",
        "status": "paid",
        "currency": "EUR",
        "lines": [],
    }
    with pytest.raises(PayloadError, match=f"^{re.escape('lines: must be a non-empty list')}$"):
        ADAPTERS["webshop"].adapt(native)
