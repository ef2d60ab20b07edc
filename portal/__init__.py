"""The customer's self-service portal, mounted at /."""

from portal.views import bp

__all__ = ["bp"]
