"""Orders area."""
