"""Machine interfaces, mounted at /api: channel webhooks and the web shop's REST API (JSON only, no CSRF)."""

from api import (
    inbound_email,  # noqa: F401  (registers the inbound email route on webhooks_bp)
    privacy,  # noqa: F401  (registers the compliance webhook route on webhooks_bp)
)
from api.views import bp
from api.webhooks import bp as webhooks_bp

__all__ = ["bp", "webhooks_bp"]
