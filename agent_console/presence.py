"""Collision notices on the console's ticket page, on the same `console` blueprint: the heartbeat each open
ticket page sends every few seconds, answered with who else has the ticket open."""

from __future__ import annotations

import sqlite3
from typing import Any

from flask import abort, g, render_template, request
from flask_login import current_user
from sqlalchemy.exc import OperationalError

from agent_console.auth import permission_required
from agent_console.views import bp
from core.db import begin_write, is_database_busy, utcnow
from core.errors import NotFound
from core.security.permissions import Permission as P
from core.support import presence
from core.support.services import get_conversation


@bp.post("/tickets/<int:conversation_id>/presence")
@permission_required(P.WORK_TICKETS)
def ticket_presence(conversation_id: int) -> Any:
    """I have this ticket open (writing in its reply box when the draft isn't empty): one upsert, then
    the others seen on it within the presence window (htmx fragment).

    The request reads without the write lock (app.OWN_WRITE_TRANSACTIONS) and writes in a transaction of
    its own; when SQLite's lock stays taken past the busy timeout the heartbeat is skipped (the next one
    writes) and the others are still shown: a heartbeat never answers an error page into the ticket."""
    try:
        get_conversation(g.db, conversation_id)
    except NotFound:
        abort(404)
    user_id, now = current_user.id, utcnow()
    state = "replying" if request.form.get("body", "").strip() else "viewing"
    g.db.rollback()  # end the read: the write takes the lock first thing in its own transaction
    try:
        begin_write(g.db)
        presence.record_presence(g.db, conversation_id, user_id, state, now=now)
        g.db.commit()
    except (OperationalError, sqlite3.OperationalError) as exc:
        if not is_database_busy(exc):
            raise
        g.db.rollback()
    others = presence.ticket_presence(g.db, conversation_id, exclude_user_id=user_id, now=now)
    return render_template("console/tickets/_presence_list.html", others=others)
