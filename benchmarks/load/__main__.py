"""`python -m benchmarks.load`: see benchmarks.load."""

from benchmarks.load.run import main

if __name__ == "__main__":
    raise SystemExit(main())
