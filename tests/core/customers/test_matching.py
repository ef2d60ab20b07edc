"""Fuzzy identity matching rules, no database: normalisation, blocking, scoring, decisions."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from core.customers.matching import (
    HIGH,
    LOW,
    blocking_keys,
    candidate_pairs,
    make_record,
    match_records,
    normalize_place,
    normalize_street,
    normalize_text,
    precision_recall_f1,
    record_from_identity,
    score_pair,
    soundex,
)

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "identity"

BASE = {
    "given_name": "Margaret",
    "surname": "Okonkwo",
    "street_number": "14",
    "address_1": "Larkspur Street",
    "address_2": "",
    "suburb": "Fairview",
    "postcode": "4051",
    "state": "qld",
}


def person(**overrides: str) -> dict[str, str]:
    return {**BASE, **overrides}


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("  Renée  LEFÈVRE ", "renee lefevre"),
        ("O'Brien-Smith", "o brien smith"),
        ("", ""),
        (None, ""),
    ],
)
def test_normalize_text_folds_case_accents_and_punctuation(raw: str | None, expected: str) -> None:
    assert normalize_text(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("12 Main St.", "12 main street"),
        ("Kestrel Cres", "kestrel crescent"),
        ("Harbour Rd", "harbour road"),
        ("Ocean Pde", "ocean parade"),
        ("Apt 4, 9 Wattle Ave", "apartment 4 9 wattle avenue"),
    ],
)
def test_normalize_street_spells_out_street_types(raw: str, expected: str) -> None:
    assert normalize_street(raw) == expected


def test_normalize_place_spells_out_saint_and_mount() -> None:
    assert normalize_place("St James") == "saint james"
    assert normalize_place("Mt. Isa") == "mount isa"


@pytest.mark.parametrize(
    ("word", "code"),
    [
        ("Robert", "r163"),
        ("Rupert", "r163"),
        ("Ashcraft", "a261"),
        ("Tymczak", "t522"),
        ("Pfister", "p236"),
        ("Lee", "l000"),
        ("", ""),
    ],
)
def test_soundex_matches_the_classic_codes(word: str, code: str) -> None:
    assert soundex(word) == code


def test_blocking_keys_survive_a_typo_in_any_one_field() -> None:
    original = make_record(**BASE)
    for field, typo in [
        ("surname", "Okonkow"),
        ("postcode", "4015"),
        ("given_name", "Nargaret"),
        ("suburb", "Fiarview"),
        ("street_number", "41"),
    ]:
        assert blocking_keys(original) & blocking_keys(make_record(**person(**{field: typo}))), field


def test_blocking_keys_skip_passes_with_a_missing_field() -> None:
    keys = blocking_keys(make_record(surname="Okonkwo", postcode="4051"))
    assert keys == {"pc_sx:4051|o252", "pc_in:4051|o"}


def test_candidate_pairs_compare_only_records_sharing_a_key() -> None:
    records = [
        make_record(**BASE),
        make_record(**person(given_name="Margret")),
        make_record(
            given_name="Isla",
            surname="Montgomery",
            street_number="55",
            address_1="Hill Street",
            suburb="Hobart",
            postcode="7000",
            state="tas",
        ),
    ]
    assert candidate_pairs(records) == {(0, 1)}


def test_candidate_pairs_skip_a_block_larger_than_the_limit() -> None:
    records = [make_record(surname="Smith", postcode="2000") for _ in range(5)]
    assert len(candidate_pairs(records)) == 10
    assert candidate_pairs(records, max_block=4) == set()


@pytest.mark.parametrize(
    ("other", "decision"),
    [
        (person(), "link"),
        (person(given_name="Margret"), "link"),  # a typo
        (person(surname="Okonkow"), "link"),  # a transposition
        (person(given_name="Okonkwo", surname="Margaret"), "link"),  # given name and surname swapped
        (person(address_1="Larkspur St"), "link"),  # an abbreviation
        (person(given_name=""), "link"),  # a missing given name
        (person(postcode="4015"), "link"),  # a mistyped postcode
        (person(address_1="", suburb=""), "link"),  # a missing street and suburb
        (person(given_name="Samuel"), "suggest"),  # same surname and address: a household, not one person
        (person(street_number="88", address_1="Victoria Road"), "suggest"),  # a namesake in the same town
        (person(given_name="", surname=""), "suggest"),  # an address with no name
        (
            person(
                surname="Fitzgerald",
                street_number="8",
                address_1="Lake Terrace",
                suburb="Geelong",
                postcode="3220",
                state="vic",
            ),
            "distinct",
        ),
    ],
)
def test_score_pair_decides_by_name_and_address(other: dict[str, str], decision: str) -> None:
    result = score_pair(make_record(**BASE), make_record(**other))
    assert result.decision == decision, result.reasons


def test_score_pair_is_symmetric_and_bounded() -> None:
    a, b = make_record(**BASE), make_record(**person(given_name="Margret", postcode="4015"))
    assert score_pair(a, b).score == score_pair(b, a).score
    assert 0.0 <= score_pair(a, b).score <= 1.0


def test_score_pair_reasons_say_which_fields_agreed_and_how_well() -> None:
    result = score_pair(make_record(**BASE), make_record(**person(given_name="Margret", address_2="Unit 4")))
    assert result.reasons["surname"]["similarity"] == 1.0
    assert 0.8 < result.reasons["given_name"]["similarity"] < 1.0
    assert "address_2" not in result.reasons  # missing on one side: no evidence either way
    assert result.reasons["street_number"]["bits"] > 0


def test_score_pair_reports_swapped_names() -> None:
    result = score_pair(make_record(**BASE), make_record(**person(given_name="Okonkwo", surname="Margaret")))
    assert result.names_swapped
    assert result.reasons["given_name"]["similarity"] == 1.0


def test_score_pair_links_a_household_member_only_with_an_exact_email() -> None:
    a = make_record(**BASE, email="m.okonkwo@example.com")
    same_email = make_record(**person(given_name="Samuel"), email="m.okonkwo@example.com")
    other_email = make_record(**person(given_name="Samuel"), email="samuel@example.com")
    assert score_pair(a, same_email).decision == "link"
    assert score_pair(a, other_email).decision == "suggest"


def test_thresholds_are_ordered() -> None:
    assert 0 < LOW < HIGH <= 1


def test_record_from_identity_splits_the_name_and_the_first_address_line() -> None:
    record = record_from_identity(
        7,
        "Mary Ann O'Neil",
        {
            "line1": "12B Main St",
            "line2": "Apt 4",
            "city": "Springfield",
            "region": "IL",
            "postal_code": "62704-1234",
            "country": "US",
        },
        email="Mary@Example.com",
        phone="+1 (217) 555-0100",
    )
    assert (record.given_name, record.surname) == ("mary ann", "o neil")
    assert (record.street_number, record.address_1, record.address_2) == ("12b", "main street", "apartment 4")
    assert (record.suburb, record.postcode, record.state) == ("springfield", "62704", "il")
    assert (record.email, record.phone) == ("mary@example.com", "12175550100")


def test_match_records_finds_every_known_link_in_the_fixture() -> None:
    with (FIXTURES / "people.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    with (FIXTURES / "people_links.csv").open(newline="") as handle:
        truth = {frozenset(row.values()) for row in csv.DictReader(handle)}
    records = [make_record(row.pop("rec_id"), **row) for row in rows]
    compared, found = match_records(records)
    links = {frozenset((records[i].key, records[j].key)) for i, j, m in found if m.decision == "link"}
    assert compared < len(records) * (len(records) - 1) // 2 / 10  # blocking, not all pairs
    assert precision_recall_f1(links, truth) == (1.0, 1.0, 1.0)


@pytest.mark.parametrize(
    ("predicted", "expected"),
    [
        ({frozenset("ab"), frozenset("cd")}, (1.0, 1.0, 1.0)),
        ({frozenset("ab"), frozenset("xy")}, (0.5, 0.5, 0.5)),
        (set(), (0.0, 0.0, 0.0)),
    ],
)
def test_precision_recall_f1_counts_unordered_pairs(predicted, expected) -> None:
    assert precision_recall_f1(predicted, {frozenset("ab"), frozenset("dc")}) == expected


def test_record_from_identity_reads_surname_first_names_with_a_comma() -> None:
    record = record_from_identity(1, "Okonkwo, Margaret", None, email=None, phone="555")
    assert (record.given_name, record.surname, record.phone) == ("margaret", "okonkwo", "")


HOUSEHOLD = {
    "street_number": "27",
    "address_1": "Kestrel Crescent",
    "suburb": "Fairview",
    "postcode": "4051",
    "state": "qld",
}


@pytest.mark.parametrize(
    ("left", "right", "decision"),
    [
        (("John", "Smith"), ("Mary", "Smith"), "suggest"),  # spouses: one address, two given names
        (("John", "Smith"), ("Smith", "John"), "link"),  # given name and surname swapped
        (("John", "Smith"), ("", "Smith"), "link"),  # the given name missing
        (("John", "Smith"), ("Jonh", "Smith"), "link"),  # two letters transposed
        (("Ebony", "Walsh"), ("Ebon y", "Walsh"), "link"),  # a word split by a stray space
        (("Victoria", "Walsh"), ("Vicky", "Walsh"), "link"),  # a nickname
        (("John", "Smith"), ("", "Jones"), "suggest"),  # no given name and another surname: not enough
    ],
)
def test_score_pair_names_at_one_address(
    left: tuple[str, str], right: tuple[str, str], decision: str
) -> None:
    a = make_record(given_name=left[0], surname=left[1], **HOUSEHOLD)
    b = make_record(given_name=right[0], surname=right[1], **HOUSEHOLD)
    assert score_pair(a, b).decision == decision
    assert score_pair(b, a).decision == decision


def test_score_pair_measured_without_the_household_rule_links_two_given_names() -> None:
    a = make_record(given_name="John", surname="Smith", **HOUSEHOLD)
    b = make_record(given_name="Mary", surname="Smith", **HOUSEHOLD)
    assert score_pair(a, b, household_rule=False).decision == "link"


def test_score_pair_never_links_a_namesake_on_a_street_of_the_same_name_in_another_town() -> None:
    providence = record_from_identity(
        1,
        "Jasper Mitchell",
        {
            "line1": "4739 Main Street",
            "line2": "Apt 11",
            "city": "Providence",
            "region": "RI",
            "postal_code": "02981",
            "country": "US",
        },
        email=None,
        phone=None,
    )
    minneapolis = record_from_identity(
        2,
        "Jasper Mitchell",
        {
            "line1": "7044 Main Street",
            "line2": "Apt 14E",
            "city": "Minneapolis",
            "region": "MN",
            "postal_code": "55497",
            "country": "US",
        },
        email=None,
        phone=None,
    )
    assert score_pair(providence, minneapolis).decision != "link"


def test_blocking_keys_meet_across_a_split_word_and_swapped_address_lines() -> None:
    a = make_record(**person(address_1="Larkspur Street", address_2="Gummy Gully"))
    b = make_record(
        **person(surname="Okonkow", postcode="4015", address_1="Gummy G ully", address_2="Larkspurs treet")
    )
    shared = {key.split(":")[0] for key in blocking_keys(a) & blocking_keys(b)}
    assert {"ln_no", "ln_sb"} <= shared
