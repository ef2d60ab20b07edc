"""What the assistant says next: pure rules over the message's intent, its entities, the conversation's state
and facts read from the database (passed in). It never states a fact that is not in those facts.

A reply carries its text, the choices offered as buttons, an action for the service to take (a cancellation
request, a new delivery address, a handoff to a person) and the state the next turn starts from.

A new delivery address is a short dialogue: the assistant asks for it, reads the parts it can from each
message (core.support.assistant.address), asks for the parts still missing, reads the whole address back,
and only a "yes" to that carries it out. A guest proves an order by its email or postcode, or by a code
emailed to the order's address (the service sends and checks it; `Context.proof_code` says how it went).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from core.money import format_money
from core.support.assistant.address import (
    complete_address,
    format_address,
    merge_address,
    missing_parts,
    parse_address,
)
from core.support.assistant.intents import UNKNOWN, Prediction, normalise

CONFIRM_BELOW = 0.5  # below this confidence the assistant checks what the customer meant
FAILURES_BEFORE_HANDOFF = 2
ORDER_INTENTS = frozenset(
    {
        "track_order",
        "refund_status",
        "return_item",
        "cancel_order",
        "change_address",
        "change_items",
        "damaged_or_wrong_item",
        "invoice",
    }
)
# Intents a person handles: the assistant hands them off with the context (after finding the order).
HUMAN_INTENTS = {
    "human_agent": "You asked for a person.",
    "payment_issue": "A payment question.",
    "complaint": "A complaint.",
    "change_items": "A change to the items of an order.",
    "invoice": "An invoice for an order.",
}
INTENT_LABELS = {
    "track_order": "Where is my order?",
    "delivery_options": "Delivery options",
    "refund_status": "My refund",
    "return_item": "Return an item",
    "cancel_order": "Cancel an order",
    "change_address": "Change the delivery address",
    "change_items": "Change the items",
    "payment_issue": "A payment problem",
    "invoice": "An invoice",
    "damaged_or_wrong_item": "Damaged or wrong item",
    "complaint": "Make a complaint",
    "human_agent": "Talk to a person",
    "account_help": "My account",
}
# Ticket categories (core.support.services.CATEGORIES) for a handed-off intent.
CATEGORY_FOR_INTENT = {
    "track_order": "where_is_my_order",
    "return_item": "return",
    "refund_status": "refund",
    "damaged_or_wrong_item": "damaged",
    "cancel_order": "cancel",
    "change_address": "address_change",
    "change_items": "product_question",
}
NEGATIVE_WORDS = frozenset(
    "angry furious ridiculous useless terrible awful worst scam disgusting pathetic unacceptable fraud "
    "lawyer solicitor sue legal court chargeback stupid hate joke rubbish garbage wtf".split()
)
YES_WORDS = frozenset("yes yeah yep yup sure ok okay please confirm confirmed correct y".split())
NO_WORDS = frozenset("no nope nah dont stop keep n".split())
PERSON = ("Talk to a person", "intent:human_agent")
SEND_CODE = "code:send"  # the choice that asks for a code by email
STOP_WORDS = frozenset("cancel stop nevermind never mind forget leave".split())
MENU = ("track_order", "return_item", "refund_status", "delivery_options")


@dataclass(frozen=True)
class ShipmentFacts:
    carrier: str | None
    tracking_number: str | None
    tracking_url: str | None
    explanation: str
    last_event: str | None = None
    last_event_location: str = ""
    last_event_at: datetime | None = None
    estimated_from: datetime | None = None
    estimated_to: datetime | None = None
    delivered_at: datetime | None = None


@dataclass(frozen=True)
class RefundFacts:
    amount: int  # minor units, shipping included
    currency: str
    method: str  # original, store_credit
    created_at: datetime


@dataclass(frozen=True)
class ReturnFacts:
    """The order's return eligibility (core.returns.eligibility) and its open returns."""

    eligible: bool
    reason: str | None
    return_by: datetime | None
    handled_by_channel: bool
    instructions: str | None
    cancellation_instead: bool
    open_returns: tuple[tuple[str, str], ...] = ()  # (RMA number, status)


@dataclass(frozen=True)
class DeliveryOption:
    name: str
    price: int
    currency: str
    min_days: int
    max_days: int


