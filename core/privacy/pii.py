"""Pure rules about personal data: what replaces it, how it is found in free text and JSON, what of an address
is kept, and card numbers masked to their last four digits. No database here."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any

ERASED = "[erased]"
ERASED_NAME = "Erased customer"
# An address keeps only what tax and analytics need: the country (and nothing that finds the person).
KEPT_ADDRESS_KEYS = frozenset({"country", "country_code"})
# Keys of a channel's JSON whose value is the person, wherever they sit in the document.
PERSONAL_KEYS = frozenset(
    {
        "name",
        "first_name",
        "last_name",
        "firstname",
        "lastname",
        "given_name",
        "family_name",
        "full_name",
        "buyer_name",
        "buyeremail",
        "buyername",
        "email",
        "contact_email",
        "customer_email",
        "billing_email",
        "phone",
        "phone_number",
        "mobile",
        "address",
        "address1",
        "address2",
        "address_1",
        "address_2",
        "addressline1",
        "addressline2",
        "line1",
        "line2",
        "street",
        "street1",
        "street2",
        "zip",
        "postcode",
        "postal_code",
        "postalcode",
        "company",
        "note",
        "customer_note",
        "browser_ip",
        "client_ip",
        "latitude",
        "longitude",
    }
)
# Shorter needles would erase unrelated words in the free-text sweep (a two-letter name inside "delivered").
MIN_NEEDLE = 4


def needles(values: Iterable[str | None]) -> list[str]:
    """The distinct strings to look for (case-insensitively), longest first so that a full name is erased
    before the given name inside it."""
    seen: dict[str, str] = {}
    for value in values:
        text = (value or "").strip()
        if len(text) >= MIN_NEEDLE and text.casefold() != ERASED.casefold():
            seen.setdefault(text.casefold(), text)
    return sorted(seen.values(), key=len, reverse=True)


def phone_variants(phone: str | None) -> list[str]:
    """A phone number as it is stored and as channels and people write it: E.164, the bare digits, and the
    national number with a leading 0 (the last nine or more digits)."""
    if not phone:
        return []
    digits = re.sub(r"\D", "", phone)
    if len(digits) < 7:
        return [phone]
    variants = {phone, digits, "+" + digits}
    if len(digits) > 10:
        variants.add("0" + digits[-10:])
        variants.add(digits[-10:])
    return sorted(variants)


def _pattern(found: list[str]) -> re.Pattern[str] | None:
    if not found:
        return None
    return re.compile("|".join(re.escape(n) for n in found), re.IGNORECASE)


def scrub_text(text: str | None, found: list[str]) -> str | None:
    """The text with every needle replaced by [erased] (None stays None)."""
    pattern = _pattern(found)
    if text is None or pattern is None:
        return text
    return pattern.sub(ERASED, text)


def scrub_json(value: Any, found: list[str], *, by_key: bool = False) -> Any:
    """A JSON value with every needle inside its strings replaced; with `by_key`, every value under a
    personal key (name, email, phone, address lines...) replaced whole, whatever it holds."""
    pattern = _pattern(found)

    def walk(item: Any, key: str | None) -> Any:
        if by_key and key is not None and key.lower() in PERSONAL_KEYS and item not in (None, "", [], {}):
            if isinstance(item, dict):
                return {k: walk(v, k) for k, v in item.items()}
            return ERASED
        if isinstance(item, dict):
            return {k: walk(v, k) for k, v in item.items()}
        if isinstance(item, list):
            return [walk(v, key) for v in item]
        if isinstance(item, str) and pattern is not None:
            return pattern.sub(ERASED, item)
        return item

    return walk(value, None)


def scrub_document(body: str, found: list[str]) -> str:
    """A stored payload's text with the person taken out: JSON by key and by needle (its shape and amounts
    kept, so it can still be read), any other text (an email) by needle."""
    try:
        document = json.loads(body)
    except ValueError:
        return scrub_text(body, found) or ""
    return json.dumps(scrub_json(document, found, by_key=True), ensure_ascii=False)


def anonymised_address(address: dict[str, Any] | None) -> dict[str, Any] | None:
    """An address with only its country left."""
    if address is None:
        return None
    return {k: v for k, v in address.items() if k in KEPT_ADDRESS_KEYS}


def address_needles(address: dict[str, Any] | None) -> list[str]:
    """The parts of an address that find the person: name, street lines, postcode, phone, company."""
    if not address:
        return []
    keys = ("name", "line1", "line2", "postal_code", "phone", "company", "address1", "address2", "zip")
    return [str(address[k]) for k in keys if address.get(k)]


# --- card numbers ------------------------------------------------------------------------------------------

# 13 to 19 digits, optionally grouped by single spaces or dashes, not inside a longer digit run.
_PAN = re.compile(r"(?<![\d])(?:\d[ -]?){12,18}\d(?![\d])")
# Keys that hold payment details; a PAN-like value is masked only under one of them (an order id can be 13
# digits long and pass the Luhn check by chance).
_PAYMENT_KEY = re.compile(r"card|credit|pan\b|payment|account_?number|cc_?num", re.IGNORECASE)
_PAYMENT_FIELD = re.compile(
    r'"(?P<key>[^"\\]{0,80})"\s*:\s*(?P<value>"(?:[^"\\]|\\.){0,200}"|\d{13,19})', re.IGNORECASE
)


def luhn_valid(digits: str) -> bool:
    """The Luhn check every payment card number passes."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 1:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def _mask_pan(match: re.Match[str]) -> str:
    digits = re.sub(r"\D", "", match.group(0))
    if not 13 <= len(digits) <= 19 or not luhn_valid(digits):
        return match.group(0)
    return "•••• " + digits[-4:]


def mask_card_numbers(body: str) -> str:
    """The body with every full card number in a payment field (a key naming card, credit, payment...)
    replaced by its last four digits, "•••• 4242"; everything else left byte for byte. Cheap when there is
    nothing to mask: one scan for a long digit run first."""
    if not _PAN.search(body):
        return body

    def field(match: re.Match[str]) -> str:
        if not _PAYMENT_KEY.search(match.group("key")):
            return match.group(0)
        value = match.group("value")
        masked = _PAN.sub(_mask_pan, value)
        if masked == value:
            return match.group(0)
        if not value.startswith('"'):
            masked = f'"{masked}"'
        return match.group(0)[: match.start("value") - match.start(0)] + masked

    return _PAYMENT_FIELD.sub(field, body)


def contains_card_number(text: str) -> bool:
    """Whether the text holds a Luhn-valid 13-19 digit run (a full card number)."""
    return any(
        13 <= len(d := re.sub(r"\D", "", m.group(0))) <= 19 and luhn_valid(d) for m in _PAN.finditer(text)
    )
