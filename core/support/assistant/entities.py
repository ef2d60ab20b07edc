"""Entities in a customer's message: order numbers of every channel, emails, postcodes, quantities, dates and
catalogue products (by SKU or a fuzzy title). Pure functions: the catalogue and today are passed in."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import TypeVar

from rapidfuzz import fuzz, utils

_T = TypeVar("_T")

PRODUCT_MATCH_CUTOFF = 85.0
PRODUCT_MATCH_LIMIT = 3

# (channel, pattern); the boundaries keep an eBay number from matching inside an Amazon one.
ORDER_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("crossdock", re.compile(r"(?<![\w-])CD[-\s]?(\d{7,})(?![\w-])", re.IGNORECASE)),
    ("amazon", re.compile(r"(?<![\w-])(\d{3}-\d{7}-\d{7})(?![\w-])")),
    ("ebay", re.compile(r"(?<![\w-])(\d{2}-\d{5}-\d{5})(?![\w-])")),
    ("shopify", re.compile(r"(?<![\w#])#(\d{3,})(?![\w-])")),
)
EMAIL = re.compile(r"(?<![\w.+-])[\w.+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
POSTCODE_PATTERNS: tuple[tuple[tuple[str, ...], re.Pattern[str]], ...] = (
    (("GB",), re.compile(r"\b([A-Z]{1,2}\d[A-Z\d]?) ?(\d[A-Z]{2})\b", re.IGNORECASE)),
    (("CA",), re.compile(r"\b([A-Z]\d[A-Z]) ?(\d[A-Z]\d)\b", re.IGNORECASE)),
    (("US",), re.compile(r"(?<![\d-])(\d{5})-(\d{4})(?![\d-])")),
    (("US", "DE", "FR"), re.compile(r"(?<![\d.,/-])(\d{5})(?![\d.,/-])")),
)
ISO_DATE = re.compile(r"\b(\d{4})-(\d{1,2})-(\d{1,2})\b")
DAY_MONTH = re.compile(r"(?<![\d/.-])(\d{1,2})[/.](\d{1,2})(?:[/.](\d{2}|\d{4}))?(?![\d/.-])")
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
WEEKDAY = re.compile(r"\b(?:(last|next|this|on)\s+)?(" + "|".join(WEEKDAYS) + r")\b")
RELATIVE_DAYS = {"day after tomorrow": 2, "today": 0, "tonight": 0, "tomorrow": 1, "tmrw": 1, "yesterday": -1}
RELATIVE_DAY = re.compile(r"\b(" + "|".join(sorted(RELATIVE_DAYS, key=len, reverse=True)) + r")\b")
NUMBER_WORDS = {
    "a couple of": 2,
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "a dozen": 12,
    "dozen": 12,
}
NOT_ITEMS = frozenset(
    "am pm days day weeks week months month years year hours hour minutes mins times time percent "
    "dollars dollar pounds pound euros euro usd gbp eur quid bucks kg g cm mm".split()
)
FILLERS = ("more", "extra", "of", "the", "additional", "new")
QUANTITY = re.compile(
    r"\b(?:(?:qty|quantity)\s*:?\s*(\d{1,3})\b|(\d{1,3})\s*x\b|x\s?(\d{1,3})\b|"
    r"(\d{1,3}|" + "|".join(sorted(NUMBER_WORDS, key=len, reverse=True)) + r")\s+"
    r"(?:(?:" + "|".join(FILLERS) + r")\s+)*([a-z]+))"
)
MONEY = re.compile(
    r"[$£€]\s?\d[\d,]*(?:\.\d+)?|\b\d[\d,]*(?:\.\d+)?\s?(?:dollars?|pounds?|euros?|usd|gbp|eur)\b"
)


@dataclass(frozen=True)
class OrderReference:
    """An order number as the customer wrote it, normalised, and the channel whose format it has."""

    number: str
    channel: str


@dataclass(frozen=True)
class Postcode:
    """A postcode, normalised (upper case, one space), and the countries whose format it fits."""

    value: str
    countries: tuple[str, ...]


@dataclass(frozen=True)
class Quantity:
    """A count and the word it counts ("" when written as `x3` or `qty 3`)."""

    amount: int
    item: str


@dataclass(frozen=True)
class ProductMatch:
    """A catalogue product the message names, by SKU (score 100) or fuzzy title."""

    code: str
    title: str
    score: float


@dataclass(frozen=True)
class Entities:
    """Everything found in one message."""

    order_numbers: tuple[OrderReference, ...] = ()
    emails: tuple[str, ...] = ()
    postcodes: tuple[Postcode, ...] = ()
    quantities: tuple[Quantity, ...] = ()
    dates: tuple[date, ...] = ()
    products: tuple[ProductMatch, ...] = field(default=())


def _mask(text: str, pattern: re.Pattern[str]) -> str:
    """The text with the pattern's matches blanked out (same length, so positions hold)."""
    return pattern.sub(lambda match: " " * len(match.group(0)), text)


def find_order_numbers(text: str) -> list[OrderReference]:
    """Order numbers in our format (CD-1000042), Amazon's, eBay's and Shopify's (#1001), in text order."""
    found: list[tuple[int, OrderReference]] = []
    for channel, pattern in ORDER_PATTERNS:
        for match in pattern.finditer(text):
            number = f"CD-{match.group(1)}" if channel == "crossdock" else match.group(0).strip()
            found.append((match.start(), OrderReference(number, channel)))
    return _unique(reference for _, reference in sorted(found, key=lambda pair: pair[0]))


