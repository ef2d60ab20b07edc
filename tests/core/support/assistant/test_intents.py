"""Intent classification: normalised text, shipped examples, held-out utterances, merchant training."""

from __future__ import annotations

import csv
import os
from collections import Counter
from pathlib import Path

import pytest

from core.support.assistant.evaluation import apply_intent_map, evaluate_classifier
from core.support.assistant.intents import (
    UNKNOWN,
    IntentClassifier,
    classify,
    default_classifier,
    normalise,
    read_examples,
    shipped_examples,
    train,
    train_on,
)

FIXTURES = Path(__file__).resolve().parents[3] / "fixtures" / "intents"
OUR_INTENTS = {
    "track_order",
    "delivery_options",
    "refund_status",
    "return_item",
    "cancel_order",
    "change_address",
    "change_items",
    "payment_issue",
    "invoice",
    "damaged_or_wrong_item",
    "complaint",
    "human_agent",
    "account_help",
    "greeting",
    "thanks",
    "goodbye",
}
# dev.csv's intents (a public Bitext sample) onto ours; the five it has that we do not cover are left out.
BITEXT_TO_OURS = {
    "track_order": "track_order",
    "delivery_options": "delivery_options",
    "delivery_period": "delivery_options",
    "track_refund": "refund_status",
    "get_refund": "return_item",
    "check_refund_policy": "return_item",
    "cancel_order": "cancel_order",
    "change_shipping_address": "change_address",
    "set_up_shipping_address": "change_address",
    "change_order": "change_items",
    "payment_issue": "payment_issue",
    "check_invoice": "invoice",
    "get_invoice": "invoice",
    "complaint": "complaint",
    "contact_human_agent": "human_agent",
    "contact_customer_service": "human_agent",
    "create_account": "account_help",
    "delete_account": "account_help",
    "edit_account": "account_help",
    "recover_password": "account_help",
    "registration_problems": "account_help",
    "switch_account": "account_help",
}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Where's my ORDER??", "where is my order"),
        ("Cancel CD-1000042 pls", "cancel ordernum please"),
        ("order 112-1234567-1234567 & #1001", "order ordernum ordernum"),
        ("refund of $12.50 or 30 euros", "refund of amount or amount"),
        ("mail jo@example.com", "mail emailaddr"),
        ("Hellooooo   thx", "helloo thanks"),
        ("Café crème wanna", "cafe creme want to"),
        ("", ""),
    ],
)
def test_normalise_folds_case_accents_placeholders_and_short_forms(text: str, expected: str) -> None:
    assert normalise(text) == expected


def test_shipped_examples_cover_exactly_our_intents_with_25_to_60_each() -> None:
    counts = Counter(intent for _, intent in shipped_examples())
    assert set(counts) == OUR_INTENTS
    assert all(25 <= count <= 60 for count in counts.values()), counts


def test_shipped_examples_have_no_repeats() -> None:
    texts = [normalise(text) for text, _ in shipped_examples()]
    assert len(texts) == len(set(texts))


def test_held_out_fixture_is_not_in_the_shipped_examples() -> None:
    shipped = {normalise(text) for text, _ in shipped_examples()}
    assert not [text for text, _ in read_examples(FIXTURES / "heldout.csv") if normalise(text) in shipped]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("wheres my stuff?? order 112-1234567-1234567", "track_order"),
        ("wher is my pacrel", "track_order"),
        ("i want to retrun these shoes", "return_item"),
        ("cancle order #1001", "cancel_order"),
        ("u charged me twice!!", "payment_issue"),
        ("let me talk to a real human", "human_agent"),
        ("the mug came smashed", "damaged_or_wrong_item"),
        ("forgot my pasword", "account_help"),
        ("heyyy", "greeting"),
        ("thx a lot", "thanks"),
        ("ok bye", "goodbye"),
    ],
)
def test_classify_understands_typos_and_slang(text: str, expected: str) -> None:
    assert classify(text).intent == expected


@pytest.mark.parametrize("text", ["", "   ", "?!", "asdfgh qwerty zxcv"])
def test_classify_answers_unknown_without_meaning(text: str) -> None:
    prediction = classify(text)
    assert prediction.intent == UNKNOWN
    assert prediction.confidence < 0.2


def test_classify_is_confident_on_a_clear_message() -> None:
    prediction = classify("where is my order")
    assert prediction.intent == prediction.best == "track_order"
    assert prediction.confidence > 0.8


def test_classifier_labels_held_out_utterances() -> None:
    result = evaluate_classifier(default_classifier(), read_examples(FIXTURES / "heldout.csv"))
    assert result.n == 49
    assert result.accuracy >= 0.95, result.confusions
    assert result.macro_f1 >= 0.95


