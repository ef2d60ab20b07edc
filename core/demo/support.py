"""Customer support in the demo: conversations with their messages (about an order, or a general question),
the agents' macros and the help centre."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from core.demo.context import Existing, SeedContext, Staff
from core.demo.data.support import (
    ASSISTANT_REPLIES,
    HELP_ARTICLES,
    INTERNAL_NOTES,
    MACROS,
    SLA_CHANNEL_OVERRIDES,
    TICKET_CATEGORIES,
    TICKET_TEXTS,
)
from core.demo.records import DELIVERED, Line, Person, Sku, Spec
from core.support.sla import DEFAULT_CALENDAR, Policy, Target, default_policy, due_dates

# The planted damaged-item wave: tickets this week about one SKU's orders delivered in the last WAVE_DAYS.
WAVE_DAYS = 30
WAVE_TICKETS = 9
WAVE_MIN_ORDERS = 6


class Support:
    """Tickets: a conversation of 2-6 messages, assigned to one of the agents."""

    def __init__(self, ctx: SeedContext, agents: list[Staff]) -> None:
        self.ctx = ctx
        self.rng = ctx.rng
        self.now = ctx.now
        self.add = ctx.add
        self.next_id = ctx.next_id
        self.agents = agents
        self.ticket_count = 0
        self.delivered: dict[str, list[tuple[Spec, int, str, Sku, datetime]]] = {}

    def order_ticket(
        self,
        spec: Spec,
        order_id: int,
        number: str,
        lines: list[Line],
        *,
        at: dict[str, datetime],
        shipments: list[tuple[str, datetime]],
    ) -> None:
        """The buyer asks about this order; when they write depends on what they ask."""
        rng = self.rng
        person, status = spec.person, spec.status
        assert person is not None
        odds = TICKET_CATEGORIES[status.value]
        category = spec.ticket or rng.choices(list(odds), weights=list(odds.values()))[0]
        placed = spec.placed_at
        delivered = max((v for k, v in at.items() if k.startswith("deliver")), default=None)
        if category == "where_is_my_order":
            start = at.get("ship0", placed) + timedelta(days=rng.uniform(1, 5))
        elif category in ("return", "damaged", "product_question"):
            start = (delivered or placed) + timedelta(days=rng.uniform(0.2, 6))
        elif category == "refund":
            start = (at.get("ret_refund") or at.get("cancel") or placed) + timedelta(days=rng.uniform(1, 6))
        else:
            start = placed + timedelta(seconds=rng.uniform(600, 6 * 3600))
        start = min(start, self.now - timedelta(seconds=rng.uniform(600, 3 * 3600))).replace(microsecond=0)
        if start <= placed + timedelta(minutes=5):
            return
        carrier, eta = (
            (shipments[0][0], shipments[0][1].strftime("%A %d %B"))
            if shipments
            else ("the carrier", "the end of the week")
        )
        missing = category == "where_is_my_order" and status in DELIVERED
        fill = {
            "first": person.first,
            "number": number,
            "carrier": carrier,
            "eta": eta,
            "item": lines[0].sku.product,
        }
        forced = {"where_is_my_order": ("open", "chat"), "return": ("solved", "portal")}
        ticket_status, source = forced.get(category, (None, None)) if spec.ticket else (None, None)
        self._ticket(
            spec.customer_id or person.customer_id,  # the customer the order came in with
            order_id,
            category,
            start,
            fill,
            status=ticket_status,
            source=source,
            texts="delivered_not_received" if missing else category,
            channel=spec.channel,
        )

    def note_delivery(
        self, spec: Spec, order_id: int, number: str, lines: list[Line], *, at: dict[str, datetime]
    ) -> None:
        """Remember an order delivered in the last WAVE_DAYS, for the damaged-item wave (damaged_wave)."""
        delivered = max((v for k, v in at.items() if k.startswith("deliver")), default=None)
        if spec.person is None or delivered is None or delivered < self.now - timedelta(days=WAVE_DAYS):
            return
        for sku in {line.sku.code: line.sku for line in lines}.values():
            self.delivered.setdefault(sku.code, []).append((spec, order_id, number, sku, delivered))

    def damaged_wave(self) -> None:
        """A real trend for the analytics to find: this week, a run of customers write that the same product
        (the one delivered most in the last WAVE_DAYS) arrived damaged. Only tickets are written; the trend
        alert is computed from them by the live code (core.analytics)."""
        candidates = sorted(self.delivered.items(), key=lambda item: (-len(item[1]), item[0]))
        if not candidates or len(candidates[0][1]) < WAVE_MIN_ORDERS:
            return
        rng = self.rng
        orders = candidates[0][1]
        for spec, order_id, number, sku, delivered in rng.sample(orders, min(WAVE_TICKETS, len(orders))):
            person = spec.person
            assert person is not None
            earliest = max(delivered, self.now - timedelta(days=6)) + timedelta(minutes=30)
            latest = self.now - timedelta(hours=1)
            if earliest >= latest:
                earliest = latest - timedelta(hours=2)
            start = (earliest + (latest - earliest) * rng.random()).replace(microsecond=0)
            fill = {"first": person.first, "number": number, "carrier": "", "eta": "", "item": sku.product}
            self._ticket(
                spec.customer_id or person.customer_id,
                order_id,
                "damaged",
                start,
                fill,
                texts="damaged",
                channel=spec.channel,
            )

    def general_questions(self, people: list[Person], skus: list[Sku]) -> None:
        """Product questions not about any order: one for every ten order tickets, at least two."""
        rng = self.rng
        for _ in range(max(2, self.ticket_count // 10)):
            person = rng.choice(people)
            item = rng.choice(skus).product
            fill = {"first": person.first, "number": "", "carrier": "", "eta": "", "item": item}
            start = self.ctx.ago(rng.uniform(0.1, 60))
            self._ticket(person.customer_id, None, "product_question", start, fill, texts="product_question")

    def _ticket(
        self,
        customer_id: int,
        order_id: int | None,
        category: str,
        start: datetime,
        fill: dict[str, str],
        *,
        texts: str,
        status: str | None = None,
        source: str | None = None,
        channel: str | None = None,
    ) -> None:
        """A conversation of 2-6 messages: the customer, the assistant or an auto-reply, then an agent; its
        due dates from the shipped SLA policy (and the channel's override), as the helpdesk sets them."""
        rng = self.rng
        subjects, openers, replies, followups = TICKET_TEXTS[texts]
        source = source or rng.choices(["portal", "email", "chat"], [40, 35, 25])[0]
        priority = (
            "high"
            if category == "damaged"
            else rng.choices(["low", "normal", "high", "urgent"], [15, 65, 15, 5])[0]
        )
        hours_old = (self.now - start).total_seconds() / 3600
        if status is None:
            if hours_old < 6:
                status = rng.choice(["open", "open", "pending"])
            elif hours_old < 48:
                status = rng.choices(["open", "pending", "solved"], [2, 3, 5])[0]
            else:
                status = rng.choices(["solved", "closed"], [3, 7])[0]
        conversation_id = self.next_id("conversations")
        clock = [start]

        def later(seconds: float) -> datetime:  # the next moment, never after now
            wanted = clock[0] + timedelta(seconds=round(seconds))
            clock[0] = max(clock[0], min(wanted, self.now - timedelta(seconds=30)))
            return clock[0]

        def say(
            kind: str,
            body: str,
            moment: datetime,
            *,
            user: int | None = None,
            internal: bool = False,
            info: dict[str, Any] | None = None,
        ) -> None:
            self.add(
                "messages",
                {
                    "id": self.next_id("messages"),
                    "conversation_id": conversation_id,
                    "author_kind": kind,
                    "author_user_id": user,
                    "body": body,
                    "internal": internal,
                    "intent": category if kind in ("customer", "assistant") else None,
                    "data": info or {},
                    "created_at": moment,
                },
            )

        say("customer", rng.choice(openers).format(**fill), start)
        if source == "email":
            say("system", "We've received your message and will reply within one business day.", later(60))
        else:
            reply, slug = ASSISTANT_REPLIES[texts]
            say("assistant", reply.format(**fill), later(20), info={"article": slug})
        assignee = rng.choice(self.agents) if status != "open" or rng.random() < 0.4 else None
        responded = solved = None
        if assignee is not None:
            say("system", f"Assigned to {assignee[2]}", later(rng.uniform(300, 7200)))
            if status != "open":
                responded = later(rng.uniform(300, 6 * 3600))
                signed = f"{rng.choice(replies).format(**fill)}\n\n{assignee[2].split()[0]}"
                say("agent", signed, responded, user=assignee[0])
                if rng.random() < 0.25:
                    note = rng.choice(INTERNAL_NOTES[texts])
                    say("agent", note, later(600), user=assignee[0], internal=True)
                if status != "pending" and rng.random() < 0.6:
                    say("customer", rng.choice(followups), later(rng.uniform(3600, 20 * 3600)))
        if status in ("solved", "closed"):
            solved = later(rng.uniform(600, 8 * 3600))
        first_due, resolution_due = _due_dates(start, priority, channel)
        # The clock stopped at the last change of a ticket not open; a target passed before then is missed.
        stopped = clock[0] if status != "open" else None
        reached = responded or stopped or self.now
        first_missed = first_due if first_due is not None and reached > first_due else None
        ended = solved or stopped or self.now
        resolution_missed = resolution_due if ended > resolution_due else None
        self.add(
            "conversations",
            {
                "id": conversation_id,
                "customer_id": customer_id,
                "order_id": order_id,
                "source": source,
                "subject": rng.choice(subjects).format(**fill),
                "status": status,
                "priority": priority,
                "category": category,
                "assignee_id": assignee[0] if assignee else None,
                "first_response_due_at": first_due,
                "resolution_due_at": resolution_due,
                "sla_paused_at": stopped,
                "sla_pauses": [],
                "first_response_breached_at": first_missed,
                "resolution_breached_at": resolution_missed,
                "first_responded_at": responded,
                "solved_at": solved,
                "created_at": start,
                "updated_at": clock[0],
            },
        )
        self.ticket_count += 1


def _due_dates(start: datetime, priority: str, channel: str | None) -> tuple[datetime | None, datetime]:
    """A seeded ticket's due dates: the shipped calendar and policy, capped by the channel's override."""
    override = None
    if channel in SLA_CHANNEL_OVERRIDES:
        minutes, round_the_clock = SLA_CHANNEL_OVERRIDES[channel]
        override = Policy(Target(minutes, round_the_clock), None)
    first, resolution = due_dates(start, default_policy(priority), DEFAULT_CALENDAR, override=override)
    assert resolution is not None
    return first, resolution


def write_help_content(ctx: SeedContext, existing: Existing) -> None:
    """The agents' macros and the published help articles (those a previous seed wrote are kept)."""
    for n, (name, category, body) in enumerate(MACROS):
        if name not in existing.macro_names:
            ctx.add(
                "macros",
                {
                    "id": ctx.next_id("macros"),
                    "name": name,
                    "body": body,
                    "category": category,
                    "active": True,
                    "created_at": ctx.ago(300 - n),
                },
            )
    for slug, title, topic, keywords, summary, body in HELP_ARTICLES:
        if slug not in existing.article_slugs:
            ctx.add(
                "help_articles",
                {
                    "id": ctx.next_id("help_articles"),
                    "slug": slug,
                    "title": title,
                    "summary": summary,
                    "body": body,
                    "topic": topic,
                    "keywords": keywords,
                    "published": True,
                    "updated_at": ctx.ago(ctx.rng.randint(5, 200)),
                },
            )
