"""Catalog area."""
