"""Ticket pages of the console, on the same `console` blueprint: the queue (views, filters, search, sort,
bulk actions), phone notes, staff availability for round-robin, a ticket with its conversation, public
replies and internal notes, the side panel (status, priority, category, tags, assignee), canned replies
found as you type, and the managers' canned-reply pages. Each route parses, calls one core query or
service, commits, renders."""

from __future__ import annotations

import io
from typing import Any
from urllib.parse import urlsplit

from flask import abort, flash, g, make_response, redirect, render_template, request, send_file, url_for
from flask_login import current_user

from agent_console.auth import current_actor, permission_required
from agent_console.order_actions import panel_for
from agent_console.views import bp, wants_fragment
from core.db import utcnow
from core.errors import DomainError, NotFound
from core.pagination import id_from_text
from core.security.permissions import Permission as P
from core.security.services import set_availability
from core.support import csat, queue_services
from core.support import queries as support_queries
from core.support import queue as queue_queries
from core.support import services as support_services
from core.support.macros import MACRO_VARIABLES, placeholder, render_macro, search_macros
from core.support.presence import ReplyCollision, latest_public_message_id
from core.support.sla_services import ticket_sla
from core.support.status import REPLY_STATUSES

MACRO_RESULTS = 8


def _ticket(conversation_id: int, status: int = 200, *, panel_error: str | None = None, **reply: Any) -> Any:
    """The ticket page, or its `_ticket.html` fragment for htmx (the same markup); `reply` fills the
    reply form (body, kind, error, missing, seen_message_id), `panel_error` explains a refused side-panel
    change. The order panel shows the ticket's order, or the customer's order chosen with `?order=ID`."""
    try:
        page = support_queries.ticket_page(g.db, conversation_id)
    except NotFound:
        abort(404)
    form = _reply_fields(page) | reply
    template = "console/tickets/_ticket.html" if wants_fragment() else "console/tickets/detail.html"
    chosen = _optional_int(request.args.get("order"))
    order_id = chosen or page.conversation.order_id
    context = {
        "page": page,
        "reply": form,
        "panel_error": panel_error,
        "categories": support_services.CATEGORIES,
        "priorities": support_services.PRIORITIES,
        "order_panel": panel_for(order_id) if order_id else None,
        "order_next": url_for("console.ticket_detail", conversation_id=conversation_id, order=chosen),
        "sla": ticket_sla(page.conversation, now=utcnow()),
        "csat_ratings": csat.ticket_ratings(g.db, conversation_id),
        "csat_labels": csat.SCORE_LABELS,
    }
    return render_template(template, **context), status


def _reply_fields(page: support_queries.TicketPage) -> dict[str, Any]:
    """The empty reply form, marked with the newest public message the page shows (collision check)."""
    seen = latest_public_message_id(page.conversation.messages)
    return {"body": "", "kind": "reply", "error": None, "missing": (), "seen_message_id": seen}


def _done(conversation_id: int) -> Any:
    """After a successful write: the fresh ticket fragment for htmx, else back to the ticket page."""
    if wants_fragment():
        return _ticket(conversation_id)
    return redirect(url_for("console.ticket_detail", conversation_id=conversation_id), code=303)


def _optional_int(value: str | None) -> int | None:
    return id_from_text(value)


def _queue(filters: queue_queries.QueueFilters, status: int = 200, *, notice: str | None = None) -> Any:
    """The queue page, or its `_list.html` fragment for htmx (the same markup)."""
    queue = queue_queries.ticket_queue(g.db, filters, user_id=current_user.id, now=utcnow())
    template = "console/tickets/_list.html" if wants_fragment() else "console/tickets/list.html"
    context = {
        "queue": queue,
        "views": queue_queries.QUEUE_VIEWS,
        "empty": queue_queries.QUEUE_EMPTY,
        "sorts": queue_queries.QUEUE_SORTS,
        "sources": queue_queries.QUEUE_SOURCES,
        "priorities": queue_queries.QUEUE_PRIORITIES,
        "categories": support_services.CATEGORIES,
        "notice": notice,
        "csat_scores": csat.latest_scores(g.db, [c.id for c in queue.page.items]),
    }
    return render_template(template, **context), status


