"""Console settings: return reasons (add, reword, reorder, retire; managers and admins; audited) offered to
customers on the portal's return form and to agents, a retired reason still naming its returns; each channel's
return policy listed."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from core.audit.models import AuditEntry
from core.errors import DomainError
from core.orders.panel import order_panel
from core.returns.reasons import offered_reasons, reason_labels
from core.returns.services import request_return
from core.security.roles import Actor
from tests.factories import NOW, PASSWORD, make_channel, make_order, make_user
from tests.helpers import csrf_token, sign_in

PATH = "/console/admin/returns"


@pytest.fixture
def manager(client, db):
    user = make_user(db, role="manager")
    assert sign_in(client, user.email, PASSWORD, console=True).status_code == 303
    return user


def test_return_settings_are_for_managers_and_admins(client, db) -> None:
    agent = make_user(db, role="agent")
    sign_in(client, agent.email, PASSWORD, console=True)
    assert client.get(PATH).status_code == 403
    token = csrf_token(client, "/console/")
    assert client.post(f"{PATH}/reasons", data={"csrf_token": token, "label": "x"}).status_code == 403


def test_the_shipped_reasons_are_listed_with_each_channels_policy(client, db, manager) -> None:
    make_channel(db, name="Marketplace", returns_handled_by_channel=True, return_window_days=14)
    page = client.get(PATH).get_data(as_text=True)
    assert "wrong_size" in page and 'value="arrived damaged"' in page
    assert "14 days after delivery" in page and "Marketplace</td>" in page.replace("\n", "")


def test_add_reword_and_retire_reasons(client, db, manager) -> None:
    token = csrf_token(client, PATH)
    added = client.post(f"{PATH}/reasons", data={"csrf_token": token, "label": "Bought two sizes"})
    assert added.status_code == 303
    assert list(offered_reasons(db))[-1] == "bought_two_sizes"
    assert offered_reasons(db)["bought_two_sizes"] == "Bought two sizes"

    changed = client.post(
        f"{PATH}/reasons/late", data={"csrf_token": token, "label": "came too late", "position": "5"}
    )  # "active" unticked: retired
    assert changed.status_code == 303
    assert "late" not in offered_reasons(db) and reason_labels(db)["late"] == "came too late"
    entry = db.scalar(select(AuditEntry).where(AuditEntry.action == "return_reason.change"))
    assert entry.before == {"label": "arrived late", "active": True, "position": 50}
    assert entry.after == {"label": "came too late", "active": False, "position": 5}

    bad = client.post(
        f"{PATH}/reasons/damaged",
        data={"csrf_token": token, "label": "Typed words", "position": "soon", "active": "on"},
    )
    page = bad.get_data(as_text=True)
    assert (
        bad.status_code == 422
        and "the position must be a whole number" in page
        and 'value="Typed words"' in page
    )
    again = client.post(f"{PATH}/reasons", data={"csrf_token": token, "label": "bought two  sizes"})
    assert again.status_code == 422 and "already exists" in again.get_data(as_text=True)
    assert (
        client.post(
            f"{PATH}/reasons/nope", data={"csrf_token": token, "label": "x", "position": "1"}
        ).status_code
        == 404
    )


def test_only_offered_reasons_open_a_return(client, db, manager) -> None:
    token = csrf_token(client, PATH)
    client.post(f"{PATH}/reasons/late", data={"csrf_token": token, "label": "arrived late", "position": "50"})
    order = make_order(db, channel_id=make_channel(db).id, status="delivered")
    with pytest.raises(DomainError, match="choose a reason for the return: one of wrong_size"):
        request_return(db, order, [(order.lines[0].id, 1)], reason="late", actor=Actor(label="test"), now=NOW)
    panel = order_panel(db, order.id, actor=Actor(label="test", role="agent"), now=NOW)
    assert (
        "wrong_size" in panel.reasons and "late" not in panel.reasons
    )  # what the agent's return form offers
