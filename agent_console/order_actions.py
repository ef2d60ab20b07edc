"""Order actions of the console, on the same `console` blueprint, posted from the order panel beside a ticket
or on the order page: cancel, refund, return for the customer, replacement items, change the address, resend
an email, fix what holds it (map a channel SKU, set the currency) or release it. Each route parses the form,
calls one core service, commits, and answers the fresh panel fragment (htmx) or a 303 back to the page it
came from."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from flask import abort, flash, g, redirect, render_template, request, url_for

from agent_console.auth import current_actor, permission_required
from agent_console.views import bp, wants_fragment
from core.db import begin_write, utcnow
from core.errors import DomainError, NotFound, PermissionDenied
from core.orders import actions
from core.orders import queries as order_queries
from core.orders.panel import OrderPanel, order_panel
from core.returns import refunds
from core.security.permissions import Permission as P
from core.security.roles import Actor


def _next_url(order_id: int) -> str:
    """Where the action was posted from (a path on this site), else the order page."""
    target = request.form.get("next") or request.args.get("next")
    default = url_for("console.order_detail", order_id=order_id)
    if (
        not target
        or not target.startswith("/")
        or target.startswith(("//", "/\\"))
        or urlsplit(target).netloc
    ):
        return default
    return target


def panel_for(order_id: int, *, with_emails: bool = False) -> OrderPanel:
    """The order panel as the signed-in staff member sees it (404 when there is no such order)."""
    try:
        return order_panel(g.db, order_id, actor=current_actor(), now=utcnow(), with_emails=with_emails)
    except NotFound:
        abort(404)


def _respond(
    order_id: int,
    *,
    error: str | None = None,
    done: str | None = None,
    status: int = 200,
    with_emails: bool = False,
) -> Any:
    """The fresh panel for htmx (with the outcome), else flash it and go back where the form came from."""
    next_url = _next_url(order_id)
    if wants_fragment():
        html = render_template(
            "console/orders/_actions.html",
            panel=panel_for(order_id, with_emails=with_emails),
            next_url=next_url,
            error=error,
            done=done,
        )
        return html, status
    flash(error or done or "", "error" if error else "message")
    return redirect(next_url, code=303)


def _act(
    order_id: int,
    action: Callable[[Actor, Any], Any],
    done: str | Callable[[Any], str],
    *,
    with_emails: bool = False,
) -> Any:
    """Run one order service in a write transaction: commit on success; on a refusal roll back (nothing
    saved) and say why: 403 when the role may not, 422 for anything else."""
    actor = current_actor()
    begin_write(g.db)
    try:
        result = action(actor, utcnow())
    except NotFound:
        abort(404)
    except PermissionDenied as exc:
        g.db.rollback()
        return _respond(order_id, error=str(exc), status=403, with_emails=with_emails)
    except DomainError as exc:
        g.db.rollback()
        return _respond(order_id, error=str(exc), status=422, with_emails=with_emails)
    message = done(result) if callable(done) else done
    g.db.commit()
    return _respond(order_id, done=message, with_emails=with_emails)


@bp.get("/orders/<int:order_id>")
@permission_required(P.VIEW_ORDERS)
def order_detail(order_id: int) -> Any:
    """An order with lines, shipments, addresses, payment and refunds, linked tickets, its full timeline,
    and the panel of actions."""
    try:
        order = order_queries.staff_order(g.db, order_id)
    except NotFound:
        abort(404)
    return render_template(
        "console/orders/detail.html", order=order, panel=panel_for(order_id), next_url=request.path
    )


def _quantities(prefix: str) -> dict[int, int]:
    """{line id: quantity} from the form's <prefix><line id> fields; blanks are 0."""
    chosen = {}
    for key, value in request.form.items():
        line_id = key.removeprefix(prefix)
        if key.startswith(prefix) and line_id.isdigit():
            raw = value.strip() or "0"
            if not raw.isdigit():
                raise DomainError("quantities must be whole numbers, 0 or more")
            chosen[int(line_id)] = int(raw)
    return chosen


@bp.post("/orders/<int:order_id>/cancel")
@permission_required(P.ACT_ON_ORDERS)
def order_cancel(order_id: int) -> Any:
    """Cancel an unshipped order: stock released, the customer emailed, their cancel requests solved."""
    reason = request.form.get("reason", "")
    return _act(
        order_id,
        lambda actor, now: actions.cancel_order(g.db, order_id, reason=reason, actor=actor, now=now),
        "Order cancelled: the stock is released and the customer has been emailed.",
    )