@bp.get("/tickets")
@permission_required(P.WORK_TICKETS)
def tickets() -> Any:
    """The queue: a view (mine, unassigned, open, pending, breaching SLA, ...) filtered by category, sales
    channel, source, priority and tag, searched, sorted, a page at a time, with the count of each view."""
    filters = queue_queries.QueueFilters.from_args(request.args)
    response = make_response(_queue(filters))
    if wants_fragment():  # the address bar shows the queue's own URL, not the raw form fields
        response.headers["HX-Push-Url"] = url_for("console.tickets", **filters.here())
    return response


@bp.post("/tickets/bulk")
@permission_required(P.WORK_TICKETS)
def tickets_bulk() -> Any:
    """One action over the ticked tickets (assign to me or someone, unassign, solve, close), each audited;
    answers the queue as it was filtered."""
    filters = queue_queries.QueueFilters.from_args(request.form)
    ids = [i for i in map(id_from_text, request.form.getlist("ids")) if i is not None]
    try:
        result = queue_services.bulk_update_conversations(
            g.db,
            ids,
            request.form.get("action", ""),
            assignee_id=_optional_int(request.form.get("assignee_id")),
            actor=current_actor(),
            now=utcnow(),
        )
    except DomainError as exc:
        g.db.rollback()
        if wants_fragment():
            return _queue(filters, 422, notice=str(exc))
        flash(str(exc), "error")
        return redirect(url_for("console.tickets", **filters.here()), code=303)
    g.db.commit()
    notice = f"{len(result.changed)} ticket(s) updated." + (
        f" {len(result.skipped)} skipped: " + "; ".join(f"#{i} {why}" for i, why in result.skipped)
        if result.skipped
        else ""
    )
    if wants_fragment():
        return _queue(filters, notice=notice)
    flash(notice)
    return redirect(url_for("console.tickets", **filters.here()), code=303)


@bp.route("/tickets/new", methods=["GET", "POST"])
@permission_required(P.WORK_TICKETS)
def ticket_phone_note() -> Any:
    """Log a phone call as a new ticket for a customer (from their page or the queue): the agent's note
    is its first message."""
    form = request.form if request.method == "POST" else request.args
    customer_id = _optional_int(form.get("customer_id"))
    error, status = None, 200
    if request.method == "POST":
        try:
            if customer_id is None:
                customer_id = queue_queries.customer_id_for_contact(g.db, form.get("customer", ""))
            conversation = queue_services.log_phone_call(
                g.db,
                customer_id,
                form.get("body", ""),
                subject=form.get("subject", ""),
                order_number=form.get("order") or None,
                status=form.get("status") or "open",
                take=form.get("take") == "1",
                actor=current_actor(),
                now=utcnow(),
            )
        except DomainError as exc:
            g.db.rollback()
            error, status = str(exc), 422
        else:
            g.db.commit()
            return redirect(url_for("console.ticket_detail", conversation_id=conversation.id), code=303)
    return render_template(
        "console/tickets/new.html",
        form=form,
        error=error,
        customer=queue_queries.phone_note_customer(g.db, customer_id),
        statuses=REPLY_STATUSES,
    ), status


@bp.post("/me/availability")
@permission_required(P.WORK_TICKETS)
def my_availability() -> Any:
    """Mark myself available (or not) for new tickets by round-robin."""
    return _set_availability(current_user.id, "console.tickets")


@bp.post("/admin/users/<int:user_id>/availability")
@permission_required(P.MANAGE_USERS)
def user_availability(user_id: int) -> Any:
    """An admin marks a staff member available (or not) for new tickets."""
    return _set_availability(user_id, "console.admin_users")


def _set_availability(user_id: int, back: str) -> Any:
    try:
        user = set_availability(
            g.db, user_id, request.form.get("available") == "1", actor=current_actor(), now=utcnow()
        )
    except NotFound:
        abort(404)
    except DomainError:
        abort(403)
    g.db.commit()
    if wants_fragment() and user_id == current_user.id:
        return render_template("console/_availability.html", available=user.available)
    return redirect(_back_to(back), code=303)


def _back_to(default: str) -> str:
    """Where the request came from when that is a console page, else `default`."""
    target = request.referrer or ""
    path = urlsplit(target)
    if path.netloc == request.host and path.path.startswith(url_for("console.dashboard")):
        return path.path + (f"?{path.query}" if path.query else "")
    return url_for(default)


