"""The audit log page, on the `console` blueprint: search by actor, action, entity, dates and text, keyset
pages newest first, each change shown field by field; CSV export of what the search finds."""

from __future__ import annotations

from typing import Any

from flask import Response, g, render_template, request, stream_with_context

from agent_console.auth import permission_required
from agent_console.views import bp, wants_fragment
from core.audit import queries as audit_queries
from core.audit.diff import field_changes
from core.db import utcnow
from core.errors import DomainError
from core.security.permissions import Permission as P


@bp.get("/audit")
@permission_required(P.VIEW_AUDIT)
def audit_log() -> Any:
    """Audit entries matching the filters, newest first, a keyset page at a time (`before`/`after`)."""
    try:
        filters = audit_queries.AuditFilter.from_args(request.args.to_dict())
    except DomainError as exc:
        filters, error = audit_queries.AuditFilter(), str(exc)
        page = audit_queries.AuditPage([], None, None)
        status = 422
    else:
        error, status = None, 200
        page = audit_queries.audit_page(
            g.db, filters, before_id=request.args.get("before"), after_id=request.args.get("after")
        )
    template = "console/audit/_results.html" if wants_fragment() else "console/audit/log.html"
    response = render_template(
        template,
        page=page,
        filters=filters,
        args=filters.as_args(),
        error=error,
        changes={entry.id: field_changes(entry.before, entry.after) for entry in page.entries},
    )
    return response, status, {"Vary": "HX-Request"}


@bp.get("/audit/export.csv")
@permission_required(P.VIEW_AUDIT)
def audit_export() -> Any:
    """The entries matching the filters as CSV (streamed; cells that a spreadsheet would run are quoted)."""
    try:
        filters = audit_queries.AuditFilter.from_args(request.args.to_dict())
    except DomainError as exc:
        return Response(str(exc) + "\n", status=422, mimetype="text/plain")
    name = f"audit-{utcnow():%Y%m%d-%H%M%S}.csv"
    return Response(
        stream_with_context(audit_queries.audit_csv(g.db, filters)),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
