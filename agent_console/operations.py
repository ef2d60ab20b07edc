"""Operations pages of the console, on the same `console` blueprint: fulfilment (pick lists, packing slips,
pack and ship, 3PL files, drop-ship purchase orders, unknown tracking numbers), returns, low-stock alerts
and stock-count reconciliation. Each route parses, calls one core query or service, commits, renders."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any
from urllib.parse import urlsplit

from flask import Response, abort, current_app, flash, g, redirect, render_template, request, url_for
from itsdangerous import BadSignature, URLSafeSerializer

from agent_console.auth import current_actor, permission_required
from agent_console.views import bp, wants_fragment
from core.db import begin_write, utcnow
from core.errors import DomainError, NotFound
from core.fulfillment import dropship, three_pl
from core.fulfillment import queries as fulfillment_queries
from core.fulfillment import services as fulfillment_services
from core.fulfillment.calendar import holidays_from_env
from core.fulfillment.tracking import InvalidImport
from core.inventory import alerts as stock_alerts
from core.inventory import reconciliation
from core.inventory.models import Location
from core.money import to_minor
from core.orders.models import Order
from core.returns import queries as return_queries
from core.returns import refunds as return_refunds
from core.returns import services as return_services
from core.returns.status import can_transition
from core.security.permissions import Permission as P
from core.security.roles import Actor
from core.uploads import UploadRefused, read_csv_upload

COUNT_ROWS_SALT = "console.stock-count"
RETURN_TARGETS = ("approved", "rejected", "received", "refunded")


# --- request helpers ---------------------------------------------------------------------------------


def _page(template: str, fragment: str, **context: Any) -> str:
    """The full page, or only its fragment for an htmx request (same markup either way)."""
    return render_template(fragment if wants_fragment() else template, **context)


def _local_url(target: str | None, default: str) -> str:
    """`target` when it is a path on this site, else `default` (no open redirects)."""
    if (
        not target
        or not target.startswith("/")
        or target.startswith(("//", "/\\"))
        or urlsplit(target).netloc
    ):
        return default
    return target


def _form_int(name: str, source: Any = None) -> int | None:
    """A whole number from the form (or `source`), None when missing or not a number."""
    value = (source if source is not None else request.form).get(name, "")
    try:
        return int(str(value).strip())
    except ValueError:
        return None


def _begin_write() -> Actor:
    """The signed-in actor, in a write transaction (SQLite: a POST's session holds the write lock from its
    first statement, so begin_write only checks that)."""
    actor = current_actor()
    begin_write(g.db)
    return actor


# --- fulfilment: pick list, packing slip ---------------------------------------------------------------


@bp.get("/fulfilment")
@permission_required(P.WORK_FULFILMENT)
def fulfilment() -> Any:
    """Locations, and the chosen location's pick list (by SKU for the walk, by order for the parcels)."""
    locations = fulfillment_queries.active_locations(g.db)
    code = request.args.get("location", "").strip()
    try:
        if code:
            location = fulfillment_queries.location_by_code(g.db, code)
        else:
            location = locations[0] if locations else None
        pick = fulfillment_queries.pick_list(g.db, location.id) if location else None
    except NotFound:
        abort(404)
    return _page(
        "console/ops/fulfilment.html",
        "console/ops/_pick_list.html",
        locations=locations,
        location=location,
        pick=pick,
        import_errors=None,
    )


@bp.get("/orders/<int:order_id>/packing-slip")
@permission_required(P.WORK_FULFILMENT)
def packing_slip(order_id: int) -> Any:
    """A printable packing slip of what goes in the order's parcel from one location."""
    location_id = _form_int("location", request.args)
    if location_id is None:
        abort(404)
    try:
        slip = fulfillment_queries.packing_slip(g.db, order_id, location_id)
    except NotFound:
        abort(404)
    except DomainError as exc:
        return render_template("console/ops/packing_slip.html", slip=None, error=str(exc), panel=None), 404
    return render_template(
        "console/ops/packing_slip.html", slip=slip, error=None, panel=_shipments_panel(order_id)
    )


# --- fulfilment: an order's shipments, pack, ship, purchase order ----------------------------------------


@dataclass(frozen=True)
class ShipmentsPanel:
    order_id: int
    order_number: str
    order_status: str
    shipments: list[fulfillment_queries.ShipmentView]
    reserved_at: list[fulfillment_queries.ReservedAt]
    back_url: str
    error: str | None = None
    entered: dict[str, str] = field(default_factory=dict)  # the refused form's values, shown again


