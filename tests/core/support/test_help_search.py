"""Help search ranks by title, keywords and summary and forgives typos."""

from __future__ import annotations

import pytest

from core.support.help_search import HelpDoc, search_help

DOCS = [
    HelpDoc(
        "returns",
        "Returns and refunds",
        "How to send something back and when you get your money.",
        "return refund money back send back",
        "returns",
    ),
    HelpDoc(
        "tracking",
        "Where is my parcel?",
        "Follow your order from our warehouse to your door.",
        "tracking track parcel package delivery late",
        "delivery",
    ),
    HelpDoc(
        "missing",
        "My parcel says delivered but I can't find it",
        "What to check and how we help.",
        "delivered missing not received stolen neighbour",
        "delivery",
    ),
    HelpDoc(
        "cancel", "Cancelling an order", "Change your mind before we ship.", "cancel stop order", "orders"
    ),
]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("returns", "returns"),
        ("retrun", "returns"),
        ("refnud", "returns"),
        ("where is my parcle", "tracking"),
        ("delivered but not received", "missing"),
        ("cancel", "cancel"),
        ("cancle my order", "cancel"),
    ],
)
def test_search_help_finds_the_right_article_despite_typos(query: str, expected: str) -> None:
    results = search_help(DOCS, query)
    assert results and results[0][0].slug == expected


def test_search_help_empty_and_nonsense_queries_find_nothing() -> None:
    assert search_help(DOCS, "   ") == []
    assert search_help(DOCS, "qzxv") == []


def test_cached_help_docs_rereads_after_a_minute(db) -> None:
    from core.support.models import HelpArticle
    from core.support.queries import cached_help_docs

    db.add(HelpArticle(slug="a", title="A", body="x", topic="delivery"))
    db.flush()
    assert [d.slug for d in cached_help_docs(db, now=1000.0)] == ["a"]
    db.add(HelpArticle(slug="b", title="B", body="y", topic="delivery"))
    db.flush()
    assert [d.slug for d in cached_help_docs(db, now=1030.0)] == ["a"]
    assert sorted(d.slug for d in cached_help_docs(db, now=1061.0)) == ["a", "b"]