@dataclass(frozen=True)
class OrderFacts:
    number: str
    status: str
    headline: str
    currency: str
    total: int
    refunded_total: int
    url: str
    return_url: str
    shipments: tuple[ShipmentFacts, ...] = ()
    refunds: tuple[RefundFacts, ...] = ()
    returns: ReturnFacts | None = None
    cancel_problem: str | None = None  # why it can't be cancelled now (None: it can)
    cancel_requested: bool = False
    address_problem: str | None = None  # why its delivery address can't change now (None: it can)
    shipping_address: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class Article:
    title: str
    url: str


@dataclass(frozen=True)
class Context:
    """What the service read for this turn."""

    guest: bool
    order: OrderFacts | None = None
    order_choices: tuple[str, ...] = ()  # a customer's recent order numbers
    order_not_found: str | None = None  # the reference given, when it is none of the viewer's orders
    proof_missing: str | None = None  # a guest gave this order number without an email or postcode
    articles: tuple[Article, ...] = ()
    delivery_options: tuple[DeliveryOption, ...] = ()
    state: Mapping[str, Any] = field(default_factory=dict)
    custom_answers: Mapping[str, str] = field(default_factory=dict)  # a merchant's intent -> answer
    links: Mapping[str, str] = field(default_factory=dict)  # account, password, help, track
    # A guest's emailed code: "sent", "wrong" (or used, or expired), "limited", "no_reference".
    proof_code: str | None = None
    code_reference: str | None = None  # the order number the code is for


@dataclass(frozen=True)
class Reply:
    text: str
    intent: str
    choices: tuple[tuple[str, str], ...] = ()  # (label, value)
    action: str | None = None  # cancel, change_address (state["address"]), handoff
    reason: str | None = None  # why a handoff
    state: dict[str, Any] = field(default_factory=dict)
    links: tuple[tuple[str, str], ...] = ()  # (label, url)


def is_negative(text: str) -> bool:
    """Anger or legal words, or shouting (a long message mostly in capitals, or a string of !!!)."""
    words = set(normalise(text).split())
    letters = [c for c in text if c.isalpha()]
    shouting = len(letters) >= 12 and sum(c.isupper() for c in letters) / len(letters) > 0.7
    return bool(words & NEGATIVE_WORDS) or shouting or "!!!" in text


def answer_word(text: str) -> str | None:
    """ "yes" or "no" for a short confirming or refusing message, else None."""
    words = normalise(text).split()
    if not words or len(words) > 6:
        return None
    if words[0] in YES_WORDS or (set(words) & {"yes", "confirm"}):
        return "yes"
    if words[0] in NO_WORDS or "not" in words[:2]:
        return "no"
    return None


def when(moment: datetime | None) -> str:
    return f"{moment:%a %d %b}".replace(" 0", " ") if moment else ""


def money(minor: int, currency: str) -> str:
    return format_money(minor, currency)


