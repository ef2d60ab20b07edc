"""Fuzzy identity matching, pure (no database): normalisation, blocking keys, pair scoring, thresholds.

The scorer is a Fellegi-Sunter style sum of per-field evidence: each field present on both sides adds its
agreement weight when the values agree, subtracts its disagreement weight when they differ, and in between
interpolates by the rapidfuzz similarity; a field missing on either side adds nothing. The total (in bits)
becomes a 0..1 score with a logistic curve. A pair whose names contradict each other (a present given name
or surname that differs, as between members of one household) or whose streets and house numbers differ
(namesakes in one town) is never linked automatically unless an exact email or phone agrees: at most it is
suggested.
"""

from __future__ import annotations

import re
import unicodedata
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from itertools import combinations
from typing import Any, Literal

from rapidfuzz import fuzz
from rapidfuzz.distance import OSA, JaroWinkler, Levenshtein

HIGH = 0.95  # at or above: link automatically
LOW = 0.5  # at or above (and below HIGH): suggest to staff
MAX_BLOCK = 100  # a blocking key shared by more records than this is too common to compare within

STREET_TYPES = {
    "st": "street",
    "str": "street",
    "rd": "road",
    "ave": "avenue",
    "av": "avenue",
    "cres": "crescent",
    "cr": "crescent",
    "pl": "place",
    "dr": "drive",
    "drv": "drive",
    "ct": "court",
    "crt": "court",
    "cct": "circuit",
    "cir": "circuit",
    "tce": "terrace",
    "ter": "terrace",
    "hwy": "highway",
    "ln": "lane",
    "pde": "parade",
    "blvd": "boulevard",
    "cl": "close",
    "gr": "grove",
    "sq": "square",
    "pkwy": "parkway",
    "apt": "apartment",
    "ste": "suite",
    "n": "north",
    "s": "south",
    "e": "east",
    "w": "west",
}
PLACE_WORDS = {"st": "saint", "mt": "mount", "pt": "port", "nth": "north", "sth": "south"}

_NON_WORD = re.compile(r"[^0-9a-z]+")


@lru_cache(maxsize=1 << 16)  # cities, states, streets and names repeat: each is normalised once
def normalize_text(value: str | None) -> str:
    """Lower case, accents and punctuation removed, single spaces; '' for None."""
    if not value:
        return ""
    decomposed = unicodedata.normalize("NFKD", str(value))
    ascii_text = "".join(ch for ch in decomposed if not unicodedata.combining(ch)).lower()
    return _NON_WORD.sub(" ", ascii_text).strip()


def _expand(value: str | None, words: Mapping[str, str]) -> str:
    return " ".join(words.get(token, token) for token in normalize_text(value).split())


def normalize_street(value: str | None) -> str:
    """A street line normalised, street types spelled out ('12 Main St.' -> '12 main street')."""
    return _expand(value, STREET_TYPES)


def normalize_place(value: str | None) -> str:
    """A suburb or city normalised, 'St'/'Mt' spelled out."""
    return _expand(value, PLACE_WORDS)


_SOUNDEX_CODES = {
    **dict.fromkeys("bfpv", "1"),
    **dict.fromkeys("cgjkqsxz", "2"),
    **dict.fromkeys("dt", "3"),
    "l": "4",
    **dict.fromkeys("mn", "5"),
    "r": "6",
}


def soundex(word: str) -> str:
    """American Soundex of a word ('robert' -> 'r163'); '' when it has no letters."""
    letters = [ch for ch in normalize_text(word) if "a" <= ch <= "z"]
    if not letters:
        return ""
    code, previous = letters[0], _SOUNDEX_CODES.get(letters[0], "")
    for ch in letters[1:]:
        digit = _SOUNDEX_CODES.get(ch, "")
        if digit and digit != previous:
            code += digit
        if ch not in "hw":  # h and w do not separate letters with the same code; vowels do
            previous = digit
        if len(code) == 4:
            break
    return code.ljust(4, "0")


