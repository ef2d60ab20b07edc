"""The assistant's replies, per intent, on constructed facts: exact texts (carrier, tracking link, refund
amounts), the questions it asks when it lacks the order, confirmation before acting, and handoffs."""

from __future__ import annotations

from datetime import UTC, datetime

from core.support.assistant.intents import Prediction
from core.support.assistant.responder import (
    Article,
    Context,
    DeliveryOption,
    OrderFacts,
    RefundFacts,
    ReturnFacts,
    ShipmentFacts,
    answer_word,
    is_negative,
    respond,
    summary_for_agent,
)

AT = datetime(2026, 11, 20, 9, 30, tzinfo=UTC)
RETURNABLE = ReturnFacts(
    eligible=True,
    reason=None,
    return_by=datetime(2026, 12, 18, tzinfo=UTC),
    handled_by_channel=False,
    instructions=None,
    cancellation_instead=False,
)
SHIPPED = OrderFacts(
    number="CD-1000042",
    status="shipped",
    headline="On its way.",
    currency="USD",
    total=4998,
    refunded_total=0,
    url="/orders/CD-1000042",
    return_url="/orders/CD-1000042/return",
    shipments=(
        ShipmentFacts(
            carrier="UPS",
            tracking_number="1Z999",
            tracking_url="https://www.ups.com/track?tracknum=1Z999",
            explanation="On its way with the carrier.",
            last_event="Departed facility",
            last_event_location="Leeds",
            last_event_at=AT,
            estimated_from=datetime(2026, 11, 23, tzinfo=UTC),
            estimated_to=datetime(2026, 11, 25, tzinfo=UTC),
        ),
    ),
    returns=RETURNABLE,
    cancel_problem="a parcel is with the carrier: create a return instead",
)
UNSHIPPED = OrderFacts(
    number="CD-1000043",
    status="confirmed",
    headline="We're preparing your order.",
    currency="USD",
    total=1999,
    refunded_total=0,
    url="/orders/CD-1000043",
    return_url="/orders/CD-1000043/return",
    returns=ReturnFacts(False, "nothing has shipped yet", None, False, None, True),
)


def sure(intent: str) -> Prediction:
    return Prediction(intent, 0.9, intent)


def test_track_order_states_carrier_tracking_link_last_event_and_window() -> None:
    reply = respond("where's my order", sure("track_order"), Context(guest=False, order=SHIPPED))
    assert reply.text == (
        "Order CD-1000042: On its way. Parcel with UPS, tracking number 1Z999: On its way with the carrier. "
        "Last update Fri 20 Nov: Departed facility (Leeds). Expected Mon 23 Nov–Wed 25 Nov. "
        "Track it: https://www.ups.com/track?tracknum=1Z999"
    )
    assert reply.action is None and reply.state == {"order": "CD-1000042"}


def test_refund_status_gives_the_amounts_and_open_returns() -> None:
    order = OrderFacts(
        **{
            **SHIPPED.__dict__,
            "refunds": (
                RefundFacts(2499, "USD", "original", AT),
                RefundFacts(500, "GBP", "store_credit", AT),
            ),
            "returns": ReturnFacts(**{**RETURNABLE.__dict__, "open_returns": (("RMA-7", "approved"),)}),
        }
    )
    reply = respond("where is my refund", sure("refund_status"), Context(guest=False, order=order))
    assert reply.text == (
        "Order CD-1000042: We refunded 24.99 USD to your original payment method on Fri 20 Nov. "
        "We refunded 5.00 GBP as store credit on Fri 20 Nov. Banks usually take 3–5 working days to show it. "
        "Your return RMA-7 is approved: we refund it once it has reached us and been checked."
    )


def test_no_refund_yet_is_said_plainly() -> None:
    reply = respond("refund?", sure("refund_status"), Context(guest=False, order=SHIPPED))
    assert reply.text == "There's no refund on order CD-1000042 yet."


def test_return_links_to_the_return_form_within_the_window() -> None:
    reply = respond("return it", sure("return_item"), Context(guest=False, order=SHIPPED))
    assert reply.text == (
        "You can return items from order CD-1000042 until Fri 18 Dec. Choose the items and a reason here: "
        "/orders/CD-1000042/return"
    )
    assert reply.links == (("Start a return", "/orders/CD-1000042/return"),)


def test_return_of_an_unshipped_order_offers_a_cancellation() -> None:
    reply = respond("return it", sure("return_item"), Context(guest=False, order=UNSHIPPED))
    assert "can be cancelled instead" in reply.text and ("Cancel it", "intent:cancel_order") in reply.choices


def test_cancel_asks_for_confirmation_then_acts() -> None:
    ask = respond("cancel my order", sure("cancel_order"), Context(guest=False, order=UNSHIPPED))
    assert ask.action is None and ask.state == {"order": "CD-1000043", "awaiting": "confirm_cancel"}
    assert ask.choices == (("Yes, cancel it", "yes"), ("No, keep it", "no"))
    done = respond("Yes, cancel it", sure("goodbye"), Context(guest=False, state=ask.state), choice="yes")
    assert done.action == "cancel"
    assert done.text == (
        "Done: I've asked our team to cancel order CD-1000043. We'll email you as soon as it's cancelled."
    )
    kept = respond("no", Prediction("unknown", 0.1, "x"), Context(guest=False, state=ask.state))
    assert kept.action is None and kept.text == "OK, order CD-1000043 stays as it is."


