"""Returns area."""