def respond(text: str, prediction: Prediction, context: Context, *, choice: str = "") -> Reply:
    """The assistant's next reply (see the module's docstring)."""
    state = dict(context.state)
    failures = int(state.get("failures", 0))
    awaiting = state.get("awaiting")
    intent, confidence = prediction.intent, prediction.confidence
    if choice.startswith("intent:"):
        intent, confidence = choice.removeprefix("intent:"), 1.0
    elif awaiting == "confirm_cancel" and (choice in ("yes", "no") or answer_word(text)):
        return _confirm_cancel(choice or answer_word(text) or "no", context)
    elif awaiting == "confirm_address" and (choice in ("yes", "no") or answer_word(text)):
        return _confirm_address(choice or answer_word(text) or "no", context)
    elif awaiting in ("address", "confirm_address") and not choice:
        reply = _collect_address(text, prediction, context)
        if reply is not None:
            return reply
    if context.proof_code:
        return _code_reply(context, state.get("intent") or intent)
    if awaiting == "code" and context.order is not None and not choice.startswith("intent:"):
        intent, confidence = state.get("intent", intent), 1.0
    elif awaiting == "order" and (choice.startswith("order:") or context.order or context.order_not_found):
        if intent in (UNKNOWN, "track_order") or confidence < CONFIRM_BELOW or choice.startswith("order:"):
            intent, confidence = state.get("intent", intent), 1.0
    elif awaiting == "proof" and (context.order or context.order_not_found or context.proof_missing):
        intent, confidence = state.get("intent", intent), 1.0
    if is_negative(text) and intent not in ("thanks", "goodbye"):
        return _handoff(context, intent, "The customer sounds upset.")
    if intent == UNKNOWN or intent not in (
        *INTENT_LABELS,
        *context.custom_answers,
        "greeting",
        "thanks",
        "goodbye",
    ):
        if intent != UNKNOWN and intent not in context.custom_answers:
            return _handoff(context, intent, f"A question the assistant has no answer for ({intent}).")
        failures += 1
        if failures >= FAILURES_BEFORE_HANDOFF:
            return _handoff(context, intent, "The assistant did not understand two messages in a row.")
        return Reply(
            "Sorry, I didn't understand that. I can help with these, or put you through to our team:",
            UNKNOWN,
            choices=(*((INTENT_LABELS[i], f"intent:{i}") for i in MENU), PERSON),
            state={"failures": failures},
        )
    if confidence < CONFIRM_BELOW and intent not in ("greeting", "thanks", "goodbye"):
        alternatives = [intent, *(i for i in MENU if i != intent)][:3]
        return Reply(
            f"Just to check: is this about {INTENT_LABELS.get(intent, intent).lower().rstrip('?')}?",
            intent,
            choices=(*((INTENT_LABELS.get(i, i), f"intent:{i}") for i in alternatives), PERSON),
            state={"failures": failures},
        )
    if intent in context.custom_answers:
        return Reply(context.custom_answers[intent], intent)
    if intent in ("greeting", "thanks", "goodbye"):
        return _small_talk(intent, context)
    if intent == "human_agent":
        return _handoff(context, intent, HUMAN_INTENTS[intent])
    if intent in ("payment_issue", "complaint") and context.order is None:
        return _handoff(context, intent, HUMAN_INTENTS[intent])
    if intent == "delivery_options":
        return _delivery_options(context)
    if intent == "account_help":
        return _account_help(context)
    if intent in ORDER_INTENTS or intent in ("payment_issue", "complaint"):
        if context.order is None:
            return _ask_for_order(intent, context)
        return _about_order(intent, context.order, context, state)
    return _handoff(context, intent, "A question the assistant has no answer for.")


def _small_talk(intent: str, context: Context) -> Reply:
    if intent == "greeting":
        return Reply(
            "Hello! I can track an order, start a return, check a refund or cancel an order that "
            "hasn't shipped. What can I do for you?",
            intent,
            choices=tuple((INTENT_LABELS[i], f"intent:{i}") for i in MENU),
        )
    if intent == "thanks":
        return Reply("You're welcome! Anything else I can help with?", intent)
    return Reply("Goodbye, and thanks for chatting with us.", intent)


def _ask_for_order(intent: str, context: Context) -> Reply:
    if context.order_not_found:
        where = "" if context.guest else " among your orders"
        prefix = f"I couldn't find order {context.order_not_found}{where} with those details. "
    else:
        prefix = ""
    if context.guest:
        if context.proof_missing:
            return Reply(
                f"To look at order {context.proof_missing}, please also tell me the email address or the "
                "postcode it was placed with, or I can email you a code.",
                intent,
                choices=(("Email me a code", SEND_CODE), PERSON),
                state={"awaiting": "proof", "intent": intent, "reference": context.proof_missing},
            )
        return Reply(
            prefix + "Which order is it? Please tell me its number and the email address or postcode "
            "it was placed with (or just its number, and I'll email you a code).",
            intent,
            choices=(("Email me a code", SEND_CODE), PERSON) if context.order_not_found else (PERSON,),
            state={"awaiting": "proof", "intent": intent}
            | ({"reference": context.order_not_found} if context.order_not_found else {}),
        )
    if context.order_choices:
        return Reply(
            prefix + "Which order is this about?",
            intent,
            choices=tuple((number, f"order:{number}") for number in context.order_choices),
            state={"awaiting": "order", "intent": intent},
        )
    return Reply(
        prefix + "I can't see any orders on your account. What's the order number?",
        intent,
        choices=(PERSON,),
        state={"awaiting": "order", "intent": intent},
    )


