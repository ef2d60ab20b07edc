"""Benchmarks: named scenarios, each timed beside its floor (the same work done the bare way)."""
