"""Customers area."""
