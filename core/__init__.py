"""Crossdock's domain core: no web framework, usable from scripts, the worker, tests and the CLI."""