def find_emails(text: str) -> list[str]:
    """Email addresses, lower-cased."""
    return _unique(match.group(0).rstrip(".").lower() for match in EMAIL.finditer(text))


def find_postcodes(text: str) -> list[Postcode]:
    """UK, Canadian, US ZIP(+4) and 5-digit (US, DE, FR) postcodes, outside order numbers and emails."""
    text = _mask(_mask(_mask_orders(text), EMAIL), MONEY)
    found: list[tuple[int, Postcode]] = []
    for countries, pattern in POSTCODE_PATTERNS:
        for match in pattern.finditer(text):
            separator = "-" if countries == ("US",) else " "
            value = separator.join(part for part in match.groups() if part).upper()
            found.append((match.start(), Postcode(value, countries)))
            text = text[: match.start()] + " " * len(match.group(0)) + text[match.end() :]
    return _unique(postcode for _, postcode in sorted(found, key=lambda pair: pair[0]))


def find_dates(text: str, *, today: date) -> list[date]:
    """Dates: today/tomorrow/yesterday, weekdays (the coming one, today included; `next` one after today;
    `last` the one before today), ISO (2026-12-24) and day/month[/year] (24/12, 24.12.2026)."""
    lowered = text.lower()
    found: list[tuple[int, date]] = []
    for match in RELATIVE_DAY.finditer(lowered):
        found.append((match.start(), today + timedelta(days=RELATIVE_DAYS[match.group(1)])))
    for match in WEEKDAY.finditer(lowered):
        modifier, name = match.groups()
        weekday = next(i for i, day in enumerate(WEEKDAYS) if day.startswith(name[:3]))
        ahead = (weekday - today.weekday()) % 7
        if modifier == "last":
            found.append((match.start(), today - timedelta(days=(today.weekday() - weekday) % 7 or 7)))
        elif modifier == "next":
            found.append((match.start(), today + timedelta(days=ahead or 7)))
        else:
            found.append((match.start(), today + timedelta(days=ahead)))
    masked = _mask_orders(lowered)
    for match in ISO_DATE.finditer(masked):
        year, month, day = (int(part) for part in match.groups())
        _append_date(found, match.start(), year, month, day)
    masked = _mask(masked, ISO_DATE)
    for match in DAY_MONTH.finditer(masked):
        day, month = int(match.group(1)), int(match.group(2))
        year = int(match.group(3)) if match.group(3) else today.year
        _append_date(found, match.start(), year + 2000 if year < 100 else year, month, day)
    return _unique(found_date for _, found_date in sorted(found, key=lambda pair: pair[0]))


def find_quantities(text: str) -> list[Quantity]:
    """Counts of things: `2 mugs`, `two more shirts`, `x3`, `3x`, `qty: 4` (not amounts, times or numbers)."""
    lowered = _mask(_mask(_mask(_mask_orders(text.lower()), EMAIL), MONEY), ISO_DATE)
    lowered = _mask(lowered, DAY_MONTH)
    found: list[Quantity] = []
    for match in QUANTITY.finditer(lowered):
        explicit = match.group(1) or match.group(2) or match.group(3)
        if explicit:
            found.append(Quantity(int(explicit), ""))
            continue
        item = match.group(5)
        if item in NOT_ITEMS or item in FILLERS:
            continue
        count = match.group(4)
        amount = int(count) if count.isdigit() else NUMBER_WORDS[count]
        if amount:
            found.append(Quantity(amount, item))
    return found


def match_products(text: str, catalogue: Sequence[tuple[str, str]]) -> list[ProductMatch]:
    """Catalogue products (code, title) the message names: its SKU as a word, else a close title (typos
    forgiven); best first, at most `PRODUCT_MATCH_LIMIT`."""
    words = {word.upper() for word in re.findall(r"[\w-]+", text)}
    query = utils.default_process(text)
    matches: list[ProductMatch] = []
    for code, title in catalogue:
        if code.upper() in words:
            matches.append(ProductMatch(code, title, 100.0))
            continue
        candidate = utils.default_process(title)
        if not query or len(candidate) < 3:
            continue
        score = max(
            fuzz.token_set_ratio(query, candidate, score_cutoff=PRODUCT_MATCH_CUTOFF),
            fuzz.partial_ratio(candidate, query, score_cutoff=PRODUCT_MATCH_CUTOFF)
            if len(candidate) >= 5
            else 0,
        )
        if score:
            matches.append(ProductMatch(code, title, round(score, 1)))
    matches.sort(key=lambda match: -match.score)
    return matches[:PRODUCT_MATCH_LIMIT]


def extract_entities(text: str, *, today: date, catalogue: Sequence[tuple[str, str]] = ()) -> Entities:
    """Every entity of the message; `today` anchors relative dates."""
    return Entities(
        order_numbers=tuple(find_order_numbers(text)),
        emails=tuple(find_emails(text)),
        postcodes=tuple(find_postcodes(text)),
        quantities=tuple(find_quantities(text)),
        dates=tuple(find_dates(text, today=today)),
        products=tuple(match_products(text, catalogue)),
    )


def _mask_orders(text: str) -> str:
    """The text without its order numbers."""
    for _, pattern in ORDER_PATTERNS:
        text = _mask(text, pattern)
    return text


def _append_date(found: list[tuple[int, date]], position: int, year: int, month: int, day: int) -> None:
    """Add the date when it exists on the calendar (31/02 does not)."""
    try:
        found.append((position, date(year, month, day)))
    except ValueError:
        return


def _unique(items: Iterable[_T]) -> list[_T]:
    """The items without repeats, first occurrence kept."""
    return list(dict.fromkeys(items))
