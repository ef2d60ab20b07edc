"""The console queue's read model: views (mine, unassigned, open, pending, breaching SLA, ...), filters,
text search, sorts, pages in a fixed number of queries, the count of each working view; and the lookups
behind a phone note (who called)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import and_, case, func, literal, or_, select, true
from sqlalchemy.orm import Session, aliased

from core.catalog.models import Sku
from core.channels.models import Channel
from core.customers.models import Customer
from core.db import UTCDateTime
from core.errors import DomainError
from core.orders.models import Order, OrderLine
from core.pagination import COUNT_CAP, Page, capped_count, clamp_page, contains_pattern, keyset_page
from core.security.models import User
from core.support.models import Conversation, ConversationTag
from core.support.queries import assignable_staff, customer_order_choices
from core.support.sla import SOON, countdown

QUEUE_VIEWS = {
    "mine": "Mine",
    "unassigned": "Unassigned",
    "open": "All open",
    "pending": "Pending",
    "breaching": "Breaching SLA",
    "solved": "Solved",
    "closed": "Closed",
    "all": "All",
}
QUEUE_EMPTY = {
    "mine": "No tickets of yours",
    "unassigned": "No unassigned tickets",
    "open": "No open tickets",
    "pending": "No pending tickets",
    "breaching": "No tickets breaching their SLA",
    "solved": "No solved tickets",
    "closed": "No closed tickets",
    "all": "No tickets",
}
COUNTED_VIEWS = ("mine", "unassigned", "open", "pending", "breaching")
QUEUE_SORTS = {
    "updated": "Recently active",
    "newest": "Newest",
    "oldest": "Oldest",
    "sla": "SLA due first",
    "priority": "Priority",
}
QUEUE_SOURCES = ("portal", "chat", "email", "channel", "phone")
QUEUE_PRIORITIES = ("urgent", "high", "normal", "low")
SLA_WARNING = SOON
QUEUE_PAGE_SIZE = 25
UNSOLVED_STATUSES = ("open", "pending")


@dataclass(frozen=True)
class QueueFilters:
    """What the queue shows: a view, optional filters, a text search, a sort and a page."""

    view: str = "open"
    category: str = ""
    channel: str = ""  # a sales channel's code (of the ticket's order)
    source: str = ""  # how the ticket came in: portal, chat, email, channel, phone
    priority: str = ""
    tag: str = ""
    sku: str = ""  # one of our SKU codes on the ticket's order (the analytics trend alerts link with it)
    q: str = ""
    sort: str = "updated"
    page: int = 1
    # the default sort pages by key (most recently active first): the cursors of the page's either side
    after: str = ""
    before: str = ""

    @classmethod
    def from_args(cls, args: Mapping[str, str]) -> QueueFilters:
        """Filters from a query string or form; unknown values fall back to the default (the old `status`
        parameter names a view)."""
        view = args.get("view") or args.get("status") or "open"
        sort = args.get("sort") or "updated"
        source = args.get("source") or ""
        priority = args.get("priority") or ""
        return cls(
            view=view if view in QUEUE_VIEWS else "open",
            category=(args.get("category") or "")[:40],
            channel=(args.get("channel") or "")[:32],
            source=source if source in QUEUE_SOURCES else "",
            priority=priority if priority in QUEUE_PRIORITIES else "",
            tag=(args.get("tag") or "").strip().lower()[:40],
            sku=(args.get("sku") or "").strip()[:64],
            q=" ".join((args.get("q") or "").split())[:100],
            sort=sort if sort in QUEUE_SORTS else "updated",
            page=clamp_page(args.get("page")),
            after=(args.get("after") or "")[:60],
            before=(args.get("before") or "")[:60],
        )

    @property
    def narrowed(self) -> bool:
        """True when anything beyond the view narrows the list (a filter or a search)."""
        return bool(
            self.q or self.category or self.channel or self.source or self.priority or self.tag or self.sku
        )

    @property
    def by_key(self) -> bool:
        """True when the page is read by key: the default sort, unless an old link names a page number."""
        return self.sort == "updated" and self.page == 1

    def here(self) -> dict[str, str | int]:
        """The query-string parameters of this very page (its number or cursor kept)."""
        return self.params(page=self.page, after=self.after, before=self.before)

    def params(self, **changes: str | int) -> dict[str, str | int]:
        """The query-string parameters that differ from the defaults (page and cursors left out unless
        changed)."""
        values = asdict(replace(self, **({"page": 1, "after": "", "before": ""} | changes)))  # type: ignore[arg-type]
        defaults = asdict(QueueFilters())
        return {key: value for key, value in values.items() if value != defaults[key]}


@dataclass(frozen=True)
class QueueRow:
    """One ticket as the queue lists it."""

    id: int
    subject: str
    status: str
    priority: str
    category: str | None
    source: str
    created_at: datetime
    updated_at: datetime
    customer_id: int | None
    customer_name: str
    order_id: int | None
    order_number: str | None
    channel_name: str | None
    assignee_name: str | None
    sla_due_at: datetime | None
    sla_state: str | None  # overdue, soon, ok, paused; None when solved or without a target
    sla_label: str
    tags: tuple[str, ...]


@dataclass(frozen=True)
class TicketQueue:
    """The queue screen: the rows of one page, the counts per view, and the choices its filters offer."""

    filters: QueueFilters
    page: Page[QueueRow]
    counts: dict[str, int]
    staff: list[User]
    channels: list[tuple[str, str]]
    tags: list[str]
    newer: str | None = None  # keyset cursors (the default sort): the pages either side, None at the ends
    older: str | None = None


def _sla_due() -> Any:
    """The next SLA target of a ticket: its first response while unanswered, else its resolution."""
    return case(
        (
            Conversation.first_responded_at.is_(None),
            func.coalesce(Conversation.first_response_due_at, Conversation.resolution_due_at),
        ),
        else_=Conversation.resolution_due_at,
    )


def _view_condition(view: str, *, user_id: int, deadline: datetime) -> Any:
    unsolved = Conversation.status.in_(UNSOLVED_STATUSES)
    conditions = {
        "mine": and_(Conversation.assignee_id == user_id, unsolved),
        "unassigned": and_(Conversation.assignee_id.is_(None), unsolved),
        "open": Conversation.status == "open",
        "pending": Conversation.status == "pending",
        # The SLA clock runs only while a ticket waits on us (pending pauses it).
        "breaching": and_(Conversation.status == "open", _sla_due() <= literal(deadline, UTCDateTime())),
        "solved": Conversation.status == "solved",
        "closed": Conversation.status == "closed",
    }
    return conditions.get(view, true())


def _queue_conditions(filters: QueueFilters, *, user_id: int, deadline: datetime) -> list[Any]:
    where = [_view_condition(filters.view, user_id=user_id, deadline=deadline)]
    if filters.category:
        where.append(Conversation.category == filters.category)
    if filters.priority:
        where.append(Conversation.priority == filters.priority)
    if filters.source:
        where.append(Conversation.source == filters.source)
    if filters.channel:
        where.append(Channel.code == filters.channel)
    if filters.tag:
        where.append(
            select(ConversationTag.conversation_id)
            .where(ConversationTag.conversation_id == Conversation.id, ConversationTag.tag == filters.tag)
            .exists()
        )
    if filters.sku:
        where.append(
            select(OrderLine.id)
            .join(Sku, Sku.id == OrderLine.sku_id)
            .where(OrderLine.order_id == Conversation.order_id, Sku.code == filters.sku)
            .exists()
        )
    if filters.q:
        term = filters.q.lower()
        pattern = contains_pattern(term)
        prefix = term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        matches = [
            func.lower(Conversation.subject).like(pattern, escape="\\"),
            func.lower(Customer.name).like(pattern, escape="\\"),
            Customer.email.like(prefix, escape="\\"),
            Order.number == filters.q.upper(),
            Order.channel_number == filters.q,
            Order.external_id == filters.q,
        ]
        ticket_id = filters.q.lstrip("#")
        if ticket_id.isdigit() and len(ticket_id) < 10:
            matches.append(Conversation.id == int(ticket_id))
        where.append(or_(*matches))
    return where


def _queue_order(sort: str) -> list[Any]:
    due = _sla_due()
    rank = case({"urgent": 0, "high": 1, "normal": 2, "low": 3}, value=Conversation.priority, else_=4)
    nulls_last = case((due.is_(None), 1), else_=0)
    orders = {
        "newest": [Conversation.created_at.desc(), Conversation.id.desc()],
        "oldest": [Conversation.created_at, Conversation.id],
        "sla": [nulls_last, due, Conversation.id],
        "priority": [rank, nulls_last, due, Conversation.created_at, Conversation.id],
    }
    return orders.get(sort, [Conversation.updated_at.desc(), Conversation.id.desc()])


def sla_countdown(due: datetime | None, status: str, now: datetime) -> tuple[str | None, str]:
    """(state, label) of a ticket's next SLA target: overdue, soon (within the hour), ok, or paused while
    pending; (None, "") when solved, closed or without a target."""
    if due is None or status not in UNSOLVED_STATUSES:
        return None, ""
    if status == "pending":
        return "paused", "paused"
    return countdown(due, now, soon=SLA_WARNING)


def ticket_queue(
    session: Session,
    filters: QueueFilters,
    *,
    user_id: int,
    now: datetime,
    per_page: int = QUEUE_PAGE_SIZE,
) -> TicketQueue:
    """The console queue: one page of tickets in a view, filtered, searched and sorted, with the count of
    every working view and the filters' choices, in seven queries whatever the page holds."""
    deadline = now + SLA_WARNING
    assignee = aliased(User)
    where = _queue_conditions(filters, user_id=user_id, deadline=deadline)

    def joined(statement: Any) -> Any:
        return (
            statement.outerjoin(Customer, Customer.id == Conversation.customer_id)
            .outerjoin(Order, Order.id == Conversation.order_id)
            .outerjoin(Channel, Channel.id == Order.channel_id)
        )

    total = capped_count(session, joined(select(Conversation.id)).where(*where).order_by(Conversation.id))
    due = _sla_due().label("sla_due")
    listed = (
        joined(
            select(
                Conversation,
                Customer.name,
                Customer.email,
                Order.number,
                Channel.name,
                assignee.name,
                assignee.email,
                due,
            )
        )
        .outerjoin(assignee, assignee.id == Conversation.assignee_id)
        .where(*where)
    )
    newer = older = None
    if filters.by_key:  # most recently active first, by key: every page as quick as the first
        rows, newer, older = keyset_page(
            session,
            listed,
            at=Conversation.updated_at,
            key=Conversation.id,
            cursor_of=lambda row: (row[0].updated_at, row[0].id),
            after=filters.after,
            before=filters.before,
            per_page=per_page,
            scalars=False,
        )
    else:
        rows = session.execute(
            listed.order_by(*_queue_order(filters.sort)).limit(per_page).offset((filters.page - 1) * per_page)
        ).all()
    ids = [row[0].id for row in rows]
    tags: dict[int, list[str]] = {}
    if ids:
        for conversation_id, tag in session.execute(
            select(ConversationTag.conversation_id, ConversationTag.tag)
            .where(ConversationTag.conversation_id.in_(ids))
            .order_by(ConversationTag.tag)
        ):
            tags.setdefault(conversation_id, []).append(tag)
    items = []
    for conversation, customer_name, customer_email, number, channel_name, a_name, a_email, sla_due in rows:
        state, label = sla_countdown(sla_due, conversation.status, now)
        items.append(
            QueueRow(
                id=conversation.id,
                subject=conversation.subject,
                status=conversation.status,
                priority=conversation.priority,
                category=conversation.category,
                source=conversation.source,
                created_at=conversation.created_at,
                updated_at=conversation.updated_at,
                customer_id=conversation.customer_id,
                customer_name=customer_name or customer_email or "",
                order_id=conversation.order_id,
                order_number=number,
                channel_name=channel_name,
                assignee_name=(a_name or a_email) if conversation.assignee_id else None,
                sla_due_at=sla_due,
                sla_state=state,
                sla_label=label,
                tags=tuple(tags.get(conversation.id, ())),
            )
        )
    return TicketQueue(
        filters=filters,
        page=Page(items, filters.page, per_page, total, cap=COUNT_CAP),
        counts=queue_counts(session, user_id=user_id, now=now),
        staff=assignable_staff(session),
        channels=[
            (code, name)
            for code, name in session.execute(select(Channel.code, Channel.name).order_by(Channel.name))
        ],
        tags=list(
            session.scalars(select(ConversationTag.tag).distinct().order_by(ConversationTag.tag).limit(200))
        ),
        newer=newer,
        older=older,
    )


