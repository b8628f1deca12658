"""Benchmarks: each prints a ratio against a baseline measured in the same run. Run from the
repository root as `python -m bench.<name>` (`bench/README.md`)."""
