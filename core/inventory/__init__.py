"""Inventory area."""
