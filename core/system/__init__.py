"""Operational state: the worker's leader lease and heartbeat."""