@dataclass(frozen=True)
class PersonRecord:
    """One identity's name and address, normalised; empty strings for missing values."""

    key: Any = None
    given_name: str = ""
    surname: str = ""
    street_number: str = ""
    address_1: str = ""
    address_2: str = ""
    suburb: str = ""
    postcode: str = ""
    state: str = ""
    email: str = ""
    phone: str = ""


def make_record(key: Any = None, **fields: str | None) -> PersonRecord:
    """A record from raw field values (the CSV columns of PersonRecord), each normalised."""
    street = normalize_street(fields.get("address_1"))
    number = normalize_text(fields.get("street_number"))
    phone = "".join(ch for ch in fields.get("phone") or "" if ch.isdigit())
    return PersonRecord(
        key=key,
        given_name=normalize_text(fields.get("given_name")),
        surname=normalize_text(fields.get("surname")),
        street_number=number,
        address_1=street,
        address_2=normalize_street(fields.get("address_2")),
        suburb=normalize_place(fields.get("suburb")),
        postcode=normalize_text(fields.get("postcode")).replace(" ", ""),
        state=normalize_text(fields.get("state")),
        email=(fields.get("email") or "").strip().lower(),
        phone=phone if len(phone) >= 7 else "",
    )


_LEADING_NUMBER = re.compile(r"^(\d+[a-z]?)(?:\s+(.*))?$")


def record_from_identity(
    key: Any, name: str | None, address: Mapping[str, Any] | None, *, email: str | None, phone: str | None
) -> PersonRecord:
    """A record from a channel identity: its full name split at the last word (or at a comma after the
    surname), its address's first line split into house number and street."""
    if name and "," in name:  # "Surname, Given"
        surname, given = (part.strip() for part in name.split(",", 1))
    else:
        words = (name or "").split()
        given, surname = " ".join(words[:-1]), words[-1] if words else ""
    address = address or {}
    line1 = normalize_text(address.get("line1"))
    found = _LEADING_NUMBER.match(line1)
    number, street = (found.group(1), found.group(2) or "") if found else ("", line1)
    postcode = normalize_text(address.get("postal_code")).replace(" ", "")
    if (address.get("country") or "").upper() == "US":
        postcode = postcode[:5]  # ZIP+4 and ZIP name the same place
    return make_record(
        key,
        given_name=given,
        surname=surname,
        street_number=number,
        address_1=street,
        address_2=address.get("line2"),
        suburb=address.get("city"),
        postcode=postcode,
        state=address.get("region"),
        email=email,
        phone=phone,
    )


def _squash(value: str, length: int | None = None) -> str:
    """A normalised value without its spaces (Febrl-style typos split and join words), cut to `length`."""
    return value.replace(" ", "")[:length]


def blocking_keys(record: PersonRecord) -> set[str]:
    """The record's keys in several blocking passes, so a typo in one field still leaves a shared key:
    postcode with the surname's Soundex, postcode with the sorted name initials, the sorted Soundex codes of
    both names, postcode with house number, the suburb with either name's Soundex, each address line's
    start (spaces removed, so either line and a split or joined word still meet) with the house number,
    the postcode, the suburb or either name's Soundex, and exact email or phone. A pass is skipped when one
    of its fields is missing."""
    given_sx, surname_sx = soundex(record.given_name), soundex(record.surname)
    initials = "".join(sorted(name[0] for name in (record.given_name, record.surname) if name))
    suburb = _squash(record.suburb, 6)
    passes: dict[str, tuple[str, ...]] = {
        "pc_sx": (record.postcode, surname_sx),
        "pc_in": (record.postcode, initials),
        "sx_sx": tuple(sorted((given_sx, surname_sx))),
        "pc_no": (record.postcode, record.street_number),
        "sb_sx": (suburb, surname_sx, record.given_name[:1]),
        "sb_gx": (suburb, given_sx, record.surname[:1]),
        "em": (record.email,),
        "ph": (record.phone,),
    }
    keys = {f"{name}:{'|'.join(parts)}" for name, parts in passes.items() if all(parts)}
    for line in {_squash(record.address_1, 6), _squash(record.address_2, 6)} - {""}:
        for name, other in (
            ("ln_no", record.street_number),
            ("ln_pc", record.postcode),
            ("ln_sb", suburb),
            ("ln_gx", given_sx),
            ("ln_sx", surname_sx),
        ):
            if other:
                keys.add(f"{name}:{line}|{other}")
    return keys


