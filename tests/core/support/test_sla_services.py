"""The SLA clock on real tickets: due dates from the configured policy when a ticket opens and when its
priority changes, a channel's override, the clock paused while pending or solved and the due dates pushed
when the customer answers, breaches recorded once; and the settings a manager edits, validated and audited."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from core import jobs
from core.audit.models import AuditEntry
from core.errors import DomainError, NotFound
from core.security.roles import Actor
from core.support import queue_services, services, sla_settings
from core.support.models import BusinessHours, SlaPolicy
from core.support.sla import DEFAULT_CALENDAR, BusinessCalendar
from core.support.sla_services import load_calendar, sla_breach_job, ticket_sla
from tests.factories import make_channel, make_customer, make_order, make_user

WEEKDAYS_9_TO_5 = {d: ("09:00", "17:00") for d in range(5)}


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


MONDAY_9 = utc(2026, 12, 7, 9)
FRIDAY_4PM = utc(2026, 12, 4, 16)


@pytest.fixture
def manager(db: Session) -> Actor:
    user = make_user(db, "manager")
    return Actor(label=user.email, user_id=user.id, role="manager")


@pytest.fixture
def agent(db: Session) -> Actor:
    user = make_user(db, "agent")
    return Actor(label=user.email, user_id=user.id, role="agent")


@pytest.fixture(autouse=True)
def utc_office_week(db: Session, manager: Actor) -> None:
    """Monday to Friday 09:00-17:00 UTC and the shipped targets, whatever CROSSDOCK_TZ seeded."""
    sla_settings.save_business_hours(db, "UTC", WEEKDAYS_9_TO_5, actor=manager, now=MONDAY_9)
    sla_settings.save_sla_policies(
        db,
        {
            "urgent": ("1", "8", False),
            "high": ("2", "16", False),
            "normal": ("4", "24", False),
            "low": ("8", "40", False),
        },
        actor=manager,
        now=MONDAY_9,
    )


def states(conversation, now: datetime) -> dict[str, str]:
    return {target.name: target.state for target in ticket_sla(conversation, now=now)}


def open_ticket(db: Session, now: datetime, order=None):
    customer = make_customer(db)
    return services.open_conversation(
        db,
        customer_id=customer.id,
        order=order,
        subject="Parcel",
        body="Where is it?",
        source="portal",
        now=now,
    )


def test_a_ticket_opened_friday_afternoon_is_due_in_business_hours(db: Session) -> None:
    conversation = open_ticket(db, FRIDAY_4PM)
    # Normal: 4 business hours (Friday 16-17, Monday 9-12); resolution 24 (1 + 8 + 8 + 7: Wednesday 16:00).
    assert conversation.first_response_due_at == utc(2026, 12, 7, 12)
    assert conversation.resolution_due_at == utc(2026, 12, 9, 16)


def test_changing_the_priority_recomputes_the_due_dates(db: Session, agent: Actor) -> None:
    conversation = open_ticket(db, FRIDAY_4PM)
    services.change_conversation_priority(db, conversation.id, "urgent", actor=agent, now=FRIDAY_4PM)
    assert conversation.first_response_due_at == utc(2026, 12, 4, 17)
    assert conversation.resolution_due_at == utc(2026, 12, 7, 16)


def test_a_channel_override_caps_the_due_date_weekends_included(db: Session, manager: Actor) -> None:
    amazon = make_channel(db, code="amazon-uk", name="Amazon UK", kind="amazon")
    sla_settings.save_channel_override(db, "amazon-uk", "24", "", True, actor=manager, now=FRIDAY_4PM)
    order = make_order(db, channel_id=amazon.id)
    conversation = open_ticket(db, FRIDAY_4PM, order=order)
    assert conversation.first_response_due_at == utc(2026, 12, 5, 16)  # Saturday: 24 calendar hours
    assert conversation.resolution_due_at == utc(2026, 12, 9, 16)  # no channel limit: the priority's


def test_pending_pauses_the_clock_and_the_customers_reply_pushes_the_due_dates(
    db: Session, agent: Actor
) -> None:
    conversation = open_ticket(db, MONDAY_9)
    assert conversation.resolution_due_at == utc(2026, 12, 9, 17)
    services.reply_to_conversation(
        db,
        conversation.id,
        "Could you send a photo?",
        actor=agent,
        now=utc(2026, 12, 7, 10),
        set_status="pending",
    )
    assert conversation.sla_paused_at == utc(2026, 12, 7, 10)
    assert states(conversation, utc(2026, 12, 7, 11)) == {"First response": "met", "Resolution": "paused"}
    services.add_customer_message(db, conversation.id, "Here it is", now=utc(2026, 12, 7, 15))
    # Five business hours waiting on the customer: resolution due Thursday 14:00 instead of Wednesday 17:00.
    assert conversation.status == "open" and conversation.sla_paused_at is None
    assert conversation.resolution_due_at == utc(2026, 12, 10, 14)
    assert conversation.sla_pauses == [[utc(2026, 12, 7, 10).isoformat(), utc(2026, 12, 7, 15).isoformat()]]


def test_a_pause_over_the_weekend_pushes_by_its_business_time_only(db: Session, agent: Actor) -> None:
    conversation = open_ticket(db, MONDAY_9)
    services.change_conversation_status(
        db, conversation.id, "pending", actor=agent, now=utc(2026, 12, 11, 16)
    )
    services.add_customer_message(db, conversation.id, "Back", now=utc(2026, 12, 14, 10))
    # Pending Friday 16:00 to Monday 10:00 is two business hours.
    assert conversation.resolution_due_at == utc(2026, 12, 10, 11)  # Wednesday 17:00 + 2 h


def test_a_ticket_closed_straight_from_open_has_its_resolution_done_when_closed(
    db: Session, agent: Actor
) -> None:
    conversation = open_ticket(db, MONDAY_9)
    services.change_conversation_status(db, conversation.id, "closed", actor=agent, now=utc(2026, 12, 7, 10))
    assert conversation.solved_at is None
    assert states(conversation, utc(2026, 12, 20))["Resolution"] == "met"


def test_solved_stops_the_resolution_clock_and_a_reopen_resumes_it(db: Session, agent: Actor) -> None:
    conversation = open_ticket(db, MONDAY_9)
    services.reply_to_conversation(
        db, conversation.id, "Done", actor=agent, now=utc(2026, 12, 7, 10), set_status="solved"
    )
    assert states(conversation, utc(2026, 12, 20))["Resolution"] == "met"
    services.add_customer_message(db, conversation.id, "Not quite", now=utc(2026, 12, 8, 10))
    assert conversation.resolution_due_at == utc(2026, 12, 10, 17)  # pushed by the 8 solved business hours


def test_a_late_first_reply_records_the_breach_at_the_due_time(db: Session, agent: Actor) -> None:
    conversation = open_ticket(db, MONDAY_9)
    services.reply_to_conversation(
        db, conversation.id, "Sorry for the wait", actor=agent, now=utc(2026, 12, 7, 15)
    )
    assert conversation.first_response_breached_at == utc(2026, 12, 7, 13)
    assert conversation.resolution_breached_at is None
    assert states(conversation, utc(2026, 12, 7, 15)) == {"First response": "breached", "Resolution": "ok"}


def test_a_first_reply_in_time_meets_the_target(db: Session, agent: Actor) -> None:
    conversation = open_ticket(db, MONDAY_9)
    services.reply_to_conversation(db, conversation.id, "On it", actor=agent, now=utc(2026, 12, 7, 11))
    assert conversation.first_response_breached_at is None
    assert states(conversation, utc(2026, 12, 9, 16, 30)) == {"First response": "met", "Resolution": "soon"}
    labels = [t.label for t in ticket_sla(conversation, now=utc(2026, 12, 9, 18))]
    assert labels == ["met", "1 h 00 min overdue"]


def test_the_breach_job_marks_open_tickets_past_due_but_not_paused_ones(db: Session, agent: Actor) -> None:
    late = open_ticket(db, MONDAY_9)
    waiting = open_ticket(db, MONDAY_9)
    services.change_conversation_status(db, waiting.id, "pending", actor=agent, now=utc(2026, 12, 7, 10))
    result = sla_breach_job(db, utc(2026, 12, 7, 14))
    db.refresh(late)
    db.refresh(waiting)
    assert result["first_response_breaches"] >= 1
    assert late.first_response_breached_at == utc(2026, 12, 7, 13)
    assert waiting.first_response_breached_at is None
    sla_breach_job(db, utc(2026, 12, 7, 16))  # once: the first missed time stays
    db.refresh(late)
    assert late.first_response_breached_at == utc(2026, 12, 7, 13)


def test_going_pending_after_the_due_time_records_the_breach(db: Session, agent: Actor) -> None:
    conversation = open_ticket(db, MONDAY_9)
    services.change_conversation_status(db, conversation.id, "pending", actor=agent, now=utc(2026, 12, 7, 14))
    assert conversation.first_response_breached_at == utc(2026, 12, 7, 13)


def test_a_phone_call_ticket_gets_the_policys_due_dates(db: Session, agent: Actor) -> None:
    customer = make_customer(db)
    conversation = queue_services.log_phone_call(
        db, customer.id, "Called about a refund", actor=agent, now=FRIDAY_4PM
    )
    assert conversation.resolution_due_at == utc(2026, 12, 9, 16)
    assert states(conversation, FRIDAY_4PM)["First response"] == "met"


def test_a_cancellation_request_is_high_priority_due_dates(db: Session) -> None:
    order = make_order(db, customer_id=make_customer(db).id, status="confirmed")
    conversation = services.request_cancellation(db, order, "", actor=Actor("customer:1"), now=FRIDAY_4PM)
    assert conversation.first_response_due_at == utc(2026, 12, 7, 10)  # 2 business hours


def test_a_holiday_moves_the_due_date(db: Session, manager: Actor) -> None:
    sla_settings.add_holiday(db, "2026-12-07", "Staff day", actor=manager, now=MONDAY_9)
    assert date(2026, 12, 7) in load_calendar(db).holidays
    conversation = open_ticket(db, FRIDAY_4PM)
    assert conversation.first_response_due_at == utc(2026, 12, 8, 12)


# --- settings -------------------------------------------------------------------------------------------


def audit(db: Session, prefix: str) -> list[AuditEntry]:
    return list(
        db.scalars(select(AuditEntry).where(AuditEntry.action.like(prefix + "%")).order_by(AuditEntry.id))
    )


def test_saving_business_hours_in_a_time_zone_is_audited(db: Session, manager: Actor) -> None:
    week = {0: ("08:30", "18:00"), 5: ("10:00", "14:00")}
    sla_settings.save_business_hours(db, "Europe/London", week, actor=manager, now=MONDAY_9)
    calendar = load_calendar(db)
    assert isinstance(calendar, BusinessCalendar) and calendar.timezone == "Europe/London"
    assert [d for d in range(7) if calendar.week[d] is not None] == [0, 5]
    entry = audit(db, "sla.hours_changed")[-1]
    assert entry.after == {
        "timezone": "Europe/London",
        "hours": {"Monday": "08:30-18:00", "Saturday": "10:00-14:00"},
    }
    assert entry.actor_label == manager.label


@pytest.mark.parametrize(
    ("zone", "week", "message"),
    [
        ("Mars/Olympus", WEEKDAYS_9_TO_5, "unknown time zone"),
        ("../etc/passwd", WEEKDAYS_9_TO_5, "unknown time zone"),
        ("UTC", {}, "at least one day"),
        ("UTC", {0: ("17:00", "09:00")}, "Monday: closing time must be after"),
        ("UTC", {2: ("9am", "17:00")}, "Wednesday opens: write the time as HH:MM"),
    ],
)
def test_business_hours_are_validated(db: Session, manager: Actor, zone, week, message) -> None:
    with pytest.raises(DomainError, match=message):
        sla_settings.save_business_hours(db, zone, week, actor=manager, now=MONDAY_9)


def test_holidays_are_added_once_and_removed(db: Session, manager: Actor) -> None:
    sla_settings.add_holiday(db, "2026-12-25", "Christmas", actor=manager, now=MONDAY_9)
    with pytest.raises(DomainError, match="already a holiday"):
        sla_settings.add_holiday(db, "2026-12-25", "", actor=manager, now=MONDAY_9)
    with pytest.raises(DomainError, match="YYYY-MM-DD"):
        sla_settings.add_holiday(db, "25/12/2026", "", actor=manager, now=MONDAY_9)
    sla_settings.remove_holiday(db, "2026-12-25", actor=manager, now=MONDAY_9)
    with pytest.raises(NotFound):
        sla_settings.remove_holiday(db, "2026-12-25", actor=manager, now=MONDAY_9)
    assert [e.action for e in audit(db, "sla.holiday")] == ["sla.holiday_added", "sla.holiday_removed"]


@pytest.mark.parametrize(
    ("text", "minutes"), [("4", 240), ("1.5", 90), ("0,25", 15), ("1:30", 90), ("", None), (" 24 ", 1440)]
)
def test_target_hours_are_read_as_minutes(text: str, minutes) -> None:
    assert sla_settings.parse_target_hours(text, "x") == minutes


@pytest.mark.parametrize(
    ("text", "message"),
    [("0", "more than zero"), ("-1", "a number"), ("4h", "a number"), ("2001", "at most")],
)
def test_bad_target_hours_are_refused(text: str, message: str) -> None:
    with pytest.raises(DomainError, match=message):
        sla_settings.parse_target_hours(text, "Normal first response")


def test_saving_policies_checks_every_priority_before_saving_any(db: Session, manager: Actor) -> None:
    with pytest.raises(DomainError, match="Low resolution"):
        sla_settings.save_sla_policies(
            db,
            {
                "urgent": ("0.5", "4", True),
                "high": ("2", "16", False),
                "normal": ("4", "24", False),
                "low": ("8", "x", False),
            },
            actor=manager,
            now=MONDAY_9,
        )
    assert db.get(SlaPolicy, "urgent").first_response_minutes == 60
    sla_settings.save_sla_policies(
        db,
        {
            "urgent": ("0.5", "4", True),
            "high": ("2", "16", False),
            "normal": ("4", "24", False),
            "low": ("8", "", False),
        },
        actor=manager,
        now=MONDAY_9 + timedelta(minutes=1),
    )
    urgent = db.get(SlaPolicy, "urgent")
    assert (urgent.first_response_minutes, urgent.resolution_minutes, urgent.round_the_clock) == (
        30,
        240,
        True,
    )
    assert db.get(SlaPolicy, "low").resolution_minutes is None
    changed = [
        e.entity_id
        for e in audit(db, "sla.policy_changed")
        if e.created_at == MONDAY_9 + timedelta(minutes=1)
    ]
    assert changed == ["urgent", "low"]


def test_a_channel_override_needs_a_known_channel_and_a_target(db: Session, manager: Actor) -> None:
    make_channel(db, code="ebay-de", name="eBay DE")
    with pytest.raises(DomainError, match="choose a channel"):
        sla_settings.save_channel_override(db, "nope", "24", "", True, actor=manager, now=MONDAY_9)
    with pytest.raises(DomainError, match="give a first-response or a resolution target"):
        sla_settings.save_channel_override(db, "ebay-de", "", "", True, actor=manager, now=MONDAY_9)
    sla_settings.save_channel_override(db, "ebay-de", "24", "72", True, actor=manager, now=MONDAY_9)
    shown = sla_settings.sla_settings(db)
    assert [(o.key, o.first_response, o.resolution, o.round_the_clock) for o in shown.overrides] == [
        ("ebay-de", "24", "72", True)
    ]
    sla_settings.remove_channel_override(db, "ebay-de", actor=manager, now=MONDAY_9)
    assert sla_settings.sla_settings(db).overrides == []
    assert [e.action for e in audit(db, "sla.channel_override")] == [
        "sla.channel_override_set",
        "sla.channel_override_removed",
    ]


def test_lowering_the_priority_after_the_due_time_keeps_the_breach(db: Session, agent: Actor) -> None:
    conversation = open_ticket(db, MONDAY_9)
    services.change_conversation_priority(db, conversation.id, "low", actor=agent, now=utc(2026, 12, 7, 14))
    assert conversation.first_response_due_at == utc(2026, 12, 7, 17)  # 8 business hours now
    assert conversation.first_response_breached_at == utc(2026, 12, 7, 13)  # missed under the old target


def test_the_breach_job_is_scheduled_in_the_worker() -> None:
    assert "sla_breach_job" in {spec.id for spec in jobs.JOBS}


def test_a_week_emptied_by_hand_falls_back_to_the_shipped_hours(db: Session) -> None:
    db.execute(delete(BusinessHours))
    assert load_calendar(db).week == DEFAULT_CALENDAR.week
    assert open_ticket(db, FRIDAY_4PM).first_response_due_at == utc(2026, 12, 7, 12)