def _shipments_panel(order_id: int, error: str | None = None) -> ShipmentsPanel:
    """The order's parcels and where its reserved units wait; NotFound for a missing order."""
    order = g.db.get(Order, order_id)
    if order is None:
        raise NotFound(f"order {order_id} not found")
    order_page = url_for("console.order_detail", order_id=order_id)
    back = request.full_path.rstrip("?") if request.method == "GET" and not wants_fragment() else order_page
    return ShipmentsPanel(
        order_id=order.id,
        order_number=order.number,
        order_status=order.status,
        shipments=fulfillment_queries.order_shipments(g.db, order.id),
        reserved_at=fulfillment_queries.reserved_at(g.db, order.id),
        back_url=back,
        error=error,
        entered=request.form.to_dict() if error else {},
    )


def _panel_response(order_id: int, error: str | None = None) -> Any:
    """After a pack/ship/purchase-order POST: the panel fragment for htmx, else flash and 303 back."""
    if wants_fragment():
        try:
            panel = _shipments_panel(order_id, error)
        except NotFound:
            abort(404)
        return render_template("console/ops/_shipments.html", panel=panel), (422 if error else 200)
    if error:
        flash(error, "error")
    default = url_for("console.order_detail", order_id=order_id)
    return redirect(_local_url(request.form.get("next"), default), code=303)


@bp.get("/orders/<int:order_id>/shipments")
@permission_required(P.VIEW_ORDERS)
def order_shipments(order_id: int) -> Any:
    """The order's shipments panel: parcels with lines and tracking, pack and ship forms."""
    try:
        panel = _shipments_panel(order_id)
    except NotFound:
        abort(404)
    return _page("console/ops/shipments.html", "console/ops/_shipments.html", panel=panel)


@bp.post("/orders/<int:order_id>/pack")
@permission_required(P.WORK_FULFILMENT)
def order_pack(order_id: int) -> Any:
    """Mark the order's units reserved at a location packed (audited)."""
    actor, now = _begin_write(), utcnow()
    location_id = _form_int("location_id")
    if location_id is None:
        return _panel_response(order_id, "Choose the location the parcel is packed at.")
    try:
        fulfillment_services.mark_packed(g.db, order_id, location_id, actor=actor, now=now)
    except NotFound:
        abort(404)
    except DomainError as exc:
        g.db.rollback()
        return _panel_response(order_id, str(exc))
    g.db.commit()
    if not wants_fragment():
        flash("Parcel packed.")
    return _panel_response(order_id)


@bp.post("/orders/<int:order_id>/ship")
@permission_required(P.WORK_FULFILMENT)
def order_ship(order_id: int) -> Any:
    """Ship the order's units reserved at a location with a carrier and tracking number; the channel is told
    through the outbox (audited)."""
    actor, now = _begin_write(), utcnow()
    location_id = _form_int("location_id")
    if location_id is None:
        return _panel_response(order_id, "Choose the location the parcel ships from.")
    try:
        shipments = fulfillment_services.mark_shipped(
            g.db,
            order_id,
            location_id=location_id,
            carrier=request.form.get("carrier", ""),
            tracking_number=request.form.get("tracking_number", ""),
            actor=actor,
            now=now,
            holidays=holidays_from_env(),
        )
    except NotFound:
        abort(404)
    except DomainError as exc:
        g.db.rollback()
        return _panel_response(order_id, str(exc))
    g.db.commit()
    if not wants_fragment():
        flash(f"Shipped with {shipments[0].carrier} {shipments[0].tracking_number}.")
    return _panel_response(order_id)


def _dropship_confirm_base_url() -> str:
    """The public portal page suppliers confirm shipments on (`/dropship/confirm/<token>`)."""
    return current_app.config["PORTAL_BASE_URL"].rstrip("/") + "/dropship/confirm"


