"""Benchmarks: run with ``python -m bench.<name>``; results and how to read them in
docs/benchmarks.md. Speed is measured here, never by timed tests."""