def candidate_pairs(
    records: Sequence[PersonRecord], *, max_block: int = MAX_BLOCK, keys: Sequence[set[str]] | None = None
) -> set[tuple[int, int]]:
    """Index pairs (i < j) of records sharing at least one blocking key (`keys[i]` when computed already);
    keys held by more than `max_block` records are skipped (too common to tell anyone apart)."""
    blocks: dict[str, list[int]] = defaultdict(list)
    for index, record in enumerate(records):
        for key in blocking_keys(record) if keys is None else keys[index]:
            blocks[key].append(index)
    pairs: set[tuple[int, int]] = set()
    for members in blocks.values():
        if 1 < len(members) <= max_block:
            pairs.update(combinations(members, 2))
    return pairs


@dataclass(frozen=True)
class FieldWeight:
    agree: float  # bits added when the values agree
    disagree: float  # bits taken when they differ
    floor: float  # similarity at or below which the values count as different
    full: float = 0.96  # similarity at or above which they count as the same


WEIGHTS: dict[str, FieldWeight] = {
    "given_name": FieldWeight(7.0, 3.0, 0.70),
    "surname": FieldWeight(9.0, 4.0, 0.70),
    "street_number": FieldWeight(5.0, 3.0, 0.70),  # a digit off is mostly another house
    "address_1": FieldWeight(8.0, 3.0, 0.65),
    "address_2": FieldWeight(5.0, 1.0, 0.65),
    "suburb": FieldWeight(4.0, 3.0, 0.70),  # suburb and postcode name one place: weighed as less than two
    "postcode": FieldWeight(5.0, 3.0, 0.70),
    "state": FieldWeight(2.0, 2.0, 0.50, full=1.0),
    "email": FieldWeight(12.0, 0.0, 0.99, full=1.0),  # one person has several addresses: no penalty
    "phone": FieldWeight(12.0, 0.0, 0.99, full=1.0),
}
PRIOR_BITS = 12.0  # evidence needed for even odds that two records in one block are the same person
NAME_AGREES = 0.8  # a present name below this similarity contradicts the match


# Common English nicknames and the given names they stand for: a nickname agrees with its name.
_NICKNAMES = {
    "abby": "abigail", "alex": "alexander", "andy": "andrew", "ben": "benjamin", "becca": "rebecca",
    "beth": "elizabeth", "bill": "william", "billy": "william", "bob": "robert", "bobby": "robert",
    "chris": "christopher", "chuck": "charles", "dan": "daniel", "danny": "daniel", "dave": "david",
    "ed": "edward", "eddie": "edward", "gabe": "gabriel", "jen": "jennifer", "jenny": "jennifer",
    "jess": "jessica", "jim": "james", "jimmy": "james", "joe": "joseph", "joey": "joseph", "jon": "jonathan",
    "josh": "joshua", "kate": "katherine", "katie": "katherine", "kathy": "katherine", "liz": "elizabeth",
    "maggie": "margaret", "matt": "matthew", "meg": "margaret", "mike": "michael", "nat": "natalie",
    "nick": "nicholas", "pat": "patricia", "peggy": "margaret", "rob": "robert", "sam": "samantha",
    "steph": "stephanie", "steve": "steven", "theo": "theodore", "tim": "timothy", "tom": "thomas",
    "tommy": "thomas", "tony": "anthony", "vicky": "victoria", "will": "william", "zach": "zachary",
    "bella": "isabella", "liam": "william", "ted": "edward",
}  # fmt: skip


