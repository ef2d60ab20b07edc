"""Fulfillment area."""
