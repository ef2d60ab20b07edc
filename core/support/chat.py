"""The portal chat: a conversation (source "chat") where the assistant answers from our data until it hands
the conversation to a person. The thin layer between the database and the pure responder
(core.support.assistant.responder): it finds the order the customer means (only theirs, or one a guest
proved), reads its facts, records both sides of the turn, and carries out the responder's action.

A guest proves an order as on /track: its number with its email or postcode, or a code emailed to the
order's address (the same email and the same single-use code check as /track-code, under its limits).
A new delivery address the customer confirmed is made by the service agents use
(core.orders.actions.change_shipping_address), as the assistant acting for the customer.

While the assistant has the conversation it stays `solved` (out of the agents' queue); a handoff opens it
(round-robin assignment as any new ticket), and from then on the customer's messages go to our team. When an
agent solves it, the assistant answers again.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from core.audit.services import record_audit
from core.errors import DomainError, NotFound
from core.fulfillment.models import ShippingOption
from core.orders import actions as order_actions
from core.orders import events
from core.orders import queries as order_queries
from core.orders.models import Order
from core.orders.status import CANCELLABLE_STATUSES
from core.returns import services as return_services
from core.returns.models import Refund, ReturnRequest
from core.security.roles import Actor
from core.support import services as support_services
from core.support.assistant import merchant
from core.support.assistant.entities import Entities, extract_entities
from core.support.assistant.responder import (
    CATEGORY_FOR_INTENT,
    INTENT_LABELS,
    Article,
    Context,
    DeliveryOption,
    OrderFacts,
    RefundFacts,
    Reply,
    ReturnFacts,
    ShipmentFacts,
    respond,
    summary_for_agent,
)
from core.support.guest_proof import code_proof, prove_order
from core.support.help_search import search_help
from core.support.models import Conversation, Message
from core.support.queries import cached_help_docs, customer_order_choices
from core.support.sla_services import apply_sla, resume_sla
from core.support.status import ConversationStatus

CHAT_SOURCE = "chat"
CHAT_SUBJECT = "Chat with the assistant"
OPEN_RETURNS = ("requested", "approved", "received")
RECENT_ORDERS = 3


@dataclass(frozen=True)
class Viewer:
    """Who is chatting: a signed-in customer, or a guest with the orders they proved (and their address)."""

    customer_id: int | None
    guest_order_ids: Collection[int] = ()
    ip_address: str | None = None

    @property
    def guest(self) -> bool:
        return self.customer_id is None

    def actor(self) -> Actor:
        who = f"customer:{self.customer_id}" if self.customer_id is not None else "guest"
        return Actor(label=f"assistant for {who}", role="assistant", ip_address=self.ip_address)


@dataclass(frozen=True)
class Urls:
    """Portal addresses as format strings ({number}: the order number), built by the web layer."""

    order: str = "/orders/{number}"
    order_return: str = "/orders/{number}/return"
    help_article: str = "/help/{slug}"
    account: str = "/account"
    password: str = "/password/forgot"  # noqa: S105 (a page address, not a secret)


@dataclass(frozen=True)
class Turn:
    """What one customer message led to: the assistant's reply (None while a person has the chat) and the
    order a guest proved in this message (the web layer remembers it like a /track lookup)."""

    customer_message: Message
    reply: Message | None
    proven_order_id: int | None = None


def start_chat(session: Session, *, customer_id: int | None, now: datetime) -> Conversation:
    """A new chat, with the assistant (solved: not in the agents' queue until handed off)."""
    conversation = Conversation(
        customer_id=customer_id,
        source=CHAT_SOURCE,
        subject=CHAT_SUBJECT,
        status=ConversationStatus.SOLVED,
        priority="normal",
        solved_at=now,
        created_at=now,
        updated_at=now,
    )
    session.add(conversation)
    session.flush()
    return conversation


def chat_for_viewer(
    session: Session, conversation_id: int, *, customer_id: int | None, allowed_ids: Collection[int]
) -> Conversation:
    """The chat when this viewer may use it: their own (signed in) or one this browser started (never one
    of another customer's); NotFound otherwise, whether or not it exists."""
    conversation = session.get(Conversation, conversation_id)
    if conversation is None or conversation.source != CHAT_SOURCE:
        raise NotFound("conversation not found")
    if customer_id is not None and conversation.customer_id not in (None, customer_id):
        raise NotFound("conversation not found")
    mine = customer_id is not None and conversation.customer_id == customer_id
    if not mine and conversation.id not in allowed_ids:
        raise NotFound("conversation not found")
    return conversation


def latest_chat(session: Session, customer_id: int) -> Conversation | None:
    """A signed-in customer's most recent chat that is not closed (their chat follows them across pages)."""
    return session.scalars(
        select(Conversation)
        .where(
            Conversation.customer_id == customer_id,
            Conversation.source == CHAT_SOURCE,
            Conversation.status != ConversationStatus.CLOSED,
        )
        .order_by(Conversation.id.desc())
        .limit(1)
    ).first()


def with_person(conversation: Conversation) -> bool:
    """True while our team has the chat (handed off and not solved yet)."""
    return conversation.status in (ConversationStatus.OPEN, ConversationStatus.PENDING)


def handle_message(
    session: Session,
    conversation: Conversation,
    text: str,
    *,
    viewer: Viewer,
    now: datetime,
    choice: str = "",
    urls: Urls = Urls(),
    secret: str = "",
) -> Turn:
    """Record the customer's message and, while the assistant has the chat, answer it (acting if asked).
    `secret` signs a guest's emailed codes (the app's secret key, as for /track-code)."""
    if conversation.status == ConversationStatus.CLOSED:
        raise DomainError("this conversation is closed: please start a new one")
    if with_person(conversation):
        message = support_services.add_customer_message(session, conversation.id, text, now=now)
        return Turn(message, None)
    text = _clean(text)  # refused before any work when empty or over the limit
    classifier = merchant.classifier()
    prediction = classifier.predict(text)
    entities = extract_entities(text, today=now.date())
    message = Message(
        conversation_id=conversation.id,
        author_kind="customer",
        body=text,
        intent=prediction.intent,
        data={"confidence": prediction.confidence, "entities": describe_entities(entities)},
        created_at=now,
    )
    session.add(message)
    session.flush()
    state = _last_state(session, conversation)
    proof_code, code_reference, proven = None, None, None
    if viewer.guest:
        proof_code, code_reference, proven = code_proof(
            session,
            text,
            entities,
            state,
            ip_address=viewer.ip_address,
            choice=choice,
            secret=secret,
            now=now,
        )
    if proven is not None:
        order, not_found, proof_missing = proven, None, None
    else:
        order, not_found, proof_missing, proven = _find_order(
            session, conversation, entities, state, viewer=viewer, choice=choice, now=now
        )
    context = Context(
        guest=viewer.guest,
        order=order_facts(session, order, urls=urls, now=now) if order is not None else None,
        order_choices=_recent_orders(session, viewer),
        order_not_found=not_found,
        proof_missing=proof_missing,
        articles=_articles(session, text, urls),
        delivery_options=_delivery_options(session, order),
        state=state,
        custom_answers=merchant.answers(),
        links={"account": urls.account, "password": urls.password},
        proof_code=proof_code,
        code_reference=code_reference,
    )
    reply = respond(text, prediction, context, choice=choice)
    if order is not None and conversation.order_id is None:
        conversation.order_id = order.id
        if conversation.customer_id is None and not viewer.guest:
            # A guest's chat belongs to no customer's portal while the assistant has it: a guest may prove
            # orders of several customers in it. The handoff links the customer of the chat's order.
            conversation.customer_id = order.customer_id
    if proven is not None:
        viewer = Viewer(viewer.customer_id, {*viewer.guest_order_ids, proven.id}, viewer.ip_address)
    answer = _act(session, conversation, reply, order, entities, viewer=viewer, now=now)
    return Turn(message, answer, proven.id if proven is not None else None)


def _act(
    session: Session,
    conversation: Conversation,
    reply: Reply,
    order: Order | None,
    entities: Entities,
    *,
    viewer: Viewer,
    now: datetime,
) -> Message:
    """Carry out the reply's action, then record the reply."""
    text = reply.text
    if reply.action == "cancel":
        # The order the customer just confirmed, not one the "yes" message may happen to mention.
        target = _order_by_number(session, reply.state.get("order"), viewer) or order
        try:
            if target is None:
                raise DomainError("I couldn't find that order any more")
            support_services.request_cancellation(
                session, target, "Asked in the chat.", actor=viewer.actor(), now=now
            )
            record_audit(
                session,
                viewer.actor(),
                "order.cancellation_requested",
                "order",
                target.id,
                now=now,
                after={"conversation_id": conversation.id, "by": "assistant"},
            )
        except DomainError as exc:
            text = f"I couldn't ask for the cancellation: {exc}."
    if reply.action == "change_address":
        text = _change_address(session, conversation, reply, order, viewer=viewer, now=now) or text
    message = Message(
        conversation_id=conversation.id,
        author_kind="assistant",
        body=text,
        intent=reply.intent,
        data={
            "state": reply.state,
            "choices": [list(c) for c in reply.choices],
            "links": [list(link) for link in reply.links],
            "action": reply.action,
        },
        created_at=now,
    )
    session.add(message)
    conversation.updated_at = now
    session.flush()
    if reply.action == "handoff":
        hand_off(
            session,
            conversation,
            intent=reply.intent,
            reason=reply.reason or "",
            order=order,
            entities=entities,
            actor=viewer.actor(),
            now=now,
        )
    return message


def _change_address(
    session: Session,
    conversation: Conversation,
    reply: Reply,
    order: Order | None,
    *,
    viewer: Viewer,
    now: datetime,
) -> str | None:
    """Make the address change the customer just confirmed, through the agents' service, in a savepoint:
    refused (shipped meanwhile, a bad address), nothing changes and the refusal is what the customer
    reads (None when done)."""
    target = _order_by_number(session, reply.state.get("order"), viewer) or order
    if target is None:
        return "I couldn't change the address: I couldn't find that order any more."
    try:
        with session.begin_nested():
            order_actions.change_shipping_address(
                session, target.id, reply.state.get("address") or {}, actor=viewer.actor(), now=now
            )
            record_audit(
                session,
                viewer.actor(),
                "order.address_change_by_assistant",
                "order",
                target.id,
                now=now,
                after={"conversation_id": conversation.id, "by": "assistant", "on_behalf_of": "customer"},
            )
    except DomainError as exc:
        return f"I couldn't change the address: {exc}. Nothing was changed."
    return None


def hand_off(
    session: Session,
    conversation: Conversation,
    *,
    intent: str,
    reason: str,
    order: Order | None,
    entities: Entities | None = None,
    actor: Actor,
    now: datetime,
) -> None:
    """Give the chat to our team: opened with a subject, category and SLA, the order linked, a summary for
    the agent (an internal note beside the whole transcript), assigned round-robin when someone is free."""
    if order is not None:
        conversation.order_id = order.id
        conversation.customer_id = conversation.customer_id or order.customer_id
    number = (
        order.number
        if order is not None
        else (
            session.scalar(select(Order.number).where(Order.id == conversation.order_id))
            if conversation.order_id
            else None
        )
    )
    label = INTENT_LABELS.get(intent, intent.replace("_", " ").capitalize())
    conversation.subject = f"Chat: {label}" + (f" (order {number})" if number else "")
    conversation.category = CATEGORY_FOR_INTENT.get(intent, conversation.category or "other")
    was_open = conversation.status == ConversationStatus.OPEN
    conversation.status = ConversationStatus.OPEN
    conversation.solved_at = None
    conversation.assignee_id = None
    if "upset" in reason or intent in ("complaint", "payment_issue"):
        conversation.priority = "high"
    if not was_open:
        # No clock ran while the assistant had the chat: from its start (or from the agent's last solve,
        # which stopped the clock) until now is a pause, and the due dates follow the SLA policy from here.
        if conversation.sla_paused_at is None:
            conversation.sla_paused_at = conversation.created_at
        resume_sla(session, conversation, now=now)
    else:
        apply_sla(session, conversation)
    transcript = [
        (m.author_kind, m.body)
        for m in session.scalars(
            select(Message)
            .where(Message.conversation_id == conversation.id, Message.internal.is_(False))
            .order_by(Message.id)
        )
    ]
    mentioned = describe_entities(entities) if entities is not None else []
    summary = summary_for_agent(
        intent=intent, reason=reason, order=number, entities=mentioned, transcript=transcript
    )
    session.add(
        Message(
            conversation_id=conversation.id,
            author_kind="system",
            body=summary,
            internal=True,
            intent=intent,
            data={
                "event": "handoff",
                "intent": intent,
                "reason": reason,
                "order": number,
                "entities": mentioned,
            },
            created_at=now,
        )
    )
    conversation.updated_at = now
    if order is not None:
        events.record_event(
            session,
            order,
            "chat_handed_off",
            f"The assistant handed the customer's chat to our team ({label})",
            actor=actor.label,
            now=now,
            data={"conversation_id": conversation.id, "intent": intent},
        )
    record_audit(
        session,
        actor,
        "conversation.handed_off",
        "conversation",
        conversation.id,
        now=now,
        after={"intent": intent, "order": number, "reason": reason},
    )
    session.flush()
    support_services.auto_assign_conversation(session, conversation, now=now)


def describe_entities(entities: Entities) -> list[str]:
    """The message's entities in words, for the message's data and the agent's summary."""
    found = [f"order {r.number} ({r.channel})" for r in entities.order_numbers]
    found += [f"email {e}" for e in entities.emails]
    found += [f"postcode {p.value}" for p in entities.postcodes]
    found += [f"{q.amount} {q.item}".strip() for q in entities.quantities]
    found += [f"date {d.isoformat()}" for d in entities.dates]
    return found


def _clean(text: str) -> str:
    body = (text or "").replace("\r\n", "\n").strip()
    if not body:
        raise DomainError("write a message first")
    if len(body) > support_services.MAX_BODY:
        raise DomainError(f"a message can be at most {support_services.MAX_BODY:,} characters")
    return body


def _last_state(session: Session, conversation: Conversation) -> dict[str, Any]:
    data = session.scalar(
        select(Message.data)
        .where(Message.conversation_id == conversation.id, Message.author_kind == "assistant")
        .order_by(Message.id.desc())
        .limit(1)
    )
    return dict((data or {}).get("state") or {})


def _candidates(session: Session, reference: str) -> list[Order]:
    """Orders whose number, ours or the channel's, is the reference; "#1000042" is also tried as ours."""
    values = {reference, reference.upper()}
    if reference.startswith("#") and reference[1:].isdigit():
        digits = reference[1:]
        values |= {digits, f"CD-{digits}"}
    return list(
        session.scalars(
            select(Order)
            .where(
                or_(Order.number.in_(values), Order.external_id.in_(values), Order.channel_number.in_(values))
            )
            .order_by(Order.id)
            .limit(5)
        )
    )


def _viewable(order: Order, viewer: Viewer) -> bool:
    if viewer.customer_id is not None:
        return order.customer_id == viewer.customer_id
    return order.id in viewer.guest_order_ids


def _order_by_number(session: Session, number: str | None, viewer: Viewer) -> Order | None:
    if not number:
        return None
    order = session.scalar(select(Order).where(Order.number == number))
    return order if order is not None and _viewable(order, viewer) else None


def _find_order(
    session: Session,
    conversation: Conversation,
    entities: Entities,
    state: dict[str, Any],
    *,
    viewer: Viewer,
    choice: str,
    now: datetime,
) -> tuple[Order | None, str | None, str | None, Order | None]:
    """(the order meant, a reference that is none of the viewer's, a guest's reference still needing
    proof, the order a guest proved now). Someone else's order is answered exactly as an unknown one."""
    references = [r.number for r in entities.order_numbers]
    if choice.startswith("order:"):
        references.insert(0, choice.removeprefix("order:"))
    if not references and state.get("awaiting") in ("proof", "code") and state.get("reference"):
        references = [state["reference"]]
    for reference in references:
        for order in _candidates(session, reference):
            if _viewable(order, viewer):
                return order, None, None, None
    if references and viewer.guest:
        proofs = [*entities.emails, *(p.value for p in entities.postcodes)]
        if not proofs:
            return None, None, references[0], None
        proven = prove_order(session, references[0], proofs, ip_address=viewer.ip_address, now=now)
        if proven is not None:
            return proven, None, None, proven
        return None, references[0], None, None
    if references:
        return None, references[0], None, None
    order = _order_by_number(session, state.get("order"), viewer)
    if order is not None:  # the order the conversation was about a moment ago
        return order, None, None, None
    if conversation.order_id is not None:
        order = session.get(Order, conversation.order_id)
        if order is not None and _viewable(order, viewer):
            return order, None, None, None
    if viewer.guest and len(viewer.guest_order_ids) == 1:
        return session.get(Order, next(iter(viewer.guest_order_ids))), None, None, None
    if viewer.customer_id is not None:
        only = session.scalars(select(Order).where(Order.customer_id == viewer.customer_id).limit(2)).all()
        if len(only) == 1:  # nothing to choose from
            return only[0], None, None, None
    return None, None, None, None


def _recent_orders(session: Session, viewer: Viewer) -> tuple[str, ...]:
    if viewer.customer_id is None:
        return ()
    return tuple(
        number for number, _ in customer_order_choices(session, viewer.customer_id, limit=RECENT_ORDERS)
    )


def _articles(session: Session, text: str, urls: Urls) -> tuple[Article, ...]:
    docs = cached_help_docs(session)
    return tuple(
        Article(doc.title, urls.help_article.format(slug=doc.slug))
        for doc, _ in search_help(docs, text, limit=3)
    )


def _delivery_options(session: Session, order: Order | None) -> tuple[DeliveryOption, ...]:
    """The shipping options of the order's channel, else those every channel shares."""
    where = (
        ShippingOption.channel_id == order.channel_id
        if order is not None
        else ShippingOption.channel_id.is_(None)
    )
    return tuple(
        DeliveryOption(o.name, o.price, o.currency, o.min_business_days, o.max_business_days)
        for o in session.scalars(
            select(ShippingOption).where(where).order_by(ShippingOption.price, ShippingOption.id)
        )
    )


def order_facts(session: Session, order: Order, *, urls: Urls = Urls(), now: datetime) -> OrderFacts:
    """Everything the assistant may say about one order, read from the database."""
    tracking = order_queries.order_tracking(session, order, now=now)
    shipments = tuple(
        ShipmentFacts(
            carrier=view.shipment.carrier,
            tracking_number=view.shipment.tracking_number,
            tracking_url=view.shipment.tracking_url,
            explanation=view.explanation,
            last_event=view.events[0].description or view.events[0].status.replace("_", " ")
            if view.events
            else None,
            last_event_location=view.events[0].location if view.events else "",
            last_event_at=view.events[0].occurred_at if view.events else None,
            estimated_from=view.shipment.estimated_from,
            estimated_to=view.shipment.estimated_to,
            delivered_at=view.shipment.delivered_at,
        )
        for view in tracking.shipments
    )
    refunds = tuple(
        RefundFacts(r.amount + r.shipping_amount, r.currency, r.method, r.created_at)
        for r in session.scalars(select(Refund).where(Refund.order_id == order.id).order_by(Refund.id))
    )
    eligibility = return_services.return_eligibility(session, order, now=now)
    open_returns = tuple(
        (rma, status)
        for rma, status in session.execute(
            select(ReturnRequest.rma_number, ReturnRequest.status)
            .where(ReturnRequest.order_id == order.id, ReturnRequest.status.in_(OPEN_RETURNS))
            .order_by(ReturnRequest.id)
        )
    )
    return_by = max(
        (line.return_by for line in eligibility.lines if line.return_by and line.returnable), default=None
    )
    problem = order_actions.cancel_problem(session, order)
    if problem is None and order.status not in CANCELLABLE_STATUSES:
        problem = "it has shipped"
    request = order_actions.cancellation_request(session, order.id)
    if order.fulfilled_by_channel:
        address_problem: str | None = f"{order.channel.name} ships it, so only {order.channel.name} can"
    else:
        address_problem = order_actions.not_shipped_problem(session, order)
    return OrderFacts(
        number=order.number,
        status=order.status,
        headline=tracking.headline,
        currency=order.currency,
        total=order.total,
        refunded_total=order.refunded_total,
        url=urls.order.format(number=order.number),
        return_url=urls.order_return.format(number=order.number),
        shipments=shipments,
        refunds=refunds,
        returns=ReturnFacts(
            eligible=eligibility.eligible,
            reason=eligibility.reason,
            return_by=return_by,
            handled_by_channel=eligibility.handled_by_channel,
            instructions=eligibility.instructions,
            cancellation_instead=eligibility.cancellation_instead,
            open_returns=open_returns,
        ),
        cancel_problem=problem,
        cancel_requested=order_actions.cancellation_state(order, request) == "requested",
        address_problem=address_problem,
        shipping_address=dict(order.shipping_address or {}),
    )
