"""How well a classifier labels a set of utterances: accuracy, macro-F1, top confusions, latency."""

from __future__ import annotations

import csv
import math
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from statistics import median

from core.support.assistant.intents import UNKNOWN, IntentClassifier


@dataclass(frozen=True)
class Evaluation:
    """The figures of one run; `as_dict` is what `crossdock eval-intents --json` prints."""

    n: int
    accuracy: float
    macro_f1: float
    best_accuracy: float
    closed_accuracy: float
    unknown: int
    p50_ms: float
    p95_ms: float
    per_intent: dict[str, dict[str, float]] = field(default_factory=dict)
    confusions: list[tuple[str, str, int]] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        """JSON-ready figures."""
        return {
            "n": self.n,
            "accuracy": self.accuracy,
            "macro_f1": self.macro_f1,
            "best_accuracy": self.best_accuracy,
            "closed_accuracy": self.closed_accuracy,
            "unknown": self.unknown,
            "p50_ms": self.p50_ms,
            "p95_ms": self.p95_ms,
            "per_intent": self.per_intent,
            "confusions": [{"expected": e, "predicted": p, "count": c} for e, p, c in self.confusions],
        }


def read_intent_map(path: Path | str) -> dict[str, str]:
    """A `from,to` CSV renaming a data set's intents to ours."""
    with open(path, encoding="utf-8-sig", newline="") as handle:
        reader = csv.DictReader(handle)
        if not {"from", "to"} <= set(reader.fieldnames or ()):
            raise ValueError(f"{path}: a map needs `from` and `to` columns")
        return {row["from"].strip(): row["to"].strip() for row in reader if row["from"] and row["to"]}


def apply_intent_map(rows: Sequence[tuple[str, str]], mapping: Mapping[str, str]) -> list[tuple[str, str]]:
    """The rows with their intents renamed; rows whose intent the map leaves out are dropped."""
    return [(text, mapping[intent]) for text, intent in rows if intent in mapping]


def percentile(values: Sequence[float], fraction: float) -> float:
    """The nearest-rank percentile of the values (0 for none)."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = min(len(ordered), max(1, math.ceil(fraction * len(ordered))))
    return ordered[rank - 1]


def macro_f1_by_intent(pairs: Sequence[tuple[str, str]]) -> tuple[float, dict[str, dict[str, float]]]:
    """Macro-F1 over the expected intents of (expected, predicted) pairs, and each intent's P/R/F1/support."""
    expected_counts = Counter(expected for expected, _ in pairs)
    predicted_counts = Counter(predicted for _, predicted in pairs)
    hits = Counter(expected for expected, predicted in pairs if expected == predicted)
    per_intent: dict[str, dict[str, float]] = {}
    f1_scores: list[float] = []
    for intent in sorted(expected_counts):
        precision = hits[intent] / predicted_counts[intent] if predicted_counts[intent] else 0.0
        recall = hits[intent] / expected_counts[intent]
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        f1_scores.append(f1)
        per_intent[intent] = {
            "precision": round(precision, 4),
            "recall": round(recall, 4),
            "f1": round(f1, 4),
            "support": expected_counts[intent],
        }
    macro = sum(f1_scores) / len(f1_scores) if f1_scores else 0.0
    return round(macro, 4), per_intent


def evaluate_classifier(
    classifier: IntentClassifier, rows: Sequence[tuple[str, str]], *, top_confusions: int = 10
) -> Evaluation:
    """Label every (text, intent) row, timing each message; "unknown" counts as a miss. Besides accuracy over
    every intent the classifier knows: `best_accuracy` ignores the unknown threshold, `closed_accuracy`
    answers only among the intents the rows name (as a model trained on those alone would)."""
    labels = {intent for _, intent in rows}
    pairs: list[tuple[str, str]] = []
    best_hits = closed_hits = 0
    latencies: list[float] = []
    for text, expected in rows:
        started = time.perf_counter()
        scores = classifier.probabilities(text)
        prediction = classifier.decide(scores)
        latencies.append((time.perf_counter() - started) * 1000)
        pairs.append((expected, prediction.intent))
        best_hits += prediction.best == expected
        closed_hits += classifier.decide(scores, among=labels).best == expected
    n = len(pairs)
    correct = sum(expected == predicted for expected, predicted in pairs)
    macro_f1, per_intent = macro_f1_by_intent(pairs)
    confusions = Counter((e, p) for e, p in pairs if e != p).most_common(top_confusions)
    return Evaluation(
        n=n,
        accuracy=round(correct / n, 4) if n else 0.0,
        macro_f1=macro_f1,
        best_accuracy=round(best_hits / n, 4) if n else 0.0,
        closed_accuracy=round(closed_hits / n, 4) if n else 0.0,
        unknown=sum(predicted == UNKNOWN for _, predicted in pairs),
        p50_ms=round(median(latencies), 3) if latencies else 0.0,
        p95_ms=round(percentile(latencies, 0.95), 3),
        per_intent=per_intent,
        confusions=[(e, p, c) for (e, p), c in confusions],
    )