def _about_order(intent: str, order: OrderFacts, context: Context, state: Mapping[str, Any]) -> Reply:
    base = {"order": order.number}
    if intent == "track_order":
        return Reply(track_text(order), intent, state=base, links=(("Order details", order.url),))
    if intent == "refund_status":
        return Reply(refund_text(order), intent, state=base)
    if intent == "return_item":
        return _return(order, intent, base)
    if intent == "damaged_or_wrong_item":
        reply = _return(order, intent, base)
        return Reply(
            "I'm sorry about that. " + reply.text,
            intent,
            choices=(*reply.choices, PERSON) if PERSON not in reply.choices else reply.choices,
            state=base,
            links=reply.links,
        )
    if intent == "cancel_order":
        return _cancel(order, intent, state)
    if intent == "change_address":
        return _change_address(order, intent, state)
    return _handoff(context, intent, HUMAN_INTENTS.get(intent, "A question about an order."))


def track_text(order: OrderFacts) -> str:
    """Where the order and its parcels are, from its tracking facts."""
    parts = [f"Order {order.number}: {order.headline}"]
    for parcel in order.shipments:
        who = f"with {parcel.carrier}" if parcel.carrier else "with the carrier"
        number = f", tracking number {parcel.tracking_number}" if parcel.tracking_number else ""
        parts.append(f"Parcel {who}{number}: {parcel.explanation}")
        if parcel.last_event:
            where = f" ({parcel.last_event_location})" if parcel.last_event_location else ""
            parts.append(f"Last update {when(parcel.last_event_at)}: {parcel.last_event}{where}.")
        if parcel.delivered_at:
            parts.append(f"Delivered {when(parcel.delivered_at)}.")
        elif parcel.estimated_to:
            window = (
                f"{when(parcel.estimated_from)}–{when(parcel.estimated_to)}"
                if parcel.estimated_from and parcel.estimated_from.date() != parcel.estimated_to.date()
                else when(parcel.estimated_to)
            )
            parts.append(f"Expected {window}.")
        if parcel.tracking_url:
            parts.append(f"Track it: {parcel.tracking_url}")
    return " ".join(parts)


def refund_text(order: OrderFacts) -> str:
    """The refunds given on the order, and the returns still on their way to one."""
    parts = []
    for refund in order.refunds:
        to = "as store credit" if refund.method == "store_credit" else "to your original payment method"
        parts.append(
            f"We refunded {money(refund.amount, refund.currency)} {to} on {when(refund.created_at)}."
        )
    if not order.refunds and order.refunded_total:
        parts.append(f"We've refunded {money(order.refunded_total, order.currency)} on order {order.number}.")
    if parts:
        parts.insert(0, f"Order {order.number}:")
        parts.append("Banks usually take 3–5 working days to show it.")
    for rma, status in order.returns.open_returns if order.returns else ():
        parts.append(
            f"Your return {rma} is {status.replace('_', ' ')}: "
            "we refund it once it has reached us and been checked."
        )
    if not parts:
        return f"There's no refund on order {order.number} yet."
    return " ".join(parts)


def _return(order: OrderFacts, intent: str, base: dict[str, Any]) -> Reply:
    facts = order.returns
    if facts is None:
        return Reply(
            f"I can't check returns for order {order.number}.", intent, choices=(PERSON,), state=base
        )
    if facts.handled_by_channel:
        return Reply(
            facts.instructions or "This order's returns are handled by the shop it was bought on.",
            intent,
            state=base,
        )
    if facts.cancellation_instead:
        return Reply(
            f"Nothing from order {order.number} has shipped yet, so it can be cancelled instead of returned. "
            "Shall I ask for it to be cancelled?",
            intent,
            choices=(("Cancel it", "intent:cancel_order"), PERSON),
            state=base,
        )
    if facts.eligible:
        until = f" until {when(facts.return_by)}" if facts.return_by else ""
        return Reply(
            f"You can return items from order {order.number}{until}. Choose the items and a reason here: "
            f"{order.return_url}",
            intent,
            state=base,
            links=(("Start a return", order.return_url),),
        )
    return Reply(
        f"Order {order.number} can't be returned: {facts.reason or 'nothing on it is returnable'}.",
        intent,
        choices=(PERSON,),
        state={**base, "refused": intent},
    )