def test_cancel_of_a_shipped_order_offers_a_return_and_insisting_hands_off() -> None:
    first = respond("cancel it", sure("cancel_order"), Context(guest=False, order=SHIPPED))
    assert first.action is None and first.text.startswith("Order CD-1000042 has already shipped")
    assert ("Return an item", "intent:return_item") in first.choices
    again = respond(
        "cancel it anyway", sure("cancel_order"), Context(guest=False, order=SHIPPED, state=first.state)
    )
    assert again.action == "handoff" and "insists" in (again.reason or "")


def test_a_customer_without_an_order_is_offered_their_recent_orders() -> None:
    reply = respond(
        "where is my parcel",
        sure("track_order"),
        Context(guest=False, order_choices=("CD-1000050", "CD-1000049")),
    )
    assert reply.text == "Which order is this about?"
    assert reply.choices == (("CD-1000050", "order:CD-1000050"), ("CD-1000049", "order:CD-1000049"))
    # Tapping one answers the question the customer asked first.
    tapped = respond(
        "CD-1000042",
        Prediction("unknown", 0.1, "x"),
        Context(guest=False, order=SHIPPED, state=reply.state),
        choice="order:CD-1000042",
    )
    assert tapped.intent == "track_order" and tapped.text.startswith("Order CD-1000042: On its way.")


def test_a_guest_is_asked_for_proof_and_told_nothing_about_an_unknown_order() -> None:
    ask = respond("where is my order", sure("track_order"), Context(guest=True))
    assert "number and the email address or postcode" in ask.text and ask.state["awaiting"] == "proof"
    missing = respond("CD-1000042", sure("track_order"), Context(guest=True, proof_missing="CD-1000042"))
    assert missing.text.startswith("To look at order CD-1000042, please also tell me the email")
    unknown = respond("CD-1 a@b.co", sure("track_order"), Context(guest=True, order_not_found="CD-1"))
    assert unknown.text.startswith("I couldn't find order CD-1 with those details.")


def test_low_confidence_confirms_and_nonsense_twice_hands_off() -> None:
    unsure = respond("hmm order thing", Prediction("track_order", 0.42, "track_order"), Context(guest=False))
    assert unsure.text == "Just to check: is this about where is my order?"
    assert unsure.choices[0] == ("Where is my order?", "intent:track_order") and unsure.action is None
    lost = respond("qwzx", Prediction("unknown", 0.1, "greeting"), Context(guest=False))
    assert lost.action is None and lost.state == {"failures": 1}
    assert ("Talk to a person", "intent:human_agent") in lost.choices
    again = respond("zzkq", Prediction("unknown", 0.1, "greeting"), Context(guest=False, state=lost.state))
    assert again.action == "handoff" and "two messages" in (again.reason or "")


def test_a_person_anger_payment_and_unmapped_intents_hand_off() -> None:
    assert respond("talk to a human", sure("human_agent"), Context(guest=False)).action == "handoff"
    angry = respond(
        "this is RIDICULOUS, where is it", sure("track_order"), Context(guest=False, order=SHIPPED)
    )
    assert angry.action == "handoff" and angry.reason == "The customer sounds upset."
    assert respond("card charged twice", sure("payment_issue"), Context(guest=False)).action == "handoff"
    assert respond("wholesale?", sure("wholesale"), Context(guest=False)).action == "handoff"
    mapped = respond(
        "wholesale?", sure("wholesale"), Context(guest=False, custom_answers={"wholesale": "Email b2b@x"})
    )
    assert mapped.text == "Email b2b@x" and mapped.action is None
    handed = respond("a person please", sure("human_agent"), Context(guest=False))
    assert "usually reply within 4 working hours" in handed.text


def test_delivery_options_come_from_the_channel_and_articles() -> None:
    context = Context(
        guest=True,
        delivery_options=(
            DeliveryOption("Standard", 0, "USD", 3, 5),
            DeliveryOption("Express", 995, "USD", 1, 2),
        ),
        articles=(Article("Delivery times", "/help/delivery-times"),),
    )
    reply = respond("how fast do you deliver", sure("delivery_options"), context)
    assert (
        reply.text
        == "We deliver with: Standard: 3–5 working days, free; Express: 1–2 working days, 9.95 USD."
    )
    assert reply.links == (("Delivery times", "/help/delivery-times"),)


