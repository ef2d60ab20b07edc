"""The console's search box, on the `console` blueprint: customers and orders by name, email, phone, order
number or tracking number, as you type (htmx fragment) or as a results page that works without JS."""

from __future__ import annotations

from typing import Any

from flask import g, render_template, request

from agent_console.auth import permission_required
from agent_console.views import bp, wants_fragment
from core.security.permissions import Permission as P
from core.support.search import console_search

AS_YOU_TYPE = 8
PAGE_RESULTS = 30


@bp.get("/search")
@permission_required(P.VIEW_CUSTOMERS)
def search() -> Any:
    """Search results: the dropdown fragment for htmx, else the full results page."""
    query = request.args.get("q", "")[:100]
    fragment = wants_fragment()
    hits = console_search(g.db, query, limit=AS_YOU_TYPE if fragment else PAGE_RESULTS)
    template = "console/search/_results.html" if fragment else "console/search/index.html"
    return render_template(template, query=query.strip(), hits=hits)
