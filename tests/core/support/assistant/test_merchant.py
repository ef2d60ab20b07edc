"""A merchant's own labelled examples: `crossdock intents import` stores them (no duplicates, bad files
refused whole), the chat's classifier learns them, and their answers or handoffs apply."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from cli.assistant import intents_group
from core.support.assistant import merchant
from core.support.assistant.responder import Context, respond

ROWS = (
    "text,intent,answer\n"
    "do you sell wholesale,wholesale,Write to trade@shop.example for trade prices.\n"
    "trade account prices for shops,wholesale,\n"
    "bulk discount for my store,wholesale,\n"
    "can i get it gift wrapped,gift_wrap,\n"
    "gift wrapping available?,gift_wrap,\n"
    "wrap it as a present please,gift_wrap,\n"
)


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "instance" / "intents.csv"
    monkeypatch.setenv("CROSSDOCK_INTENTS_FILE", str(path))
    return path


def test_import_stores_the_rows_once_and_reports_new_intents(store: Path, tmp_path: Path) -> None:
    source = tmp_path / "mine.csv"
    source.write_text(ROWS, encoding="utf-8")
    first = CliRunner().invoke(intents_group, ["import", str(source)])
    assert first.exit_code == 0, first.output
    assert first.output.splitlines() == [
        f"added 6 example(s), 0 already there; 6 stored in {store}",
        "intents of your own: gift_wrap (handed to a person), wholesale (answered)",
    ]
    again = CliRunner().invoke(intents_group, ["import", str(source)])
    assert again.output.startswith("added 0 example(s), 6 already there; 6 stored")
    assert merchant.answers() == {"wholesale": "Write to trade@shop.example for trade prices."}


def test_a_bad_file_is_refused_whole_with_one_line(store: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("text,intent\nfine row,greeting\n,missing_text\n", encoding="utf-8")
    result = CliRunner().invoke(intents_group, ["import", str(bad)])
    assert result.exit_code == 1 and "bad.csv line 3: text and intent are both needed" in result.output
    assert not store.exists()
    wrong = tmp_path / "wrong.csv"
    wrong.write_text("utterance,label\nhi,greeting\n", encoding="utf-8")
    assert "needs text and intent columns" in CliRunner().invoke(intents_group, ["import", str(wrong)]).output
    broken = tmp_path / "broken.csv"
    broken.write_text('text,intent\n"' + "x" * 200_000 + '",greeting\n', encoding="utf-8")  # over csv's limit
    result = CliRunner().invoke(intents_group, ["import", str(broken)])
    assert result.exit_code == 1 and "broken.csv: not a readable CSV file" in result.output
    assert not store.exists()


def test_the_chat_classifier_learns_them_and_the_responder_applies_them(store: Path) -> None:
    merchant.import_rows(merchant.parse_import(_write(store.parent / "in.csv", ROWS)))
    classifier = merchant.classifier()
    wholesale = classifier.predict("do u do wholesale prices")
    assert wholesale.intent == "wholesale"
    assert classifier.predict("where is my order").intent == "track_order"  # ours still known
    answered = respond(
        "do u do wholesale prices", wholesale, Context(guest=True, custom_answers=merchant.answers())
    )
    assert answered.text == "Write to trade@shop.example for trade prices." and answered.action is None
    gift = classifier.predict("could you gift wrap it")
    assert gift.intent == "gift_wrap"
    assert respond("could you gift wrap it", gift, Context(guest=True)).action == "handoff"


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path