def _cancel(order: OrderFacts, intent: str, state: Mapping[str, Any]) -> Reply:
    base = {"order": order.number}
    if order.cancel_requested:
        return Reply(
            f"We've already asked our team to cancel order {order.number}; we'll email you when it's done.",
            intent,
            state=base,
        )
    if order.status == "cancelled":
        return Reply(f"Order {order.number} is already cancelled.", intent, state=base)
    if order.cancel_problem:
        if state.get("refused") == intent and state.get("order") == order.number:
            return Reply(
                "I understand. I'm passing this to our team, who can look at what's possible.",
                intent,
                action="handoff",
                reason="The customer insists on cancelling an order that has shipped.",
                state=base,
            )
        return Reply(
            f"Order {order.number} has already shipped, so it can't be cancelled. You can return it once it "
            "arrives instead.",
            intent,
            choices=(("Return an item", "intent:return_item"), PERSON),
            state={**base, "refused": intent},
        )
    return Reply(
        f"Order {order.number} hasn't shipped yet, so it can still be cancelled. Shall I ask our team to "
        "cancel it?",
        intent,
        choices=(("Yes, cancel it", "yes"), ("No, keep it", "no")),
        state={**base, "awaiting": "confirm_cancel"},
    )


def _change_address(order: OrderFacts, intent: str, state: Mapping[str, Any]) -> Reply:
    base = {"order": order.number}
    if order.address_problem:
        if state.get("refused") == intent and state.get("order") == order.number:
            return Reply(
                "I understand. I'm passing this to our team with our conversation, so they can see what "
                "the carrier can still do.",
                intent,
                action="handoff",
                reason="The customer insists on a new address for an order that can't be changed here.",
                state=base,
            )
        return Reply(
            f"I can't change the delivery address of order {order.number}: {order.address_problem}. "
            "You can follow the parcel and ask the carrier to redirect it or hold it for collection, or "
            "return it once it arrives. If you'd still like the address changed, say so and I'll pass it to "
            "our team.",
            intent,
            choices=(
                ("Track the parcel", "intent:track_order"),
                ("Return an item", "intent:return_item"),
                PERSON,
            ),
            state={**base, "refused": intent},
        )
    current = format_address(order.shipping_address or {})
    going = f" It's going to: {current}." if current else ""
    return Reply(
        f"Order {order.number} hasn't shipped yet, so I can change where it goes.{going} What's the new "
        "address? Please include the street and house number, the town and the postcode.",
        intent,
        state={**base, "awaiting": "address", "intent": intent},
    )


def _collect_address(text: str, prediction: Prediction, context: Context) -> Reply | None:
    """The next step of reading a new address: ask for what is missing, or read it back for a yes or no.
    None when the message is not an address but another question (the normal flow answers it)."""
    state = context.state
    number = state.get("order", "")
    words = set(normalise(text).split())
    if answer_word(text) == "no" or (words & STOP_WORDS and len(words) <= 4):
        return Reply(
            f"OK, I haven't changed anything: order {number} goes to the same address.",
            "change_address",
            state={"order": number},
        )
    order = context.order
    if order is None or order.number != number:
        return None
    found = parse_address(text)
    if not found:
        if prediction.intent not in (UNKNOWN, "change_address") and prediction.confidence >= CONFIRM_BELOW:
            return None
        return Reply(
            "Sorry, I couldn't read an address there. Please type the new address: the street and house "
            "number, the town and the postcode, separated by commas.",
            "change_address",
            choices=(PERSON,),
            state=dict(state),
        )
    known = state.get("address") if state.get("awaiting") == "address" else None
    address = merge_address(known or {}, found)
    missing = missing_parts(address)
    current = order.shipping_address or {}
    if not address.get("postal_code") and current.get("postal_code"):
        if address.get("country", current.get("country")) == current.get("country"):
            missing.append("the postcode")
    if missing:
        return Reply(
            f"Thanks. I still need {_and(missing)} for the new address.",
            "change_address",
            choices=(PERSON,),
            state={"order": number, "awaiting": "address", "intent": "change_address", "address": address},
        )
    full = complete_address(address, current)
    return Reply(
        f"I'll change the delivery address of order {number} to: {format_address(full)} — yes or no?",
        "change_address",
        choices=(("Yes, change it", "yes"), ("No", "no")),
        state={"order": number, "awaiting": "confirm_address", "address": full},
    )


