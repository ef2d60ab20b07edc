"""Demo area."""