def queue_counts(session: Session, *, user_id: int, now: datetime) -> dict[str, int]:
    """How many unsolved tickets each working view holds (one query over the unsolved tickets only)."""
    deadline = now + SLA_WARNING
    columns = [
        func.coalesce(
            func.sum(case((_view_condition(view, user_id=user_id, deadline=deadline), 1), else_=0)), 0
        )
        for view in COUNTED_VIEWS
    ]
    row = session.execute(select(*columns).where(Conversation.status.in_(UNSOLVED_STATUSES))).one()
    return dict(zip(COUNTED_VIEWS, (int(n) for n in row), strict=True))


@dataclass(frozen=True)
class PhoneNoteCustomer:
    """The caller a phone note is for, with their latest orders to pick from."""

    id: int
    name: str
    email: str | None
    orders: list[tuple[str, datetime]]


def phone_note_customer(session: Session, customer_id: int | None) -> PhoneNoteCustomer | None:
    """The customer (and their latest orders) a phone note is being written for, or None."""
    customer = session.get(Customer, customer_id) if customer_id is not None else None
    if customer is None:
        return None
    return PhoneNoteCustomer(
        customer.id, customer.name, customer.email, customer_order_choices(session, customer.id, limit=20)
    )


def customer_id_for_contact(session: Session, text: str) -> int:
    """The customer a caller is, from what they gave: an email, a phone number or one of their order numbers
    (ours or the channel's); DomainError when none matches, or an email or phone matches several people."""
    text = " ".join((text or "").split())
    if not text:
        raise DomainError("say who called: their email, phone number or an order number")
    digits = "".join(ch for ch in text if ch.isdigit())
    if "@" in text:
        condition = Customer.email == text.lower()
    elif len(digits) >= 6 and set(text) <= set("+0123456789 -().") and not text.upper().startswith("CD"):
        condition = Customer.phone.in_({text, "+" + digits, digits})
    else:
        condition = Customer.id.in_(
            select(Order.customer_id).where(
                or_(Order.number == text.upper(), Order.channel_number == text, Order.external_id == text)
            )
        )
    found = session.scalars(
        select(Customer.id).where(condition, Customer.merged_into_id.is_(None)).limit(2)
    ).all()
    if len(found) != 1:
        raise DomainError(
            f"no customer matches {text!r}" if not found else f"several customers match {text!r}: open one"
        )
    return found[0]
