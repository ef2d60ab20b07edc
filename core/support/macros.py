"""Canned replies: a fixed set of `{{ name.field }}` variables filled in by plain substitution (the text is
never run as a template), and typo-tolerant search with rapidfuzz. Pure functions, no database."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from rapidfuzz import fuzz, utils

from core.errors import DomainError

MACRO_VARIABLES: dict[str, str] = {
    "customer.first_name": "the customer's first name",
    "customer.name": "the customer's full name",
    "order.number": "the order's number",
    "order.channel": "the shop the order was placed on",
    "shipment.carrier": "the latest parcel's carrier",
    "shipment.tracking_number": "the latest parcel's tracking number",
    "shipment.tracking_url": "the carrier's tracking page for the latest parcel",
    "agent.first_name": "your first name",
}
# `{{ name.field }}` with any spacing; anything else between braces is left as written.
VARIABLE_RE = re.compile(r"\{\{\s*([a-z_]+\.[a-z_]+)\s*\}\}")
MIN_SCORE = 72.0


@dataclass(frozen=True)
class RenderedMacro:
    text: str
    missing: tuple[str, ...]  # variables with no value here, left in the text for the agent to fill


@dataclass(frozen=True)
class MacroDoc:
    id: int
    name: str
    body: str
    category: str | None


def placeholder(name: str) -> str:
    """How a variable is written in a macro: `{{ customer.first_name }}`."""
    return "{{ " + name + " }}"


def variables_in(body: str) -> list[str]:
    """The variable names a macro uses, in order of first use."""
    return list(dict.fromkeys(VARIABLE_RE.findall(body)))


def check_macro_body(body: str) -> str:
    """The body, stripped; DomainError when empty or when it names a variable we don't fill."""
    body = body.strip()
    if not body:
        raise DomainError("a canned reply needs some text")
    unknown = [name for name in variables_in(body) if name not in MACRO_VARIABLES]
    if unknown:
        names = ", ".join(placeholder(name) for name in unknown)
        known = ", ".join(placeholder(name) for name in MACRO_VARIABLES)
        raise DomainError(f"unknown variable {names}: use {known}")
    return body


def render_macro(body: str, values: Mapping[str, str | None]) -> RenderedMacro:
    """The macro with each known variable replaced by its value, in one pass (a value is never scanned for
    variables again); variables without a value stay as written and are listed in `missing`."""
    missing: list[str] = []

    def substitute(match: re.Match[str]) -> str:
        name = match.group(1)
        value = values.get(name)
        if name not in MACRO_VARIABLES or not value:
            if name not in missing:
                missing.append(name)
            return match.group(0)
        return value

    return RenderedMacro(VARIABLE_RE.sub(substitute, body), tuple(missing))


def search_macros(macros: Sequence[MacroDoc], query: str, *, limit: int = 8) -> list[MacroDoc]:
    """Macros best matching `query`, best first; all of them by name for an empty query. Each query word
    counts by its best match among a macro's words (a word being typed matches as a prefix, typos are
    forgiven: "retrun" finds "Return"); the name counts most, then the category, then the text."""
    words = utils.default_process(query).split()
    if not words:
        return sorted(macros, key=lambda m: m.name.lower())[:limit]
    scored = []
    for macro in macros:
        score = max(
            _words_score(words, macro.name),
            0.9 * _words_score(words, (macro.category or "").replace("_", " ")),
            0.8 * _words_score(words, macro.body),
        )
        if score >= MIN_SCORE:
            scored.append((score, macro))
    scored.sort(key=lambda pair: (-pair[0], pair[1].name.lower()))
    return [macro for _, macro in scored[:limit]]


def _words_score(words: list[str], text: str) -> float:
    """Mean over the query words of each one's best match among the text's words."""
    candidates = utils.default_process(text).split()
    if not candidates:
        return 0.0
    return sum(max(_word_score(word, c) for c in candidates) for word in words) / len(words)


def _word_score(word: str, candidate: str) -> float:
    if candidate.startswith(word):
        return 100.0
    return fuzz.ratio(word, candidate)