def _confirm_address(answer: str, context: Context) -> Reply:
    number = context.state.get("order", "")
    address = dict(context.state.get("address") or {})
    if answer != "yes":
        return Reply(
            f"OK, I haven't changed anything: order {number} goes to the same address. Type the new "
            "address again if something in it was wrong.",
            "change_address",
            state={"order": number, "awaiting": "address", "intent": "change_address"},
        )
    return Reply(
        f"Done: order {number} will now be delivered to {format_address(address)}.",
        "change_address",
        action="change_address",
        state={"order": number, "address": address},
    )


def _and(parts: Sequence[str]) -> str:
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


def _code_reply(context: Context, intent: str) -> Reply:
    """How asking for, or typing, an emailed code went."""
    reference = context.code_reference or ""
    waiting = {"awaiting": "code", "intent": intent, "reference": reference}
    if context.proof_code == "sent":
        return Reply(
            f"I've emailed a 6-digit code to the address order {reference} was placed with (if we have that "
            "order). Type the code here: it works for 20 minutes, once.",
            intent,
            choices=(PERSON,),
            state=waiting,
        )
    if context.proof_code == "wrong":
        return Reply(
            "That code isn't right, has been used already or has expired. Check the email, or ask me for a "
            "new code.",
            intent,
            choices=(("Email me a new code", SEND_CODE), PERSON),
            state=waiting,
        )
    if context.proof_code == "limited":
        return Reply(
            "That's too many tries for this order. Please wait 15 minutes and try again, or talk to our "
            "team.",
            intent,
            choices=(PERSON,),
            state=waiting,
        )
    return Reply(
        "Which order is it? Tell me its number and I'll email a code to the address it was placed with.",
        intent,
        choices=(PERSON,),
        state={"awaiting": "proof", "intent": intent},
    )


def _confirm_cancel(answer: str, context: Context) -> Reply:
    number = context.state.get("order", "")
    if answer != "yes":
        return Reply(f"OK, order {number} stays as it is.", "cancel_order", state={"order": number})
    return Reply(
        f"Done: I've asked our team to cancel order {number}. We'll email you as soon as it's cancelled.",
        "cancel_order",
        action="cancel",
        state={"order": number},
    )


def _delivery_options(context: Context) -> Reply:
    if context.delivery_options:
        lines = [
            f"{o.name}: {o.min_days}–{o.max_days} working days, "
            + ("free" if o.price == 0 else money(o.price, o.currency))
            for o in context.delivery_options
        ]
        text = "We deliver with: " + "; ".join(lines) + "."
    else:
        text = "Here's what our help centre says about delivery."
    return Reply(text, "delivery_options", links=tuple((a.title, a.url) for a in context.articles))


def _account_help(context: Context) -> Reply:
    links = [(a.title, a.url) for a in context.articles]
    for label, key in (("My details", "account"), ("Reset my password", "password")):
        if key in context.links:
            links.append((label, context.links[key]))
    return Reply(
        "These should help with your account:", "account_help", choices=(PERSON,), links=tuple(links)
    )


def _handoff(context: Context, intent: str, reason: str) -> Reply:
    return Reply(
        "I'm handing this to our team with our conversation so far, so you won't need to repeat "
        "anything. They usually reply within 4 working hours (Monday to Friday, 9:00–17:00); their reply "
        "appears here, and we'll email you too.",
        intent,
        action="handoff",
        reason=reason,
        state={"order": context.order.number} if context.order else {},
    )


def summary_for_agent(
    *,
    intent: str,
    reason: str,
    order: str | None,
    entities: Sequence[str],
    transcript: Sequence[tuple[str, str]],
) -> str:
    """The one paragraph an agent reads first on a handed-off chat."""
    asked = next((body for who, body in reversed(transcript) if who == "customer"), "")
    said = re.sub(r"\s+", " ", asked)[:200]
    parts = [
        f"Chat handed off by the assistant. Reason: {reason}",
        f"Detected intent: {INTENT_LABELS.get(intent, intent)} ({intent}).",
        f"Order: {order}." if order else "No order identified.",
    ]
    if entities:
        parts.append("Mentioned: " + ", ".join(entities) + ".")
    parts.append(f"Last message: \u201c{said}\u201d ({len(transcript)} messages in the chat).")
    return " ".join(parts)
