"""Help-centre search: typo-tolerant ranking of articles with rapidfuzz (pure, no database)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from rapidfuzz import fuzz, utils

MIN_SCORE = 60.0


@dataclass(frozen=True)
class HelpDoc:
    slug: str
    title: str
    summary: str
    keywords: str
    topic: str


STOPWORDS = frozenset(
    "a an and are at be but by can could did do does for from has have how i if in is it its me my of on "
    "or our so that the their them there this to was we what when where which who why will with you "
    "your".split()
)


def _content(text: str) -> str:
    return " ".join(word for word in utils.default_process(text).split() if word not in STOPWORDS)


def search_help(docs: Sequence[HelpDoc], query: str, *, limit: int = 8) -> list[tuple[HelpDoc, float]]:
    """Articles best matching `query`, best first. Common words are ignored; each remaining word is matched
    against the title and keywords with typos forgiven ("retrun" finds "Returns"), and the summary counts a
    little; a query found whole in a title wins outright."""
    whole = utils.default_process(query)
    terms = _content(query)
    if not terms:
        return []
    scored = []
    for doc in docs:
        title = _content(doc.title)
        keywords = _content(doc.keywords)
        summary = _content(doc.summary)
        score = max(
            fuzz.token_set_ratio(terms, title),
            0.95 * fuzz.token_set_ratio(terms, keywords) if keywords else 0.0,
            0.95 * _best_word_match(terms, f"{title} {keywords}"),
            0.8 * fuzz.partial_ratio(terms, summary) if len(terms) >= 6 and summary else 0.0,
        )
        if whole and whole in utils.default_process(doc.title):
            score = 100.0
        if score >= MIN_SCORE:
            scored.append((doc, round(score, 1)))
    scored.sort(key=lambda pair: (-pair[1], pair[0].title))
    return scored[:limit]


def _best_word_match(query: str, text: str) -> float:
    """Mean of each query word's best match against the text's words (catches single-word typos)."""
    words = text.split()
    if not words:
        return 0.0
    terms = [term for term in query.split() if len(term) >= 3]
    if not terms:
        return 0.0
    return sum(max(fuzz.ratio(term, word) for word in words) for term in terms) / len(terms)


# Which help topics an order in each stage most likely needs.
TOPICS_FOR_STAGE = {
    "placed": ("orders", "payments"),
    "confirmed": ("orders", "delivery"),
    "backordered": ("delivery", "orders"),
    "on_hold": ("orders",),
    "shipped": ("delivery",),
    "out_for_delivery": ("delivery",),
    "delivered": ("delivery", "returns"),
    "returned": ("returns", "refunds"),
    "cancelled": ("refunds", "orders"),
}
