"""Domain errors: every rule the core enforces fails with one of these."""

from __future__ import annotations


class DomainError(Exception):
    """A business rule refused the request; the message is safe to show to the user."""


class NotFound(DomainError):
    """The thing asked for does not exist (or is not visible to the asker)."""


class InvalidTransition(DomainError):
    """A status change that the status table does not allow."""

    def __init__(self, entity: str, current: str, target: str) -> None:
        super().__init__(f"{entity} cannot go from {current} to {target}")
        self.entity = entity
        self.current = current
        self.target = target


class InsufficientStock(DomainError):
    """One or more lines could not be reserved; `lines` lists (sku, requested, available)."""

    def __init__(self, lines: list[tuple[str, int, int]]) -> None:
        detail = ", ".join(f"{sku}: wanted {want}, {have} available" for sku, want, have in lines)
        super().__init__(f"not enough stock ({detail})")
        self.lines = lines


class PayloadError(DomainError):
    """An inbound channel payload that cannot be read as an order; the message says exactly why."""


class PermissionDenied(DomainError):
    """The actor's role does not allow this action."""