@bp.post("/orders/<int:order_id>/purchase-order")
@permission_required(P.MANAGE_FULFILMENT)
def order_purchase_order(order_id: int) -> Any:
    """Email the drop-ship supplier a purchase order with a signed confirmation link (audited)."""
    actor, now = _begin_write(), utcnow()
    location_id = _form_int("location", request.args)
    if location_id is None:
        location_id = _form_int("location_id")
    if location_id is None:
        return _panel_response(order_id, "Choose the drop-ship supplier.")
    try:
        message = dropship.send_purchase_order(
            g.db,
            order_id,
            location_id,
            secret=current_app.config["SECRET_KEY"],
            base_url=_dropship_confirm_base_url(),
            actor=actor,
            now=now,
        )
        fresh = message.created_at == now
    except NotFound:
        abort(404)
    except DomainError as exc:
        g.db.rollback()
        return _panel_response(order_id, str(exc))
    g.db.commit()
    if not wants_fragment():
        flash(
            f"Purchase order emailed to {message.recipient}."
            if fresh
            else f"A purchase order was already sent to {message.recipient}."
        )
    return _panel_response(order_id)


# --- 3PL files ---------------------------------------------------------------------------------------


def _export(location_code: str, fmt: str) -> Response:
    try:
        location = fulfillment_queries.location_by_code(g.db, location_code)
        body = three_pl.export_fulfillment_requests(g.db, location.id, fmt=fmt)
    except NotFound:
        abort(404)
    filename = f"fulfilment-{location.code}-{utcnow():%Y%m%d-%H%M}.{fmt}"
    return Response(
        body,
        mimetype="text/csv" if fmt == "csv" else "application/json",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


@bp.get("/fulfilment/<location_code>/export.csv")
@permission_required(P.WORK_FULFILMENT)
def fulfilment_export_csv(location_code: str) -> Response:
    """The orders waiting to ship from a location, one CSV row per line, to send to the 3PL."""
    return _export(location_code, "csv")


@bp.get("/fulfilment/<location_code>/export.json")
@permission_required(P.WORK_FULFILMENT)
def fulfilment_export_json(location_code: str) -> Response:
    """The orders waiting to ship from a location as a JSON document, to send to the 3PL."""
    return _export(location_code, "json")


def _uploaded_text(field: str = "file") -> tuple[str | None, str | None]:
    """The uploaded CSV's text, or None and why not (None, None: no file was chosen)."""
    upload = request.files.get(field)
    if upload is None or not upload.filename:
        return None, None
    try:
        return read_csv_upload(upload.filename, upload.stream), None
    except UploadRefused as exc:
        return None, str(exc)


@bp.post("/fulfilment/<location_code>/confirmations")
@permission_required(P.MANAGE_FULFILMENT)
def fulfilment_confirmations(location_code: str) -> Any:
    """Import a 3PL's shipment confirmations CSV: all rows or none; every bad row listed by line number."""
    actor, now = _begin_write(), utcnow()
    try:
        location = fulfillment_queries.location_by_code(g.db, location_code)
    except NotFound:
        abort(404)
    text, problem = _uploaded_text()
    if text is None:
        return _confirmation_errors(
            location, [problem or "Choose the 3PL's confirmation file (a UTF-8 CSV) to upload."]
        )
    try:
        result = three_pl.import_shipment_confirmations(
            g.db, location.id, text, actor=actor, now=now, holidays=holidays_from_env()
        )
    except InvalidImport as exc:
        g.db.rollback()
        return _confirmation_errors(location, [str(error) for error in exc.errors])
    except DomainError as exc:
        g.db.rollback()
        return _confirmation_errors(location, [str(exc)])
    g.db.commit()
    flash(
        f"{len(result.shipments)} parcel(s) shipped from {result.rows} row(s)"
        + (f"; {result.already_applied} row(s) were already imported." if result.already_applied else ".")
    )
    return redirect(url_for("console.fulfilment", location=location.code), code=303)


def _confirmation_errors(location: Location, errors: list[str]) -> tuple[str, int]:
    """The fulfilment page for the location with the import's problems listed; nothing was applied."""
    return render_template(
        "console/ops/fulfilment.html",
        locations=fulfillment_queries.active_locations(g.db),
        location=location,
        pick=fulfillment_queries.pick_list(g.db, location.id),
        import_errors=errors,
    ), 422


# --- tracking numbers nobody knows -------------------------------------------------------------------


@bp.get("/tracking/unknown")
@permission_required(P.WORK_FULFILMENT)
def unknown_tracking() -> Any:
    """Tracking numbers carriers reported that match no shipment of ours."""
    return render_template(
        "console/ops/unknown_tracking.html", rows=fulfillment_queries.unknown_tracking_report(g.db)
    )


# --- returns -----------------------------------------------------------------------------------------


@bp.get("/returns")
@permission_required(P.WORK_RETURNS)
def returns_queue() -> Any:
    """Returns waiting for staff, oldest first, each with what to do next."""
    return _page(
        "console/returns/list.html",
        "console/returns/_queue.html",
        returns=return_queries.returns_awaiting_action(g.db),
    )


def _return_context(return_id: int, error: str | None = None) -> dict[str, Any]:
    """What the return panel shows: the return, the actions its status allows, locations, refund defaults."""
    detail = return_queries.return_detail(g.db, return_id)
    return {
        "detail": detail,
        "can": {target for target in RETURN_TARGETS if can_transition(detail.status, target)},
        "locations": (
            fulfillment_queries.active_locations(g.db) if can_transition(detail.status, "received") else []
        ),
        "refund_defaults": return_queries.refund_defaults(g.db, detail),
        "error": error,
    }


@bp.get("/returns/<int:return_id>")
@permission_required(P.WORK_RETURNS)
def return_detail(return_id: int) -> Any:
    """One return: lines, progress, refunds, and the actions its status allows."""
    try:
        context = _return_context(return_id)
    except NotFound:
        abort(404)
    return _page("console/returns/detail.html", "console/returns/_panel.html", **context)


def _return_response(return_id: int, error: str | None = None, done: str | None = None) -> Any:
    """After a return action: the panel fragment for htmx, else flash and 303 to the return."""
    if wants_fragment():
        try:
            context = _return_context(return_id, error)
        except NotFound:
            abort(404)
        return render_template("console/returns/_panel.html", **context), (422 if error else 200)
    if error or done:
        flash(error or done or "", "error" if error else "message")
    return redirect(url_for("console.return_detail", return_id=return_id), code=303)


def _return_action(return_id: int, action: Any, done: str) -> Any:
    """Run one return service in a write transaction: commit on success; roll back and say why on a
    domain error (nothing saved)."""
    actor = _begin_write()
    try:
        action(actor, utcnow())
    except NotFound:
        abort(404)
    except DomainError as exc:
        g.db.rollback()
        return _return_response(return_id, error=str(exc))
    g.db.commit()
    return _return_response(return_id, done=done)


@bp.post("/returns/<int:return_id>/approve")
@permission_required(P.WORK_RETURNS)
def return_approve(return_id: int) -> Any:
    """Approve a requested return (the customer is emailed; audited)."""
    return _return_action(
        return_id,
        lambda actor, now: return_services.approve_return(g.db, return_id, actor=actor, now=now),
        "Return approved: the customer has been emailed.",
    )


@bp.post("/returns/<int:return_id>/reject")
@permission_required(P.WORK_RETURNS)
def return_reject(return_id: int) -> Any:
    """Reject a return with a reason the customer sees (audited)."""
    reason = request.form.get("reason", "")
    return _return_action(
        return_id,
        lambda actor, now: return_services.reject_return(g.db, return_id, reason, actor=actor, now=now),
        "Return rejected.",
    )


def _received_counts() -> list[tuple[int, int, int]]:
    """(return line id, received, damaged) from the form's received-<id> and damaged-<id> fields."""
    counts = []
    for key, value in request.form.items():
        if key.startswith("received-"):
            line_id = key.removeprefix("received-")
            try:
                counts.append(
                    (int(line_id), int(value or 0), int(request.form.get(f"damaged-{line_id}") or 0))
                )
            except ValueError:
                raise DomainError("quantities received and damaged must be whole numbers") from None
    return counts


@bp.post("/returns/<int:return_id>/receive")
@permission_required(P.WORK_RETURNS)
def return_receive(return_id: int) -> Any:
    """Check a return in: per line units received and damaged, restocked at a location (audited)."""

    def receive(actor: Actor, now: Any) -> None:
        location_id = _form_int("location_id")
        if location_id is None:
            raise DomainError("choose the location the items were received at")
        return_services.receive_return(
            g.db, return_id, _received_counts(), location_id=location_id, actor=actor, now=now
        )

    return _return_action(return_id, receive, "Return received and restocked.")


@bp.post("/returns/<int:return_id>/refund")
@permission_required(P.REFUND_RETURNS)
def return_refund(return_id: int) -> Any:
    """Refund a received return: default amounts unless given, optional shipping, method (audited)."""

    def refund(actor: Actor, now: Any) -> None:
        currency = return_queries.return_detail(g.db, return_id).currency
        amounts = {
            int(key.removeprefix("amount-")): to_minor(value, currency)
            for key, value in request.form.items()
            if key.startswith("amount-") and key.removeprefix("amount-").isdigit() and value.strip()
        }
        return_refunds.refund_return(
            g.db,
            return_id,
            line_amounts=amounts or None,
            shipping_amount=to_minor(request.form.get("shipping_amount", "").strip() or None, currency),
            method=request.form.get("method") or None,
            actor=actor,
            now=now,
        )

    return _return_action(return_id, refund, "Refund recorded: the customer has been emailed.")


# --- low stock ---------------------------------------------------------------------------------------


@bp.get("/alerts")
@permission_required(P.VIEW_STOCK)
def alerts() -> Any:
    """Standing low-stock alerts with suggested quantities and why, and the SKUs selling unusually fast."""
    return _page(
        "console/ops/alerts.html",
        "console/ops/_alerts.html",
        digest=stock_alerts.low_stock_digest(g.db, now=utcnow()),
        error=None,
    )


@bp.post("/alerts/<int:alert_id>/ordered")
@permission_required(P.MANAGE_STOCK)
def alert_ordered(alert_id: int) -> Any:
    """Record that the purchase order for a low-stock alert was placed (audited)."""
    actor, now = _begin_write(), utcnow()
    error = None
    try:
        alert = stock_alerts.mark_alert_ordered(g.db, alert_id, actor=actor, now=now)
    except NotFound:
        abort(404)
    except DomainError as exc:
        g.db.rollback()
        error = str(exc)
    else:
        g.db.commit()
    if wants_fragment():
        return render_template(
            "console/ops/_alerts.html", digest=stock_alerts.low_stock_digest(g.db, now=now), error=error
        ), (422 if error else 200)
    flash(
        error or f"Marked ordered: {alert.suggested_quantity} unit(s) on the way.",
        "error" if error else "message",
    )
    return redirect(url_for("console.alerts"), code=303)


# --- stock counts ------------------------------------------------------------------------------------


def _count_serializer() -> URLSafeSerializer:
    # The parsed rows travel in the approve form; signing them means a manager applies exactly the rows
    # the report showed, not an edited copy.
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt=COUNT_ROWS_SALT)


