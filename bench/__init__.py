"""Benchmark harness for jobsvc: `python -m bench.run --help`."""
