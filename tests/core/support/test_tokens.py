"""Reply-to tokens in email addresses and the thread links in our reply emails."""

from __future__ import annotations

from core.support.tokens import (
    conversation_from_addresses,
    make_reply_token,
    make_thread_token,
    read_thread_token,
    reply_address,
)

SECRET = "token-test-secret"


def test_reply_address_round_trips_in_any_header_text_and_case() -> None:
    address = reply_address(SECRET, 42, "shop.example")
    assert address.startswith("reply+c42-") and address.endswith("@shop.example")
    assert len(address.partition("@")[0]) <= 64  # an email local part's limit
    assert conversation_from_addresses(SECRET, f'"Acme Support" <{address}>, other@x.org') == 42
    assert conversation_from_addresses(SECRET, address.upper()) == 42


def test_reply_token_forged_or_for_another_conversation_is_ignored() -> None:
    token = make_reply_token(SECRET, 42)
    forged = token.replace("c42-", "c43-")
    assert conversation_from_addresses(SECRET, f"reply+{forged}@shop.example") is None
    assert conversation_from_addresses("another-secret", f"reply+{token}@shop.example") is None
    assert conversation_from_addresses(SECRET, f"noreply+{token}@shop.example") is None
    assert conversation_from_addresses(SECRET, "support@shop.example") is None


def test_thread_token_opens_one_conversation_and_refuses_tampering() -> None:
    token = make_thread_token(SECRET, 7)
    assert read_thread_token(SECRET, token) == 7
    assert read_thread_token(SECRET, token + "x") is None
    assert read_thread_token("another-secret", token) is None
    assert read_thread_token(SECRET, token, max_age=-1) is None
