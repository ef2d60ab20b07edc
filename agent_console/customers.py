"""Customer pages on the `console` blueprint: the match suggestions queue (merge or dismiss), manual merge
from the customer page, and undoing a merge (every decision goes through core.customers.resolution, audited);
editing and pinning CRM notes (core.customers.services, audited)."""

from __future__ import annotations

from typing import Any

from flask import abort, flash, g, redirect, render_template, request, url_for
from flask_login import current_user

from agent_console.auth import can, current_actor, permission_required
from agent_console.views import bp, wants_fragment
from core.customers import queries as customer_queries
from core.customers import resolution
from core.customers import services as customer_services
from core.customers.models import CrmNote
from core.db import utcnow
from core.errors import DomainError, NotFound, PermissionDenied
from core.pagination import clamp_page, id_from_text
from core.security.permissions import Permission as P
from core.security.permissions import minimal_builtin_role

# Who may merge, dismiss and undo merges: the lowest built-in role holding the permission. Every staff
# member who may view customers reads the suggestions queue; the others see the pairs but no buttons.
DECIDE_ROLE = minimal_builtin_role([P.MERGE_CUSTOMERS])
PER_PAGE = 20


@bp.app_template_global()
def can_decide_identity() -> bool:
    """True when the signed-in user may merge, dismiss or unmerge customers."""
    return can(P.MERGE_CUSTOMERS)


@bp.app_template_global()
def can_edit_note(note: CrmNote) -> bool:
    """True when the signed-in user wrote the note or may edit anyone's."""
    return bool(
        current_user.is_authenticated
        and can(P.WRITE_NOTES)
        and (note.author_id == current_user.id or can(P.EDIT_ANY_NOTE))
    )


def _notes_changed(customer_id: int) -> Any:
    """After a note changed: htmx gets the customer's notes list (pinned first), else back to the page."""
    if wants_fragment():
        notes = customer_queries.customer_notes(g.db, customer_id)
        return render_template("console/customers/_notes.html", profile={"notes": notes})
    return redirect(url_for("console.customer_detail", customer_id=customer_id), code=303)


@bp.post("/customers/<int:customer_id>/notes/<int:note_id>")
@permission_required(P.VIEW_CUSTOMERS, P.WRITE_NOTES)
def edit_customer_note(customer_id: int, note_id: int) -> Any:
    """Change a CRM note's text; the earlier text is kept in its history (audited)."""
    try:
        customer_services.edit_crm_note(
            g.db, customer_id, note_id, request.form.get("body", ""), actor=current_actor(), now=utcnow()
        )
    except NotFound:
        abort(404)
    except PermissionDenied:
        abort(403)
    except DomainError as exc:
        g.db.rollback()
        if wants_fragment():
            return render_template("console/customers/_decision_error.html", error=str(exc)), 422
        flash(str(exc), "error")
        return redirect(url_for("console.customer_detail", customer_id=customer_id), code=303)
    g.db.commit()
    return _notes_changed(customer_id)


@bp.post("/customers/<int:customer_id>/notes/<int:note_id>/pin")
@permission_required(P.VIEW_CUSTOMERS, P.WRITE_NOTES)
def pin_customer_note(customer_id: int, note_id: int) -> Any:
    """Pin a CRM note above the others (`pinned=1`) or unpin it (`pinned=0`) (audited)."""
    try:
        customer_services.set_crm_note_pinned(
            g.db,
            customer_id,
            note_id,
            request.form.get("pinned", "1") == "1",
            actor=current_actor(),
            now=utcnow(),
        )
    except NotFound:
        abort(404)
    g.db.commit()
    return _notes_changed(customer_id)


@bp.get("/customers/suggestions")
@permission_required(P.VIEW_CUSTOMERS)
def customer_suggestions() -> Any:
    """Open match suggestions: both customers side by side, with Merge and Dismiss for managers."""
    page = customer_queries.suggestion_queue(
        g.db, page=clamp_page(request.args.get("page")), per_page=PER_PAGE
    )
    template = (
        "console/customers/_suggestions.html" if wants_fragment() else "console/customers/suggestions.html"
    )
    return render_template(template, page=page)


