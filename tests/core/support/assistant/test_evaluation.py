"""Evaluation figures: macro-F1, percentiles, intent maps, and a run over a tiny classifier."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.support.assistant.evaluation import (
    apply_intent_map,
    evaluate_classifier,
    macro_f1_by_intent,
    percentile,
    read_intent_map,
)
from core.support.assistant.intents import IntentClassifier


@pytest.mark.parametrize(
    ("pairs", "expected"),
    [
        ([("a", "a"), ("b", "b")], 1.0),
        ([("a", "b"), ("b", "a")], 0.0),
        # a: P 1/2 R 1/1 F1 2/3; b: P 0 R 0 F1 0 -> 1/3
        ([("a", "a"), ("b", "a")], 0.3333),
        # unknown is a miss that lowers recall without counting as an intent of its own
        ([("a", "a"), ("a", "unknown"), ("b", "b")], 0.8333),
        ([], 0.0),
    ],
)
def test_macro_f1_by_intent_averages_per_intent_f1(pairs: list[tuple[str, str]], expected: float) -> None:
    macro, per_intent = macro_f1_by_intent(pairs)
    assert macro == expected
    assert "unknown" not in per_intent


@pytest.mark.parametrize(
    ("values", "fraction", "expected"),
    [
        ([], 0.95, 0.0),
        ([5.0], 0.95, 5.0),
        ([float(v) for v in range(1, 101)], 0.95, 95.0),
        ([1, 2, 3, 4], 0.5, 2),
    ],
)
def test_percentile_is_nearest_rank(values: list[float], fraction: float, expected: float) -> None:
    assert percentile(values, fraction) == expected


def test_apply_intent_map_renames_and_drops_rows_the_map_leaves_out() -> None:
    rows = [("where is it", "where_is_it"), ("gift card?", "gift_cards"), ("stop it", "stop_order")]
    mapping = {"where_is_it": "track_order", "stop_order": "cancel_order"}
    assert apply_intent_map(rows, mapping) == [("where is it", "track_order"), ("stop it", "cancel_order")]


def test_read_intent_map_needs_from_and_to_columns(tmp_path: Path) -> None:
    good = tmp_path / "map.csv"
    good.write_text("from,to\nwhere_is_it,track_order\nempty,\n")
    assert read_intent_map(good) == {"where_is_it": "track_order"}
    bad = tmp_path / "bad.csv"
    bad.write_text("source,target\na,b\n")
    with pytest.raises(ValueError, match="from"):
        read_intent_map(bad)


def test_evaluate_classifier_counts_hits_confusions_and_latency() -> None:
    classifier = IntentClassifier(
        [
            ("where is my parcel", "track_order"),
            ("track my order", "track_order"),
            ("has it shipped", "track_order"),
            ("cancel my order", "cancel_order"),
            ("please cancel it", "cancel_order"),
            ("stop the order", "cancel_order"),
        ]
    )
    result = evaluate_classifier(
        classifier,
        [
            ("where's my parcel", "track_order"),
            ("cancel it please", "cancel_order"),
            ("track my order", "refund"),
        ],
    )
    assert result.n == 3
    assert result.accuracy == pytest.approx(2 / 3, abs=1e-4)
    assert result.confusions == [("refund", "track_order", 1)]
    assert 0 < result.p50_ms <= result.p95_ms
    assert set(result.as_dict()) >= {"accuracy", "macro_f1", "n", "p50_ms", "p95_ms", "confusions"}
