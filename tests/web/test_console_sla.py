"""SLA in the console: the settings page (managers and admins only, CSRF, validation errors shown with what
was typed, every change audited), the live countdown markup in the queue and on the ticket, paused when
pending, and the script that keeps it ticking."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.audit.models import AuditEntry
from core.db import utcnow
from core.support.models import BusinessHours, SlaChannelOverride, SlaPolicy, SupportCalendar, SupportHoliday
from tests.factories import PASSWORD, make_channel, make_user
from tests.helpers import csrf_token, sign_in
from tests.support_factories import make_conversation

SETTINGS = "/console/admin/sla"


def console(client: FlaskClient, role: str, db: Session) -> FlaskClient:
    user = make_user(db, role)
    assert sign_in(client, user.email, PASSWORD, console=True).status_code == 303
    return client


def hours_form(token: str, **changes: str) -> dict[str, str]:
    form = {"csrf_token": token, "timezone": "Europe/London"}
    for d in range(5):
        form |= {f"open_{d}": "on", f"opens_{d}": "09:00", f"closes_{d}": "17:00"}
    return form | changes


def audit_actions(db: Session) -> list[str]:
    return list(
        db.scalars(select(AuditEntry.action).where(AuditEntry.action.like("sla.%")).order_by(AuditEntry.id))
    )


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", SETTINGS),
        ("post", SETTINGS + "/hours"),
        ("post", SETTINGS + "/holidays"),
        ("post", SETTINGS + "/holidays/2026-12-25/delete"),
        ("post", SETTINGS + "/policies"),
        ("post", SETTINGS + "/overrides"),
        ("post", SETTINGS + "/overrides/amazon/delete"),
    ],
)
def test_agents_may_not_see_or_change_sla_settings(client, db, method: str, path: str) -> None:
    console(client, "agent", db)
    token = csrf_token(client, "/console/tickets")
    response = getattr(client, method)(path, data={"csrf_token": token} if method == "post" else None)
    assert response.status_code == 403


def test_the_settings_page_shows_the_seeded_defaults_to_a_manager(client, db) -> None:
    console(client, "manager", db)
    page = client.get(SETTINGS)
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert 'name="opens_0" type="time" value="09:00"' in html
    assert re.search(r'name="open_5"\s*>', html)  # Saturday closed: its box is not ticked
    assert 'name="first_normal" inputmode="decimal" size="6" maxlength="8" value="4"' in html
    assert 'href="/console/admin/sla"' in html  # in the console's navigation


def test_a_manager_saves_business_hours_and_it_is_audited(client, db) -> None:
    console(client, "manager", db)
    token = csrf_token(client, SETTINGS)
    form = hours_form(token, open_5="on", opens_5="10:00", closes_5="14:00")
    response = client.post(SETTINGS + "/hours", data=form)
    assert response.status_code == 303
    assert db.get(SupportCalendar, 1).timezone == "Europe/London"
    saturday = db.get(BusinessHours, 5)
    assert (saturday.opens.hour, saturday.closes.hour) == (10, 14)
    assert audit_actions(db) == ["sla.hours_changed"]


def test_a_refused_form_shows_the_error_and_keeps_what_was_typed(client, db) -> None:
    console(client, "manager", db)
    token = csrf_token(client, SETTINGS)
    response = client.post(
        SETTINGS + "/hours", data=hours_form(token, timezone="Mars/Olympus", closes_1="08:00")
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "unknown time zone" in html and 'value="Mars/Olympus"' in html
    assert audit_actions(db) == []
    response = client.post(SETTINGS + "/hours", data=hours_form(token, closes_1="08:00"))
    assert response.status_code == 422
    assert "Tuesday: closing time must be after opening time" in response.get_data(as_text=True)


def test_settings_forms_need_the_csrf_token(client, db) -> None:
    console(client, "manager", db)
    response = client.post(SETTINGS + "/hours", data=hours_form(""))
    assert response.status_code == 400


def test_holidays_policies_and_overrides_from_the_page(client, db) -> None:
    make_channel(db, code="amazon-uk", name="Amazon UK", kind="amazon")
    console(client, "admin", db)
    token = csrf_token(client, SETTINGS)
    assert (
        client.post(
            SETTINGS + "/holidays", data={"csrf_token": token, "day": "2026-12-25", "name": "Christmas"}
        ).status_code
        == 303
    )
    assert "Christmas" in client.get(SETTINGS).get_data(as_text=True)
    bad = client.post(SETTINGS + "/holidays", data={"csrf_token": token, "day": "2026-12-25"})
    assert bad.status_code == 422 and "already a holiday" in bad.get_data(as_text=True)
    assert (
        client.post(SETTINGS + "/holidays/2026-12-25/delete", data={"csrf_token": token}).status_code == 303
    )
    assert db.scalars(select(SupportHoliday)).all() == []

    policies = {"csrf_token": token}
    for p, (first, resolution) in {
        "urgent": ("0.5", "4"),
        "high": ("2", "16"),
        "normal": ("3", "24"),
        "low": ("8", ""),
    }.items():
        policies |= {f"first_{p}": first, f"resolution_{p}": resolution}
    policies["clock_urgent"] = "on"
    assert client.post(SETTINGS + "/policies", data=policies).status_code == 303
    urgent = db.get(SlaPolicy, "urgent")
    assert (urgent.first_response_minutes, urgent.round_the_clock) == (30, True)
    refused = client.post(SETTINGS + "/policies", data=policies | {"first_high": "soon"})
    assert refused.status_code == 422 and "High first response" in refused.get_data(as_text=True)

    override = {
        "csrf_token": token,
        "channel": "amazon-uk",
        "first": "24",
        "resolution": "",
        "round_the_clock": "on",
    }
    assert client.post(SETTINGS + "/overrides", data=override).status_code == 303
    assert db.scalars(select(SlaChannelOverride)).one().first_response_minutes == 24 * 60
    assert "Amazon UK" in client.get(SETTINGS).get_data(as_text=True)
    assert (
        client.post(SETTINGS + "/overrides/amazon-uk/delete", data={"csrf_token": token}).status_code == 303
    )
    assert audit_actions(db) == [
        "sla.holiday_added",
        "sla.holiday_removed",
        "sla.policy_changed",
        "sla.policy_changed",
        "sla.policy_changed",
        "sla.channel_override_set",
        "sla.channel_override_removed",
    ]


def test_the_queue_renders_a_ticking_countdown_and_paused_for_pending(client, db) -> None:
    now = utcnow()
    running = make_conversation(db, first_response_due_at=now + timedelta(hours=3), created_at=now)
    make_conversation(db, status="pending", first_response_due_at=now - timedelta(hours=1), created_at=now)
    console(client, "agent", db)
    html = client.get("/console/tickets?view=all").get_data(as_text=True)
    clock = re.search(
        r'<span class="sla sla-ok" data-sla-state="ok" data-sla-due="([^"]+)"[^>]*>due in (\d) h', html
    )
    assert clock is not None
    assert clock.group(1) == running.first_response_due_at.isoformat()
    assert '<span class="sla sla-paused" data-sla-state="paused" title=' in html  # paused: no data-sla-due
    assert '<script src="/static/js/sla.js" defer></script>' in html


def test_the_ticket_page_shows_each_target(client, db) -> None:
    now = utcnow()
    conversation = make_conversation(
        db,
        created_at=now,
        first_response_due_at=now - timedelta(minutes=30),
        resolution_due_at=now + timedelta(minutes=40),
    )
    console(client, "agent", db)
    html = client.get(f"/console/tickets/{conversation.id}").get_data(as_text=True)
    assert 'class="sla-targets"' in html
    assert re.search(r'sla-overdue" data-sla-state="overdue" data-sla-due="[^"]+"[^>]*>3\d min overdue', html)
    assert re.search(r'sla-soon" data-sla-state="soon" data-sla-due="[^"]+"[^>]*>due in \d\d min', html)


def test_the_countdown_script_is_served(client, db) -> None:
    console(client, "agent", db)
    script = client.get("/static/js/sla.js").get_data(as_text=True)
    assert "data-sla-due" in script and "overdue" in script
