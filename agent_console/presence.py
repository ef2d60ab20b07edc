"""Collision notices on the console's ticket page, on the same `console` blueprint: the heartbeat each open
ticket page sends every few seconds, answered with who else has the ticket open."""

from __future__ import annotations

from typing import Any

from flask import abort, g, render_template, request
from flask_login import current_user

from agent_console.views import bp
from core.db import utcnow
from core.errors import NotFound
from core.support import presence
from core.support.services import get_conversation


@bp.post("/tickets/<int:conversation_id>/presence")
def ticket_presence(conversation_id: int) -> Any:
    """I have this ticket open (writing in its reply box when the draft isn't empty): one upsert, then
    the others seen on it within the presence window (htmx fragment)."""
    try:
        get_conversation(g.db, conversation_id)
    except NotFound:
        abort(404)
    now = utcnow()
    state = "replying" if request.form.get("body", "").strip() else "viewing"
    presence.record_presence(g.db, conversation_id, current_user.id, state, now=now)
    others = presence.ticket_presence(g.db, conversation_id, exclude_user_id=current_user.id, now=now)
    g.db.commit()
    return render_template("console/tickets/_presence_list.html", others=others)