@bp.get("/tickets/<int:conversation_id>")
@permission_required(P.WORK_TICKETS)
def ticket_detail(conversation_id: int) -> Any:
    """One conversation with its history, the reply box and side panel, and the customer's cross-channel
    orders and CRM notes beside it; `?macro=ID` starts the reply with that canned reply."""
    macro_id = _optional_int(request.args.get("macro"))
    if macro_id is None:
        return _ticket(conversation_id)
    return _ticket(conversation_id, **_macro_reply(conversation_id, macro_id, ""))


def _macro_reply(conversation_id: int, macro_id: int, draft: str) -> dict[str, Any]:
    """The reply form's fields with the canned reply filled in for this conversation, after `draft`."""
    try:
        macro = support_queries.macro_by_id(g.db, macro_id)
        conversation = support_services.get_conversation(g.db, conversation_id)
    except NotFound:
        abort(404)
    values = support_queries.macro_values(g.db, conversation, current_user)
    rendered = render_macro(macro.body, values)
    body = f"{draft.rstrip()}\n\n{rendered.text}" if draft.strip() else rendered.text
    return {"body": body, "missing": tuple(placeholder(name) for name in rendered.missing)}


@bp.get("/tickets/<int:conversation_id>/reply-form")
@permission_required(P.WORK_TICKETS)
def ticket_reply_form(conversation_id: int) -> Any:
    """The reply form with a canned reply added to the draft (htmx); without htmx, the whole ticket page."""
    macro_id = _optional_int(request.args.get("macro"))
    draft = request.args.get("body", "")[:10_000]
    reply = {"body": draft} | (_macro_reply(conversation_id, macro_id, draft) if macro_id is not None else {})
    if (seen := _optional_int(request.args.get("seen_message_id"))) is not None:
        reply["seen_message_id"] = seen  # what the agent's page had shown, not what there is now
    if not wants_fragment():
        return _ticket(conversation_id, **reply)
    try:
        page = support_queries.ticket_page(g.db, conversation_id)
    except NotFound:
        abort(404)
    return render_template("console/tickets/_reply_form.html", page=page, reply=_reply_fields(page) | reply)


@bp.get("/tickets/<int:conversation_id>/macros")
@permission_required(P.WORK_TICKETS)
def ticket_macros(conversation_id: int) -> Any:
    """Canned replies matching what the agent typed (typos forgiven), as links that add one to the reply."""
    query = request.args.get("q", "")[:100]
    results = search_macros(support_queries.macro_docs(g.db), query, limit=MACRO_RESULTS)
    return render_template(
        "console/tickets/_macro_results.html" if wants_fragment() else "console/tickets/macro_results.html",
        conversation_id=conversation_id,
        query=query,
        results=results,
    )


@bp.post("/tickets/<int:conversation_id>/messages")
@permission_required(P.WORK_TICKETS)
def ticket_reply(conversation_id: int) -> Any:
    """A public reply (shown to and emailed to the customer) or an internal note (staff only). A reply is
    held back, its draft kept, when someone else wrote since the agent's page was loaded."""
    kind = request.form.get("kind", "reply")
    body = request.form.get("body", "")
    try:
        if kind == "note":
            support_services.add_internal_note(
                g.db, conversation_id, body, actor=current_actor(), now=utcnow()
            )
        else:
            support_services.reply_to_conversation(
                g.db,
                conversation_id,
                body,
                actor=current_actor(),
                now=utcnow(),
                set_status=request.form.get("status") or None,
                seen_message_id=_optional_int(request.form.get("seen_message_id")),
            )
    except NotFound:
        abort(404)
    except DomainError as exc:
        g.db.rollback()
        status = 409 if isinstance(exc, ReplyCollision) else 422
        return _ticket(conversation_id, status, body=body[:10_000], kind=kind, error=str(exc))
    g.db.commit()
    return _done(conversation_id)