def test_small_talk_and_helpers() -> None:
    assert respond("hi", sure("greeting"), Context(guest=True)).text.startswith("Hello!")
    assert respond("thanks", sure("thanks"), Context(guest=True)).text.startswith("You're welcome")
    assert answer_word("yes please") == "yes" and answer_word("no thanks") == "no"
    assert answer_word("where is my order CD-1") is None
    assert is_negative("WHERE IS MY PARCEL NOW") and not is_negative("where is my parcel")
    summary = summary_for_agent(
        intent="track_order",
        reason="You asked for a person.",
        order="CD-1000042",
        entities=["order CD-1000042 (crossdock)"],
        transcript=[("customer", "where is it"), ("assistant", "x")],
    )
    assert summary == (
        "Chat handed off by the assistant. Reason: You asked for a person. "
        "Detected intent: Where is my order? (track_order). Order: CD-1000042. "
        "Mentioned: order CD-1000042 (crossdock). Last message: "
        "\u201cwhere is it\u201d (2 messages in the chat)."
    )


MOVABLE = OrderFacts(
    number="CD-1000044",
    status="confirmed",
    headline="We're preparing your order.",
    currency="GBP",
    total=1999,
    refunded_total=0,
    url="/orders/CD-1000044",
    return_url="/orders/CD-1000044/return",
    shipping_address={
        "name": "Jane Doe",
        "line1": "1 Old Road",
        "city": "York",
        "postal_code": "YO1 7HH",
        "country": "GB",
    },
)
UNKNOWN_MESSAGE = Prediction("unknown", 0.1, "track_order")


def test_change_address_asks_for_the_new_one_and_names_the_current_one() -> None:
    reply = respond("new address for my order", sure("change_address"), Context(guest=False, order=MOVABLE))
    assert reply.text.startswith("Order CD-1000044 hasn't shipped yet, so I can change where it goes.")
    assert "It's going to: Jane Doe, 1 Old Road, York, YO1 7HH, GB." in reply.text
    assert reply.state == {"order": "CD-1000044", "awaiting": "address", "intent": "change_address"}
    assert reply.action is None


def test_address_parts_are_asked_for_until_complete_then_read_back_and_made_only_on_yes() -> None:
    waiting = {"order": "CD-1000044", "awaiting": "address", "intent": "change_address"}
    partial = respond("9 Mill Lane", UNKNOWN_MESSAGE, Context(guest=False, order=MOVABLE, state=waiting))
    assert partial.text == "Thanks. I still need the town or city and the postcode for the new address."
    assert partial.action is None and partial.state["address"] == {"line1": "9 Mill Lane"}
    read_back = respond(
        "Bristol BS1 4DJ", UNKNOWN_MESSAGE, Context(guest=False, order=MOVABLE, state=partial.state)
    )
    assert read_back.text == (
        "I'll change the delivery address of order CD-1000044 to: Jane Doe, 9 Mill Lane, Bristol, "
        "BS1 4DJ, GB \u2014 yes or no?"
    )
    assert read_back.action is None and read_back.choices == (("Yes, change it", "yes"), ("No", "no"))
    no = respond("no", sure("goodbye"), Context(guest=False, order=MOVABLE, state=read_back.state))
    assert no.action is None and "I haven't changed anything" in no.text
    yes = respond(
        "Yes, change it",
        sure("greeting"),
        Context(guest=False, order=MOVABLE, state=read_back.state),
        choice="yes",
    )
    assert yes.action == "change_address"
    assert yes.state["address"]["line1"] == "9 Mill Lane" and yes.state["address"]["country"] == "GB"


def test_while_waiting_for_an_address_another_question_is_answered_instead() -> None:
    waiting = {"order": "CD-1000044", "awaiting": "address", "intent": "change_address"}
    reply = respond(
        "where is my order", sure("track_order"), Context(guest=False, order=MOVABLE, state=waiting)
    )
    assert reply.text.startswith("Order CD-1000044: We're preparing your order.")


def test_address_of_a_shipped_order_offers_alternatives_then_hands_off_when_insisted() -> None:
    shipped = OrderFacts(**{**SHIPPED.__dict__, "address_problem": "a parcel is with the carrier"})
    first = respond("change my address", sure("change_address"), Context(guest=False, order=shipped))
    assert first.text.startswith("I can't change the delivery address of order CD-1000042: a parcel is with")
    assert first.action is None and first.state["refused"] == "change_address"
    again = respond(
        "please change it", sure("change_address"), Context(guest=False, order=shipped, state=first.state)
    )
    assert again.action == "handoff" and "insists" in (again.reason or "")


def test_a_guest_without_proof_is_offered_an_emailed_code() -> None:
    reply = respond(
        "where is CD-1000042", sure("track_order"), Context(guest=True, proof_missing="CD-1000042")
    )
    assert ("Email me a code", "code:send") in reply.choices
    sent = respond(
        "Email me a code",
        sure("track_order"),
        Context(guest=True, proof_code="sent", code_reference="CD-1000042", state=reply.state),
        choice="code:send",
    )
    assert sent.state == {"awaiting": "code", "intent": "track_order", "reference": "CD-1000042"}
    wrong = respond(
        "123456",
        UNKNOWN_MESSAGE,
        Context(guest=True, proof_code="wrong", code_reference="CD-1000042", state=sent.state),
    )
    assert ("Email me a new code", "code:send") in wrong.choices
    proven = respond("123456", UNKNOWN_MESSAGE, Context(guest=True, order=SHIPPED, state=sent.state))
    assert proven.text.startswith("Order CD-1000042: On its way.")
