"""The audit log page: admins only, search by actor, action, entity, dates and text, keyset pages, the change
shown field by field, a CSV export whose cells can't run as spreadsheet formulas; staff actions land there."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest

from core.audit.queries import AuditFilter, audit_page
from core.audit.services import record_audit
from core.errors import DomainError
from core.security.roles import Actor
from tests.factories import NOW, PASSWORD, make_user
from tests.helpers import csrf_token, sign_in

DANA = Actor(label="dana@shop.example", role="agent", ip_address="198.51.100.7")
SAM = Actor(label="sam@shop.example", role="manager")


@pytest.fixture
def entries(db):
    made = []
    for i in range(7):
        made.append(
            record_audit(
                db,
                DANA,
                "order.cancel",
                "order",
                500 + i,
                now=NOW + timedelta(days=i),
                before={"status": "confirmed"},
                after={"status": "cancelled"},
            )
        )
    made.append(
        record_audit(
            db,
            SAM,
            "sla.policy",
            "setting",
            "sla",
            now=NOW + timedelta(days=10),
            before={"first_response_hours": 8},
            after={"first_response_hours": 4},
        )
    )
    made.append(
        record_audit(
            db,
            Actor(label="=cmd|' /C calc'!A0", role="manager"),
            "crm_note.added",
            "customer",
            9,
            now=NOW + timedelta(days=11),
            after={"body": '=HYPERLINK("http://evil.example")'},
        )
    )
    return made


def _admin(client, db):
    admin = make_user(db, "admin")
    sign_in(client, admin.email, PASSWORD, console=True)
    return admin


def test_only_roles_with_the_permission_see_the_audit_log(client, db) -> None:
    manager = make_user(db, "manager")
    sign_in(client, manager.email, PASSWORD, console=True)
    assert client.get("/console/audit").status_code == 403
    assert client.get("/console/audit/export.csv").status_code == 403


def test_the_page_shows_newest_first_with_the_change_field_by_field(client, db, entries) -> None:
    _admin(client, db)
    html = client.get("/console/audit").get_data(as_text=True)
    assert html.index("crm_note.added") < html.index("sla.policy") < html.index("order.cancel")
    html = client.get("/console/audit?entity_type=customer").get_data(as_text=True)
    assert "crm_note.added" in html and "sla.policy" not in html
    assert "&#34;http://evil.example&#34;" in html and "<ins>=HYPERLINK" in html  # escaped, never markup
    html = client.get("/console/audit?action=sla").get_data(as_text=True)
    assert "<del>8</del> → <ins>4</ins>" in html
    assert "order.cancel" not in html


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("action=cancel", 7),
        ("entity_type=order&entity_id=503", 1),
        ("q=first_response", 1),
        ("q=198.51", 0),  # the IP is shown, not searched
        ("actor=DANA", 7),
        ("actor=sam@", 1),
        ("date_from=2026-01-01&date_to=2099-01-01", 9),
    ],
)
def test_filters_narrow_the_entries(db, entries, query, expected) -> None:
    args = dict(part.split("=") for part in query.split("&"))
    mine = {entry.id for entry in entries}
    found = [e for e in audit_page(db, AuditFilter.from_args(args), per_page=100).entries if e.id in mine]
    assert len(found) == expected


def test_dates_filter_by_day_inclusive(db, entries) -> None:
    day = (NOW + timedelta(days=2)).date().isoformat()
    page = audit_page(db, AuditFilter.from_args({"date_from": day, "date_to": day}))
    assert [e.entity_id for e in page.entries if e.id in {x.id for x in entries}] == ["502"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ({"date_from": "yesterday"}, "not a date"),
        ({"date_from": "2026-02-02", "date_to": "2026-02-01"}, "ends"),
    ],
)
def test_bad_filters_are_refused_with_the_reason(client, db, args, message) -> None:
    with pytest.raises(DomainError, match=message):
        AuditFilter.from_args(args)
    _admin(client, db)
    response = client.get("/console/audit", query_string=args)
    assert response.status_code == 422 and message in response.get_data(as_text=True)


def test_keyset_pages_walk_back_and_forth_without_gaps(client, db, entries) -> None:
    filters = AuditFilter(actor="dana@")
    first = audit_page(db, filters, per_page=3)
    second = audit_page(db, filters, before_id=str(first.older_than), per_page=3)
    third = audit_page(db, filters, before_id=str(second.older_than), per_page=3)
    walked = [e.entity_id for page in (first, second, third) for e in page.entries]
    assert walked == [str(500 + i) for i in range(6, -1, -1)]
    assert first.newer_than is None and third.older_than is None
    back = audit_page(db, filters, after_id=str(third.newer_than), per_page=3)
    assert [e.id for e in back.entries] == [e.id for e in second.entries]
    _admin(client, db)
    html = client.get(f"/console/audit?actor=dana@&before={first.older_than}").get_data(as_text=True)
    assert 'rel="prev"' in html and "actor=dana@" in html and 'rel="next"' not in html  # the rest fits


def test_htmx_search_answers_the_results_fragment(client, db, entries) -> None:
    _admin(client, db)
    response = client.get("/console/audit?action=sla", headers={"HX-Request": "true"})
    html = response.get_data(as_text=True)
    assert "HX-Request" in response.headers["Vary"]
    assert html.startswith('<section id="audit-results"') and "<html" not in html


def test_csv_export_streams_the_matches_with_safe_cells(client, db, entries) -> None:
    _admin(client, db)
    response = client.get("/console/audit/export.csv?date_from=2026-01-01")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True))))
    assert rows[0][:5] == ["id", "time", "actor", "ip", "action"]
    mine = [row for row in rows[1:] if int(row[0]) in {entry.id for entry in entries}]
    assert [row[4] for row in mine[:3]] == ["crm_note.added", "sla.policy", "order.cancel"]
    assert mine[0][2] == "'=cmd|' /C calc'!A0"
    assert mine[1][7] == "first_response_hours: 8 -> 4"
    assert mine[2][3] == "198.51.100.7"


def test_a_staff_action_in_the_console_lands_in_the_log_with_ip_and_diff(client, db) -> None:
    client.environ_base["REMOTE_ADDR"] = "192.0.2.44"
    admin = _admin(client, db)
    colleague = make_user(db, "agent")
    token = csrf_token(client, "/console/admin/users")
    response = client.post(
        f"/console/admin/users/{colleague.id}",
        data={"csrf_token": token, "action": "role", "role": "manager"},
    )
    assert response.status_code == 303, response.get_data(as_text=True)[-600:]
    page = audit_page(db, AuditFilter(action="user.role", entity_id=str(colleague.id)))
    (entry,) = page.entries
    assert (entry.actor_id, entry.ip_address) == (admin.id, "192.0.2.44")
    assert (entry.before, entry.after) == ({"role": "agent"}, {"role": "manager"})
