"""Benchmark scripts (run them as files; see docs/performance.md)."""
