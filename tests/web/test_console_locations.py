"""Console admin: locations set up without the seed — add one, change its kind, fulfilment method, regions,
address and business hours; admins only, each change audited; a refused form keeps what was typed."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from core.audit.models import AuditEntry
from core.inventory.models import Location
from tests.factories import PASSWORD, make_user
from tests.helpers import csrf_token, sign_in


@pytest.fixture
def admin(client, db):
    user = make_user(db, role="admin")
    assert sign_in(client, user.email, PASSWORD, console=True).status_code == 303
    return user


@pytest.mark.parametrize("role", ["agent", "manager"])
@pytest.mark.parametrize("path", ["/console/admin/locations", "/console/admin/locations/EAST"])
def test_location_pages_are_for_admins_only(client, db, role, path) -> None:
    user = make_user(db, role=role)
    sign_in(client, user.email, PASSWORD, console=True)
    assert client.get(path).status_code == 403


def _add(client, **overrides: str):
    token = csrf_token(client, "/console/admin/locations")
    form = {
        "csrf_token": token,
        "code": "east",
        "name": "East warehouse",
        "kind": "warehouse",
        "priority": "10",
    }
    return client.post("/console/admin/locations", data=form | overrides)


def test_add_a_location_then_set_its_address_and_hours(client, db, admin) -> None:
    assert "No locations yet" in client.get("/console/admin/locations").get_data(as_text=True)
    added = _add(client, regions="us-ny, US-NJ")
    assert added.status_code == 303 and added.headers["Location"].endswith("/console/admin/locations/EAST")
    location = db.scalar(select(Location).where(Location.code == "EAST"))
    assert (location.kind, location.fulfillment_method, location.regions) == (
        "warehouse",
        "in_house",
        ["US-NY", "US-NJ"],
    )

    token = csrf_token(client, "/console/admin/locations/EAST")
    form = {
        "csrf_token": token,
        "name": "East 3PL",
        "kind": "3pl",
        "fulfillment_method": "3pl",
        "regions": "US",
        "priority": "5",
        "email": "ops@3pl.example",
        "active": "on",
        "address_line1": "1 Dock Road",
        "address_city": "Newark",
        "address_region": "NJ",
        "address_postal_code": "07102",
        "address_country": "us",
        "mon_open": "on",
        "mon_opens": "08:00",
        "mon_closes": "18:00",
        "sat_open": "on",
        "sat_opens": "10:00",
        "sat_closes": "14:00",
        "sun_opens": "10:00",  # not ticked: closed
        "sun_closes": "12:00",
    }
    saved = client.post("/console/admin/locations/EAST", data=form)
    assert saved.status_code == 303
    db.expire_all()
    assert (location.name, location.kind, location.fulfillment_method, location.priority) == (
        "East 3PL",
        "3pl",
        "3pl",
        5,
    )
    assert location.address["country"] == "US" and location.address["line1"] == "1 Dock Road"
    assert location.hours == {"mon": ["08:00", "18:00"], "sat": ["10:00", "14:00"]}
    actions = db.scalars(select(AuditEntry.action).where(AuditEntry.entity_type == "location")).all()
    assert sorted(actions) == ["location.add", "location.change"]

    page = client.get("/console/admin/locations/EAST").get_data(as_text=True)
    assert 'value="1 Dock Road"' in page and 'value="18:00"' in page

    bad = client.post("/console/admin/locations/EAST", data=form | {"sat_closes": "09:00", "name": "Typed"})
    text = bad.get_data(as_text=True)
    assert bad.status_code == 422 and "Sat: closing time 09:00 must be after opening time 10:00" in text
    assert 'value="Typed"' in text and 'value="09:00"' in text
    db.expire_all()
    assert location.name == "East 3PL"


def test_add_a_location_refused_keeps_the_form(client, db, admin) -> None:
    assert _add(client).status_code == 303
    again = _add(client, name="Second")
    assert again.status_code == 422 and "already exists" in again.get_data(as_text=True)
    assert 'value="Second"' in again.get_data(as_text=True)
    bad = _add(client, code="west", priority="soon")
    assert bad.status_code == 422 and "priority must be a whole number" in bad.get_data(as_text=True)
    assert client.get("/console/admin/locations/NOPE").status_code == 404


@pytest.mark.parametrize(
    "path",
    [
        "/console/admin/locations",
        "/console/admin/locations/EAST",
        "/console/admin/channels/lamps/credentials",
        "/console/admin/channels/lamps/webhook-secret",
        "/console/admin/channels/lamps/test",
        "/console/admin/returns/reasons",
        "/console/admin/returns/reasons/late",
        "/console/admin/emails/order_confirmed",
    ],
)
def test_every_set_up_form_needs_its_csrf_token(client, db, admin, path) -> None:
    response = client.post(path, data={"name": "x", "label": "x"})
    assert response.status_code == 400 and "CSRF" in response.get_data(as_text=True)
