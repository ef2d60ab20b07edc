"""The chat service: a new delivery address (asked for, completed, read back, made only on "yes" through the
agents' address service, on the timeline and audited as the assistant's), refused once shipped and handed
off when the customer insists; a guest's emailed code (sent through the outbox, single-use, expiring,
rate-limited) proving the order in the chat."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.audit.models import AuditEntry
from core.fulfillment.models import Shipment
from core.notifications.models import OutboxMessage
from core.orders.models import Order, OrderEvent
from core.security.guest import code_window, guest_code
from core.support import chat
from core.support.models import Conversation
from tests.factories import NOW, make_customer, make_order

SECRET = "chat-code-secret"
OLD_ADDRESS = {
    "name": "Jane Doe",
    "line1": "1 Old Road",
    "line2": None,
    "city": "York",
    "region": None,
    "postal_code": "YO1 7HH",
    "country": "GB",
}


@pytest.fixture
def customer(db: Session):
    return make_customer(db, name="Jane Doe", email="jane@example.org")


def unshipped(db: Session, customer_id: int | None, **overrides) -> Order:
    fields = {
        "customer_id": customer_id,
        "status": "confirmed",
        "email": "jane@example.org",
        "shipping_address": dict(OLD_ADDRESS),
    }
    return make_order(db, **(fields | overrides))


class Chat:
    """One conversation, one viewer, a clock that moves a minute a message."""

    def __init__(self, db: Session, viewer: chat.Viewer) -> None:
        self.db, self.viewer, self.now = db, viewer, NOW
        self.conversation = chat.start_chat(db, customer_id=viewer.customer_id, now=NOW)

    def say(self, text: str, *, choice: str = "") -> chat.Turn:
        self.now += timedelta(minutes=1)
        turn = chat.handle_message(
            self.db, self.conversation, text, viewer=self.viewer, now=self.now, choice=choice, secret=SECRET
        )
        if turn.proven_order_id is not None:  # the web layer remembers a proven order in the session
            ids = {*self.viewer.guest_order_ids, turn.proven_order_id}
            self.viewer = chat.Viewer(None, ids, self.viewer.ip_address)
        return turn

    def reply(self, text: str, *, choice: str = "") -> str:
        turn = self.say(text, choice=choice)
        assert turn.reply is not None
        return turn.reply.body


def address_events(db: Session, order: Order) -> list[OrderEvent]:
    return list(
        db.scalars(
            select(OrderEvent).where(OrderEvent.order_id == order.id, OrderEvent.kind == "address_changed")
        )
    )


def test_new_address_is_asked_for_completed_read_back_and_made_on_yes(db, customer) -> None:
    order = unshipped(db, customer.id)
    talk = Chat(db, chat.Viewer(customer.id, ip_address="203.0.113.5"))
    asked = talk.reply(f"I need to change the delivery address for {order.number}")
    assert f"Order {order.number} hasn't shipped yet, so I can change where it goes." in asked
    assert "It's going to: Jane Doe, 1 Old Road, York, YO1 7HH, GB." in asked
    missing = talk.reply("12 High Street, Flat 2")
    assert "I still need the town or city and the postcode" in missing
    read_back = talk.reply("London SW1A 1AA")
    assert read_back == (
        f"I'll change the delivery address of order {order.number} to: Jane Doe, 12 High Street, Flat 2, "
        "London, SW1A 1AA, GB \u2014 yes or no?"
    )
    assert address_events(db, order) == [] and order.shipping_address == OLD_ADDRESS  # nothing before yes
    done = talk.reply("yes please")
    assert (
        done
        == f"Done: order {order.number} will now be delivered to Jane Doe, 12 High Street, Flat 2, London, "
        "SW1A 1AA, GB."
    )
    db.refresh(order)
    assert order.shipping_address == {
        "name": "Jane Doe",
        "line1": "12 High Street",
        "line2": "Flat 2",
        "city": "London",
        "region": None,
        "postal_code": "SW1A 1AA",
        "country": "GB",
    }
    [event] = address_events(db, order)
    assert event.actor == f"assistant for customer:{customer.id}"
    assert event.data["before"]["line1"] == "1 Old Road"
    audits = db.scalars(
        select(AuditEntry).where(AuditEntry.entity_type == "order", AuditEntry.entity_id == str(order.id))
    ).all()
    by_action = {a.action: a for a in audits}
    assert by_action["order.address_change"].actor_label == f"assistant for customer:{customer.id}"
    assert by_action["order.address_change_by_assistant"].after["conversation_id"] == talk.conversation.id


def test_no_at_the_read_back_changes_nothing_and_a_new_address_can_follow(db, customer) -> None:
    order = unshipped(db, customer.id)
    talk = Chat(db, chat.Viewer(customer.id))
    talk.reply(f"change shipping address of {order.number}")
    assert "yes or no?" in talk.reply("Ann Lee, 5 Elm Road, Leeds, LS1 4AB")
    assert "I haven't changed anything" in talk.reply("no")
    assert address_events(db, order) == []
    again = talk.reply("5 Elm Road, Leeds LS2 9JT")
    assert (
        f"I'll change the delivery address of order {order.number} to: Jane Doe, 5 Elm Road, Leeds, "
        "LS2 9JT, GB" in again
    )
    talk.reply("Yes, change it", choice="yes")
    db.refresh(order)
    assert order.shipping_address["postal_code"] == "LS2 9JT"


def test_an_order_shipped_before_the_yes_is_refused_and_left_as_it_was(db, customer) -> None:
    order = unshipped(db, customer.id)
    talk = Chat(db, chat.Viewer(customer.id))
    talk.reply(f"new address for {order.number} please")
    talk.reply("9 Mill Lane, Bristol BS1 4DJ")
    db.add(Shipment(order_id=order.id, carrier="UPS", tracking_number="1Z1", status="in_transit"))
    db.flush()
    refused = talk.reply("yes")
    assert refused.startswith("I couldn't change the address: a parcel is with the carrier")
    assert "Nothing was changed." in refused
    db.refresh(order)
    assert order.shipping_address == OLD_ADDRESS and address_events(db, order) == []


def test_shipped_order_gets_alternatives_then_a_handoff_when_the_customer_insists(db, customer) -> None:
    order = unshipped(db, customer.id, status="shipped")
    talk = Chat(db, chat.Viewer(customer.id))
    first = talk.say(f"please change the delivery address of {order.number}")
    assert (
        f"I can't change the delivery address of order {order.number}: the order is shipped."
        in first.reply.body
    )
    assert "redirect it" in first.reply.body
    assert ["Track the parcel", "intent:track_order"] in first.reply.data["choices"]
    assert talk.conversation.status == "solved"
    insist = talk.say("I really need the address changed")
    assert insist.reply.data["action"] == "handoff"
    assert talk.conversation.status == "open" and talk.conversation.category == "address_change"
    db.refresh(order)
    assert order.shipping_address == OLD_ADDRESS


def test_a_guest_without_proof_cannot_change_an_address(db) -> None:
    order = unshipped(db, None)
    talk = Chat(db, chat.Viewer(None, ip_address="198.51.100.7"))
    asked = talk.reply(f"change the address of {order.number}")
    assert "please also tell me the email address or the postcode" in asked
    assert "9 Mill Lane" not in talk.reply("9 Mill Lane, Bristol BS1 4DJ")
    db.refresh(order)
    assert order.shipping_address == OLD_ADDRESS


def sent_codes(db: Session, order: Order) -> list[OutboxMessage]:
    return list(
        db.scalars(
            select(OutboxMessage).where(
                OutboxMessage.kind == "guest_code", OutboxMessage.recipient == order.email
            )
        )
    )


def test_guest_asks_for_a_code_types_it_and_sees_the_order_once(db) -> None:
    order = unshipped(db, None)
    talk = Chat(db, chat.Viewer(None, ip_address="198.51.100.8"))
    talk.reply(f"where is order {order.number}")
    sent = talk.reply("Email me a code", choice="code:send")
    assert f"I've emailed a 6-digit code to the address order {order.number} was placed with" in sent
    [email] = sent_codes(db, order)
    code = guest_code(SECRET, order.id, email.payload["window"])
    wrong = talk.say("000000" if code != "000000" else "111111")
    assert "That code isn't right" in wrong.reply.body and wrong.proven_order_id is None
    proven = talk.say(f"the code is {code[:3]} {code[3:]}")
    assert proven.proven_order_id == order.id
    assert f"Order {order.number}:" in proven.reply.body  # the question it was asked for is answered
    stranger = Chat(db, chat.Viewer(None, ip_address="198.51.100.9"))
    stranger.reply(f"where is order {order.number}")
    stranger.reply("email me a code please")
    reused = stranger.say(code)
    assert reused.proven_order_id is None and "That code isn't right" in reused.reply.body


def test_an_expired_code_is_refused(db) -> None:
    order = unshipped(db, None)
    talk = Chat(db, chat.Viewer(None, ip_address="198.51.100.10"))
    talk.reply(f"where is {order.number}")
    talk.reply("Email me a code", choice="code:send")
    old = guest_code(SECRET, order.id, code_window(talk.now))
    talk.now += timedelta(minutes=31)
    late = talk.say(old)
    assert late.proven_order_id is None and "has expired" in late.reply.body


def test_a_code_for_an_unknown_order_is_answered_as_if_sent_and_sends_nothing(db) -> None:
    talk = Chat(db, chat.Viewer(None, ip_address="198.51.100.11"))
    talk.reply("where is CD-7777777")
    sent = talk.reply("send me a code")
    assert "I've emailed a 6-digit code to the address order CD-7777777 was placed with (if we have" in sent
    assert db.scalars(select(OutboxMessage).where(OutboxMessage.kind == "guest_code")).all() == []


def test_code_requests_and_tries_are_rate_limited_per_order(db) -> None:
    order = unshipped(db, None)
    talk = Chat(db, chat.Viewer(None, ip_address="198.51.100.12"))
    talk.reply(f"where is {order.number}")
    replies = [talk.reply("Email me a code", choice="code:send") for _ in range(5)]
    assert all("I've emailed" in r for r in replies)
    assert len(sent_codes(db, order)) == 1  # one email per code window
    limited = talk.say("Email me a code", choice="code:send")
    assert "too many tries" in limited.reply.body
    right = guest_code(SECRET, order.id, code_window(talk.now))
    still = talk.say(right)  # no guessing past the limit, not even the right code
    assert still.proven_order_id is None and "too many tries" in still.reply.body


def test_signed_in_customers_are_never_sent_codes(db, customer) -> None:
    order = unshipped(db, customer.id)
    talk = Chat(db, chat.Viewer(customer.id))
    talk.reply(f"where is {order.number}")
    talk.say("Email me a code", choice="code:send")
    assert sent_codes(db, order) == []
    assert db.get(Conversation, talk.conversation.id) is not None