def _name_similarity(a: str, b: str) -> float:
    """Jaro-Winkler, also with spaces removed ('ebon i' is 'eboni'); a name that is the other's initial or
    start ('m', 'alex' for 'alexander') counts as agreeing."""
    squashed_a, squashed_b = _squash(a), _squash(b)
    if squashed_a == squashed_b:
        return 1.0
    if _NICKNAMES.get(a, a) == _NICKNAMES.get(b, b):  # 'vicky' and 'victoria'
        return 0.95
    similarity = max(
        JaroWinkler.normalized_similarity(a, b), JaroWinkler.normalized_similarity(squashed_a, squashed_b)
    )
    if OSA.distance(squashed_a, squashed_b) <= 1:  # one typo, a transposition included ('sam', 'sma')
        similarity = max(similarity, NAME_AGREES + 0.1)
    shorter, longer = sorted((squashed_a, squashed_b), key=len)
    if longer.startswith(shorter) and (len(shorter) == 1 or len(shorter) >= 3):
        similarity = max(similarity, NAME_AGREES)
    return similarity


def _text_similarity(a: str, b: str) -> float:
    """The best of Jaro-Winkler and token-sort ratio, and of the Levenshtein similarity with spaces removed
    ('dixonddrive' is 'dixon drive' with a typo)."""
    return max(
        JaroWinkler.normalized_similarity(a, b),
        fuzz.token_sort_ratio(a, b) / 100,
        Levenshtein.normalized_similarity(_squash(a), _squash(b)),
    )


def _code_similarity(a: str, b: str) -> float:
    return Levenshtein.normalized_similarity(a, b)


def _exact(a: str, b: str) -> float:
    return 1.0 if a == b else 0.0


_SIMILARITY = {
    "street_number": _code_similarity,
    "address_1": _text_similarity,
    "address_2": _text_similarity,
    "suburb": _text_similarity,
    "postcode": _code_similarity,
    "state": _exact,
    "email": _exact,
    "phone": _exact,
}


def _evidence(name: str, similarity: float) -> float:
    weight = WEIGHTS[name]
    if similarity >= weight.full:
        return weight.agree
    if similarity <= weight.floor:
        return -weight.disagree
    share = (similarity - weight.floor) / (weight.full - weight.floor)
    return -weight.disagree + share * (weight.agree + weight.disagree)


@dataclass(frozen=True)
class MatchResult:
    """A pair's score (0..1), its decision and, per field compared, its similarity and evidence in bits."""

    score: float
    decision: Literal["link", "suggest", "distinct"]
    reasons: dict[str, dict[str, float]] = field(default_factory=dict)
    names_swapped: bool = False


def _bits(similarities: Mapping[str, float]) -> float:
    return sum(_evidence(name, similarity) for name, similarity in similarities.items())


def _name_evidence(a: PersonRecord, b: PersonRecord, *, swapped: bool) -> dict[str, float]:
    other = {"given_name": b.surname, "surname": b.given_name} if swapped else vars(b)
    return {
        name: _name_similarity(getattr(a, name), other[name])
        for name in ("given_name", "surname")
        if getattr(a, name) and other[name]
    }


def _score(similarities: Mapping[str, float]) -> float:
    return 1 / (1 + 2 ** (PRIOR_BITS - _bits(similarities)))


def _result(
    similarities: Mapping[str, float], decision: Literal["link", "suggest", "distinct"], swapped: bool
) -> MatchResult:
    reasons = {
        name: {"similarity": round(similarity, 3), "bits": round(_evidence(name, similarity), 2)}
        for name, similarity in similarities.items()
    }
    return MatchResult(round(_score(similarities), 4), decision, reasons, swapped)


