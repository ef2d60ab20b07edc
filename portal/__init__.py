"""The customer's self-service portal, mounted at /."""

from portal import (
    chat,  # noqa: F401  (registers the chat routes on the blueprint)
    csat,  # noqa: F401  (registers the satisfaction survey page on bp)
)
from portal.views import bp

__all__ = ["bp"]
