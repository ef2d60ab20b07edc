"""The customer's self-service portal, mounted at /."""

from portal import chat  # noqa: F401  (registers the chat routes on the blueprint)
from portal.views import bp

__all__ = ["bp"]
