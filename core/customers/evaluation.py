"""Measuring identity matching against known true links, on CSV files in the Febrl record-linkage shape."""

from __future__ import annotations

import csv
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from core.customers.matching import (
    PersonRecord,
    candidate_pairs,
    make_record,
    precision_recall_f1,
    score_pair,
)
from core.errors import DomainError

# Only name, address and contact fields reach the matcher: never rec_id, birth dates or national ids.
MATCHED_COLUMNS = (
    "given_name",
    "surname",
    "street_number",
    "address_1",
    "address_2",
    "suburb",
    "postcode",
    "state",
    "email",
    "phone",
)
REQUIRED_COLUMNS = ("rec_id", "given_name", "surname", "postcode")


def read_person_csv(path: Path, *, side: str = "") -> list[PersonRecord]:
    """The records of a person CSV, keyed `side + rec_id`; DomainError when a required column is missing."""
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        missing = [column for column in REQUIRED_COLUMNS if column not in (reader.fieldnames or [])]
        if missing:
            raise DomainError(f"{path.name} has no {', '.join(missing)} column")
        return [
            make_record(side + row["rec_id"], **{column: row.get(column) for column in MATCHED_COLUMNS})
            for row in reader
        ]


def read_links_csv(path: Path, *, two_files: bool = False) -> set[frozenset[str]]:
    """The true pairs of a links CSV (`rec_id_1,rec_id_2`), unordered."""
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        if not {"rec_id_1", "rec_id_2"} <= set(reader.fieldnames or []):
            raise DomainError(f"{path.name} has no rec_id_1 and rec_id_2 columns")
        first, second = ("1:", "2:") if two_files else ("", "")
        return {frozenset((first + row["rec_id_1"], second + row["rec_id_2"])) for row in reader}


@dataclass(frozen=True)
class Evaluation:
    """Automatic links scored against the truth, and the same with every suggestion accepted."""

    precision: float
    recall: float
    f1: float
    pairs_compared: int
    true_links: int
    predicted_links: int
    suggested_links: int
    precision_with_suggestions: float
    recall_with_suggestions: float
    f1_with_suggestions: float
    seconds: float

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def evaluate_identity_files(
    path: Path, links: Path, other: Path | None = None, *, household_rule: bool = True
) -> Evaluation:
    """Block and score the records of one file (duplicates within it) or of two (links across them) and
    compare the links found with the true ones; the time covers reading the records, blocking and scoring.
    `household_rule=False` measures what the rule that never links two given names costs (resolution
    always keeps it)."""
    truth = read_links_csv(links, two_files=other is not None)
    started = time.perf_counter()
    if other is None:
        records = read_person_csv(path)
        pairs = candidate_pairs(records)
    else:
        left, right = read_person_csv(path, side="1:"), read_person_csv(other, side="2:")
        records = left + right
        pairs = {(i, j) for i, j in candidate_pairs(records) if i < len(left) <= j}
    linked: set[frozenset[str]] = set()
    suggested: set[frozenset[str]] = set()
    for i, j in pairs:
        decision = score_pair(records[i], records[j], household_rule=household_rule).decision
        if decision != "distinct":
            (linked if decision == "link" else suggested).add(frozenset((records[i].key, records[j].key)))
    seconds = time.perf_counter() - started
    precision, recall, f1 = precision_recall_f1(linked, truth)
    precision_all, recall_all, f1_all = precision_recall_f1(linked | suggested, truth)
    return Evaluation(
        precision=round(precision, 4),
        recall=round(recall, 4),
        f1=round(f1, 4),
        pairs_compared=len(pairs),
        true_links=len(truth),
        predicted_links=len(linked),
        suggested_links=len(suggested),
        precision_with_suggestions=round(precision_all, 4),
        recall_with_suggestions=round(recall_all, 4),
        f1_with_suggestions=round(f1_all, 4),
        seconds=round(seconds, 3),
    )