def test_predict_among_limits_the_answer_to_the_intents_given() -> None:
    prediction = default_classifier().predict("i want my money back", among={"refund_status", "cancel_order"})
    assert prediction.best in {"refund_status", "cancel_order"}
    assert default_classifier().predict("hi", among=set()).intent == UNKNOWN


def test_train_learns_a_merchants_new_intent_under_its_own_name() -> None:
    classifier = train(read_examples(FIXTURES / "gift_wrap_train.csv"))
    assert "gift_wrap" in classifier.intents
    assert classifier.predict("could you gift-wrap the candle for me").intent == "gift_wrap"
    assert classifier.predict("where is my order").intent == "track_order"
    assert "gift_wrap" not in default_classifier().intents


def test_train_on_learns_a_data_set_alone_under_its_own_intents() -> None:
    classifier = train_on(read_examples(FIXTURES / "shop_train.csv"))
    assert classifier.intents == ("gift_card_balance", "loyalty_points", "price_match", "store_hours")
    result = evaluate_classifier(classifier, read_examples(FIXTURES / "shop_eval.csv"))
    assert result.n == 8
    assert result.accuracy == 1.0, result.confusions
    assert classifier.predict("where is my order").intent != "track_order"  # not one of its intents


def test_intent_classifier_needs_two_intents() -> None:
    with pytest.raises(ValueError, match="two intents"):
        IntentClassifier([("hi", "greeting"), ("hello", "greeting")])


def test_read_examples_takes_text_or_instruction_columns(tmp_path: Path) -> None:
    path = tmp_path / "rows.csv"
    path.write_text("instruction,intent,category\nwhere is it,track_order,ORDER\n,track_order,ORDER\nhi,,X\n")
    assert read_examples(path) == [("where is it", "track_order")]
    (tmp_path / "bad.csv").write_text("message,label\nhi,greeting\n")
    with pytest.raises(ValueError, match="intent column"):
        read_examples(tmp_path / "bad.csv")


def test_classifier_on_the_public_dev_sample_mapped_onto_our_intents(shared_data: Path) -> None:
    """Shipped examples only, on the 1,112 real utterances of the 22 dev.csv intents we cover."""
    rows = read_examples(shared_data / "intents" / "dev.csv")
    assert len(rows) == 1354
    assert set(Counter(intent for _, intent in rows)) >= set(BITEXT_TO_OURS)
    mapped = apply_intent_map(rows, BITEXT_TO_OURS)
    assert len(mapped) == 1112
    result = evaluate_classifier(default_classifier(), mapped)
    assert result.accuracy >= 0.96, result.confusions
    assert result.macro_f1 >= 0.95


def test_dev_sample_rows_are_not_copied_into_the_shipped_examples(shared_data: Path) -> None:
    with open(shared_data / "intents" / "dev.csv", encoding="utf-8", newline="") as handle:
        public = {normalise(row["instruction"]) for row in csv.DictReader(handle)}
    assert not [text for text, _ in shipped_examples() if normalise(text) in public]


def test_classifier_learnt_from_half_the_public_dev_sample_labels_the_other_half(shared_data: Path) -> None:
    """A stratified 50/50 split of dev.csv (27 intents, 677 rows each side, seed 0): learnt from one half
    alone, as `eval-intents FILE --train TRAIN` does for a data set of the same kind, scored on the other."""
    if os.environ.get("REQUIRE_SHARED_DATA") != "1":
        pytest.skip("learns 677 public rows (a few seconds): runs with REQUIRE_SHARED_DATA=1")
    from sklearn.model_selection import train_test_split

    rows = read_examples(shared_data / "intents" / "dev.csv")
    learnt, unseen = train_test_split(
        rows, test_size=0.5, stratify=[intent for _, intent in rows], random_state=0
    )
    result = evaluate_classifier(train_on(learnt), unseen)
    assert result.n == 677
    assert result.accuracy >= 0.98, result.confusions
    assert result.macro_f1 >= 0.98


def test_two_intent_classifier_gives_each_intent_its_own_probability() -> None:
    classifier = IntentClassifier(
        [
            ("where is my parcel", "track_order"),
            ("track my order", "track_order"),
            ("cancel my order", "cancel_order"),
            ("please cancel it", "cancel_order"),
        ]
    )
    scores = classifier.probabilities("cancel the order")
    assert set(scores) == {"track_order", "cancel_order"}
    assert sum(scores.values()) == pytest.approx(1.0)
    assert scores["cancel_order"] > scores["track_order"]
