"""Customers' data rights on the `console` blueprint: download a customer's data (audited), correct their
details (audited before/after), erase them after a confirm step (managers and up), and the privacy requests
list (from the portal and Shopify's compliance webhooks)."""

from __future__ import annotations

import json
from typing import Any

from flask import abort, current_app, flash, g, redirect, render_template, request, url_for

from agent_console.auth import current_actor, permission_required
from agent_console.views import bp
from core.customers import queries as customer_queries
from core.db import utcnow
from core.errors import DomainError, NotFound
from core.pagination import id_from_text
from core.privacy import queries as privacy_queries
from core.privacy import services as privacy_services
from core.privacy.erasure import delete_return_photos, erase_customer, erased_outcome_text
from core.returns.photos import UPLOADS_DIR
from core.security.permissions import Permission as P

# Erasure cannot be undone: managers and admins decide it, as they decide merges. Change it here.
STATUSES = ("open", "done", "dismissed")


def _json_download(data: dict[str, Any], filename: str) -> Any:
    response = current_app.response_class(
        json.dumps(data, indent=2, ensure_ascii=False), mimetype="application/json"
    )
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.post("/customers/<int:customer_id>/export.json")
@permission_required(P.WORK_PRIVACY)
def customer_data_export(customer_id: int) -> Any:
    """The customer's data as the JSON file they would download themselves (audited)."""
    try:
        data = privacy_services.export_customer_for_staff(
            g.db, customer_id, actor=current_actor(), now=utcnow()
        )
    except NotFound:
        abort(404)
    g.db.commit()
    return _json_download(data, f"customer-{customer_id}-data.json")


@bp.route("/customers/<int:customer_id>/erase", methods=["GET", "POST"])
@permission_required(P.ERASE_PERSONAL_DATA)
def customer_erase(customer_id: int) -> Any:
    """Confirm, then erase the customer's personal data everywhere (orders and amounts kept; audited)."""
    try:
        preview = privacy_queries.erasure_preview(g.db, customer_id)
    except NotFound:
        abort(404)
    error = None
    if request.method == "POST":
        if request.form.get("confirm", "").strip().lstrip("#") != str(customer_id):
            error = f"Type the customer number {customer_id} to confirm."
        else:
            report = erase_customer(
                g.db,
                customer_id,
                actor=current_actor(),
                now=utcnow(),
                reason=request.form.get("reason", "request")[:100] or "request",
                request_id=id_from_text(request.form.get("request_id")),
            )
            g.db.commit()
            delete_return_photos(report.photo_paths, UPLOADS_DIR)
            flash(f"Customer #{customer_id} erased: {erased_outcome_text(report)}.")
            return redirect(url_for("console.customer_detail", customer_id=customer_id), code=303)
    page = render_template("console/privacy/erase.html", preview=preview, error=error)
    return page, (422 if error else 200)


@bp.route("/customers/<int:customer_id>/details", methods=["GET", "POST"])
@permission_required(P.WORK_PRIVACY)
def customer_rectify(customer_id: int) -> Any:
    """Correct the customer's name, email, phone, or the address a channel gave (audited before/after)."""
    try:
        customer = customer_queries.customer_record(g.db, customer_id)
    except NotFound:
        abort(404)
    error = None
    if request.method == "POST":
        form = request.form
        try:
            privacy_services.rectify_customer(
                g.db,
                customer_id,
                name=form.get("name", ""),
                email=form.get("email", ""),
                phone=form.get("phone", ""),
                actor=current_actor(),
                now=utcnow(),
            )
            identity_id = id_from_text(form.get("identity_id"))
            if identity_id is not None:
                privacy_services.rectify_identity_address(
                    g.db,
                    customer_id,
                    identity_id,
                    {k: form.get(k, "") for k in privacy_services.ADDRESS_FIELDS},
                    actor=current_actor(),
                    now=utcnow(),
                )
        except NotFound:
            abort(404)
        except DomainError as exc:
            g.db.rollback()
            error = str(exc)
        else:
            g.db.commit()
            flash("The customer's details are corrected.")
            return redirect(url_for("console.customer_detail", customer_id=customer_id), code=303)
    return render_template(
        "console/privacy/rectify.html",
        customer=customer,
        fields=privacy_services.ADDRESS_FIELDS,
        error=error,
    ), (422 if error else 200)


@bp.get("/privacy/requests")
@permission_required(P.WORK_PRIVACY)
def privacy_requests() -> Any:
    """Data subject requests: open ones oldest first, then done and dismissed."""
    status = request.args.get("status", "open")
    if status not in STATUSES:
        status = "open"
    page = privacy_queries.privacy_requests(g.db, status=status, page=request.args.get("page"))
    return render_template("console/privacy/requests.html", page=page, status=status, statuses=STATUSES)


@bp.post("/privacy/requests/<int:request_id>/dismiss")
@permission_required(P.ERASE_PERSONAL_DATA)
def privacy_request_dismiss(request_id: int) -> Any:
    """Close a request without acting on it, with the reason (audited)."""
    try:
        privacy_services.dismiss_privacy_request(
            g.db, request_id, request.form.get("reason", ""), actor=current_actor(), now=utcnow()
        )
    except NotFound:
        abort(404)
    except DomainError as exc:
        g.db.rollback()
        flash(str(exc), "error")
    else:
        g.db.commit()
        flash(f"Request #{request_id} dismissed.")
    return redirect(url_for("console.privacy_requests"), code=303)
