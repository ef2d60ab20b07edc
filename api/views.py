"""API routes. Errors are JSON with an `error` message that says exactly what was wrong."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify
from werkzeug.exceptions import HTTPException

from api.openapi import build_openapi

bp = Blueprint("api", __name__)

OPENAPI = build_openapi()


@bp.get("/openapi.json")
def openapi() -> Any:
    """The OpenAPI document describing this API."""
    return jsonify(OPENAPI)


@bp.errorhandler(HTTPException)
def json_error(exc: HTTPException) -> Any:
    """Every API error as JSON: {"error": "..."} with the HTTP status."""
    return jsonify(error=exc.description or exc.name), exc.code