@bp.get("/customers/suggestions/count")
@permission_required(P.VIEW_CUSTOMERS)
def customer_suggestions_count() -> Any:
    """The number of open suggestions, as the nav's badge (loaded by htmx)."""
    count = customer_queries.open_suggestion_count(g.db)
    return render_template("console/customers/_suggestions_count.html", count=count)


def _decided(suggestion_id: int, message: str) -> Any:
    """After a decision: htmx removes the pair's card (empty answer), else back to the queue."""
    if wants_fragment():
        return ""
    flash(message)
    return redirect(url_for("console.customer_suggestions", page=request.args.get("page")), code=303)


def _refused(message: str) -> Any:
    if wants_fragment():
        return render_template("console/customers/_decision_error.html", error=message), 422
    flash(message, "error")
    return redirect(url_for("console.customer_suggestions"), code=303)


@bp.post("/customers/suggestions/<int:suggestion_id>/merge")
@permission_required(P.MERGE_CUSTOMERS)
def merge_customer_suggestion(suggestion_id: int) -> Any:
    """Merge the suggested pair: the newer customer into the older (audited, reversible)."""
    try:
        merge = resolution.merge_suggestion(g.db, suggestion_id, actor=current_actor(), now=utcnow())
    except NotFound:
        abort(404)
    except DomainError as exc:
        g.db.rollback()
        return _refused(str(exc))
    g.db.commit()
    return _decided(
        suggestion_id, f"Customer {merge.source_customer_id} merged into customer {merge.target_customer_id}."
    )


@bp.post("/customers/suggestions/<int:suggestion_id>/dismiss")
@permission_required(P.MERGE_CUSTOMERS)
def dismiss_customer_suggestion(suggestion_id: int) -> Any:
    """Dismiss the pair for good: different people (audited)."""
    try:
        resolution.dismiss_suggestion(g.db, suggestion_id, actor=current_actor(), now=utcnow())
    except NotFound:
        abort(404)
    except DomainError as exc:
        g.db.rollback()
        return _refused(str(exc))
    g.db.commit()
    return _decided(suggestion_id, "Suggestion dismissed: the pair will not be suggested again.")


@bp.post("/customers/<int:customer_id>/merge")
@permission_required(P.MERGE_CUSTOMERS)
def merge_into_customer(customer_id: int) -> Any:
    """Merge another customer (by number or email) into this one (audited, reversible)."""
    back = redirect(url_for("console.customer_detail", customer_id=customer_id), code=303)
    try:
        source = customer_queries.find_customer(g.db, request.form.get("other", ""))
        resolution.merge_customers(
            g.db,
            source.id,
            customer_id,
            actor=current_actor(),
            now=utcnow(),
            reason="merged by hand from the customer page",
        )
    except (NotFound, DomainError) as exc:
        g.db.rollback()
        flash(str(exc), "error")
        return back
    g.db.commit()
    flash(f"Customer {source.id} merged into this customer.")
    return back


@bp.post("/customers/merges/<int:merge_id>/undo")
@permission_required(P.MERGE_CUSTOMERS)
def undo_customer_merge(merge_id: int) -> Any:
    """Undo a merge (audited) and go back to the customer page the form was on."""
    shown = request.form.get("customer_id", "")
    try:
        merge = resolution.unmerge_customers(g.db, merge_id, actor=current_actor(), now=utcnow())
    except NotFound:
        abort(404)
    except DomainError as exc:
        g.db.rollback()
        flash(str(exc), "error")
        merge = None
    else:
        g.db.commit()
        flash(f"Merge undone: customer {merge.source_customer_id} stands alone again.")
    if (shown_id := id_from_text(shown)) is not None:
        return redirect(url_for("console.customer_detail", customer_id=shown_id), code=303)
    if merge is not None:
        return redirect(url_for("console.customer_detail", customer_id=merge.source_customer_id), code=303)
    return redirect(url_for("console.customer_suggestions"), code=303)
