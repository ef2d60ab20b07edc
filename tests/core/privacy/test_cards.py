"""No full card number is ever stored: payment fields keep the brand and last four digits only."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from core.channels.registry import ADAPTERS
from core.db import utcnow
from core.orders import intake
from core.privacy.pii import contains_card_number, luhn_valid, mask_card_numbers
from tests.factories import make_channel
from tests.privacy_factories import places_holding

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "channels"
PAN = "4111111111111111"
PAN_SPACED = "4111 1111 1111 1111"
AMEX = "378282246310005"


def test_contains_card_number_finds_a_grouped_card_number() -> None:
    assert contains_card_number(f"paid with {PAN_SPACED} yesterday")
    assert not contains_card_number("order 4111111111111112")


@pytest.mark.parametrize(
    ("digits", "valid"), [(PAN, True), (AMEX, True), ("4111111111111112", False), ("6012345678901", False)]
)
def test_luhn_valid_tells_card_numbers_from_other_digit_runs(digits: str, valid: bool) -> None:
    assert luhn_valid(digits) is valid


@pytest.mark.parametrize(
    ("body", "masked"),
    [
        ('{"credit_card_number": "4111 1111 1111 1111"}', '{"credit_card_number": "•••• 1111"}'),
        ('{"card": {"number": 378282246310005}}', '{"card": {"number": 378282246310005}}'),
        ('{"payment_card_pan": 378282246310005}', '{"payment_card_pan": "•••• 0005"}'),
        ('{"cardNumber":"4111-1111-1111-1111","brand":"visa"}', '{"cardNumber":"•••• 1111","brand":"visa"}'),
        # Not a payment field: an order id that happens to pass the Luhn check stays as it is.
        ('{"id": 4111111111111111, "note": "x"}', '{"id": 4111111111111111, "note": "x"}'),
        ('{"credit_card_number": "•••• •••• •••• 4242"}', '{"credit_card_number": "•••• •••• •••• 4242"}'),
        ('{"payment_reference": "4111111111111112"}', '{"payment_reference": "4111111111111112"}'),
    ],
)
def test_mask_card_numbers_keeps_only_the_last_four_in_payment_fields(body: str, masked: str) -> None:
    assert mask_card_numbers(body) == masked


def _with_card(document: object) -> str:
    """The fixture with Shopify-style payment details carrying a full card number."""
    card = {"credit_card_number": PAN_SPACED, "credit_card_company": "Visa", "credit_card_bin": "411111"}
    if isinstance(document, dict):
        document = {**document, "payment_details": card}
    else:
        document = {"items": document, "payment_details": card}
    return json.dumps(document)


JSON_KINDS = sorted(kind for kind in ADAPTERS if (FIXTURES / kind).is_dir() and kind != "pos_csv")


@pytest.mark.parametrize("kind", JSON_KINDS)
def test_stored_payload_of_every_channel_keeps_no_card_number(db: Session, kind: str) -> None:
    channel = make_channel(db, kind=kind)
    fixture = sorted((FIXTURES / kind).glob("*.json"))[0]
    body = _with_card(json.loads(fixture.read_text()))
    assert PAN_SPACED in body
    payload, _ = intake.store_payload(db, channel, body, source="import", now=utcnow())
    assert PAN_SPACED not in payload.body and PAN not in payload.body
    stored = json.loads(payload.body)["payment_details"]
    assert stored == {
        "credit_card_number": "•••• 1111",
        "credit_card_company": "Visa",
        "credit_card_bin": "411111",
    }


def test_shopify_order_with_a_card_number_leaves_none_in_any_table(db: Session) -> None:
    channel = make_channel(db, kind="shopify")
    document = json.loads((FIXTURES / "shopify" / "order.json").read_text())
    document["order"]["payment_details"] = {"credit_card_number": PAN, "credit_card_company": "Visa"}
    document["order"]["note_attributes"] = [{"name": "card_number", "value": "ignored"}]
    received = intake.receive_payload(db, channel, json.dumps(document), source="webhook", now=utcnow())
    assert received.is_new and received.results, received.failure
    assert places_holding(db, (PAN, PAN_SPACED)) == []
    assert "•••• 1111" in received.payload.body