@bp.get("/stock/counts")
@permission_required(P.VIEW_STOCK)
def stock_counts() -> Any:
    """Upload a stocktake CSV (location, sku, counted) or a channel stock report to compare with ours."""
    return render_template("console/ops/stock_counts.html", report=None, token=None, upload_error=None)


@bp.post("/stock/counts")
@permission_required(P.COUNT_STOCK)
def stock_counts_upload() -> Any:
    """Read an uploaded count and show its discrepancies (or every malformed line); nothing changes."""
    text, problem = _uploaded_text()
    if text is None:
        return render_template(
            "console/ops/stock_counts.html",
            report=None,
            token=None,
            upload_error=problem or "Choose a CSV file (UTF-8) to upload.",
        ), 422
    report = reconciliation.discrepancy_report(g.db, reconciliation.parse_stock_count(text))
    token = (
        _count_serializer().dumps([asdict(row) for row in report.differences]) if report.approvable else None
    )
    return render_template("console/ops/stock_counts.html", report=report, token=token, upload_error=None), (
        200 if report.ok else 422
    )


@bp.post("/stock/counts/approve")
@permission_required(P.MANAGE_STOCK)
def stock_counts_approve() -> Any:
    """Apply an approved stock count as 'count' movements (audited); refused if stock moved meanwhile."""
    actor, now = _begin_write(), utcnow()
    try:
        rows = [
            reconciliation.DiscrepancyRow(**row) for row in _count_serializer().loads(request.form["rows"])
        ]
    except (BadSignature, KeyError, TypeError):
        flash("That count could not be read: upload the file again.", "error")
        return redirect(url_for("console.stock_counts"), code=303)
    try:
        applied = reconciliation.approve_count(g.db, rows, actor=actor, now=now)
    except DomainError as exc:
        g.db.rollback()
        flash(str(exc), "error")
        return redirect(url_for("console.stock_counts"), code=303)
    g.db.commit()
    flash(f"Stock count applied: {len(applied)} adjustment(s) recorded in the ledger.")
    return redirect(url_for("console.stock_list"), code=303)
