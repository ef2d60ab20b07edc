"""A server process for the portal benchmark: either the real application, or the floor — a minimal Flask
app whose one route renders a 10-row template from one primary-key query. Both are served by waitress with
the same threads, so the benchmark compares only what happens inside a request.

Usage: python -m benchmarks.portal_server app|floor DATABASE_URL PORT SECRET_KEY
"""

from __future__ import annotations

import faulthandler
import signal
import sys

import waitress
from flask import Flask, render_template_string
from sqlalchemy import text

from app import create_app
from core.db import make_engine

FLOOR_TEMPLATE = """<!doctype html><html lang="en"><head><title>Order {{ row.number }}</title></head><body>
<table>{% for label, value in rows %}<tr><th>{{ label }}</th><td>{{ value }}</td></tr>{% endfor %}</table>
</body></html>"""
THREADS = 8


def floor_app(url: str) -> Flask:
    """One route: one primary-key query, a 10-row template."""
    app = Flask("floor")
    engine = make_engine(url)
    query = text(
        "SELECT id, number, status, currency, subtotal, shipping_total, tax_total, total, email, buyer_name "
        "FROM orders WHERE id = :id"
    )

    @app.get("/floor/<int:order_id>")
    def order(order_id: int) -> str:
        with engine.connect() as conn:
            row = conn.execute(query, {"id": order_id}).mappings().one()
        return render_template_string(FLOOR_TEMPLATE, row=row, rows=list(row.items()))

    return app


def main() -> None:
    faulthandler.register(signal.SIGUSR1)  # `kill -USR1 <pid>` prints every thread's stack, for a stuck run
    mode, url, port, secret = sys.argv[1:5]
    app = floor_app(url) if mode == "floor" else create_app({"DATABASE_URL": url, "SECRET_KEY": secret})
    waitress.serve(app, host="127.0.0.1", port=int(port), threads=THREADS, _quiet=True)


if __name__ == "__main__":
    main()
