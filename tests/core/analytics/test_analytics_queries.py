"""The dashboard's SQL on a small hand-built data set, every expected figure worked out by hand below.

The calendar is the shipped one (Monday-Friday 09:00-17:00, UTC). The period is Monday 2 November to Sunday
15 November 2026 (two weeks: w/c 11-02 is week 0, w/c 11-09 week 1); the previous period is 19 October to
1 November. "Now" is Friday 20 November 12:00, so the alert's week 0 is [13 Nov 12:00, 20 Nov 12:00).

Channels: Alpha Shop (A) and Beta Market (B). SKUs: S1 (cost 5.00) and S2 (cost 10.00). Stock on hand:
10 x S1 + 5 x S2 = 100.00 at cost.

Orders (A unless said):
  o1 11-02 10:00 C1  20.00 delivered  S1 x2   shipped 11-03 10:00 (24 h), promised 11-03 12:00, tracked
  o2 11-05 10:00 C2  40.00 delivered  S2, S1  shipped 11-07 10:00 (48 h), promised 11-06 10:00 (late),
                                              no event
  o3 11-10 10:00 C3  30.00 cancelled  S1
  o4 11-12 10:00 C1  10.00 delivered  S1      shipped 11-12 22:00 (12 h), no promise, no tracking
                                              number;
                                              return requested 11-14 (damaged, 1 x S1), refunded 10.00 11-14
  o5 10-20 10:00 C2  50.00 delivered  S2 x2   shipped 10-21 10:00 (24 h), tracked (previous period)
  o6 11-03 09:00 C4  15.00 shipped    S2      on B
  o7 10-01 10:00 C5  15.00 delivered  S2      on B (before both periods: only tickets refer to it)
Traffic on A: 11-02 100 visits 50.00, 11-10 100 visits 30.00; 10-25 50 visits 20.00.

Tickets (agent Ann unless said; first response due set on all but t6):
  t0 10-30 10:00 other, no order, solved 11-03 12:00                      (open when the period starts)
  t1 11-02 10:00 damaged o1, responded 11-02 12:00 (2 h), solved 11-03 10:00 (7 h + 1 h = 8 h)
  t2 11-04 16:00 where_is_my_order o2, responded 11-05 11:00 (1 h + 2 h = 3 h), solved 11-06 16:00
                 (1 h + 8 h + 7 h = 16 h), resolution breached
  t3 11-07 12:00 (Saturday) damaged, no order, responded 11-09 11:00 (Monday: 2 h), still open
  t4 11-10 09:00 damaged o4, chat, handed off 11-10 09:05 ("The customer sounds upset."), responded
                 11-10 17:00
                 (8 h), solved 11-11 09:30 (8 h 30 min; 8 h 25 min after the handoff)
  t5 11-12 13:00 return o6, unassigned, no response, first response breached
  t6 11-11 10:00 chat, no category, no order, the assistant answered and it was solved with no person
  w1, w2  10-20 12:00 and 10-27 12:00 damaged o7 (B, S2), solved the same day
  n1..n6  11-16 .. 11-19 damaged o7 (B, S2): the rise this week
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import update
from sqlalchemy.orm import Session

from core.analytics import queries, rules
from core.analytics.models import ChannelTraffic
from core.analytics.rules import Period
from core.catalog.models import Sku
from core.fulfillment.models import Shipment, TrackingEvent
from core.inventory.models import Location, StockLevel
from core.orders.models import Order, OrderLine
from core.returns.models import Refund, ReturnLine, ReturnRequest
from core.support.models import Conversation, Message, SatisfactionRating, SupportCalendar
from tests.factories import make_channel, make_customer, make_sku, make_user

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
PERIOD = Period(date(2026, 11, 2), date(2026, 11, 15))


def at(month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=UTC)


class World:
    """The data set of the module docstring."""

    def __init__(self, db: Session) -> None:
        db.execute(update(SupportCalendar).values(timezone="UTC"))
        self.db = db
        self.a = make_channel(db, code="alpha", name="Alpha Shop")
        self.b = make_channel(db, code="beta", name="Beta Market")
        self.s1 = self._sku("S1", 500)
        self.s2 = self._sku("S2", 1000)
        location = Location(code="WH-A", name="Warehouse", kind="warehouse", fulfillment_method="in_house")
        db.add(location)
        db.flush()
        db.add_all(
            [
                StockLevel(location_id=location.id, sku_id=self.s1.id, on_hand=10, reserved=0),
                StockLevel(location_id=location.id, sku_id=self.s2.id, on_hand=5, reserved=0),
            ]
        )
        c1, c2, c3, c4, c5 = (make_customer(db) for _ in range(5))
        self.o1 = self._order(self.a, c1, at(11, 2, 10), 2000, "delivered", [(self.s1, 2)])
        self._ship(self.o1, at(11, 3, 10), "T1", event=True, promise=at(11, 3, 12))
        self.o2 = self._order(self.a, c2, at(11, 5, 10), 4000, "delivered", [(self.s2, 1), (self.s1, 1)])
        self._ship(self.o2, at(11, 7, 10), "T2", event=False, promise=at(11, 6, 10))
        self.o3 = self._order(self.a, c3, at(11, 10, 10), 3000, "cancelled", [(self.s1, 1)])
        self.o4 = self._order(self.a, c1, at(11, 12, 10), 1000, "delivered", [(self.s1, 1)], refunded=1000)
        self._ship(self.o4, at(11, 12, 22), None, event=False)
        self.o5 = self._order(self.a, c2, at(10, 20, 10), 5000, "delivered", [(self.s2, 2)])
        self._ship(self.o5, at(10, 21, 10), "T5", event=True)
        self.o6 = self._order(self.b, c4, at(11, 3, 9), 1500, "shipped", [(self.s2, 1)])
        self.o7 = self._order(self.b, c5, at(10, 1, 10), 1500, "delivered", [(self.s2, 1)])
        rma = ReturnRequest(
            rma_number="RMA-1", order_id=self.o4.id, reason="damaged", requested_at=at(11, 14, 9)
        )
        db.add(rma)
        db.flush()
        db.add(ReturnLine(return_id=rma.id, order_line_id=self.o4.lines[0].id, quantity=1))
        db.add(
            Refund(
                order_id=self.o4.id, return_id=rma.id, amount=1000, currency="USD", created_at=at(11, 14, 10)
            )
        )
        db.add_all(
            [
                ChannelTraffic(day=date(2026, 11, 2), channel_id=self.a.id, visits=100, spend=5000),
                ChannelTraffic(day=date(2026, 11, 10), channel_id=self.a.id, visits=100, spend=3000),
                ChannelTraffic(day=date(2026, 10, 25), channel_id=self.a.id, visits=50, spend=2000),
            ]
        )
        ann = make_user(db, "agent", name="Ann Agent")
        due = at(12, 31)
        self._ticket(at(10, 30, 10), "other", None, ann, solved=at(11, 3, 12), due=due)
        t1 = self._ticket(
            at(11, 2, 10), "damaged", self.o1, ann, responded=at(11, 2, 12), solved=at(11, 3, 10), due=due
        )
        self._ticket(
            at(11, 4, 16),
            "where_is_my_order",
            self.o2,
            ann,
            responded=at(11, 5, 11),
            solved=at(11, 6, 16),
            due=due,
            resolution_breached=at(11, 6, 9),
        )
        self._ticket(at(11, 7, 12), "damaged", None, ann, responded=at(11, 9, 11), due=due)
        t4 = self._ticket(
            at(11, 10, 9),
            "damaged",
            self.o4,
            ann,
            responded=at(11, 10, 17),
            solved=at(11, 11, 9, 30),
            due=due,
            source="chat",
        )
        db.add(
            Message(
                conversation_id=t4.id,
                author_kind="system",
                body="Handed to the team",
                internal=True,
                data={"event": "handoff", "intent": "complaint", "reason": "The customer sounds upset."},
                created_at=at(11, 10, 9, 5),
            )
        )
        db.add(Message(conversation_id=t4.id, author_kind="agent", body="Sorry!", created_at=at(11, 10, 17)))
        self._ticket(at(11, 12, 13), "return", self.o6, None, due=due, first_breached=at(11, 12, 17))
        t6 = self._ticket(at(11, 11, 10), None, None, None, source="chat", status="solved")
        t6.updated_at = at(11, 11, 10, 5)
        db.add(
            Message(
                conversation_id=t6.id, author_kind="assistant", body="Here it is", created_at=at(11, 11, 10)
            )
        )
        for day in (20, 27):
            self._ticket(at(10, day, 12), "damaged", self.o7, ann, solved=at(10, day, 15), due=due)
        for n in range(6):
            self._ticket(at(11, 16 + n % 4, 10 + n), "damaged", self.o7, None, due=due)
        db.add(
            SatisfactionRating(
                conversation_id=t1.id,
                agent_id=ann.id,
                score=4,
                comment="=Quick fix",
                asked_at=at(11, 3, 10),
                rated_at=at(11, 4, 8),
            )
        )
        db.flush()

    def _sku(self, code: str, cost: int) -> Sku:
        return make_sku(self.db, code=code, title=f"Product {code}", cost=cost)

    def _order(
        self,
        channel,
        customer,
        placed: datetime,
        total: int,
        status: str,
        lines: list[tuple[Sku, int]],
        refunded: int = 0,
    ) -> Order:
        order = Order(
            channel_id=channel.id,
            external_id=f"X-{placed.isoformat()}-{total}",
            number=f"CD-T{placed:%m%d%H}{total}",
            status=status,
            placed_at=placed,
            currency="USD",
            subtotal=total,
            total=total,
            refunded_total=refunded,
            customer_id=customer.id,
        )
        self.db.add(order)
        self.db.flush()
        for n, (sku, qty) in enumerate(lines, 1):
            self.db.add(
                OrderLine(
                    order_id=order.id,
                    line_no=n,
                    sku_id=sku.id,
                    title=sku.title,
                    quantity=qty,
                    unit_price=1,
                    total=qty,
                )
            )
        self.db.flush()
        self.db.refresh(order)
        return order

    def _ship(
        self, order: Order, shipped: datetime, tracking: str | None, *, event: bool, promise=None
    ) -> None:
        order.expected_dispatch_by = promise
        shipment = Shipment(
            order_id=order.id, carrier="UPS", tracking_number=tracking, status="shipped", shipped_at=shipped
        )
        self.db.add(shipment)
        self.db.flush()
        if event:
            self.db.add(
                TrackingEvent(
                    shipment_id=shipment.id, status="in_transit", occurred_at=shipped, dedup_key="e1"
                )
            )

    def _ticket(
        self,
        created: datetime,
        category: str | None,
        order: Order | None,
        assignee,
        *,
        responded: datetime | None = None,
        solved: datetime | None = None,
        due: datetime | None = None,
        source: str = "portal",
        status: str | None = None,
        first_breached: datetime | None = None,
        resolution_breached: datetime | None = None,
    ) -> Conversation:
        conversation = Conversation(
            order_id=order.id if order else None,
            customer_id=order.customer_id if order else None,
            source=source,
            subject="A question",
            status=status or ("solved" if solved else "open"),
            category=category,
            assignee_id=assignee.id if assignee else None,
            first_response_due_at=due,
            resolution_due_at=due,
            first_responded_at=responded,
            solved_at=solved,
            first_response_breached_at=first_breached,
            resolution_breached_at=resolution_breached,
            created_at=created,
            updated_at=solved or created,
        )
        self.db.add(conversation)
        self.db.flush()
        self.db.add(
            Message(conversation_id=conversation.id, author_kind="customer", body="Hi", created_at=created)
        )
        return conversation


@pytest.fixture
def world(db: Session) -> World:
    return World(db)


def filters(db: Session, channel: str = "") -> queries.Filters:
    return queries.resolve_filters(db, PERIOD, channel)


def rows_of(section: queries.Section, key: str) -> list[tuple]:
    return next(t for t in section.all_tables() if t.key == key).rows


def test_issue_trends_count_tickets_per_category_week_channel_and_sku(db: Session, world: World) -> None:
    section = queries.issue_trends(db, filters(db), now=NOW)
    # week 0: damaged t1 t3, where_is_my_order t2; week 1: damaged t4, other t6, return t5
    assert rows_of(section, "tickets_by_category_week") == [
        ("w/c 2026-11-02", 2, 0, 0, 1, 3),
        ("w/c 2026-11-09", 1, 1, 1, 0, 3),
    ]
    assert [c.label for c in section.charts[0].table.columns] == [
        "Week",
        "Damaged",
        "Other",
        "Return",
        "Where is my order",
        "Total",
    ]
    assert rows_of(section, "tickets_by_channel") == [("Alpha Shop", 3), ("No order", 2), ("Beta Market", 1)]
    assert rows_of(section, "tickets_by_sku") == [("S1", "Product S1", 3), ("S2", "Product S2", 2)]


def test_issue_trends_for_one_channel_keep_its_tickets_only(db: Session, world: World) -> None:
    section = queries.issue_trends(db, filters(db, "beta"), now=NOW)
    assert rows_of(section, "tickets_by_channel") == [("Beta Market", 1)]
    assert rows_of(section, "tickets_by_category_week") == [
        ("w/c 2026-11-02", 0, 0),
        ("w/c 2026-11-09", 1, 1),
    ]


def test_trend_alerts_find_the_rise_against_each_baseline(db: Session, world: World) -> None:
    alerts = queries.trend_alerts(db, now=NOW)
    found = {(a.dimension, a.key): (a.this_week, a.baseline_mean) for a in alerts}
    # damaged: 6 this week; baseline t1 (week 2), t3 t4 (week 1), w1 (week 4), w2 (week 3) = 5 / 8
    # beta: 6; t5 (week 1), w1, w2 = 3 / 8.  S2: 6; t2 (o2 has S2, week 2), t5, w1, w2 = 4 / 8.
    # S2 and damaged: 6; w1, w2 = 2 / 8.  Nothing else has 5 this week.
    assert found == {
        ("category", ("damaged",)): (6, pytest.approx(0.625, abs=0.01)),
        ("channel", ("beta",)): (6, pytest.approx(0.375, abs=0.01)),
        ("sku", ("S2",)): (6, 0.5),
        ("sku_category", ("S2", "damaged")): (6, 0.25),
    }
    assert [a.label for a in alerts] == [
        "Damaged tickets",
        "Damaged tickets about SKU S2",
        "Tickets about Beta Market orders",
        "Tickets about SKU S2",
    ]
    pair = next(a for a in alerts if a.dimension == "sku_category")
    assert pair.queue_params == {"sku": "S2", "category": "damaged"}


def test_service_times_are_medians_and_p90s_in_business_hours(db: Session, world: World) -> None:
    section = queries.service(db, filters(db), now=NOW)
    # first responses: week 0 [2, 2, 3] h, week 1 [8] h; resolutions: week 0 [8, 16] h, week 1 [8.5] h.
    # Nearest rank: median at ceil(n/2), p90 at ceil(0.9 n).
    assert rows_of(section, "response_times_week") == [
        ("w/c 2026-11-02", 3, 2.0, 3.0, 2, 8.0, 16.0),
        ("w/c 2026-11-09", 1, 8.0, 8.0, 1, 8.5, 8.5),
    ]
    # the whole period: first responses [2, 2, 3, 8]: median 2, p90 8; resolutions [8, 8.5, 16]: 8.5 and 16
    assert section.extra["times"] == {"first_response": (4, 2.0, 8.0), "resolution": (3, 8.5, 16.0)}
    # met: t1 (week 0), t4 (week 1); breached: t2, t5; running: t3
    assert rows_of(section, "sla_week") == [
        ("w/c 2026-11-02", 1, 1, 1, 50.0),
        ("w/c 2026-11-09", 1, 1, 0, 50.0),
    ]


def test_backlog_runs_day_by_day_from_the_tickets_open_at_the_start(db: Session, world: World) -> None:
    section = queries.service(db, filters(db), now=NOW)
    # open at the start: t0. Day 0 +t1; day 1 -t1 -t0; day 2 +t2; day 4 -t2; day 5 +t3; day 8 +t4;
    # day 9 +t6 -t6 -t4; day 10 +t5
    assert [n for _, n in rows_of(section, "backlog_day")] == [2, 0, 1, 1, 0, 1, 1, 1, 2, 1, 2, 2, 2, 2]


def test_csat_workload_and_the_assistant(db: Session, world: World) -> None:
    section = queries.service(db, filters(db), now=NOW)
    extra = section.extra
    assert (extra["csat"]["answers"], extra["csat"]["average"], extra["csat"]["csat"]) == (1, 4.0, 100.0)
    assert rows_of(section, "csat_comments") == [("2026-11-04", 4, "=Quick fix")]
    # Ann: t1 t2 t3 t4 opened in the period, t1 t2 t4 solved, t3 unsolved now
    assert rows_of(section, "agent_workload") == [("Ann Agent", 4, 3, 1)]
    # chats: t4 (handed off) and t6 (the assistant alone)
    assert extra["automation"] == {"chats": 2, "handed_off": 1, "automated": 1, "rate": 50.0}
    assert rows_of(section, "handoff_reasons") == [("The customer sounds upset.", 1)]
    # 09:05 to 17:00 on 11-10 (7 h 55 min) + 09:00 to 09:30 on 11-11 = 8 h 25 min = 8.4 h
    assert extra["after_handoff"] == (1, 8.4, 8.4)


def test_returns_per_channel_sku_and_week(db: Session, world: World) -> None:
    section = queries.returns(db, filters(db), now=NOW)
    # A: o1-o4 placed, o4 returned (25 %), one refund of 10.00; B: o6, none
    assert rows_of(section, "returns_by_channel") == [
        ("Alpha Shop", 4, 1, 25.0, "damaged (1)", 1, (1000, "USD")),
        ("Beta Market", 1, 0, 0.0, "", 0, None),
    ]
    # S1: 1 unit returned of 5 sold in the period (o1 2, o2 1, o3 1, o4 1)
    assert rows_of(section, "returns_by_sku") == [("S1", "Product S1", 1, 5, 20.0, "damaged (1)")]
    assert rows_of(section, "returns_week") == [
        ("w/c 2026-11-02", 0, 0, (0, "USD")),
        ("w/c 2026-11-09", 1, 1, (1000, "USD")),
    ]


def test_channel_kpis_against_the_previous_period(db: Session, world: World) -> None:
    section = queries.channel_kpis(db, filters(db), now=NOW)
    kpis = {r["channel"]: r for r in section.extra["kpis"]}
    assert kpis["Alpha Shop"]["current"] == {
        "orders": 4,
        "aov": 2333,  # (20 + 40 + 10) / 3 orders not cancelled
        "conversion": 2.0,  # 4 orders / 200 visits
        "cac": 4000,  # 80.00 spend / 2 new customers (C1, C3)
        "turnover": 0.3,  # cost sold (2x5 + 10+5 + 5 = 30.00) / stock at cost 100.00
        "clv": 1000,  # C1: 20 + (10 - 10 refunded), C3: only a cancelled order; 20.00 / 2
        "fulfilment_hours": 28.0,  # (24 + 48 + 12) / 3
        "return_rate": 25.0,
        "cancel_rate": 25.0,
        "late_rate": 50.0,  # o2 of the two with a promise
        "tracking_rate": 33.3,  # o1's parcel of three
    }
    assert kpis["Alpha Shop"]["previous"] == {
        "orders": 1,
        "aov": 5000,
        "conversion": 2.0,  # 1 / 50
        "cac": 2000,  # 20.00 / C2
        "turnover": 0.2,
        "clv": 9000,  # C2 to date: 50 + 40
        "fulfilment_hours": 24.0,
        "return_rate": 0.0,
        "cancel_rate": 0.0,
        "late_rate": None,
        "tracking_rate": 100.0,
    }
    change = kpis["Alpha Shop"]["change"]
    assert (change["orders"], change["aov"], change["clv"]) == (300.0, -53.3, -88.9)
    assert (
        kpis["Alpha Shop"]["direction"]["cancel_rate"] == ""
        and kpis["Alpha Shop"]["direction"]["orders"] == "good"
    )
    beta = kpis["Beta Market"]["current"]
    assert (beta["orders"], beta["aov"], beta["conversion"], beta["cac"], beta["clv"], beta["turnover"]) == (
        1,
        1500,
        None,
        None,
        1500,
        0.1,
    )
    assert section.extra["inventory_value"] == 10000


def test_dashboard_for_one_channel_and_the_export_of_one_table(db: Session, world: World) -> None:
    board = queries.dashboard(db, filters(db, "alpha"), now=NOW)
    assert [r["channel"] for r in board.sections["channels"].extra["kpis"]] == ["Alpha Shop"]
    assert len(board.alerts) == 4
    table = queries.export_table(db, filters(db), "csat_comments", now=NOW)
    assert table is not None and table.rows == [("2026-11-04", 4, "=Quick fix")]
    assert queries.export_table(db, filters(db), "nope", now=NOW) is None


def test_an_empty_database_gives_empty_sections(db: Session) -> None:
    board = queries.dashboard(db, queries.resolve_filters(db, PERIOD, ""), now=NOW)
    assert board.alerts == []
    assert board.sections["service"].extra["times"]["first_response"] == (0, None, None)
    assert rows_of(board.sections["service"], "backlog_day") == [
        (d.isoformat(), 0) for d in PERIOD.day_list()
    ]
    assert board.sections["channels"].extra["kpis"] == []


def test_period_weeks_start_on_monday(db: Session) -> None:
    period = Period(date(2026, 11, 4), date(2026, 11, 10))
    assert period.week_starts() == [date(2026, 11, 2), date(2026, 11, 9)]
    assert period.previous == Period(date(2026, 10, 28), date(2026, 11, 3))
    assert period.end_at - period.start_at == timedelta(days=7)
    assert rules.parse_period("2026-11-04", "2026-11-10", today=date(2026, 12, 1)) == period