@bp.post("/tickets/<int:conversation_id>/properties")
@permission_required(P.WORK_TICKETS)
def ticket_properties(conversation_id: int) -> Any:
    """Save the side panel: status, priority, category, tags and assignee (each change audited)."""
    form = request.form
    try:
        support_services.update_conversation_properties(
            g.db,
            conversation_id,
            status=form.get("status", ""),
            priority=form.get("priority", ""),
            category=form.get("category") or None,
            tags=form.get("tags", ""),
            assignee_id=_optional_int(form.get("assignee_id")),
            actor=current_actor(),
            now=utcnow(),
        )
    except NotFound:
        abort(404)
    except DomainError as exc:
        g.db.rollback()
        if not wants_fragment():
            flash(str(exc), "error")
            return redirect(url_for("console.ticket_detail", conversation_id=conversation_id), code=303)
        return _ticket(conversation_id, 422, panel_error=str(exc))
    g.db.commit()
    return _done(conversation_id)


@bp.post("/tickets/<int:conversation_id>/take")
@permission_required(P.WORK_TICKETS)
def ticket_take(conversation_id: int) -> Any:
    """Assign the ticket to myself."""
    try:
        support_services.assign_conversation(
            g.db, conversation_id, current_user.id, actor=current_actor(), now=utcnow()
        )
    except NotFound:
        abort(404)
    g.db.commit()
    return _done(conversation_id)


@bp.get("/attachments/<int:attachment_id>")
@permission_required(P.WORK_TICKETS)
def attachment_download(attachment_id: int) -> Any:
    """A file that came with a message, as a download (never shown inline)."""
    try:
        attachment = support_queries.attachment_for_staff(g.db, attachment_id)
    except NotFound:
        abort(404)
    response = send_file(
        io.BytesIO(attachment.content),
        mimetype=attachment.content_type,
        as_attachment=True,
        download_name=attachment.filename,
    )
    # A customer's file: never sniffed into something else, never run as a page even if opened inline.
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = "sandbox"
    return response


@bp.get("/macros")
@permission_required(P.MANAGE_MACROS)
def macros() -> Any:
    """Canned replies, with a form to add one."""
    return render_template(
        "console/macros/list.html",
        macros=support_queries.all_macros(g.db),
        form={},
        error=None,
        categories=support_services.CATEGORIES,
        variables=MACRO_VARIABLES,
    )


@bp.post("/macros")
@permission_required(P.MANAGE_MACROS)
def macro_create() -> Any:
    """Add a canned reply (its variables checked)."""
    form = request.form
    try:
        support_services.create_macro(
            g.db,
            form.get("name", ""),
            form.get("body", ""),
            form.get("category") or None,
            actor=current_actor(),
            now=utcnow(),
        )
    except DomainError as exc:
        g.db.rollback()
        return render_template(
            "console/macros/list.html",
            macros=support_queries.all_macros(g.db),
            form=form,
            error=str(exc),
            categories=support_services.CATEGORIES,
            variables=MACRO_VARIABLES,
        ), 422
    g.db.commit()
    flash("Canned reply added.")
    return redirect(url_for("console.macros"), code=303)


@bp.route("/macros/<int:macro_id>", methods=["GET", "POST"])
@permission_required(P.MANAGE_MACROS)
def macro_edit(macro_id: int) -> Any:
    """Edit a canned reply."""
    error, status = None, 200
    if request.method == "POST":
        try:
            support_services.update_macro(
                g.db,
                macro_id,
                request.form.get("name", ""),
                request.form.get("body", ""),
                request.form.get("category") or None,
                actor=current_actor(),
                now=utcnow(),
            )
        except NotFound:
            abort(404)
        except DomainError as exc:
            g.db.rollback()
            error, status = str(exc), 422
        else:
            g.db.commit()
            flash("Canned reply saved.")
            return redirect(url_for("console.macros"), code=303)
    try:
        macro = support_queries.macro_by_id(g.db, macro_id, active_only=False)
    except NotFound:
        abort(404)
    form = (
        request.form
        if request.method == "POST"
        else {"name": macro.name, "body": macro.body, "category": macro.category}
    )
    return render_template(
        "console/macros/edit.html",
        macro=macro,
        form=form,
        error=error,
        categories=support_services.CATEGORIES,
        variables=MACRO_VARIABLES,
    ), status


@bp.post("/macros/<int:macro_id>/delete")
@permission_required(P.MANAGE_MACROS)
def macro_delete(macro_id: int) -> Any:
    """Delete a canned reply."""
    try:
        support_services.delete_macro(g.db, macro_id, actor=current_actor(), now=utcnow())
    except NotFound:
        abort(404)
    g.db.commit()
    flash("Canned reply deleted.")
    return redirect(url_for("console.macros"), code=303)
