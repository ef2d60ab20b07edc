"""Intent classification per chat message, by a classifier learnt from a labelled data set alone (what
`crossdock eval-intents FILE --train TRAIN` builds): the shipped examples stand in for the data set, and the
messages are those examples with a typo each (a letter dropped or doubled, deterministic), so every message
is new to the model.

The run classifies each message as the chat does (`probabilities` then `decide`: normalising, the nearest
examples' vote and the logistic regression). The floor is the bare model on the same messages: scikit-learn's
TF-IDF and logistic regression `predict_proba`, one message a call. Goals: at least half the floor's rate,
and p95 under 10 ms a message (the database is not involved; it runs once per target like every scenario).
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field

from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline

from benchmarks.runner import Scenario, Target
from core.support.assistant.intents import IntentClassifier, shipped_examples, train_on

SEED = 11


@dataclass
class _Context:
    classifier: IntentClassifier
    baseline: object
    messages: list[str]
    latencies: list[float] = field(default_factory=list)  # seconds, per message


def _with_typo(text: str, rng: random.Random) -> str:
    letters = [i for i, ch in enumerate(text) if ch.isalpha()]
    if not letters:
        return text
    i = rng.choice(letters)
    return text[:i] + text[i + 1 :] if rng.random() < 0.5 else text[: i + 1] + text[i:]


def setup(_target: Target) -> _Context:
    examples = shipped_examples()
    rng = random.Random(SEED)
    baseline = make_pipeline(
        TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True),
        LogisticRegression(C=100.0, max_iter=2000),
    )
    baseline.fit([t for t, _ in examples], [i for _, i in examples])
    return _Context(
        classifier=train_on(examples),
        baseline=baseline,
        messages=[_with_typo(text, rng) for text, _ in examples],
    )


def classify_messages(ctx: _Context) -> float:
    for message in ctx.messages:
        started = time.perf_counter()
        ctx.classifier.decide(ctx.classifier.probabilities(message))
        ctx.latencies.append(time.perf_counter() - started)
    return len(ctx.messages)


def bare_model(ctx: _Context) -> float:
    for message in ctx.messages:
        ctx.baseline.predict_proba([message])  # type: ignore[attr-defined]
    return len(ctx.messages)


SCENARIOS = [
    Scenario(
        name="chat intent classification per message, a data set learnt alone",
        setup=setup,
        run=classify_messages,
        floor=bare_model,
        unit="messages/s",
        repeats=5,
        goal=0.5,
        latencies=lambda ctx: ctx.latencies,
        p95_goals_ms={"sqlite": 10.0, "postgresql": 10.0},
        floor_note="scikit-learn's TF-IDF + logistic regression predict_proba, one message a call",
    ),
]
