"""Identity matching on the Febrl record-linkage sample in ../shared/data (skipped when it is absent)."""

from __future__ import annotations

from pathlib import Path

from core.customers.evaluation import evaluate_identity_files

# The recordlinkage toolkit's deduplication guide on febrl1 (exact given-name blocking, six compared fields).
BASELINE_F1 = 0.776


def test_febrl1_automatic_links_beat_the_published_baseline_without_a_wrong_link(shared_data: Path) -> None:
    folder = shared_data / "identity"
    result = evaluate_identity_files(folder / "febrl1.csv", folder / "febrl1_true_links.csv")
    assert result.f1 > BASELINE_F1
    assert result.precision >= 0.99
    assert result.recall_with_suggestions >= 0.98  # what is not linked is at least put to staff
    assert result.pairs_compared < 1000 * 999 // 2 // 100  # blocking: under 1% of all pairs
