"""A delivery address typed into the chat as free text, read into the order's address fields (name, line1,
line2, city, region, postal_code, country). Pure rules, no database.

The text is split at commas and line breaks. The postcode is found by the entity patterns (UK, Canadian, US,
5-digit), a trailing part that names a country (or ends in one) is the country, the first part with a house
number or a street word is the street line, a wordy part before it is the name, flat/unit parts are the
second line, and the last part left is the city. What the text does not say stays out of the result:
the caller fills the rest from the order's current address or asks for it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from core.channels.countries import to_alpha2
from core.support.assistant.entities import find_postcodes

FIELDS = ("name", "line1", "line2", "city", "region", "postal_code", "country")
# What the customer must give for a new address (the name and the country default to the current ones).
NEEDED = {"line1": "the street and house number", "city": "the town or city"}
STREET_WORDS = frozenset(
    "street st road rd avenue ave lane ln drive dr way close court ct place pl crescent cres terrace gardens "
    "gdns boulevard blvd parkway pkwy square sq hill row walk mews grove highway hwy strasse str straße "
    "rue allee allée weg platz gasse calle via".split()
)
SECOND_LINE = re.compile(
    r"^(?:flat|apartment|apt|unit|suite|ste|floor|building|bldg|c/o|room|po box)\b", re.IGNORECASE
)
LEAD_IN = re.compile(
    r"^\s*(?:(?:ok|okay|yes|sure|so|please)[,!.]?\s+)*(?:"
    r"(?:(?:my|the|our)\s+)?(?:new\s+)?(?:delivery\s+|shipping\s+)?address\s*(?:is|should be|:|=)\s*"
    r"|(?:(?:can|could)\s+you\s+)?(?:please\s+)?(?:send|ship|deliver|change|post)\s+(?:it\s+|them\s+)?to\s*:?\s*"
    r"|it(?:'|’)?s\s+|to\s*:\s*"
    r")",
    re.IGNORECASE,
)
NOT_PLACE_WORDS = frozenset(
    "i im i'm me my you your we our it its is are can could would will please yes no not nope yeah ok okay "
    "address change order want need help thanks thank the a an what why how where when which dont don't "
    "cancel track refund return person agent human code email".split()
)
US_STATE = re.compile(r"^[A-Z]{2}$")
_SPACES = re.compile(r"\s+")


def parse_address(text: str) -> dict[str, str]:
    """The address fields the text gives (see the module's docstring); {} when it holds none."""
    body = LEAD_IN.sub("", text.strip(), count=1).strip().rstrip(".!")
    found: dict[str, str] = {}
    parts = [_SPACES.sub(" ", p).strip(" .;") for p in re.split(r"[,\n;]+", body)]
    parts = [p for p in parts if p]
    postcode = None
    for index in range(len(parts) - 1, -1, -1):  # the last postcode-shaped part: a house number comes first
        found_here = find_postcodes(parts[index])
        if found_here:
            postcode = found_here[-1]
            found["postal_code"] = postcode.value
            parts[index] = _remove_postcode(parts[index], postcode.value).strip()
            parts = [p for p in parts if p]
            break
    country, parts = _take_country(parts)
    if country:
        found["country"] = country
    elif postcode is not None and len(postcode.countries) == 1:
        found["country"] = postcode.countries[0]
    if parts and US_STATE.match(parts[-1]) and found.get("country", "US") in ("US", "CA"):
        found["region"] = parts.pop()
    street = next((i for i, part in enumerate(parts) if _is_street(part)), None)
    if street is None:
        if len(parts) == 1 and _looks_like_a_place(parts[0]):
            found["city"] = parts[0]
        return found
    line1 = parts[street]
    before, after = parts[:street], parts[street + 1 :]
    if not after:  # "221B Baker Street London": the words after the street word are the city
        line1, city = _split_street_and_city(line1)
        after = [city] if city else []
    found["line1"] = line1
    second = [p for p in [*before, *after] if SECOND_LINE.match(p)]
    before = [p for p in before if p not in second]
    after = [p for p in after if p not in second]
    if before:
        found["name"] = before[0]
        second = before[1:] + second
    if after:
        found["city"] = after[-1]
        second += after[:-1]
    if second:
        found["line2"] = ", ".join(second)
    return found


def missing_parts(address: Mapping[str, str]) -> list[str]:
    """The needed parts the address still lacks, in words."""
    return [words for field, words in NEEDED.items() if not (address.get(field) or "").strip()]


def merge_address(known: Mapping[str, str], more: Mapping[str, str]) -> dict[str, str]:
    """The address so far with what the next message added (a street line given again starts over)."""
    if more.get("line1"):
        return {f: v for f, v in more.items() if v}
    merged = {f: v for f, v in known.items() if v}
    merged.update({f: v for f, v in more.items() if v})
    return merged


def complete_address(address: Mapping[str, str], current: Mapping[str, object] | None) -> dict[str, str]:
    """The address with the name and country taken from the current one when the customer gave none."""
    current = current or {}
    full = {f: (address.get(f) or "").strip() for f in FIELDS}
    for field in ("name", "country"):
        if not full[field] and current.get(field):
            full[field] = str(current[field])
    return full


def format_address(address: Mapping[str, object]) -> str:
    """One line, as the customer reads it back."""
    return ", ".join(str(address[f]) for f in FIELDS if address.get(f))


def _remove_postcode(body: str, value: str) -> str:
    pattern = r"[\s-]?".join(re.escape(ch) for ch in value.replace(" ", "").replace("-", ""))
    return re.sub(rf"(?<![\w-]){pattern}(?![\w-])", " ", body, count=1, flags=re.IGNORECASE)


def _take_country(parts: list[str]) -> tuple[str | None, list[str]]:
    """The country named by the last part (or its last one to three words), and the parts without it."""
    if not parts:
        return None, parts
    last = parts[-1]
    if len(parts) > 1 and not any(ch.isdigit() for ch in last) and _country(last):
        return _country(last), parts[:-1]
    words = last.split()
    for size in (3, 2, 1):
        if len(words) > size:
            tail = " ".join(words[-size:])
            code = _country(tail)
            if code and (size > 1 or len(tail) > 2 or tail.isupper()):
                return code, [*parts[:-1], " ".join(words[:-size])]
    return None, parts


def _country(words: str) -> str | None:
    if len(words) == 2 and not words.isupper():
        return None  # "in", "de": a word, not a country code
    return to_alpha2(words)


def _looks_like_a_place(part: str) -> bool:
    """A town's name, not a sentence: up to four words, no digits, none of the words of a request."""
    words = part.lower().split()
    return 0 < len(words) <= 4 and not any(ch.isdigit() for ch in part) and not set(words) & NOT_PLACE_WORDS


def _is_street(part: str) -> bool:
    words = [w.strip(".").lower() for w in part.split()]
    if SECOND_LINE.match(part):
        return False
    has_number = any(any(ch.isdigit() for ch in w) for w in words)
    return (has_number and len(words) >= 2) or any(w in STREET_WORDS for w in words[1:])


def _split_street_and_city(line: str) -> tuple[str, str]:
    words = line.split()
    last_street_word = max(
        (i for i, w in enumerate(words) if w.strip(".").lower() in STREET_WORDS and i > 0), default=None
    )
    if last_street_word is None or last_street_word == len(words) - 1:
        return line, ""
    if any(ch.isdigit() for ch in " ".join(words[last_street_word + 1 :])):
        return line, ""  # "Hauptstrasse 5": the number belongs to the street
    return " ".join(words[: last_street_word + 1]), " ".join(words[last_street_word + 1 :])
