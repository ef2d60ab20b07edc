"""`python -m cli ...` is `crossdock ...` (the demo starts its worker this way)."""

from cli import main

main()