def score_pair(a: PersonRecord, b: PersonRecord, *, household_rule: bool = True) -> MatchResult:
    """How likely two records are one person, with the reasons; given name and surname, and the two address
    lines, are also compared crosswise (swapped fields), the better reading kept.

    Linked automatically only when the score reaches HIGH and nothing contradicts it, unless an exact email
    or phone agrees: no name can be compared, the given names differ (two people of one household: the
    household rule, which only evaluation may switch off to measure what it costs), the surnames differ with
    no given name to compare, the streets and house numbers differ, or the suburbs and postcodes do (a
    namesake on a street of the same name in another town)."""
    straight = _name_evidence(a, b, swapped=False)
    crossed = _name_evidence(a, b, swapped=True)
    # Read swapped only when it explains more names: a lone surname is not read as the other's given name.
    swapped = (len(crossed) > len(straight) or len(crossed) == 2) and _bits(crossed) > _bits(straight)
    similarities = crossed if swapped else straight
    pending = []
    for name, similarity_of in _SIMILARITY.items():
        left, right = getattr(a, name), getattr(b, name)
        if left and right:
            if similarity_of is _text_similarity:
                pending.append((name, left, right))
            else:
                similarities[name] = similarity_of(left, right)
    if _bits(similarities) + sum(WEIGHTS[name].agree for name, *_ in pending) < PRIOR_BITS:
        return _result(similarities, "distinct", swapped)  # even full agreement on the rest falls short
    for name, left, right in pending:
        similarities[name] = _text_similarity(left, right)
    if (a.address_2 or b.address_2) and a.address_1 and b.address_1:  # the two lines given swapped
        crosswise = {
            "address_1": _text_similarity(a.address_1, b.address_2) if b.address_2 else 0.0,
            "address_2": _text_similarity(a.address_2, b.address_1) if a.address_2 else 0.0,
        }
        if a.address_2 and b.address_2:
            if sum(crosswise.values()) > similarities["address_1"] + similarities["address_2"]:
                similarities.update(crosswise)
        else:  # one record has a single line: compared with whichever of the other's lines fits it better
            similarities["address_1"] = max(similarities["address_1"], *crosswise.values())
    score = _score(similarities)
    given, surname = similarities.get("given_name"), similarities.get("surname")
    names_contradict = (
        (given is None and (surname is None or surname < NAME_AGREES))
        or (household_rule and given is not None and given < NAME_AGREES)
        or (given is not None and given < NAME_AGREES and surname is not None and surname < NAME_AGREES)
    )
    street_contradicts = (  # another street, or the same street name in another town
        similarities.get("address_1", 1.0) <= WEIGHTS["address_1"].floor
        and similarities.get("street_number", 0.0) < 1.0
    ) or (
        all(similarities.get(name, 1.0) <= WEIGHTS[name].floor for name in ("suburb", "postcode"))
        and similarities.get("street_number", 0.0) < 1.0
        and similarities.get("state", 0.0) < 1.0
    )
    exact_contact = any(similarities.get(n) == 1.0 for n in ("email", "phone"))
    if score >= HIGH and (exact_contact or not (names_contradict or street_contradicts)):
        decision: Literal["link", "suggest", "distinct"] = "link"
    elif score >= LOW:
        decision = "suggest"
    else:
        decision = "distinct"
    return _result(similarities, decision, swapped)


def match_records(
    records: Sequence[PersonRecord], *, max_block: int = MAX_BLOCK
) -> tuple[int, list[tuple[int, int, MatchResult]]]:
    """Block then score: (number of candidate pairs compared, the pairs scored at or above LOW)."""
    pairs = candidate_pairs(records, max_block=max_block)
    found = []
    for i, j in sorted(pairs):
        result = score_pair(records[i], records[j])
        if result.decision != "distinct":
            found.append((i, j, result))
    return len(pairs), found


def precision_recall_f1(
    predicted: Iterable[frozenset[Any]], truth: Iterable[frozenset[Any]]
) -> tuple[float, float, float]:
    """Precision, recall and F1 of predicted unordered pairs against the true ones (0.0 where undefined)."""
    predicted, truth = set(predicted), set(truth)
    hits = len(predicted & truth)
    precision = hits / len(predicted) if predicted else 0.0
    recall = hits / len(truth) if truth else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1