@bp.post("/orders/<int:order_id>/refund")
@permission_required(P.REFUND)
def order_refund(order_id: int) -> Any:
    """Refund the whole order, or units of lines and the shipping, with a reason (agents within a limit)."""
    form = request.form

    def refund(actor: Actor, now: Any) -> None:
        refunds.refund_order(
            g.db,
            order_id,
            quantities=_quantities("refund-"),
            shipping=bool(form.get("shipping")),
            full=form.get("full") == "1",
            reason=form.get("reason", ""),
            method=form.get("method") or "original",
            actor=actor,
            now=now,
        )

    return _act(order_id, refund, "Refund recorded.")


@bp.post("/orders/<int:order_id>/return")
@permission_required(P.ACT_ON_ORDERS)
def order_return(order_id: int) -> Any:
    """Open a return for the customer (approved at once if asked: they get the return instructions)."""
    form = request.form

    def open_return(actor: Actor, now: Any) -> None:
        lines = [(line_id, qty) for line_id, qty in _quantities("return-").items() if qty]
        actions.create_return_for_customer(
            g.db,
            order_id,
            lines,
            reason=form.get("reason", ""),
            reason_text=form.get("reason_text", ""),
            resolution=form.get("resolution", "refund"),
            approve=bool(form.get("approve")),
            actor=actor,
            now=now,
        )

    return _act(order_id, open_return, "Return created for the customer.")


@bp.post("/orders/<int:order_id>/replacement")
@permission_required(P.ACT_ON_ORDERS)
def order_replacement(order_id: int) -> Any:
    """Send replacement items as a new order at no charge (stock allocated at once)."""
    form = request.form

    def replace(actor: Actor, now: Any) -> Any:
        return actions.create_replacement_order(
            g.db, order_id, _quantities("replace-"), reason=form.get("reason", ""), actor=actor, now=now
        )

    return _act(
        order_id,
        replace,
        lambda order: f"Replacement order {order.number} created ({order.status.replace('_', ' ')}).",
    )


@bp.post("/orders/<int:order_id>/address")
@permission_required(P.ACT_ON_ORDERS)
def order_address(order_id: int) -> Any:
    """Change the shipping address of an order that has not shipped (releases an address hold)."""
    address = {name: request.form.get(name, "") for name in actions.ADDRESS_FIELDS}
    return _act(
        order_id,
        lambda actor, now: actions.change_shipping_address(g.db, order_id, address, actor=actor, now=now),
        "Shipping address changed.",
    )


@bp.post("/orders/<int:order_id>/emails/<int:message_id>/resend")
@permission_required(P.ACT_ON_ORDERS)
def order_resend_email(order_id: int, message_id: int) -> Any:
    """Send an email the customer got about this order again (a new outbox row)."""
    return _act(
        order_id,
        lambda actor, now: actions.resend_notification(g.db, order_id, message_id, actor=actor, now=now),
        "The email will be sent again shortly.",
        with_emails=True,
    )


@bp.get("/orders/<int:order_id>/emails")
@permission_required(P.VIEW_ORDERS)
def order_emails(order_id: int) -> Any:
    """The emails sent about an order, each with 'send again' (htmx loads them into the panel); without
    htmx, the order page with them shown."""
    panel = panel_for(order_id, with_emails=True)
    next_url = _next_url(order_id)
    if wants_fragment():
        return render_template("console/orders/_emails.html", panel=panel, next_url=next_url)
    order = order_queries.staff_order(g.db, order_id)
    return render_template("console/orders/detail.html", order=order, panel=panel, next_url=next_url)


@bp.post("/orders/<int:order_id>/release")
@permission_required(P.ACT_ON_ORDERS)
def order_release(order_id: int) -> Any:
    """Release an order from hold after checking the warnings behind it, with a note of what was checked."""
    warnings = request.form.getlist("warning") or None
    note = request.form.get("note", "")
    return _act(
        order_id,
        lambda actor, now: actions.release_hold(
            g.db, order_id, warnings=warnings, note=note, actor=actor, now=now
        ),
        "Hold cleared.",
    )


@bp.post("/orders/<int:order_id>/map-sku")
@permission_required(P.MANAGE_INTAKE)
def order_map_sku(order_id: int) -> Any:
    """Map a held order's channel SKU to one of ours; the orders held for it are released."""
    channel_sku = request.form.get("channel_sku", "")
    sku = request.form.get("sku", "")
    return _act(
        order_id,
        lambda actor, now: actions.map_held_sku(g.db, order_id, channel_sku, sku, actor=actor, now=now),
        f"Mapped {channel_sku.strip()} to {sku.strip()}.",
    )


@bp.post("/orders/<int:order_id>/currency")
@permission_required(P.ACT_ON_ORDERS)
def order_set_currency(order_id: int) -> Any:
    """Set the currency of an order held for an unknown one, with a note of where it was checked."""
    currency = request.form.get("currency", "")
    note = request.form.get("note", "")
    return _act(
        order_id,
        lambda actor, now: actions.set_order_currency(
            g.db, order_id, currency, note=note, actor=actor, now=now
        ),
        lambda order: f"Currency set to {order.currency}.",
    )
